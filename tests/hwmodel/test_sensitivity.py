"""energy_sensitivity / ranking_flips: which conclusions survive a change of assumption."""

from __future__ import annotations

import pytest

from lowbit.hwmodel import energy_sensitivity, ranking_flips

INT4 = ("int4", "int4", "fp32")
MXFP4 = ("mxfp4", "mxfp4", "fp32")
SMALL = dict(gemm=(512, 512, 512), base_array=(32, 32), base_activity=0.5)


def test_tidy_rows_ranks_and_exact_dram_scaling():
    df = energy_sensitivity([INT4, MXFP4], **SMALL, dram=["high"], node=[7, 22.5])
    assert len(df) == 2 * (1 + 1 + 2)
    assert list(df.parameter.unique()) == ["baseline", "node", "dram"]
    for _, g in df.groupby(["parameter", "value"]):
        assert list(g.sort_values("pj_per_mac").config) == list(g.sort_values("rank").config)
    base = df[df.parameter == "baseline"].set_index("config")
    high = df[df.parameter == "dram"].set_index("config")
    # Horowitz: 2.6 nJ against 1.3 nJ per 64 bits; nothing else changes
    assert (high.pj_dram / base.pj_dram).tolist() == pytest.approx([2.0, 2.0])
    assert (high.pj_sram == base.pj_sram).all()
    parts = [c for c in df.columns if c.startswith("pj_") and c != "pj_per_mac"]
    assert df[parts].sum(axis=1).tolist() == pytest.approx(df.pj_per_mac.tolist())


def test_a_small_buffer_flips_int4_and_mxfp4():
    # 8 KB holds one 32×512 INT4 panel (65,536 bits) but not an MXFP4 one (4.25 bits per
    # element: 69,632 bits), so MXFP4 re-reads both operands from DRAM and loses its lead
    df = energy_sensitivity([INT4, MXFP4], **SMALL, sram=["8kb"], clock=[0, 12])
    base = df[df.parameter == "baseline"].set_index("config")
    assert base.loc["mxfp4 → fp32", "rank"] == 1
    small = df[df.parameter == "sram"].set_index("config")
    assert small.loc["int4 → fp32", "rank"] == 1 and (small.flips == 1).all()
    assert small.loc["int4 → fp32", "schedule"] != small.loc["mxfp4 → fp32", "schedule"]
    flips = ranking_flips(df).set_index("parameter")
    assert flips.loc["sram", "flips_at"] == "8kb"
    assert flips.loc["clock", "flips_at"] == ""  # the clock assumption does not decide it


def test_overflowing_configuration_is_not_ranked():
    # INT8 codes summed in FP16 over K = 4096 overflow (|sum| beyond 65504)
    df = energy_sensitivity(
        [("int8", "int8", "fp16"), ("int8", "int8", "fp32")], base_array=(32, 32)
    )
    row = df.set_index("config").loc["int8 → fp16"]
    assert not row.feasible and row["rank"] != row["rank"]  # NaN: never ranked
    assert df.set_index("config").loc["int8 → fp32", "rank"] == 1


def test_bad_configs():
    with pytest.raises(ValueError, match="weight, activation, accumulator"):
        energy_sensitivity(["int8"])
    with pytest.raises(ValueError, match="at least one"):
        energy_sensitivity([])
