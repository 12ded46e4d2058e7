"""The C MAC-array simulator against the exact Python reference, bit for bit."""

from __future__ import annotations

import importlib.util
import zlib
from fractions import Fraction

import numpy as np
import pytest

from lowbit import FloatFormat, get_format
from lowbit.hwmodel.macsim import (
    FixedAcc,
    TableInfo,
    _check_products_exact,
    gemm,
    value_table,
)
from lowbit.hwmodel.macsim_ref import float_step, gemm_ref, round_to_float

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built (run: python csrc/build_macsim.py)",
)

E4M3 = get_format("fp8_e4m3fn")
FLOAT_ACCS = [
    "fp16",
    "bf16",
    "fp32",
    FloatFormat(5, 10, subnormals=False, name="fp16_ftz"),
    FloatFormat(4, 3, name="e4m3_ieee_acc"),  # tiny: rounds, overflows, underflows often
    FloatFormat(3, 2, subnormals=False, name="e3m2_ftz_acc"),
]
ROUNDINGS = ["nearest_even", "toward_zero"]


def finite_codes(fmt) -> np.ndarray:
    vals = np.asarray(fmt.decode(np.arange(2**fmt.bits, dtype=np.uint16)), dtype=np.float64)
    return np.flatnonzero(np.isfinite(vals)).astype(np.uint16)


def bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)


def assert_same(fmt_a, fmt_b, a, b, acc, rounding="nearest_even"):
    got, st = gemm(a, b, fmt_a, fmt_b, accumulator=acc, rounding=rounding)
    want, st_ref = gemm_ref(a, b, fmt_a, fmt_b, accumulator=acc, rounding=rounding)
    np.testing.assert_array_equal(bits(got), bits(want))
    assert st == st_ref
    return got, st


def random_codes(fmt, shape, rng, pool=None):
    pool = finite_codes(fmt) if pool is None else pool
    return rng.choice(pool, size=shape).astype(np.uint16)


# values that make ties, cancellation, overflow and subnormal products likely
ADVERSARIAL = [
    0.0,
    1.0,
    -1.0,
    0.5,
    -0.25,
    1.125,
    -1.875,
    448.0,
    -448.0,
    2.0**-9,
    -(2.0**-9),
    2.0**-6,
    3 * 2.0**-9,
    240.0,
    -0.0,
]


# --- known answers: hold the reference itself to hand-worked values -------------------------


def test_reference_known_answers():
    fp16 = get_format("fp16")
    assert round_to_float(1 + Fraction(1, 2048), 10, -14, 15)[0] == 1.0
    assert float_step(1.0 + 2**-10, 2**-11, fp16, "nearest_even")[0] == 1.0 + 2**-9  # tie, up
    assert float_step(1.0, -(2**-12), fp16, "toward_zero")[0] == 1.0 - 2**-11  # binade below
    assert float_step(65504.0, 8.0, fp16, "nearest_even") == (
        65504.0,
        dict(overflow=0, swamping=1, absorbed=1),
    )
    r, ev = float_step(65504.0, 16.0, fp16, "nearest_even")  # max + ulp/2: a tie, to Inf
    assert r == np.inf and ev["overflow"] == 1
    assert float_step(65504.0, 10000.0, fp16, "toward_zero")[0] == 65504.0
    assert float_step(0.0, 2.0**-26, fp16, "nearest_even")[0] == 0.0  # below half the subnormal
    assert float_step(0.0, 3 * 2.0**-26, fp16, "nearest_even")[0] == 2.0**-24
    ftz = FloatFormat(5, 10, subnormals=False)
    r = float_step(0.0, -(2.0**-20), ftz, "nearest_even")[0]
    assert r == 0.0 and np.signbit(r)


