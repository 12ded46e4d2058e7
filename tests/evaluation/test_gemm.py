"""quantized_gemm against an exact Fraction model of the unit written here from the
formats' fields (element values × block scales in the accumulator, outer scales after)."""

from __future__ import annotations

import importlib.util
import math
from fractions import Fraction

import numpy as np
import pytest

import lowbit
from lowbit.evaluation import error_metrics, quantized_gemm
from lowbit.evaluation.operands import parse_spec
from lowbit.hwmodel.macsim.reference import round_to_float

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built (run: python csrc/build_macsim.py)",
)
FP16 = lowbit.get_format("fp16")


def _f(fmt, codes):
    return np.asarray(fmt.decode(codes), dtype=np.float64)


def scaled_domain(q):
    """(factors the accumulator sees, K-major orientation of the operand; outer vector)."""
    role_axis = 1 if q.role == "activation" else 0
    if not q.spec.is_block:
        v = _f(q.element, q.data)
        if q.scales is not None and q.scales.ndim == 2:
            return v * np.repeat(q.scales, q.scale_block, axis=role_axis), None
        return v, q.scales
    enc, fmt = q.data, q.data.format
    if fmt.family not in ("vs_quant", "nvfp4"):
        # no outer scale: the block scales multiply each product, so the accumulator sees
        # the decoded values themselves (float32 holds them exactly)
        return _f(fmt, enc), None
    codes = enc.codes.T if role_axis == 0 else enc.codes  # stored K-last
    el = _f(fmt.element, codes)
    if fmt.family == "vs_quant":
        sc = np.asarray(enc.scales, dtype=np.float64)
        outer = np.asarray(enc.outer_scale, dtype=np.float64)
    else:  # NVFP4: E4M3 block scales in the products, the FP32 tensor scale after
        sc = _f(fmt.scale_format, enc.scales)
        outer = np.full(enc.codes.shape[0], float(enc.tensor_scale))
    sc = sc.T if role_axis == 0 else sc
    full = np.repeat(sc, fmt.block_size, axis=role_axis)[: el.shape[0], : el.shape[1]]
    return el * full, outer


def fold(factors, vec, side):
    """The documented fold_pow2 rule: s = 2^e · m, 1 ≤ m < 2; 2^e joins the products."""
    if vec is None:
        return factors, vec
    p2 = np.ldexp(1.0, np.frexp(vec)[1] - 1)
    return factors * (p2[:, None] if side == "a" else p2[None, :]), vec / p2


def model(qa, qb, acc, order, lanes, outer="epilogue"):
    a, va = scaled_domain(qa)
    b, vb = scaled_domain(qb)
    if outer == "fold_pow2":
        (a, va), (b, vb) = fold(a, va, "a"), fold(b, vb, "b")
    fmt = lowbit.get_format(acc)
    m, k = a.shape
    y = np.zeros((m, b.shape[1]))
    step = lanes if order == "blocks" else 1
    for i in range(m):
        for j in range(b.shape[1]):
            s = 0.0
            for t in range(0, k, step):
                p = sum(Fraction(a[i, u]) * Fraction(b[u, j]) for u in range(t, min(t + step, k)))
                if not math.isfinite(s):
                    continue  # ±Inf stays (no opposite Inf arises here)
                x = Fraction(s) + p
                s = round_to_float(x, fmt.man_bits, fmt.emin, fmt.emax)[0] if x else 0.0
            y[i, j] = s
    if va is not None:
        y = y * va[:, None]
    if vb is not None:
        y = y * vb[None, :]
    return y


CASES = [
    ("int8:per_token", "int8:per_channel"),  # W8A8
    ("fp16", "int4_g128"),  # W4A16
    ("fp8_e4m3fn:per_token:mse", "fp8_e4m3fn:per_channel:minmax:fp16"),
    ("int8:g16", "fp8_e4m3fn:g16:minmax:fp16"),
    ("mxfp4", "mxfp8_e4m3"),
    ("nvfp4", "nvfp4"),
    ("vsq_int4", "vsq_int4"),
    ("mx9", "mx9"),
]


@pytest.mark.parametrize("x_spec, w_spec", CASES)
@pytest.mark.parametrize("order", ["sequential", "blocks"])
def test_simulated_output_is_the_exact_model(x_spec, w_spec, order):
    rng = np.random.default_rng(len(x_spec) + len(w_spec))
    x, w = rng.standard_normal((2, 128)), rng.standard_normal((128, 2)) * 0.1
    outer = "fold_pow2" if x_spec == "nvfp4" else "epilogue"
    r = quantized_gemm(x, w, x_spec, w_spec, "fp16", order, lanes=16, outer_scales=outer)
    qa = lowbit.evaluation.quantize_operand(x, x_spec, "activation")
    qb = lowbit.evaluation.quantize_operand(w, w_spec, "weight")
    assert np.array_equal(r.y, model(qa, qb, "fp16", order, 16, outer), equal_nan=True)
    np.testing.assert_array_equal(r.y_ref, x @ w)


