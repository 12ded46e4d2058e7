"""The numpy MAC simulator against the C core and the exact reference, bit for bit."""

from __future__ import annotations

import importlib.util
import zlib

import numpy as np
import pytest

from lowbit import FloatFormat, get_format
from lowbit.hwmodel.macsim import FixedAccumulator
from lowbit.hwmodel.macsim.numpy_oracle import gemm_numpy, round_bits, round_to_grid
from lowbit.hwmodel.macsim.reference import gemm_ref, round_to_float

HAVE_C = importlib.util.find_spec("lowbit.hwmodel._macsim") is not None
needs_c = pytest.mark.skipif(not HAVE_C, reason="C extension lowbit.hwmodel._macsim not built")

E4M3 = get_format("fp8_e4m3fn")
E5M2 = get_format("fp8_e5m2")
I8 = get_format("int8")
ROUNDINGS = ["nearest_even", "toward_zero"]
STATS = ("overflow", "swamping", "absorbed", "max_abs", "macs")
FLOAT_ACCS = [
    "fp32",
    "fp16",
    "bf16",
    FloatFormat(5, 10, subnormals=False, name="fp16_ftz"),
    FloatFormat(4, 3, name="e4m3_ieee_acc"),
    FloatFormat(3, 2, subnormals=False, name="e3m2_ftz_acc"),
]
NARROW_FIXED = [
    FixedAccumulator(w, 0, mode) for w in (10, 14, 16, 20) for mode in ("wrap", "saturate")
]
# ties, cancellation, overflow and subnormal products (as tests/hwmodel/test_macsim.py)
ADVERSARIAL = [0.0, 1.0, -1.0, 0.5, -0.25, 1.125, -1.875, 448.0, -448.0, 2.0**-9, -(2.0**-9),
               2.0**-6, 3 * 2.0**-9, 240.0, -0.0]  # fmt: skip


def finite_codes(fmt) -> np.ndarray:
    vals = np.asarray(fmt.decode(np.arange(2**fmt.bits, dtype=np.uint16)), dtype=np.float64)
    return np.flatnonzero(np.isfinite(vals)).astype(np.uint16)


def bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)


def check(oracle, fa, fb, a, b, acc, rounding="nearest_even"):
    """gemm_numpy equals the oracle bit for bit, stats included; returns (result, stats)."""
    got, st = gemm_numpy(a, b, fa, fb, accumulator=acc, rounding=rounding)
    want, st_want = oracle(a, b, fa, fb, accumulator=acc, rounding=rounding)
    np.testing.assert_array_equal(bits(got), bits(want))
    assert {key: st_want[key] for key in STATS} == {key: st[key] for key in STATS}
    return got, st


def c_gemm(*args, **kw):
    from lowbit.hwmodel.macsim import gemm

    return gemm(*args, **kw)


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# --- known answers ---------------------------------------------------------------------------


def test_known_answers_fp16_ties_and_fp32():
    a = E4M3.encode(np.array([[1.0, 0.25, 0.25]]))
    b = E4M3.encode(np.array([[1.0], [2.0**-9], [2.0**-9]]))
    c, st = gemm_numpy(a, b, E4M3, E4M3, accumulator="fp16")
    assert c.tolist() == [[1.0]] and st["swamping"] == 2 and st["absorbed"] == 2
    c, st = gemm_numpy(a, b, E4M3, E4M3, accumulator="fp32")
    assert c.tolist() == [[1.0 + 2.0**-10]] and st["swamping"] == 0
    assert st["max_abs"] == 1.0 + 2.0**-10 and st["macs"] == 3


@pytest.mark.parametrize(
    "mode,want,events", [("wrap", 4 * 16129 - 65536, 1), ("saturate", 32767, 2)]
)
def test_known_answers_fixed_overflow(mode, want, events):
    a = I8.encode(np.full((1, 4), 127.0))
    c, st = gemm_numpy(a, a.T.copy(), I8, I8, accumulator=FixedAccumulator(16, 0, mode))
    assert c[0, 0] == want and st["overflow"] == events


def test_known_answers_overflow_to_inf_and_toward_zero():
    big = E5M2.encode(np.array([[57344.0, 57344.0, -57344.0, 1.0]]))
    col = E5M2.encode(np.array([[1.0], [1.0], [1.0], [2.0**-16]]))
    c, st = gemm_numpy(big, col, E5M2, E5M2, accumulator="fp16")
    assert c[0, 0] == np.inf and st["overflow"] == 1 and st["max_abs"] == np.inf
    c, st = gemm_numpy(big, col, E5M2, E5M2, accumulator="fp16", rounding="toward_zero")
    assert c[0, 0] == 8160.0 and st["overflow"] == 1  # 65504 − 57344, the tiny product lost