def test_doc_example_ties_and_absorption():
    a = E4M3.encode(np.array([[1.0, 0.25, 0.25]]))
    b = E4M3.encode(np.array([[1.0], [2.0**-9], [2.0**-9]]))
    c, st = assert_same(E4M3, E4M3, a, b, "fp16")
    assert c[0, 0] == 1.0 and st["swamping"] == 2 and st["absorbed"] == 2
    c, _ = assert_same(E4M3, E4M3, a, b, "fp32")
    assert c[0, 0] == 1.0 + 2.0**-10


# --- random and adversarial GEMMs, every accumulator ----------------------------------------


@pytest.mark.parametrize("acc", FLOAT_ACCS, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize(
    "fmts",
    [
        ("fp8_e4m3fn", "fp8_e4m3fn"),
        ("fp8_e5m2", "fp6_e2m3fn"),
        ("int8", "fp4_e2m1fn"),
        ("fp8_e3m4fnuz", "int4"),
    ],
)
def test_float_acc_random(acc, rounding, fmts):
    rng = np.random.default_rng(zlib.crc32(f"{acc}-{rounding}-{fmts}".encode()))
    fa, fb = (get_format(f) for f in fmts)
    a = random_codes(fa, (3, 24), rng)
    b = random_codes(fb, (24, 4), rng)
    assert_same(fa, fb, a, b, acc, rounding)


@pytest.mark.parametrize("acc", FLOAT_ACCS, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_float_acc_adversarial(acc, rounding):
    rng = np.random.default_rng(7)
    pool = np.unique(E4M3.encode(np.array(ADVERSARIAL))).astype(np.uint16)
    a = random_codes(E4M3, (6, 40), rng, pool)
    b = random_codes(E4M3, (40, 5), rng, pool)
    _, st = assert_same(E4M3, E4M3, a, b, acc, rounding)
    assert st["swamping"] > 0


def test_float_acc_overflow_and_cancellation():
    e5m2 = get_format("fp8_e5m2")
    big = e5m2.encode(np.array([[57344.0, 57344.0, -57344.0, 1.0]]))
    col = e5m2.encode(np.array([[1.0], [1.0], [1.0], [2.0**-16]]))
    for rounding in ROUNDINGS:
        c, st = assert_same(e5m2, e5m2, big, col, "fp16", rounding)
        assert st["overflow"] == 1
        # RNE: Inf sticks; RTZ: saturates at 65504, then 65504 - 57344, the tiny product lost
        assert c[0, 0] == (np.inf if rounding == "nearest_even" else 8160.0)
    # exact cancellation leaves +0 and then the tiny product survives exactly
    c, st = assert_same(
        e5m2,
        e5m2,
        e5m2.encode(np.array([[2.0, -2.0, 2.0**-16]])),
        e5m2.encode(np.array([[1.0], [1.0], [2.0**-16]])),
        "fp32",
    )
    assert c[0, 0] == 2.0**-32


def test_subnormal_products():
    tiny = E4M3.encode(np.full((4, 8), 2.0**-9))
    for acc in ("fp16", FloatFormat(5, 10, subnormals=False), "bf16"):
        c, _ = assert_same(E4M3, E4M3, tiny, tiny.T.copy(), acc)
    assert c[0, 0] == 8 * 2.0**-18


@pytest.mark.parametrize("mode", ["wrap", "saturate"])
@pytest.mark.parametrize(
    "fmts,acc",
    [
        (("int8", "int8"), FixedAcc(16, 0)),
        (("int8", "int8"), FixedAcc(32, 0)),
        (("int4", "uint4"), FixedAcc(8, 0)),
        (("fp4_e2m1fn", "fp6_e2m3fn"), FixedAcc(12, 4)),
        (("fp8_e4m3fn", "fp8_e4m3fn"), FixedAcc(30, 18)),
        (("int8_sm", "int3"), FixedAcc(5, 2)),
    ],
)
def test_fixed_acc(mode, fmts, acc):
    acc = FixedAcc(acc.width, acc.frac, mode)
    rng = np.random.default_rng(acc.width * 7 + len(mode))
    fa, fb = (get_format(f) for f in fmts)
    a = random_codes(fa, (4, 33), rng)
    b = random_codes(fb, (33, 3), rng)
    assert_same(fa, fb, a, b, acc)


@pytest.mark.parametrize("mode,want", [("wrap", 4 * 16129 - 65536), ("saturate", 32767)])
def test_fixed_acc_overflow(mode, want):
    i8 = get_format("int8")
    a = i8.encode(np.full((1, 4), 127.0))
    c, st = assert_same(i8, i8, a, a.T.copy(), FixedAcc(16, 0, mode))
    assert c[0, 0] == want and st["overflow"] == (1 if mode == "wrap" else 2)


@pytest.mark.parametrize(
    "fmts",
    [
        ("int8", "int8"),
        ("fp8_e4m3fn", "fp8_e4m3fn"),
        ("fp4_e2m1fn", "int4"),
        ("fp6_e3m2fn", "fp6_e2m3fn"),
    ],
)
def test_exact_acc(fmts):
    rng = np.random.default_rng(3)
    fa, fb = (get_format(f) for f in fmts)
    a = random_codes(fa, (3, 50), rng)
    b = random_codes(fb, (50, 4), rng)
    c, st = assert_same(fa, fb, a, b, "exact")
    assert st["overflow"] == 0
    va = fa.decode(a).astype(np.float64)
    vb = fb.decode(b).astype(np.float64)
    np.testing.assert_allclose(c, va @ vb, rtol=1e-12, atol=0)


def test_exact_acc_too_wide():
    e5m2 = get_format("fp8_e5m2")
    a = np.zeros((1, 4), np.uint8)
    with pytest.raises(ValueError, match="bits"):
        gemm(a, a.T.copy(), e5m2, e5m2, accumulator="exact")


# --- exhaustive single MAC step: every pair of finite e4m3fn codes into FP16 -----------------

START_PRODUCTS = [
    (0.0, 0.0),
    (1.0, 1.0),
    (-448.0, 128.0),
    (2.0**-9, 2.0**-9),
    (448.0, 2.0**-9),
    (-3.5, 0.01953125),
]


def _oracle_fp16(s: np.ndarray, rounding: str) -> np.ndarray:
    """FP16 rounding of the exact sum s (exact in double: spans < 53 bits here) via numpy."""
    with np.errstate(over="ignore"):
        r = s.astype(np.float16)
    if rounding == "toward_zero":
        over = np.abs(r.astype(np.float64)) > np.abs(s)
        r = np.where(over, np.nextafter(r, np.float16(0)), r)
    return r.astype(np.float64)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("start", START_PRODUCTS)
def test_exhaustive_e4m3_pairs_into_fp16(start, rounding):
    codes = finite_codes(E4M3)
    n = codes.size
    x0, y0 = (int(c) for c in E4M3.encode(np.array(start)))
    a = np.empty((n, 2), np.uint16)
    a[:, 0], a[:, 1] = x0, codes
    b = np.empty((2, n), np.uint16)
    b[0, :], b[1, :] = y0, codes
    got, st = gemm(a, b, E4M3, E4M3, accumulator="fp16", rounding=rounding)
    va = E4M3.decode(codes).astype(np.float64)
    acc0 = _oracle_fp16(np.array([start[0] * start[1]]), rounding)[0]
    want = _oracle_fp16(acc0 + np.multiply.outer(va, va), rounding)
    if not np.isfinite(acc0):
        want[:] = acc0
    np.testing.assert_array_equal(got, want)
    nz = want != 0  # signs of nonzero results; zeros checked against the reference below
    np.testing.assert_array_equal(np.signbit(got[nz]), np.signbit(want[nz]))
    assert st["macs"] == 2 * n * n


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_exhaustive_e4m3_pairs_vs_reference(rounding):
    """The same sweep, one start value, against the Fraction reference (slower)."""
    codes = finite_codes(E4M3)
    n = codes.size
    a = np.empty((n, 2), np.uint16)
    a[:, 0], a[:, 1] = E4M3.encode(np.array([1.0]))[0], codes
    b = np.empty((2, n), np.uint16)
    b[0, :], b[1, :] = E4M3.encode(np.array([-3.5]))[0], codes
    assert_same(E4M3, E4M3, a, b, "fp16", rounding)


# --- validation before C runs ----------------------------------------------------------------


def test_validation():
    a = np.zeros((2, 3), np.uint8)
    b = np.zeros((3, 2), np.uint8)
    with pytest.raises(TypeError, match="integer dtype"):
        gemm(a.astype(np.float32), b, E4M3, E4M3)
    with pytest.raises(TypeError, match="numpy array"):
        gemm(a.tolist(), b, E4M3, E4M3)
    with pytest.raises(ValueError, match="inner dimensions"):
        gemm(a, b.T.copy(), E4M3, E4M3)
    with pytest.raises(ValueError, match="2-D"):
        gemm(a.ravel(), b, E4M3, E4M3)
    with pytest.raises(ValueError, match="C-contiguous"):
        gemm(a, np.zeros((2, 3), np.uint8).T, E4M3, E4M3)
    with pytest.raises(ValueError, match="outside"):
        gemm(a, b.astype(np.uint16) + 300, E4M3, get_format("int8"))
    with pytest.raises(ValueError, match="outside"):
        gemm(a.astype(np.int16) - 1, b, E4M3, E4M3)
    with pytest.raises(ValueError, match="non-finite"):
        gemm(a + 127, b, E4M3, E4M3)  # 0x7f is NaN in e4m3fn
    with pytest.raises(ValueError, match="accumulator"):
        gemm(a, b, E4M3, E4M3, accumulator="fp64")
    with pytest.raises(ValueError, match="wider than FP32"):
        gemm(a, b, E4M3, E4M3, accumulator=FloatFormat(9, 20))
    with pytest.raises(ValueError, match="IEEE"):
        gemm(a, b, E4M3, E4M3, accumulator=E4M3)
    with pytest.raises(ValueError, match="rounding"):
        gemm(a, b, E4M3, E4M3, rounding="stochastic")
    with pytest.raises(ValueError, match="fractional bits"):
        gemm(a, b, E4M3, E4M3, accumulator=FixedAcc(32, 4))
    with pytest.raises(ValueError, match="exceed 2"):
        fp16 = get_format("fp16")
        gemm(a.astype(np.uint16), b.astype(np.uint16), fp16, fp16, accumulator=FixedAcc(40, 48))
    with pytest.raises(ValueError, match="width"):
        FixedAcc(64, 0)
    with pytest.raises(TypeError, match="IntFormat or FloatFormat"):
        gemm(a, b, get_format("mxfp8_e4m3"), E4M3)


def test_product_exactness_guard():
    # ≤ 16-bit formats always give exact products; the guard is for wider tables
    wide = TableInfo(np.zeros(1), np.ones(1, bool), low=-30, top=0, sig=30, max_abs=Fraction(1))
    with pytest.raises(ValueError, match="not exact"):
        _check_products_exact(wide, wide)
    _check_products_exact(value_table("uint16"), value_table("bf16"))


def test_docstring_examples():
    """Run the macsim docstring examples, including those marked SKIP for unbuilt checkouts."""
    import doctest

    from lowbit.hwmodel import macsim

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(macsim):
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 10


def test_empty_shapes():
    a = np.zeros((2, 0), np.uint8)
    b = np.zeros((0, 3), np.uint8)
    c, st = gemm(a, b, E4M3, E4M3, accumulator="fp16")
    assert c.shape == (2, 3) and not c.any() and st["macs"] == 0
    c, _ = gemm(a, b, "int8", "int8", accumulator="exact")
    assert not c.any()
