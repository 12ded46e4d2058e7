"""Block-format MACs (MX, MX9/6/4, BFP, NVFP4, VS-Quant, int4_g128): sensible values and
orderings, and `lowbit hw` for every registered format paired with itself."""

from __future__ import annotations

import pytest

import lowbit
from lowbit.cli import main
from lowbit.hwmodel import FixedAccumulator, array_cost, mac_cost
from lowbit.hwmodel.block import adder_tree
from lowbit.hwmodel.gates import DEFAULT_COSTS

BLOCK = [
    "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8",
    "mx9", "mx6", "mx4", "bfp8_b16", "nvfp4", "vsq_int4", "vsq_int8", "int4_g128",
]  # fmt: skip


def per_mac(fmt, acc="fp32", **kw):
    return mac_cost(fmt, fmt, acc, terms=4096, **kw).total


@pytest.mark.parametrize("fmt", BLOCK)
@pytest.mark.parametrize(
    "acc", ["fixed", "fp32", "fp16", FixedAccumulator(24, overflow="saturate")]
)
def test_block_formats_priced(fmt, acc):
    m = mac_cost(fmt, fmt, acc)
    assert 50 < m.total < 2000
    f = lowbit.get_format(fmt)
    assert m.lanes == f.block_size
    assert {"mpy", "block"} <= set(m.breakdown())
    assert m.depth > 0
    assert m.to_dict()["lanes"] == m.lanes


@pytest.mark.parametrize("acc", ["fixed", "fp32"])
def test_orderings(acc):
    assert per_mac("mxfp4", acc) < per_mac("mxfp6_e2m3", acc) < per_mac("mxfp8_e4m3", acc)
    assert per_mac("mxfp6_e2m3", acc) < per_mac("mxfp6_e3m2", acc)  # wider alignment span
    assert per_mac("mxfp8_e4m3", acc) < per_mac("mxfp8_e5m2", acc)
    assert per_mac("mx4", acc) < per_mac("mx6", acc) < per_mac("mx9", acc)
    assert per_mac("bfp8_b16", acc) < per_mac("mx9", acc)  # same elements, no micro shifts
    assert per_mac("vsq_int4", acc) < per_mac("vsq_int8", acc)


def test_block_amortises_the_fp_accumulator():
    # FP32 accumulation once per block: far below a scalar FP8 → FP32 MAC (2137)
    assert per_mac("mxfp8_e4m3") < 0.5 * per_mac("fp8_e4m3fn")
    assert per_mac("mxfp4") < per_mac("mxfp8_e4m3") / 3


def test_vsquant_vs_int8_baseline():
    """VS-Quant claims ~36–37% less area for W4A4 (4-bit per-vector scale) than an 8-bit
    baseline.  The MAC model alone gives far more: against a scalar INT8 → exact-fixed MAC
    (740) vsq_int4 costs ~207 (−72%); against the fairer baseline, an INT8 16-lane
    dot-product unit (one accumulator per vector, like VS-Quant's vector MAC), ~561 (−63%).
    The published figure is for a whole accelerator (buffers, registers, control) where the
    datapath is only part of the area, so the model's saving is larger; asserted: it is at
    least the published 36%."""
    vsq = per_mac("vsq_int4", "fixed")
    scalar = per_mac("int8", "fixed")
    vector = mac_cost("int8", "int8", "fixed", lanes=16).total
    assert vsq == pytest.approx(206.6, abs=1)
    assert vector == pytest.approx(561.1, abs=1)
    assert vsq < scalar and vsq < vector
    assert 1 - vsq / vector > 0.36
    # the per-vector scale costs something: vsq_int4 is above plain INT4 on the same unit
    assert vsq > mac_cost("int4", "int4", "fixed", lanes=16).total


def test_block_widths():
    # MX: exact accumulation over both E8M0 ranges (2·254 binades) plus log2(4096/32)
    m = mac_cost("mxfp4", "mxfp4", "fixed")
    tree_out = 4 + 4 + 1 + 5  # 2x2 product, aligned by [0, 4], sign, 32-input tree
    assert m.accumulator_width == tree_out + 508 + 7
    # VS-Quant: ±7 elements → 7-bit products, +4 tree levels, ×(4+4)-bit scale, + log2(256)
    v = mac_cost("vsq_int4", "vsq_int4", "fixed")
    assert v.accumulator_width == 7 + 4 + 8 + 8


def test_adder_tree_counts():
    c, w = adder_tree(4, 8, False, DEFAULT_COSTS)
    assert w == 10
    assert c.total == 2 * (8 * 7 + 3) + (9 * 7 + 3)


def test_mixed_mx_elements_and_errors():
    assert mac_cost("mxfp8_e4m3", "mxfp4", "fp32").total > per_mac("mxfp4")
    assert mac_cost("mx9", "mx4", "fp32").total > 0
    # block × scalar is priced since issue 13 (W4A16 and friends); see test_unit.py
    assert mac_cost("mxfp4", "fp8_e4m3fn", "fp32").lanes == 32
    with pytest.raises(ValueError, match="supported"):
        mac_cost("mxfp4", "nvfp4", "fp32")
    with pytest.raises(ValueError, match="supported"):
        mac_cost("binary", "int8", "fixed")
    with pytest.raises(ValueError, match="lanes"):
        mac_cost("int8", "int8", lanes=0)


def test_scalar_default_unchanged():
    assert mac_cost("int8_narrow", "int8_narrow", "fixed").total == 727
    assert mac_cost("int8", "int8", "fixed", lanes=1).lanes == 1


def test_array_accumulators_per_block():
    a = array_cost("mxfp4", "mxfp4", "fp32", gemm=(128, 256, 128), array=(16, 16))
    assert a.accumulator_register_bits == 256 * 1  # one 32-bit accumulator per 32 lanes


# e8m0 is skipped: OCP MX defines it only as a block scale (unsigned powers of two, no zero,
# NaN at 0xFF), never a dot-product operand; its hardware (the 8-bit exponent adder) is priced
# inside every MX format.  Every other registered format, binary included, has a MAC.
NO_MAC = {"e8m0"}


@pytest.mark.parametrize("fmt", [f for f in lowbit.list_formats() if f not in NO_MAC])
def test_cli_hw_every_format(fmt, capsys):
    rc = main(["hw", "-w", fmt, "-a", fmt, "--gemm", "64x256x64", "--array", "16x16"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "total" in out and "area (gates)" in out
