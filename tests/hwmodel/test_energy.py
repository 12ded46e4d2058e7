"""Energy model: traffic bits with scales, output width, memory hierarchy, measured activity,
per-component breakdown, energy tables.  Expected values are derived by hand from the
formats' specifications (OCP MX v1.0; MX4 of Rouhani et al. 2023; int4_g128 = INT4 + an FP16
scale per 128), not from the code under test."""

from __future__ import annotations

import numpy as np
import pytest

from lowbit import Quantizer, get_format
from lowbit.hwmodel import (
    HOROWITZ_2014_45NM,
    Activity,
    EnergyTable,
    Technology,
    array_cost,
    macsim,
    measure_activity,
)
from lowbit.hwmodel.array import COMPONENTS, mac_components

BIG = dict(technology=Technology(buffer_bytes=2**30), activity=0.5)  # everything fits on chip
GEMM, ARRAY = (32, 64, 48), (16, 16)
M, K, N = GEMM

# bits per block of K elements, from the specifications
MX4_BLOCK = 16 * 3 + 8 + 8 * 1  # 16 × (sign + 2 mantissa), 8-bit shared exponent, 8 × 1-bit µexp
MXFP4_BLOCK = 32 * 4 + 8  # 32 × E2M1, one E8M0
MXFP8_BLOCK = 32 * 8 + 8
G128_BLOCK = 128 * 4 + 16  # INT4 elements, one FP16 scale
NVFP4_BLOCK = 16 * 4 + 8  # E2M1 elements, one E4M3 scale (+ one FP32 per tensor)