def test_rounding_helpers_match_the_reference_rounding():
    from fractions import Fraction

    rng = np.random.default_rng(5)
    # exact doubles with ≤ 40 significant bits over the FP16 range and beyond
    s = np.ldexp(
        rng.integers(-(2**40), 2**40, 4000).astype(np.float64), -rng.integers(30, 70, 4000)
    )
    for fmt in (get_format("fp16"), FloatFormat(5, 10, subnormals=False), FloatFormat(4, 3)):
        for rnd in ROUNDINGS:
            got, _ = round_to_grid(s, fmt.man_bits, fmt.emin, fmt.emax, fmt.subnormals, rnd)
            want = [
                round_to_float(Fraction(x), fmt.man_bits, fmt.emin, fmt.emax, fmt.subnormals, rnd)[0]
                if x != 0 else x
                for x in s
            ]  # fmt: skip
            np.testing.assert_array_equal(bits(got), bits(np.array(want)))
    normal = s[np.abs(s) >= 2.0**-100]
    for rnd in ROUNDINGS:
        got = round_bits(normal.copy(), 7, rnd)
        want, _ = round_to_grid(normal, 7, -126, 127, True, rnd)
        np.testing.assert_array_equal(bits(got), bits(want))


# --- against the exact reference on tiny GEMMs -------------------------------------------------