@pytest.mark.parametrize("x_spec, w_spec", CASES)
def test_exact_accumulation_is_the_dequantized_product(x_spec, w_spec):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((3, 64)), rng.standard_normal((64, 2))
    r = quantized_gemm(x, w, x_spec, w_spec, accumulator="exact")
    qa = lowbit.evaluation.quantize_operand(x, x_spec, "activation")
    qb = lowbit.evaluation.quantize_operand(w, w_spec, "weight")
    exact = np.array(
        [[float(sum(Fraction(p) * Fraction(q) for p, q in zip(qa.values[i], qb.values[:, j], strict=True)))
          for j in range(2)] for i in range(3)]
    )  # fmt: skip
    # the outer scales multiply the exact sum afterwards: ≤ 2 more roundings
    np.testing.assert_allclose(r.y_exact, exact, rtol=3 * 2**-53, atol=0)
    np.testing.assert_allclose(r.y, exact, rtol=3 * 2**-53, atol=0)
    np.testing.assert_allclose(r.y_exact, qa.values @ qb.values, rtol=1e-12, atol=1e-12)
    assert r.feasible and r.metrics["acc_rel_fro"] < 1e-15
    assert r.metrics["q_sqnr_db"] == pytest.approx(r.metrics["sqnr_db"], rel=1e-9)


def test_one_block_of_all_k_is_one_rounding():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 64)), rng.standard_normal((64, 3))
    r = quantized_gemm(x, w, "fp16", "int4_g128", accumulator="fp16", order="blocks", lanes=64)
    rounded = [[round_to_float(Fraction(v), 10, -14, 15)[0] for v in row] for row in r.y_exact]
    np.testing.assert_array_equal(r.y, rounded)


def test_float_overflow_is_infeasible():
    x, w = np.full((1, 64), 300.0), np.full((64, 1), 300.0)
    r = quantized_gemm(x, w, "fp16", "fp16", accumulator="fp16")
    assert (
        not r.feasible and r.reason == "1 of 1 outputs non-finite; 1 accumulator steps overflowed"
    )
    assert r.metrics["nonfinite_frac"] == 1.0 and math.isnan(r.metrics["sqnr_db"])
    assert r.metrics["q_sqnr_db"] > 60  # the quantized operands themselves are fine


def test_fixed_point_saturation_is_infeasible_though_finite():
    x, w = np.ones((2, 64)), np.ones((64, 2))
    r = quantized_gemm(x, w, "int8:per_token", "int8:per_channel", "fixed:16:0:saturate",
                       order="sequential")  # fmt: skip
    assert np.isfinite(r.y).all() and r.stats.overflow > 0
    assert not r.feasible and "overflowed" in r.reason
    # 127² · 64 = 1,032,256 needs 21 bits: int32 holds it
    ok = quantized_gemm(x, w, "int8:per_token", "int8:per_channel", "fixed:32:0:saturate")
    assert ok.feasible and ok.metrics["acc_rel_fro"] == 0.0


def test_nvfp4_into_fp16_scaled_domain_overflows():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 256)), rng.standard_normal((256, 8))
    epi = quantized_gemm(x, w, "nvfp4", "nvfp4", accumulator="fp16")
    fold = quantized_gemm(x, w, "nvfp4", "nvfp4", accumulator="fp16", outer_scales="fold_pow2")
    assert not epi.feasible and epi.metrics["nonfinite_frac"] == 1.0
    assert fold.feasible and fold.metrics["acc_sqnr_db"] > 40
    assert fold.metrics["q_sqnr_db"] == pytest.approx(epi.metrics["q_sqnr_db"], abs=1e-9)


def test_error_metrics_by_hand():
    y, ref = np.array([[1.0, 2.0], [3.0, -4.5]]), np.array([[1.0, 2.0], [3.0, -4.0]])
    m = error_metrics(y, ref)
    assert m["sqnr_db"] == pytest.approx(10 * math.log10(30 / 0.25))
    assert m["rel_fro"] == pytest.approx(0.5 / math.sqrt(30))
    assert (m["max_abs_err"], m["max_rel_err"]) == (0.5, 0.125)
    assert all(math.isnan(v) for v in error_metrics(np.array([np.inf]), np.ones(1)).values())


def test_config_and_checks():
    x, w = np.ones((2, 32)), np.ones((32, 3))
    r = quantized_gemm(x, w, "int8:per_token", parse_spec("int8:per_channel"), lanes=8)
    assert r.config | {} == dict(
        x_spec="int8:per_token:minmax:fp32", w_spec="int8:per_channel:minmax:fp32",
        accumulator="fp32", order="blocks", lanes=8, rounding="nearest_even",
        outer_scales="epilogue", M=2, K=32, N=3,
    )  # fmt: skip
    assert r.stats.steps == 2 * 3 * 4
    assert r.metrics["swamping_frac"] == r.stats.swamping / 24
    # 2048 + 1 is a tie in FP16 (its spacing at 2048 is 2): to even, the 1 is wholly lost
    xl = np.array([[2048.0, 1.0, 1.0, 1.0]])
    lost = quantized_gemm(xl, np.ones((4, 1)), "fp16", "fp16", "fp16", order="sequential")
    assert lost.y[0, 0] == 2048.0 and lost.y_exact[0, 0] == 2051.0
    assert lost.metrics["absorbed_frac"] == lost.metrics["swamping_frac"] == 3 / 4
    with pytest.raises(ValueError, match="inner dimensions"):
        quantized_gemm(x, np.ones((16, 3)), "int8", "int8")
    with pytest.raises(ValueError, match="lanes"):
        quantized_gemm(x, w, "int8", "int8", lanes=0)


def test_unscaled_operand_beyond_its_range_is_infeasible():
    x, w = np.full((1, 8), 1e5), np.full((8, 1), 1.0)
    r = quantized_gemm(x, w, "fp16", "fp16", accumulator="fp32")  # 1e5 > 65504: Inf
    assert not r.feasible and r.reason == "the quantized activation holds ±Inf or NaN"
    assert np.isnan(r.y_exact).all() and math.isnan(r.metrics["q_sqnr_db"])
    assert r.stats is None and r.metrics["nonfinite_frac"] == 1.0
