"""Critical path and pipelining at a stated clock (issue 13 item 4, model side).  The expected
register counts are derived by hand from the blocks' depths and widths (docs/hwmodel.md)."""

from __future__ import annotations

import pytest

from lowbit.hwmodel import arith as A
from lowbit.hwmodel import equal_clock, mac_cost, pipelined
from lowbit.hwmodel.timing import segments


def test_depth_of_the_scalar_int8_mac():
    m = mac_cost("int8", "int8", "fixed")
    # 8×8 array: 1 (AND) + 2·(8 + 8 − 2) = 29; 16-bit adder 31 + 12-bit incrementer 12 = 43
    assert m.cost.find("mpy").depth == 29
    assert m.cost.find("alignadd").depth == 43
    assert m.depth == 72


def test_hand_pipelined_int8_at_20_levels():
    m = mac_cost("int8", "int8", "fixed")
    p = pipelined(m, 20)
    # feed: partial products (depth 1, 64 bits) | cut | reduction (28 levels, 16 bits) cut
    # once inside; the 43-level accumulator loop is C-slowed 3 ways: 2 more 28-bit registers
    assert p.stages == 3 and p.interleave == 3
    assert p.register_bits == 64 + 16 + 2 * 28
    assert p.total == m.total + p.register_bits * 6  # FF = 6 gates (App. B)
    assert p.latency == 6


def test_no_registers_when_the_unit_fits_one_stage():
    m = mac_cost("int8", "int8", "fixed")
    p = pipelined(m, m.depth)
    assert (p.stages, p.interleave, p.register_bits, p.total) == (1, 1, 0.0, m.total)


@pytest.mark.parametrize(
    "args",
    [("int8", "int8", "fixed"), ("fp8_e4m3fn", "fp8_e4m3fn", "fp32"), ("mxfp4", "mxfp4", "fp32")],
)
def test_deeper_stages_need_fewer_registers(args):
    m = mac_cost(*args, lanes=32 if args[0] != "mxfp4" else None)
    ps = [pipelined(m, s) for s in (10, 20, 40, 80, 160, 1000)]
    bits = [p.register_bits for p in ps]
    assert bits == sorted(bits, reverse=True) and bits[-1] == 0
    assert [p.stages for p in ps] == sorted((p.stages for p in ps), reverse=True)


def test_fp32_accumulation_is_not_priced_at_the_int8_clock():
    i8 = mac_cost("int8", "int8", "fixed")
    f32 = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32")
    assert f32.depth > i8.depth
    pi, pf = equal_clock([i8, f32])
    assert pi.stage_depth == pf.stage_depth == 43  # the int8 loop: the faster clock
    assert pi.interleave == 1 and pf.interleave == 5  # 178-level FP32 loop: ⌈178/43⌉
    assert pf.total / pi.total > f32.total / i8.total


def test_segments_follow_series_and_parallel_groups():
    assert segments(A.conditional_negate(8)) == [(1, 8, 1), (8, 8, 1)]
    mpy = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32").cost.find("mpy")
    assert segments(mpy) == [(mpy.depth, 8 + 5 + 1, 1)]  # side by side: one block, 14 bits
    tree = mac_cost("int8", "int8", "fp32", lanes=32).cost.find("tree32x16")
    assert all(share == 32 for _, _, share in segments(tree))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_stage_depth(bad):
    with pytest.raises(ValueError, match="stage_depth"):
        pipelined(mac_cost("int8", "int8"), bad)


def test_stage_depth_on_the_unit_prices_the_registers():
    plain = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", lanes=32)
    piped = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", lanes=32, stage_depth=48)
    p = pipelined(plain, 48)
    assert piped.breakdown()["pipeline"] == pytest.approx(p.register_gates)
    assert piped.total == pytest.approx(p.total)
    assert pipelined(piped, 48).total == pytest.approx(p.total)  # not counted twice
    with pytest.raises(ValueError, match="stage_depth"):
        mac_cost("int8", "int8", stage_depth=0)