@pytest.mark.parametrize("acc", FLOAT_ACCS, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_float_vs_reference_adversarial(acc, rounding):
    rng = rng_for("ref", str(acc), rounding)
    pool = np.unique(E4M3.encode(np.array(ADVERSARIAL))).astype(np.uint16)
    a = rng.choice(pool, (4, 24)).astype(np.uint16)
    b = rng.choice(pool, (24, 3)).astype(np.uint16)
    _, st = check(gemm_ref, E4M3, E4M3, a, b, acc, rounding)
    assert st["swamping"] > 0


@pytest.mark.parametrize("acc", NARROW_FIXED[:4] + ["exact"], ids=str)
def test_fixed_vs_reference(acc):
    rng = rng_for("fixed-ref", str(acc))
    a = rng.integers(0, 256, (3, 40)).astype(np.uint8)
    b = rng.integers(0, 256, (40, 4)).astype(np.uint8)
    check(gemm_ref, I8, I8, a, b, acc)


# --- against the C core on random and adversarial GEMMs ---------------------------------------


@needs_c
@pytest.mark.parametrize("acc", NARROW_FIXED + [FixedAccumulator(32, 0, "wrap"), "exact"], ids=str)
def test_int8_fixed_vs_c(acc):
    rng = rng_for("int8", str(acc))
    a = rng.integers(0, 256, (17, 300)).astype(np.uint8)
    b = rng.integers(0, 256, (300, 13)).astype(np.uint8)
    _, st = check(c_gemm, I8, I8, a, b, acc)
    if isinstance(acc, FixedAccumulator) and acc.width <= 16:
        assert st["overflow"] > 0
    # all-extreme operands: every step near the edge of the register
    a = rng.choice(np.array([127, 128], np.uint8), (5, 64))
    check(c_gemm, I8, I8, a, a.T.copy(), acc)


@needs_c
@pytest.mark.parametrize("acc", FLOAT_ACCS, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("fmt", [E4M3, E5M2], ids=str)
def test_fp8_float_vs_c(acc, rounding, fmt):
    rng = rng_for("fp8", str(acc), rounding, str(fmt))
    a = fmt.encode(rng.standard_normal((16, 400)))
    b = fmt.encode(rng.standard_normal((400, 12)) * 4)
    _, st = check(c_gemm, fmt, fmt, a, b, acc, rounding)
    assert st["macs"] == 16 * 400 * 12
    if acc in ("fp16", "bf16"):
        assert st["swamping"] > 0
    # random finite codes: huge and tiny products, overflow in narrow accumulators (E5M2: its
    # codes of magnitude 2^-8..2^8, so that every sum acc + product is exact in float64)
    pool = finite_codes(fmt)
    if fmt is E5M2:
        mag = np.abs(fmt.decode(pool).astype(np.float64))
        pool = pool[(mag == 0) | ((mag >= 2.0**-8) & (mag <= 2.0**8))]
    a = rng.choice(pool, (6, 60)).astype(np.uint16)
    b = rng.choice(pool, (60, 5)).astype(np.uint16)
    check(c_gemm, fmt, fmt, a, b, acc, rounding)


@needs_c
@pytest.mark.parametrize("acc", ["fp32", "fp16", "bf16"])
def test_fp8_adversarial_vs_c(acc):
    rng = rng_for("adv", acc)
    pool = np.unique(E4M3.encode(np.array(ADVERSARIAL))).astype(np.uint16)
    a = rng.choice(pool, (20, 200)).astype(np.uint16)
    b = rng.choice(pool, (200, 20)).astype(np.uint16)
    check(c_gemm, E4M3, E4M3, a, b, acc)
    # long K of one large product and many small ones: swamping grows with K
    a = E4M3.encode(np.concatenate([[[448.0]], np.full((1, 2047), 2.0**-3)], axis=1))
    b = E4M3.encode(np.full((2048, 1), 1.0))
    c, st = check(c_gemm, E4M3, E4M3, a, b, acc)
    if acc == "fp32":
        assert c[0, 0] == 448.0 + 2047 / 8 and st["swamping"] == 0
    elif acc == "fp16":  # ulp(448) = 0.25: 448 + 0.125 is a tie, to even; stuck from the start
        assert c[0, 0] == 448.0 and st["absorbed"] == 2047


# --- errors -------------------------------------------------------------------------------------


def test_bad_input():
    a = np.zeros((2, 3), np.uint8)
    b = np.zeros((3, 2), np.uint8)
    with pytest.raises(ValueError, match="inner dimensions"):
        gemm_numpy(a, b.T.copy(), E4M3, E4M3)
    with pytest.raises(TypeError, match="integer dtype"):
        gemm_numpy(a.astype(np.float32), b, E4M3, E4M3)
    with pytest.raises(TypeError, match="numpy array"):
        gemm_numpy(a.tolist(), b, E4M3, E4M3)
    with pytest.raises(ValueError, match="2-D"):
        gemm_numpy(a.ravel(), b, E4M3, E4M3)
    with pytest.raises(ValueError, match="outside"):
        gemm_numpy(a.astype(np.int16) - 1, b, E4M3, E4M3)
    with pytest.raises(ValueError, match="outside"):
        gemm_numpy(a, b.astype(np.uint16) + 300, E4M3, I8)
    with pytest.raises(ValueError, match="non-finite"):
        gemm_numpy(a + 127, b, E4M3, E4M3)  # 0x7f is NaN in e4m3fn
    with pytest.raises(ValueError, match="rounding"):
        gemm_numpy(a, b, E4M3, E4M3, rounding="stochastic")
    with pytest.raises(ValueError, match="accumulator"):
        gemm_numpy(a, b, E4M3, E4M3, accumulator="fp64")
    with pytest.raises(ValueError, match="IEEE"):
        gemm_numpy(a, b, E4M3, E4M3, accumulator=E4M3)
    with pytest.raises(ValueError, match="wider than FP32"):
        gemm_numpy(a, b, E4M3, E4M3, accumulator=FloatFormat(9, 20))
    with pytest.raises(ValueError, match="fractional bits"):
        gemm_numpy(a, b, E4M3, E4M3, accumulator=FixedAccumulator(32, 4))
    with pytest.raises(ValueError, match="bits"):
        gemm_numpy(a, b, E5M2, E5M2, accumulator="exact")
    with pytest.raises(TypeError, match="IntFormat or FloatFormat"):
        gemm_numpy(a, b, get_format("mxfp8_e4m3"), E4M3)
    with pytest.raises(ValueError, match="at most 16"):
        gemm_numpy(a, b, get_format("fp32"), E4M3)


def test_inexact_host_arithmetic_is_refused():
    fp16, u16 = get_format("fp16"), get_format("uint16")
    # uint16 × FP16 products have up to 16 + 11 significant bits: not exact in float32
    a = u16.encode(np.array([[65535.0]]))
    b = fp16.encode(np.array([[1.0 + 2.0**-10]]))
    with pytest.raises(ValueError, match="exact in float32"):
        gemm_numpy(a, b, u16, fp16, accumulator="fp32")
    # E5M2: 2^15·2^15 then 2^-16·2^-16 into a BF16-range accumulator: 2^30 + 2^-32 spans 63 bits
    a = E5M2.encode(np.array([[2.0**15, 2.0**-16]]))
    b = E5M2.encode(np.array([[2.0**15], [2.0**-16]]))
    with pytest.raises(ValueError, match="not exact in float64"):
        gemm_numpy(a, b, E5M2, E5M2, accumulator="bf16")


def test_empty_shapes():
    c, st = gemm_numpy(np.zeros((2, 0), np.uint8), np.zeros((0, 3), np.uint8), E4M3, E4M3, "fp16")
    assert c.shape == (2, 3) and not c.any() and st["macs"] == 0
    c, st = gemm_numpy(np.zeros((0, 4), np.uint8), np.zeros((4, 3), np.uint8), I8, I8, "exact")
    assert c.shape == (0, 3) and st["max_abs"] == 0.0
