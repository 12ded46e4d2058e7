"""lowbit.evaluation.accumulate: the binary point from the output range, and narrow
accumulation promoted into FP32 — against hand values, numpy float16/float32 arithmetic and
the simulator's own FP32 accumulator."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import lowbit
from lowbit.evaluation import quantize_operand
from lowbit.evaluation.accumulate import (
    FP22,
    accumulate,
    choose_frac,
    fixed_register,
    partial_sum_bound,
    resolve_accumulator,
)

needs_c = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built (run: python csrc/build_macsim.py)",
)


def test_choose_frac_hand_cases():
    # 24 bits hold (2^23 − 1)·2^−F; 413 needs 9 integer bits: F = 23 − 9 = 14
    assert choose_frac(24, 413.0, 0) == 14
    assert choose_frac(24, 413.0, 1) == 13  # one bit of headroom
    assert choose_frac(24, 412.0 + 1.0, 2) == 12
    # at the boundary: (2^23 − 1)·2^−14 is held, one ulp more is not
    top = (2**23 - 1) * 2.0**-14
    assert choose_frac(24, top, 0) == 14
    assert choose_frac(24, np.nextafter(top, np.inf), 0) == 13
    assert choose_frac(16, 32767.0, 0) == 0 and choose_frac(16, 32768.0, 0) == -1
    assert choose_frac(8, 2.0**-10, 0) == 16  # 127 · 2^-16 ≥ 2^-10
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="bound"):
            choose_frac(24, bad)
    with pytest.raises(ValueError, match="width"):
        choose_frac(1, 1.0)
    with pytest.raises(ValueError, match="headroom"):
        choose_frac(24, 1.0, -1)


def test_resolve_accumulator_adds_fp22():
    assert resolve_accumulator("fp22") is FP22 and (FP22.man_bits, FP22.emax) == (13, 127)
    assert resolve_accumulator("bf16").name == "bf16"
    assert fixed_register(24, None).frac is None


def _gauss_ops(xs, ws, m=3, k=512, n=2, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    return quantize_operand(x, xs, "activation"), quantize_operand(w, ws, "weight")


PAIRS = [
    ("int8:per_token", "int8:per_channel"),
    ("fp8_e4m3fn:per_tensor", "fp8_e4m3fn:per_tensor"),
    ("mxfp4", "mxfp4"),
    ("nvfp4", "nvfp4"),
    ("int4_g128", "int4_g128"),
]


@needs_c
@pytest.mark.parametrize("outer", ["fold_pow2", "epilogue"])
@pytest.mark.parametrize("xs,ws", PAIRS)
def test_promotion_with_interval_at_least_k_is_the_plain_accumulation(xs, ws, outer):
    # one chunk: the narrow register's sum added to FP32 zero (exact), then the epilogue
    qa, qb = _gauss_ops(xs, ws)
    for acc, order in (("fp16", "sequential"), ("bf16", "blocks"), ("fp22", "pairwise")):
        y, st = accumulate(qa, qb, acc, order, outer_scales=outer)
        for interval in (512, 4096):
            yp, sp = accumulate(qa, qb, acc, order, interval=interval, outer_scales=outer)
            np.testing.assert_array_equal(yp, y)
            assert (sp.swamping, sp.absorbed, sp.overflow) == (
                st.swamping,
                st.absorbed,
                st.overflow,
            )
            assert sp.steps == st.steps + y.size  # plus one FP32 addition per output


@needs_c
def test_interval_one_is_fp32_accumulation_of_rounded_products():
    # each product rounded once to FP16 (0 + p), then summed in FP32 in order: numpy's
    # float64 → float16 conversion rounds to nearest even, float32 additions likewise
    qa, qb = _gauss_ops("fp8_e4m3fn:none", "fp8_e4m3fn:none", m=2, k=96, n=3, seed=4)
    y, st = accumulate(qa, qb, "fp16", "sequential", interval=1)
    want = np.zeros((2, 3), np.float32)
    for kk in range(96):
        p = np.outer(qa.values[:, kk], qb.values[kk]).astype(np.float16).astype(np.float32)
        want = want + p
    np.testing.assert_array_equal(y, want.astype(np.float64))
    assert st.steps == 2 * 2 * 3 * 96 and st.macs == 2 * 3 * 96


def _fp32_sum_by_macsim(parts: np.ndarray, fmt) -> tuple[np.ndarray, object]:
    """Σ_c parts[i, j, c] sequentially in the simulator's FP32 accumulator: for each
    output column j, A = parts[:, j, :] (codes of ``fmt``) times a column of ones."""
    from lowbit.hwmodel.macsim import gemm

    m, n, c = parts.shape
    ones = np.ascontiguousarray(fmt.encode(np.ones((c, 1))))
    out = np.zeros((m, n))
    total = dict(swamping=0, absorbed=0, overflow=0)
    for j in range(n):
        a = np.ascontiguousarray(fmt.encode(parts[:, j, :]))
        col, st = gemm(a, ones, fmt, fmt, accumulator="fp32", order="sequential")
        out[:, j] = col[:, 0]
        for key in total:
            total[key] += st[key]
    return out, total


@needs_c
@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_numpy_float32_additions_are_the_simulators_fp32(name):
    from lowbit.evaluation.accumulate import _fp32_add

    fmt = lowbit.get_format(name)
    rng = np.random.default_rng(7)
    m, n, c = 3, 4, 64
    lo, hi = (-14, 15) if name == "fp16" else (-100, 127)  # bf16 reaches FP32 overflow
    parts = rng.choice([-1.0, 1.0], (m, n, c)) * rng.uniform(1, 2, (m, n, c))
    parts = np.ldexp(parts, rng.integers(lo, hi, (m, n, c)))
    if name == "bf16":  # one output runs past FP32's largest value: Inf, then no events
        parts[0, 0, :8] = 1.5 * 2.0**126
    parts = np.asarray(fmt.decode(fmt.encode(parts)))
    want, stats = _fp32_sum_by_macsim(parts, fmt)
    acc = np.zeros((m, n), np.float32)
    counts = dict(overflow=0, swamping=0, absorbed=0)
    for i in range(c):
        acc = _fp32_add(acc, parts[:, :, i].astype(np.float64), counts)
    np.testing.assert_array_equal(acc.astype(np.float64), want)
    assert counts == stats and counts["swamping"] > 0
    assert (counts["overflow"] > 0) == (name == "bf16")


@needs_c
def test_promotion_partials_are_chunked_plain_accumulations():
    # interval 128: the partials are the plain FP16 accumulations of each K-chunk, and
    # their FP32 sum is the simulator's FP32 accumulator over them
    qa, qb = _gauss_ops("fp8_e4m3fn:none", "fp8_e4m3fn:none", m=2, k=1024, n=2, seed=1)
    y, _ = accumulate(qa, qb, "fp16", "blocks", interval=128)
    f16 = lowbit.get_format("fp16")
    parts = []
    for k0 in range(0, 1024, 128):
        ca = quantize_operand(qa.values[:, k0 : k0 + 128], "fp8_e4m3fn:none", "activation")
        cb = quantize_operand(qb.values[k0 : k0 + 128], "fp8_e4m3fn:none", "weight")
        parts.append(accumulate(ca, cb, "fp16", "blocks")[0])
    want, _ = _fp32_sum_by_macsim(np.stack(parts, axis=2), f16)
    np.testing.assert_array_equal(y, want)


@needs_c
@pytest.mark.parametrize("xs,ws", [PAIRS[0], PAIRS[2], PAIRS[3]])
def test_batched_chunks_equal_one_call_per_chunk(monkeypatch, xs, ws):
    # several chunks per simulator call (their diagonal blocks) give the same partials
    # and event counts as one call per chunk; 544 = 4 chunks of 128 and a rest of 32
    import lowbit.evaluation.accumulate as acc_mod

    qa, qb = _gauss_ops(xs, ws, m=3, k=544, n=2, seed=6)
    y, st = accumulate(qa, qb, "bf16", "blocks", interval=128)
    monkeypatch.setattr(acc_mod, "GROUP_MACS", 1)
    y1, st1 = accumulate(qa, qb, "bf16", "blocks", interval=128)
    np.testing.assert_array_equal(y, y1)
    assert st.as_dict() == st1.as_dict() and st.swamping > 0


@needs_c
def test_partial_sum_bound_is_the_largest_prefix_sum():
    qa, qb = _gauss_ops("fp8_e4m3fn:none", "fp8_e4m3fn:none", m=3, k=256, n=2, seed=2)
    prods = qa.values[:, :, None] * qb.values[None, :, :]  # exact: 8-bit significands
    want = np.abs(np.cumsum(prods, axis=1)).max()
    assert partial_sum_bound(qa, qb, "sequential") == want
    blocks = np.cumsum(prods.reshape(3, 8, 32, 2).sum(axis=2), axis=1)
    assert partial_sum_bound(qa, qb, "blocks", lanes=32) == np.abs(blocks).max()


@needs_c
def test_partial_sum_bound_with_folded_scales_is_in_real_units():
    # fold_pow2 leaves the significands m = s / 2^⌊log2 s⌋ ∈ [1, 2) of the per-token and
    # per-channel scales to the epilogue: the bound is the register's times their largest
    qa, qb = _gauss_ops("int8:per_token", "int8:per_channel", m=3, k=256, n=2, seed=5)
    exact = accumulate(qa, qb, "exact", "sequential", outer_scales="fold_pow2")[1].max_abs
    sig = [float((s / 2.0 ** np.floor(np.log2(s))).max()) for s in (qa.scales, qb.scales)]
    assert all(1 <= m < 2 for m in sig)
    assert partial_sum_bound(qa, qb, "sequential") == exact * sig[0] * sig[1]
    # epilogue: the register holds integer code sums, and so does the bound
    codes = qa.data.astype(np.int64) - 256 * (qa.data > 127)
    wcodes = qb.data.astype(np.int64) - 256 * (qb.data > 127)
    want = np.abs(np.cumsum(codes[:, :, None] * wcodes[None, :, :], axis=1)).max()
    assert partial_sum_bound(qa, qb, "sequential", outer_scales="epilogue") == want


@needs_c
def test_binary_point_from_the_range_beats_the_lsb_placement():
    # FP8 E4M3 × E4M3 products need 18 fraction bits; at the LSB a 24-bit register keeps
    # 5 integer bits and saturates, F from the range keeps the sums
    qa, qb = _gauss_ops("fp8_e4m3fn:none", "fp8_e4m3fn:none", m=4, k=4096, n=4, seed=3)
    exact, _ = accumulate(qa, qb, "exact", "sequential")
    f = choose_frac(24, partial_sum_bound(qa, qb), 1)
    assert f < 18
    y, st = accumulate(qa, qb, fixed_register(24, f))
    assert st.overflow == 0
    assert np.linalg.norm(y - exact) / np.linalg.norm(exact) < 2.0 ** -(24 - 1 - 1 - 9)
    _, st_lsb = accumulate(qa, qb, fixed_register(24, None))
    assert st_lsb.overflow > 0


@needs_c
def test_bad_arguments_name_the_thing():
    qa, qb = _gauss_ops("mxfp4", "mxfp4", k=256)
    with pytest.raises(ValueError, match="multiple of lanes"):
        accumulate(qa, qb, "fp16", "blocks", lanes=48, interval=64)
    with pytest.raises(ValueError, match="scale block 32"):
        accumulate(qa, qb, "fp16", "sequential", interval=16)
    with pytest.raises(ValueError, match="float accumulator"):
        accumulate(qa, qb, "fixed:24:8", "blocks", interval=64)
    with pytest.raises(ValueError, match="order"):
        accumulate(qa, qb, "fp16", "diagonal")
    with pytest.raises(ValueError, match="interval"):
        accumulate(qa, qb, "fp16", interval=0)
    with pytest.raises(ValueError, match="outer_scales"):
        accumulate(qa, qb, "fp16", outer_scales="prologue")


@needs_c
def test_docstring_examples_run_with_the_c_core():
    import doctest

    import lowbit.evaluation.accumulate as mod

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(mod):
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 8
