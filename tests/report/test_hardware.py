"""The hardware and energy studies: every number against lowbit.hwmodel called directly, the
title-page findings recomputed from the DataFrames, infeasible units never ranked."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lowbit.hwmodel import (
    Technology,
    array_cost,
    compare_units,
    equal_clock,
    mac_cost,
    multi_format_cost,
)
from lowbit.hwmodel.array import mac_components
from lowbit.report.context import Context
from lowbit.report.recipe import load_recipe, parse_recipe
from lowbit.report.studies import energy, hardware

SMOKE = Path(__file__).resolve().parents[2] / "lowbit" / "report" / "recipes" / "smoke.toml"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(load_recipe(SMOKE))


@pytest.fixture(scope="module")
def hw(ctx) -> pd.DataFrame:
    return hardware.compute(ctx)


@pytest.fixture(scope="module")
def en(ctx) -> pd.DataFrame:
    return energy.compute(ctx)


def test_every_format_on_the_same_unit(ctx, hw):
    cfg = ctx.recipe["hardware"]
    assert len(hw) == len(cfg["formats"]) * len(cfg["accumulators"])
    for row in hw.itertuples():
        mac = mac_cost(row.format, row.format, row.accumulator, cfg["terms"], lanes=cfg["lanes"])
        assert row.gates == mac.total and row.depth == mac.depth
        assert row.unit_lanes == cfg["lanes"] and row.feasible == mac.feasible
        comp = mac_components(mac)
        for c in hardware.COMPONENTS:
            assert getattr(row, f"gates_{c}") == comp[c]
    parts = hw[[f"gates_{c}" for c in hardware.COMPONENTS]].sum(axis=1)
    np.testing.assert_allclose(parts, hw.gates)
    assert (hw.note.str.contains(f"{cfg['lanes']}-lane unit")).all()


def test_infeasible_units_are_flagged_and_never_ranked(hw):
    bad = hw.set_index(["format", "accumulator"]).loc[("mxfp4", "fixed")]
    assert not bad.feasible and "E8M0" in bad.warning and np.isnan(bad.pipelined_gates)
    for acc in hw.accumulator.unique():
        assert hardware.ranked(hw, acc).feasible.all()


def test_equal_clock_is_the_library_pipelining(ctx, hw):
    cfg = ctx.recipe["hardware"]
    ok = [
        m for m in compare_units(cfg["formats"], "fp32", cfg["lanes"]).rows.values() if m.feasible
    ]
    want = {m.weight: p for m, p in zip(ok, equal_clock(ok), strict=True)}
    sub = hw[(hw.accumulator == "fp32") & hw.feasible]
    for row in sub.itertuples():
        assert row.pipelined_gates == want[row.format].total
        assert row.clock_depth == want[row.format].stage_depth


def test_hardware_finding_recomputed(ctx, hw):
    cfg = ctx.recipe["hardware"]
    text = hardware.finding(hw)
    # independent: price every format on the unit and rank the feasible ones
    macs = {f: mac_cost(f, f, "fp32", lanes=cfg["lanes"]) for f in cfg["formats"]}
    ok = {f: m.total for f, m in macs.items() if m.feasible}
    cheap, dear = min(ok, key=ok.get), max(ok, key=ok.get)
    assert f"{cheap} {ok[cheap]:.0f} to {dear} {ok[dear]:.0f} gates/MAC" in text
    ratio = [ok[b] / ok[s] for b, s in (("mxfp4", "fp4_e2m1fn"),) if b in ok and s in ok]
    assert not ratio or f"×{ratio[0]:.2f}–{ratio[0]:.2f} (mxfp4/fp4_e2m1fn)" in text
    n_bad = sum(
        not mac_cost(f, f, a, lanes=cfg["lanes"]).feasible
        for f in cfg["formats"]
        for a in cfg["accumulators"]
    )
    assert f"{n_bad} of {len(hw)} configurations infeasible" in text


def test_deployments_are_priced(ctx, hw):
    cfg = ctx.recipe["hardware"]
    dep = pd.DataFrame(hw.attrs["deployments"]).set_index("deployment")
    w4a16 = dep.loc["W4A16 (g128 × FP16)"]
    assert w4a16.gates == mac_cost("int4_g128", "fp16", "fp32", lanes=cfg["lanes"]).total
    assert w4a16.w_bits == 4 + 16 / 128  # INT4 plus an FP16 scale per 128
    pcpt = dep.loc["W8A8 per channel × per token"]
    want = mac_cost("int8", "int8", "fp32", lanes=cfg["lanes"], output_scales=("channel", "token"))
    assert pcpt.gates == want.total and pcpt.gates > dep.loc["W8A8 per tensor"].gates
    assert {"W4A8 (g128 × INT8)", "W4A8 per channel × per token"} <= set(dep.index)


def test_multi_format_and_van_baalen_tables(ctx, hw):
    cfg = ctx.recipe["hardware"]
    mf = pd.DataFrame(hw.attrs["multi_format"])
    r = multi_format_cost(["fp8_e4m3fn", "fp8_e5m2"], "fp32", cfg["lanes"])
    row = mf.set_index("formats").loc["fp8_e4m3fn + fp8_e5m2"]
    assert row.union == r.union.total and row.overhead == r.overhead
    vb = pd.DataFrame(hw.attrs["van_baalen"])
    assert len(vb) == 6 and (vb.error.abs() <= 0.05).all()  # Fig. 3 within ±5 %
    assert (
        vb.van_baalen_2023
        == [mac_cost(f, f, a).total for f, a in zip(vb.format, vb.accumulator, strict=True)]
    ).all()


def test_recipe_keys_are_checked():
    with pytest.raises(ValueError, match="cost_table.*van_baalen_2023"):
        parse_recipe({"hardware": {"cost_table": "nonsense"}})
    with pytest.raises(ValueError, match="lanes"):
        parse_recipe({"hardware": {"lanes": 0}})
    with pytest.raises(ValueError, match="output_format.*scalar"):
        parse_recipe({"energy": {"output_format": "mxfp4"}})
    with pytest.raises(ValueError, match="activity"):
        parse_recipe({"energy": {"activity": 1.5}})


def test_synthesis_beside_the_model():
    from lowbit.hwmodel import synth

    if not hasattr(synth, "synthesize_mac") or not synth.yosys_available():
        pytest.skip("needs lowbit.hwmodel.synth with a Yosys")
    cfg = dict(load_recipe(SMOKE)["hardware"], yosys="auto")
    df = hardware.synth_table(cfg)
    assert len(df) == len(cfg["synth_units"])
    row = df.iloc[0]
    fmt, acc = cfg["synth_units"][0]
    s = synth.synthesize_mac(fmt, fmt, acc, lanes=cfg["synth_lanes"], terms=cfg["terms"])
    assert row.gates_synth == s.gates and row.depth_synth == s.depth
    assert row.ratio == pytest.approx(row.gates_model / s.gates)
    assert hardware.same_order(df) == {"fixed": True}  # one unit: one order


def test_energy_rows_are_array_cost(ctx, en):
    hwc, cfg = ctx.recipe["hardware"], ctx.recipe["energy"]
    tech = Technology(hwc["node_nm"], sram=cfg["sram"], dram=cfg["dram"])
    for row in en.itertuples():
        res = array_cost(row.format, row.format, cfg["accumulator"], gemm=tuple(hwc["gemm"]),
                         array=tuple(hwc["array"]), technology=tech,
                         output_format=cfg["output_format"], activity=cfg["activity"],
                         seed=ctx.seed, lanes=hwc["lanes"])  # fmt: skip
        per = res.pj_per_mac()
        assert row.pj_per_mac == per["total"] and row.pj_dram == per["dram"]
        assert row.output_bits == 16  # bf16 outputs, not the accumulator's width
    comps = en[[f"pj_{c}" for c in energy.ENERGY_COMPONENTS]].sum(axis=1)
    np.testing.assert_allclose(comps, en.pj_per_mac)
    assert en.set_index("format").bits_per_element["mxfp4"] == 4.25  # scale bits counted


def test_energy_finding_recomputed(en):
    flips = pd.DataFrame(en.attrs["flips"])
    text = energy.finding(en, flips)
    ok = en[en.feasible]
    lo, hi = ok.loc[ok.pj_per_mac.idxmin()], ok.loc[ok.pj_per_mac.idxmax()]
    assert f"{lo.format} {lo.pj_per_mac:.3f} to {hi.format} {hi.pj_per_mac:.3f} pJ/MAC" in text
    share = (ok.pj_sram + ok.pj_dram) / ok.pj_per_mac
    assert f"{share.min():.0%}–{share.max():.0%}" in text
    sens = pd.DataFrame(en.attrs["sensitivity"])
    base = sens[sens.parameter == "baseline"].set_index("config").pj_per_mac
    for row in en.itertuples():
        assert base[f"{row.format} → {row.accumulator}"] == pytest.approx(row.pj_per_mac)
    n = int(re.search(r"(\d+) of \d+ orders reverse", text).group(1))
    assert n == len(flips[flips.flips_at != ""][["cheaper", "dearer"]].drop_duplicates())