def test_mx4_traffic_counts_four_bits_per_element():
    a = array_cost("mx4", "mx4", "fp32", gemm=GEMM, array=ARRAY, **BIG)
    assert MX4_BLOCK / 16 == 4  # not the 3 element bits
    assert a.traffic.a_bits == M * (K // 16) * MX4_BLOCK == M * K * 4
    assert a.traffic.w_bits == N * (K // 16) * MX4_BLOCK
    assert a.traffic.dram_read_bits == a.traffic.a_bits + a.traffic.w_bits
    assert a.pipeline_register_bits == 16 * 16 * (4 + 4)


@pytest.mark.parametrize(
    ("fmt", "block_bits", "block", "extra_a", "extra_w"),
    [
        ("mxfp4", MXFP4_BLOCK, 32, 0, 0),
        ("mxfp8_e4m3", MXFP8_BLOCK, 32, 0, 0),
        ("nvfp4", NVFP4_BLOCK, 16, 32, 32),  # one FP32 tensor scale each
        # 4-bit per-vector scales; γ in FP32 per output channel: rows of A, columns of W
        ("vsq_int4", 16 * 4 + 4, 16, 32 * M, 32 * N),
    ],
)
def test_block_scale_bits_in_traffic(fmt, block_bits, block, extra_a, extra_w):
    a = array_cost(fmt, fmt, "fp32", gemm=GEMM, array=ARRAY, **BIG)
    assert a.traffic.a_bits == M * (K // block) * block_bits + extra_a
    assert a.traffic.w_bits == N * (K // block) * block_bits + extra_w


def test_int4_g128_scale_bits_and_partial_block_padding():
    # K = 200: two groups per row, the second padded to 128 elements
    a = array_cost("int4_g128", "int4_g128", "fixed", gemm=(8, 200, 4), array=(4, 4), **BIG)
    assert a.traffic.a_bits == 8 * 2 * G128_BLOCK
    assert a.traffic.w_bits == 4 * 2 * G128_BLOCK


def test_per_channel_and_per_token_scales_of_scalar_quantizers():
    w = Quantizer("int8", granularity="per_channel", axis=1)  # one FP32 per output column
    x = Quantizer("int8", granularity="per_channel", axis=0, scale_format="fp16")  # per token
    a = array_cost(w, x, "fixed", gemm=GEMM, array=ARRAY, **BIG)
    assert a.traffic.w_bits == K * N * 8 + 32 * N
    assert a.traffic.a_bits == M * K * 8 + 16 * M
    assert a.mac.total == array_cost("int8", "int8", "fixed", gemm=GEMM, **BIG).mac.total
    assert a.pipeline_register_bits == 16 * 16 * 16  # scales stay in the epilogue


@pytest.mark.parametrize(
    ("kw", "bits"), [({}, 16), ({"output_format": "fp32"}, 32), ({"output_bits": 8}, 8)]
)
def test_output_width_is_the_output_format_not_the_accumulator(kw, bits):
    a = array_cost("mxfp4", "mxfp4", "fixed", gemm=GEMM, array=ARRAY, **BIG, **kw)
    assert a.mac.accumulator_width > 500  # the exact register over E8M0, never written out
    assert a.output_bits == bits
    assert a.traffic.dram_write_bits == M * N * bits
    assert a.sram_write_bits == a.traffic.dram_read_bits + M * N * bits
    with pytest.raises(ValueError, match="not both"):
        array_cost("int8", "int8", output_format="fp16", output_bits=16, activity=0.5)
    for bad in (0, True, 16.0):
        with pytest.raises(ValueError, match="output_bits"):
            array_cost("int8", "int8", output_bits=bad, activity=0.5)
    with pytest.raises(ValueError, match="scalar format"):
        array_cost("int8", "int8", output_format="mxfp4", activity=0.5)


def test_refetch_when_operands_do_not_fit_the_buffer():
    # int8, 32×64 A (16384 bits) and 64×48 W (24576 bits); 16×16 array: 2 row panels of A
    # (8192 bits each) and 3 column panels of W (8192 bits each)
    def dram(buffer_bytes):
        t = Technology(buffer_bytes=buffer_bytes)
        return array_cost("int8", "int8", gemm=GEMM, array=ARRAY, technology=t, activity=0.5)

    a_bits, w_bits = M * K * 8, K * N * 8
    assert dram(2**20).traffic.dram_read_bits == a_bits + w_bits  # both resident
    assert dram(2048).traffic.dram_read_bits == a_bits + w_bits  # A (2 KB) resident
    one_panel = dram(1024).traffic  # one 1 KB panel: keep A's, re-read W per row panel
    assert one_panel.dram_read_bits == a_bits + 2 * w_bits  # cheaper than W + 3·A
    assert one_panel.schedule == "A: 1 of 2 row panels resident"
    # 2 KB: both A panels, or 2 of W's 3 panels (W + ⌈3/2⌉·A = W + 2·A: dearer than A + W)
    assert dram(2048).traffic.schedule == "A: 2 of 2 row panels resident"
    three = array_cost(
        "int8",
        "int8",
        gemm=(64, 64, 48),
        array=ARRAY,
        technology=Technology(buffer_bytes=2048),
        activity=0.5,
    ).traffic  # A: 4 panels of 8192 bits, 2 fit → W read ⌈4/2⌉ = 2 times
    assert three.dram_read_bits == 64 * 64 * 8 + 2 * K * N * 8
    assert dram(512).traffic.dram_read_bits == 3 * a_bits + 2 * w_bits  # nothing fits
    # the array re-reads panels from the buffer however large it is
    assert one_panel.sram_read_bits == 3 * a_bits + 2 * w_bits + M * N * 16


def test_energy_components_from_gates_traffic_and_table():
    t = Technology()  # Horowitz 45 nm, 1 MB buffer, DRAM 1.3 nJ / 64 bits
    a = array_cost("int8", "int8", "fixed", gemm=GEMM, array=ARRAY, technology=t, activity=0.5)
    g = 0.2 / 428  # Horowitz int8 multiply / the model's 8×8 array multiplier gates
    macs = M * K * N
    gates, br = mac_components(a.mac), a.mac.breakdown()
    assert gates["multiplier"] == 428 and gates["reduction"] == 0
    assert gates["registers"] == 22 * 6  # the exact 22-bit register for K = 64: 2·8 + 6
    assert gates["accumulator"] == br["alignadd"] + br["normacc"] - 22 * 6
    e = a.energy_pj
    assert e["multiplier"] == pytest.approx(macs * 428 * g)
    assert e["accumulator"] == pytest.approx(macs * gates["accumulator"] * g)
    clock = a.cycles * 256 * (22 + 16) * 3.0 * g  # FFs per PE × 3 gate energies per cycle
    assert e["registers"] == pytest.approx(macs * (22 + 16) * 6 * g + clock)
    # fills (each operand once) + panel reads (A per column panel, W per row panel) +
    # outputs in and out
    sram_bits = (M * K + K * N) * 8 + (3 * M * K + 2 * K * N) * 8 + 2 * M * N * 16
    assert e["sram"] == pytest.approx(sram_bits * 100 / 64)
    assert e["dram"] == pytest.approx(((M * K + K * N) * 8 + M * N * 16) * 1300 / 64)
    assert e["total"] == pytest.approx(sum(e[c] for c in COMPONENTS))
    assert set(e) == {*COMPONENTS, "total"}  # legacy groups are answered but are not items
    assert e["mac"] == pytest.approx(e["multiplier"] + e["reduction"] + e["accumulator"])
    assert e["pipeline"] == e["registers"]
    assert sum(a.area_breakdown_gates.values()) == a.area_gates


def test_block_unit_components():
    a = array_cost("mxfp4", "mxfp4", "fp32", gemm=GEMM, array=ARRAY, activity=0.5)
    br = a.mac.breakdown()
    c = mac_components(a.mac)
    assert c["multiplier"] == br["mpy"] and c["reduction"] == br["block"]
    assert c["registers"] == pytest.approx(32 * 6 / 32)  # one FP32 register per 32 lanes
    assert sum(c.values()) == pytest.approx(a.mac.total)


def _popcount_rate(codes, bits, axis):
    """Slow reference: flipped bits between consecutive codes along axis, per bit."""
    c = np.moveaxis(np.asarray(codes, dtype=np.int64), axis, -1)
    pairs = (zip(row[:-1], row[1:], strict=True) for row in c)
    flips = sum(bin(int(x) ^ int(y)).count("1") for p in pairs for x, y in p)
    return flips / (bits * c.shape[0] * (c.shape[1] - 1))


def test_measured_activity_is_the_simulators():
    fmt = get_format("fp8_e4m3fn")
    act = measure_activity(fmt, fmt, "fp32", k=256, seed=3)
    rng = np.random.default_rng(3)  # the documented recipe: 8×K and K×8 N(0, 1), unscaled
    a_codes = fmt.encode(rng.standard_normal((8, 256)))
    w_codes = fmt.encode(rng.standard_normal((256, 8)))
    _, st = macsim.gemm(a_codes, w_codes, fmt, fmt, accumulator="fp32", toggles=True)
    assert act.accumulator == st.activity and act.accumulator != 0.5
    lo, hi = act.accumulator_ci95
    assert lo < act.accumulator < hi
    want = (_popcount_rate(a_codes, 8, 1) + _popcount_rate(w_codes, 8, 0)) / 2
    assert act.operands == pytest.approx(want, rel=1e-12)
    assert act.seed == 3 and act.shape == (8, 256, 8) and act.overflow == 0


def test_activity_from_macstats_drives_the_accumulator_energy():
    i8 = get_format("int8")
    rng = np.random.default_rng(0)
    a = i8.encode(np.round(rng.standard_normal((4, 64)) * 30))
    b = i8.encode(np.round(rng.standard_normal((64, 4)) * 30))
    _, st = macsim.gemm(a, b, i8, i8, accumulator="fp32", toggles=True)
    res = array_cost("int8", "int8", "fp32", gemm=GEMM, array=ARRAY, activity=st)
    half = array_cost("int8", "int8", "fp32", gemm=GEMM, array=ARRAY, activity=0.5)
    assert res.activity.accumulator == st.activity != 0.5
    assert res.activity.operands == 0.5 and "MacStats" in res.activity.source
    ratio = res.energy_pj["accumulator"] / half.energy_pj["accumulator"]
    assert ratio == pytest.approx(st.activity / 0.5)
    assert res.energy_pj["multiplier"] == half.energy_pj["multiplier"]
    with pytest.raises(ValueError, match="toggles=True"):
        array_cost("int8", "int8", activity=macsim.gemm(a, b, i8, i8)[1])


def test_default_activity_is_measured_and_says_so():
    a = array_cost("int8", "int8", "fp32", gemm=(16, 128, 16), array=(8, 8))
    assert a.activity.source.startswith("measured") and a.activity.accumulator != 0.5
    # E2M5's largest value is below N(0, 1)'s tail: scaled onto it, not NaN
    small = array_cost("fp8_e2m5fnuz", "fp8_e2m5fnuz", "fixed", gemm=(16, 4096, 16), array=(8, 8))
    assert small.activity.source.startswith("measured") and small.activity.overflow == 0
    wide = array_cost("int32", "int32", "fixed", gemm=(16, 128, 16), array=(8, 8))
    assert wide.activity.source.startswith("assumed 0.5 (Technology)")
    assert "16" in wide.activity.source  # the simulator's limit, named
    with pytest.raises(ValueError, match="activity=0.5"):
        array_cost("int32", "int32", gemm=(16, 128, 16), activity="measured")
    for bad in ("sometimes", 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="activity"):
            array_cost("int8", "int8", gemm=(16, 128, 16), activity=bad)
    assert Activity.assumed(0.25).operands == 0.25


def test_energy_tables_are_named_sourced_and_replaceable():
    t = HOROWITZ_2014_45NM
    assert "Horowitz" in t.source and "ISSCC 2014" in t.source
    assert dict(t.sram_pj_per_64b) == {8192: 10.0, 32768: 20.0, 1048576: 100.0}
    assert dict(t.dram_pj_per_64b) == {"low": 1300.0, "high": 2600.0}
    mine = EnergyTable(
        name="toy",
        source="a made-up table for this test",
        node_nm=7,
        op_pj={"int8_mult": 0.02},
        area_um2={"int8_mult": 10.0},
        sram_pj_per_64b={65536: 3.2},
        dram_pj_per_64b={"hbm": 256.0},
    )
    tech = Technology(7, table=mine, sram=65536, dram="hbm")
    assert tech.gate_energy_pj == pytest.approx(0.02 / 428)
    assert tech.sram_pj_per_bit() == pytest.approx(3.2 / 64)
    assert tech.dram_pj_per_bit() == 4.0 and tech.sram_bytes == 65536
    assert Technology(sram="8kb").sram_pj_per_bit() == 10 / 64
    assert Technology(sram="sram_32kb_read_64b").sram_pj_per_bit() == 20 / 64  # legacy name
    with pytest.raises(ValueError, match="has sizes"):
        Technology(table=mine)  # no 1 MB level in the toy table
    with pytest.raises(ValueError, match="int8_mult"):
        EnergyTable("x", "y", 45, {"fp32_add": 1.0}, {"int8_mult": 1.0}, {1: 1.0}, {"a": 1.0})
    with pytest.raises(ValueError, match="must be > 0"):
        EnergyTable("x", "y", 45, {"int8_mult": -1.0}, {"int8_mult": 1.0}, {1: 1.0}, {"a": 1.0})
    with pytest.raises(ValueError, match="buffer_bytes"):
        Technology(buffer_bytes=0)


def test_w4a16_traffic_and_measured_activity():
    from lowbit.hwmodel.memory import tensor_bits

    assert tensor_bits("fp16", 8, 256, k_axis=1) == 8 * 256 * 16  # activations: no scales
    assert tensor_bits("int4_g128", 256, 4, k_axis=0) == 4 * 2 * G128_BLOCK  # weights K×N
    g128, fp16 = get_format("int4_g128"), get_format("fp16")
    act = measure_activity(g128, fp16, "fp32", k=256, lanes=128, seed=1)
    rng = np.random.default_rng(1)  # the recipe: A then W, N(0, 1); fp16 unscaled
    a = fp16.encode(rng.standard_normal((8, 256)))
    w = g128.encode(rng.standard_normal((256, 8)), axis=0)  # codes and scales with K last
    scales = np.asarray(g128.scale_format.decode(np.asarray(w.scales)), dtype=np.float64).T
    codes = np.ascontiguousarray(np.asarray(w.codes).T)
    _, st = macsim.gemm(
        a, codes, fp16, g128.element, accumulator="fp32", order="blocks", block=128,
        scales=(None, np.ascontiguousarray(scales)), scale_block=128, toggles=True,
    )  # fmt: skip
    assert act.accumulator == st.activity and st.steps == 8 * 8 * 2
