"""Each study's numbers without drawing: compute() on the smoke recipe, checked against the
library (lowbit's formats, metrics, hardware model and simulator) and against the key
result the title page states."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lowbit.formats import get_format
from lowbit.report.context import Context
from lowbit.report.quantize import absmax_scale, quantize_tensor
from lowbit.report.recipe import load_recipe
from lowbit.report.studies import (
    STUDIES,
    atlas,
    hardware,
    range_setting,
)
from lowbit.report.tables import format_record

SMOKE = Path(__file__).resolve().parents[2] / "lowbit" / "report" / "recipes" / "smoke.toml"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(load_recipe(SMOKE))


def test_every_recipe_study_has_compute_and_render():
    from lowbit.report.recipe import STUDIES as NAMES

    assert list(STUDIES) == list(NAMES)
    for _, module in STUDIES.values():
        assert callable(module.compute) and callable(module.render)


def test_atlas_rows_are_the_format_records(ctx):
    df = atlas.compute(ctx)
    assert df.name.tolist() == ctx.recipe["atlas"]["formats"]
    rec = format_record("fp8_e4m3fn")
    row = df.set_index("name").loc["fp8_e4m3fn"]
    assert row["max"] == 448.0 and row.dynamic_range_db == rec["dynamic_range_db"]
    assert df.set_index("name").loc["mxfp4", "bits_per_element"] == 4.25
    fp8 = df[df.name.str.startswith("fp8")].dynamic_range_db
    assert atlas.finding(df) == (
        f"7 formats; the FP8 variants span {fp8.min():.1f}–{fp8.max():.1f} dB of dynamic range."
    )


def test_range_setting_excess_is_against_the_exact_optimum(ctx):
    from lowbit.analysis import expected_mse
    from lowbit.analysis.ranges import mse_clip
    from lowbit.analysis.sweep import parse_distribution

    df = range_setting.compute(ctx)
    rows = df[df.part == "method"]
    dist = parse_distribution(ctx.recipe["range_setting"]["distribution"])
    c_opt, e_opt = mse_clip("int3_narrow", dist)
    r = rows[(rows.bits == 3) & (rows.method == "minmax")].iloc[0]
    assert (r.clip_opt, r.mse_opt) == (c_opt, e_opt)
    assert r["mse"] == expected_mse("int3_narrow", dist, r["clip"] / 3.0)
    assert (rows.excess_db >= -1e-9).all()  # nothing beats the exact optimum
    assert len(df[df.part == "curve"]) == 80 * len(ctx.recipe["range_setting"]["bits"])
    best = range_setting.mean_excess(df).index[0]
    assert range_setting.METHOD_TEXT[best] in range_setting.finding(df, "laplace", 2)


def test_hardware_rows_are_the_library_cost(ctx):
    # the study's own tests: tests/report/test_hardware.py
    from lowbit.hwmodel import mac_cost
    from lowbit.report.recipe import cost_tables

    df = hardware.compute(ctx)
    cfg = ctx.recipe["hardware"]
    assert len(df) == len(cfg["formats"]) * len(cfg["accumulators"])
    row = df.set_index(["format", "accumulator"]).loc[("int8", "fp32")]
    costs = cost_tables()[cfg["cost_table"]]  # the recipe's table (default synth_calibrated)
    mac = mac_cost("int8", "int8", "fp32", terms=cfg["terms"], lanes=cfg["lanes"], costs=costs)
    assert row.gates == mac.total
    cheapest = hardware.ranked(df, "fp32").iloc[0]
    assert hardware.finding(df).startswith(
        f"equal {cfg['lanes']}-lane units, FP32 accumulators: {cheapest.format} "
    )


def test_one_absmax_scale_for_the_report():
    x = np.array([[0.5, -2.54]], dtype=np.float32)
    assert absmax_scale(x, "int8") == float(np.float32(2.54)) / 127
    assert not get_format("int8").has_block_scales and get_format("nvfp4").has_block_scales
    q = quantize_tensor("int8", x)
    assert q.dtype == np.float64 and math.isclose(q[0, 1], -2.54, rel_tol=1e-7)
