"""The C MAC-array simulator against the exact Python reference, bit for bit."""

from __future__ import annotations

import importlib.util
import zlib
from fractions import Fraction

import numpy as np
import pytest

from lowbit import FloatFormat, Quantizer, get_format
from lowbit.hwmodel.macsim import FixedAccumulator, gemm
from lowbit.hwmodel.macsim.reference import float_step, gemm_ref, round_to_float

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


SCALARS = ("overflow", "swamping", "absorbed", "max_abs", "macs")


def same_bits(got, want):
    """Bit-for-bit equal, except that every NaN equals every NaN (C's output is float64)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(bits(got)[ok], bits(want)[ok])


def assert_same(fmt_a, fmt_b, a, b, acc, rounding="nearest_even", order="sequential", **kw):
    """gemm (fast and generic loops, per-output statistics) equals the exact reference."""
    block = kw.pop("block", 32)
    toggles = kw.pop("toggles", False)
    threads = kw.pop("threads", 1)
    bs = kw.pop("block_scales", (None, None))
    sblk = kw.pop("scale_block", None)
    assert not kw
    want, st_ref = gemm_ref(
        a, b, fmt_a, fmt_b, acc, rounding, order, block, bs, sblk or 1, toggles=toggles
    )
    args = dict(accumulator=acc, rounding=rounding, order=order, block=block, toggles=toggles)
    if bs[0] is not None or bs[1] is not None:
        args.update(scales=bs, scale_block=sblk)
    got, st = gemm(a, b, fmt_a, fmt_b, threads=threads, **args)
    same_bits(got, want)
    assert {k: st[k] for k in SCALARS} == {k: st_ref[k] for k in SCALARS}
    if toggles:
        assert st.toggles == st_ref["toggles"]
    slow, st2 = gemm(a, b, fmt_a, fmt_b, per_output=True, fast=False, **args)
    same_bits(slow, want)
    assert st2.as_dict() == st.as_dict() and not st2.fast
    for key, arr in st2.per_output.items():
        np.testing.assert_array_equal(arr, st_ref["per_output"][key], err_msg=key)
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
        (("int8", "int8"), FixedAccumulator(16, 0)),
        (("int8", "int8"), FixedAccumulator(32, 0)),
        (("int4", "uint4"), FixedAccumulator(8, 0)),
        (("fp4_e2m1fn", "fp6_e2m3fn"), FixedAccumulator(12, 4)),
        (("fp8_e4m3fn", "fp8_e4m3fn"), FixedAccumulator(30, 18)),
        (("int8_sm", "int3"), FixedAccumulator(5, 2)),
    ],
)
def test_fixed_acc(mode, fmts, acc):
    acc = FixedAccumulator(acc.width, acc.frac, mode)
    rng = np.random.default_rng(acc.width * 7 + len(mode))
    fa, fb = (get_format(f) for f in fmts)
    a = random_codes(fa, (4, 33), rng)
    b = random_codes(fb, (33, 3), rng)
    assert_same(fa, fb, a, b, acc)


@pytest.mark.parametrize("mode,want", [("wrap", 4 * 16129 - 65536), ("saturate", 32767)])
def test_fixed_acc_overflow(mode, want):
    i8 = get_format("int8")
    a = i8.encode(np.full((1, 4), 127.0))
    c, st = assert_same(i8, i8, a, a.T.copy(), FixedAccumulator(16, 0, mode))
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


def test_products_must_be_exact_normal_doubles():
    """≤ 16-bit formats always give exact products; block scales can push them out."""
    bf = get_format("bf16")
    a = bf.encode(np.full((1, 4), 2.0**-130))
    tiny = np.full((1, 1), 2.0**-500)
    with pytest.raises(ValueError, match="not exact in double"):
        gemm(a, a.T.copy(), bf, bf, scales=(tiny, tiny.T.copy()), scale_block=4)


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
        gemm(a.astype(bool), b, E4M3, E4M3)
    with pytest.raises(ValueError, match="2-D"):
        gemm(np.zeros(3), b, E4M3, E4M3)  # float input: encoded, but must be 2-D
    # array-likes (lists, __array__, DLPack) are taken as the formats take them (issue 11)
    np.testing.assert_array_equal(gemm(a.tolist(), b, E4M3, E4M3)[0], gemm(a, b, E4M3, E4M3)[0])
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
    with pytest.raises(ValueError, match="NaN or Inf"):
        gemm(a + 127, b, E4M3, E4M3, accumulator=FixedAccumulator(40, 18))  # 0x7f: NaN in e4m3fn
    with pytest.raises(ValueError, match="accumulator"):
        gemm(a, b, E4M3, E4M3, accumulator="fp64")
    with pytest.raises(ValueError, match="wider than FP32"):
        gemm(a, b, E4M3, E4M3, accumulator=FloatFormat(9, 20))
    with pytest.raises(ValueError, match="IEEE"):
        gemm(a, b, E4M3, E4M3, accumulator=E4M3)
    with pytest.raises(ValueError, match="rounding"):
        gemm(a, b, E4M3, E4M3, rounding="stochastic")
    with pytest.raises(ValueError, match="fractional bits"):  # rounding fixed point: no tree
        gemm(a, b, E4M3, E4M3, accumulator=FixedAccumulator(32, 4), order="pairwise")
    with pytest.raises(ValueError, match="'down' is for fixed-point"):
        gemm(a, b, E4M3, E4M3, accumulator="fp16", rounding="down")
    with pytest.raises(ValueError, match="exceed 2"):
        fp16 = get_format("fp16")
        gemm(
            a.astype(np.uint16),
            b.astype(np.uint16),
            fp16,
            fp16,
            accumulator=FixedAccumulator(40, 48),
        )
    with pytest.raises(ValueError, match="width"):
        gemm(a, b, E4M3, E4M3, accumulator=FixedAccumulator(64, 0))
    with pytest.raises(TypeError, match="2-D float array or a BlockArray"):
        gemm(a, b, get_format("mxfp8_e4m3"), E4M3)
    with pytest.raises(TypeError, match="2-D float array or a BlockArray"):
        gemm(a, b, get_format("mx9"), E4M3)
    with pytest.raises(TypeError, match="2-D float array or a BlockArray"):
        gemm(a, b, get_format("int4_g128"), E4M3)  # a block format since issue 14
    with pytest.raises(TypeError, match="integer or float format"):
        gemm(a, b, Quantizer("int8"), E4M3)  # a procedure, not a format: no codes
    with pytest.raises(ValueError, match="order"):
        gemm(a, b, E4M3, E4M3, order="random")
    with pytest.raises(ValueError, match="block="):
        gemm(a, b, E4M3, E4M3, order="blocks", block=0)
    with pytest.raises(ValueError, match="threads"):
        gemm(a, b, E4M3, E4M3, threads=0)
    with pytest.raises(TypeError, match="threads"):
        gemm(a, b, E4M3, E4M3, threads=1.5)
    with pytest.raises(TypeError, match="toggles"):
        gemm(a, b, E4M3, E4M3, toggles="yes")
    with pytest.raises(ValueError, match="pairwise"):
        gemm(a, b, E4M3, E4M3, order="pairwise", toggles=True)
    with pytest.raises(ValueError, match="pairwise"):
        gemm(a, b, E4M3, E4M3, order="pairwise", accumulator="exact")
    with pytest.raises(TypeError, match="pair"):
        gemm(a, b, E4M3, E4M3, scales=np.ones(2))
    with pytest.raises(ValueError, match="per-row"):
        gemm(a, b, E4M3, E4M3, scales=(np.ones(3), None))
    with pytest.raises(ValueError, match="scale_block"):
        gemm(a, b, E4M3, E4M3, scales=(np.ones((2, 2)), None))
    with pytest.raises(ValueError, match="shape"):
        gemm(a, b, E4M3, E4M3, scales=(np.ones((2, 5)), None), scale_block=2)
    fp16 = get_format("fp16")
    a16 = fp16.encode(np.ones((2, 3)))
    with pytest.raises(ValueError, match="block sums"):  # 81-bit sums into a fixed register
        gemm(
            a16,
            a16.T.copy(),
            fp16,
            fp16,
            order="blocks",
            block=64,
            accumulator=FixedAccumulator(60, 48),
        )
    e5m2 = get_format("fp8_e5m2")
    with pytest.raises(ValueError, match="finite operands only"):
        x5 = e5m2.encode(np.array([[np.inf, 1.0, 2.0]]))
        gemm(x5, x5.T.copy(), e5m2, e5m2, order="blocks", block=2)
    with pytest.raises(ValueError, match="block .scale. sizes differ"):
        mx = get_format("mxfp8_e4m3")
        other = __import__("lowbit").MXFormat(E4M3, block_size=16)
        x = np.ones((2, 64), np.float32)
        gemm(mx.encode(x, axis=1), other.encode(x.T.copy(), axis=0))
    with pytest.raises(ValueError, match="blocks along K"):
        gemm(mx.encode(x, axis=0), mx.encode(x.T.copy(), axis=0))


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


# --- orders: blocks of T summed exactly, pairwise trees --------------------------------------


@pytest.mark.parametrize("order,block", [("blocks", 4), ("blocks", 7), ("pairwise", 1)])
@pytest.mark.parametrize(
    "acc", ["fp16", "bf16", "fp32", FloatFormat(4, 3), FixedAccumulator(30, 18, "wrap")], ids=str
)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_orders_random_and_adversarial(order, block, acc, rounding):
    rng = np.random.default_rng(zlib.crc32(f"{order}{block}{acc}{rounding}".encode()))
    pool = np.unique(E4M3.encode(np.array(ADVERSARIAL))).astype(np.uint16)
    for k in (1, 2, 3, 29):
        a = random_codes(E4M3, (3, k), rng, pool if k == 29 else None)
        b = random_codes(E4M3, (k, 4), rng)
        if isinstance(acc, FixedAccumulator) and rounding != "nearest_even":
            continue
        assert_same(E4M3, E4M3, a, b, acc, rounding, order, block=block)


def test_orders_differ_as_documented():
    """1 + eight products of 2^-11 into FP16: sequential loses all (ties to even), blocks of
    8 add 2^-8 at once, pairwise builds 2^-8 in the tree and adds it to 1 last."""
    a = E4M3.encode(np.array([[1.0] + [2.0**-6] * 8]))  # products 1 and 2^-6 · 2^-5
    b = E4M3.encode(np.array([[1.0]] + [[2.0**-5]] * 8))
    seq, st = gemm(a, b, E4M3, E4M3, accumulator="fp16")
    assert seq[0, 0] == 1.0 and st.absorbed == 8
    c, st = gemm(a, b, E4M3, E4M3, accumulator="fp16", order="blocks", block=9)
    assert c[0, 0] == 1.0 + 2.0**-8 and st.steps == 1 and st.swamping == 0
    a2 = np.ascontiguousarray(a[:, ::-1])
    b2 = np.ascontiguousarray(b[::-1])
    c, st = gemm(a2, b2, E4M3, E4M3, accumulator="fp16", order="pairwise")
    assert c[0, 0] == 1.0 + 2.0**-8 and st.steps == 8 and st.swamping == 0
    c, st = gemm(a2, b2, E4M3, E4M3, accumulator="fp16")  # sequential, small ones first
    assert c[0, 0] == 1.0 + 2.0**-8 and st.swamping == 0


@pytest.mark.parametrize("acc", ["fp32", "bf16", "fp16", FloatFormat(4, 3), "exact"], ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_blocks_wider_than_a_double(acc, rounding):
    """E5M2 × E5M2 products span 2^-32..2^31: block sums are formed in a Kulisch register and
    rounded once into the accumulator (with its current value) — bit-exact to the reference."""
    e5m2 = get_format("fp8_e5m2")
    rng = np.random.default_rng(14)
    pool = np.unique(e5m2.encode(np.array([57344.0, -0.0001, 2.0**-16, 3.0, -1.75, 0.0])))
    for k, block in ((40, 8), (33, 32), (5, 1 << 10)):
        a = random_codes(e5m2, (3, k), rng, pool.astype(np.uint16))
        b = random_codes(e5m2, (k, 4), rng)
        if acc == "exact" and rounding != "nearest_even":
            continue
        assert_same(e5m2, e5m2, a, b, acc, rounding, "blocks", block=block, toggles=True)


def test_mxfp8_e5m2_blocks():
    mx = get_format("mxfp8_e5m2")
    rng = np.random.default_rng(15)
    x, y = rng.standard_t(2, size=(3, 96)), rng.normal(size=(96, 2))
    c, st = gemm(x, y, mx, mx, accumulator="fp32", order="blocks")
    va = mx.decode(mx.encode(x, axis=1)).astype(np.float64)
    vb = mx.decode(mx.encode(y, axis=0)).astype(np.float64)
    np.testing.assert_allclose(c, va @ vb, rtol=1e-6)
    assert st.steps == 3 * 2 * 3


# --- statistics: toggles, per output ---------------------------------------------------------


@pytest.mark.parametrize(
    "fa,fb,acc",
    [
        ("fp8_e4m3fn", "fp8_e4m3fn", "fp16"),
        ("fp8_e4m3fn", "fp8_e5m2", "bf16"),
        ("fp8_e4m3fn", "fp8_e4m3fn", FloatFormat(3, 2, subnormals=False)),
        ("int8", "int8", FixedAccumulator(12, 0, "wrap")),
        ("int8", "int4", FixedAccumulator(10, 0, "saturate")),
        ("int8", "int8", "exact"),
        ("fp16", "fp16", "exact"),  # a multi-word Kulisch register
    ],
    ids=str,
)
@pytest.mark.parametrize("order", ["sequential", "blocks"])
def test_toggles_and_per_output(fa, fb, acc, order):
    rng = np.random.default_rng(zlib.crc32(f"{fa}{fb}{acc}{order}".encode()))
    fa, fb = get_format(fa), get_format(fb)
    a = random_codes(fa, (3, 17), rng)
    b = random_codes(fb, (17, 2), rng)
    _, st = assert_same(fa, fb, a, b, acc, order=order, block=4, toggles=True)
    assert st.toggles > 0


def test_toggles_known_answer():
    """int8 1·1 four times into an 8-bit register: 0→1→2→3→4 flips 1+2+1+3 bits."""
    i8 = get_format("int8")
    a = i8.encode(np.ones((1, 4)))
    _, st = gemm(a, a.T.copy(), i8, i8, accumulator=FixedAccumulator(8, 0), toggles=True)
    assert st.toggles == 7
    c, st = gemm(a, a.T.copy(), i8, i8, accumulator="fp16", toggles=True, per_output=True)
    # FP16 bits of 1, 2, 3, 4: 0x3c00, 0x4000, 0x4200, 0x4400
    want = sum(bin(x ^ y).count("1") for x, y in [(0, 0x3C00), (0x3C00, 0x4000)])
    want += bin(0x4000 ^ 0x4200).count("1") + bin(0x4200 ^ 0x4400).count("1")
    assert st.toggles == want and st.per_output["toggles"][0, 0] == want
    assert st.per_output["max_abs"][0, 0] == 4.0
    assert st.register_bits == 16 and st.activity == want / (4 * 16)
    _, st = gemm(a, a.T.copy(), i8, i8, accumulator="bf16")
    assert st.register_bits == 16 and st.activity is None
    _, st = gemm(a, a.T.copy(), i8, i8, accumulator="fp32", toggles=True)
    assert st.register_bits == 32


# --- NaN and Inf operands (formats that have them) -------------------------------------------


@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp32", FloatFormat(4, 3)], ids=str)
@pytest.mark.parametrize("order", ["sequential", "blocks", "pairwise"])
def test_nan_inf_operands(acc, order):
    e5m2 = get_format("fp8_e5m2")
    rng = np.random.default_rng(11)
    special = e5m2.encode(np.array([np.inf, -np.inf, np.nan, 0.0, 1.0, -2.0, 57344.0]))
    a = random_codes(e5m2, (5, 6), rng, np.unique(special).astype(np.uint16))
    i4 = get_format("int4")  # e5m2 × int4 block sums fit a double (e5m2² would not)
    b = random_codes(i4, (6, 4), rng, i4.encode(np.array([1.0, -2.0, 7.0, 3.0])))
    a[0] = e5m2.encode(np.array([np.inf, 1.0, 1.0, 1.0, 1.0, 1.0]))  # row 0: ±Inf
    a[1] = e5m2.encode(np.array([np.inf, -np.inf, 1.0, 1.0, 1.0, 1.0]))  # row 1: NaN
    c, _ = assert_same(e5m2, i4, a, b, acc, order=order, block=3)
    assert np.isnan(c).any() and np.isinf(c).any()


def test_inf_times_zero_is_nan():
    e5m2 = get_format("fp8_e5m2")
    a = e5m2.encode(np.array([[np.inf, 1.0]]))
    b = e5m2.encode(np.array([[0.0], [1.0]]))
    c, st = gemm(a, b, e5m2, e5m2, accumulator="fp32")
    assert np.isnan(c[0, 0]) and st.overflow == 0


# --- scales: per block (exact, inside the sum), per row / column (on the output) -------------


@pytest.mark.parametrize("order", ["sequential", "blocks", "pairwise"])
@pytest.mark.parametrize(
    "acc", ["fp16", "fp32", FixedAccumulator(40, 30, "saturate"), "exact"], ids=str
)
def test_block_scales(order, acc):
    rng = np.random.default_rng(5)
    a = random_codes(E4M3, (3, 20), rng)
    b = random_codes(E4M3, (20, 4), rng)
    sa = np.ldexp(1.0, rng.integers(-6, 6, size=(3, 4)))
    sb = rng.choice([0.75, 1.5, 2.0, -0.5], size=(4, 4))
    if order == "pairwise" and acc == "exact":
        return
    assert_same(E4M3, E4M3, a, b, acc, order=order, block=5, block_scales=(sa, sb), scale_block=5)


def test_row_and_column_scales_multiply_the_output():
    rng = np.random.default_rng(6)
    a = random_codes(E4M3, (3, 8), rng)
    b = random_codes(E4M3, (8, 5), rng)
    sr, scol = rng.normal(size=3), rng.normal(size=5)
    base, _ = gemm(a, b, E4M3, E4M3, accumulator="fp16")
    c, _ = gemm(a, b, E4M3, E4M3, accumulator="fp16", scales=(sr, scol))
    np.testing.assert_array_equal(c, base * sr[:, None] * scol[None, :])


@pytest.mark.parametrize("fmt", ["mxfp8_e4m3", "mxfp6_e2m3", "mxfp4", "mxint8"])
@pytest.mark.parametrize("acc", ["fp32", "exact"])
def test_mx_operands(fmt, acc):
    """MX operands: codes and E8M0 block scales along K; the exact accumulator gives the
    exact dot product of the decoded tensors."""
    mx = get_format(fmt)
    rng = np.random.default_rng(8)
    x = (rng.standard_t(3, size=(4, 70)) * np.ldexp(1.0, rng.integers(-20, 20, (4, 1)))).astype(
        np.float32
    )
    y = rng.normal(size=(70, 3)).astype(np.float32)
    ea, eb = mx.encode(x, axis=1), mx.encode(y, axis=0)
    c, st = gemm(ea, eb, accumulator=acc, order="blocks")
    c2, _ = gemm(x, y, mx, mx, accumulator=acc, order="blocks")
    same_bits(c, c2)
    va = mx.decode(ea).astype(np.float64)
    vb = mx.decode(eb).astype(np.float64)
    exact = [
        [float(sum(Fraction(p) for p in va[i] * vb[:, j])) for j in range(3)] for i in range(4)
    ]
    if acc == "exact":
        np.testing.assert_array_equal(c, exact)
    else:
        np.testing.assert_allclose(c, exact, rtol=2e-6)
    # the same run on codes with the scales given explicitly, against the reference
    sa = np.ldexp(1.0, ea.scales.astype(int) - 127)
    sb = np.ldexp(1.0, eb.scales.astype(int).T - 127).copy()
    el = mx.element
    assert_same(
        el,
        el,
        ea.codes,
        np.ascontiguousarray(eb.codes.T),
        acc,
        order="blocks",
        block=32,
        block_scales=(sa, sb),
        scale_block=32,
    )


def _parts(fmt, enc, side):
    """(element values × block scales, vector) of a block tensor in float64, exactly, in
    A (rows × K) or B (K × columns) orientation, written from each format's definition."""
    codes = enc.codes.astype(np.int64)
    n = codes.shape[-1]
    sc = enc.scales.astype(np.int64)
    vec = None
    name = fmt.name
    if fmt.family == "mx":  # OCP MX
        v = fmt.element.decode(enc.codes).astype(np.float64)
        v = v * np.repeat(np.ldexp(1.0, sc - 127), fmt.block_size, axis=-1)[:, :n]
    elif name == "nvfp4":
        v = get_format("fp4_e2m1fn").decode(enc.codes).astype(np.float64)
        sb = get_format("fp8_e4m3fn").decode(enc.scales.astype(np.uint8)).astype(np.float64)
        v = v * np.repeat(sb, 16, axis=-1)[:, :n]
        vec = np.full(codes.shape[0], enc.tensor_scale)
    elif name.startswith("vsq"):
        v = fmt.element.decode(enc.codes).astype(np.float64)
        v = v * np.repeat(sc.astype(np.float64), fmt.block_size, axis=-1)[:, :n]
        g = np.asarray(enc.outer_scale, np.float64).ravel()
        vec = np.full(codes.shape[0], g[0]) if g.size == 1 else g
    else:  # MX9/MX6/MX4/BFP: decode is exact in float32
        v = fmt.decode(enc).astype(np.float64)
        v = np.moveaxis(v, enc.axis, -1)
    if side == "b":
        v = v.T
    return v, vec


@pytest.mark.parametrize(
    "name",
    ["mxfp8_e5m2", "mxfp6_e3m2", "mxint8", "mx9", "mx6", "mx4", "bfp8_b16", "nvfp4", "vsq_int4"],
)
@pytest.mark.parametrize("order", ["sequential", "blocks"])
def test_every_block_family_as_operand(name, order):
    """Float inputs with a block format: encoded along K (B's VS-Quant γ per column), element
    codes with their exact scale factors inside the sum, per-tensor/per-channel factors
    (NVFP4's FP32 tensor scale, VS-Quant's γ) on the output.  Exact accumulator: the exact
    dot products of the decoded tensors, times those factors in float64."""
    from dataclasses import replace

    fmt = get_format(name)
    rng = np.random.default_rng(16)
    x = (rng.standard_t(3, size=(5, 80)) * 3).astype(np.float32)
    y = rng.normal(size=(80, 4)).astype(np.float32)
    c, st = gemm(x, y, fmt, fmt, accumulator="exact", order=order)
    fb = replace(fmt, channel_axis=1) if name.startswith("vsq") else fmt
    va, ra = _parts(fmt, fmt.encode(x, axis=1), "a")
    vb, cb = _parts(fb, fb.encode(y, axis=0), "b")
    want = np.array(
        [[float(sum(Fraction(p) for p in va[i] * vb[:, j])) for j in range(4)] for i in range(5)]
    )
    if ra is not None:
        want = want * ra[:, None]
    if cb is not None:
        want = want * cb[None, :]
    np.testing.assert_array_equal(c, want)
    blk = getattr(fmt, "block_size", getattr(fmt, "vector_size", None))
    assert st.steps == (5 * 4 * 80 if order == "sequential" else 5 * 4 * -(-80 // blk))
    enc = fmt.encode(x, axis=1)
    c2, _ = gemm(enc, fb.encode(y, axis=0), accumulator="exact", order=order)
    np.testing.assert_array_equal(c2, c)  # BlockArray operands: the same


def test_float_inputs_are_encoded_with_the_format():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(3, 10)), rng.normal(size=(10, 2))
    c, _ = gemm(x, y, E4M3, E4M3, accumulator="fp16")
    c2, _ = gemm(E4M3.encode(x), E4M3.encode(y), E4M3, E4M3, accumulator="fp16")
    same_bits(c, c2)


def test_hardware_model_fixed_accumulator():
    """FixedAccumulator(width) without frac (as the hardware model takes it): binary point at the
    products' LSB (2^-18 for e4m3 × e4m3)."""
    rng = np.random.default_rng(10)
    a = random_codes(E4M3, (3, 30), rng)
    b = random_codes(E4M3, (30, 3), rng)
    c, st = gemm(a, b, E4M3, E4M3, accumulator=FixedAccumulator(24, overflow="saturate"))
    c2, st2 = gemm(a, b, E4M3, E4M3, accumulator=FixedAccumulator(24, 18, "saturate"))
    same_bits(c, c2)
    assert st.as_dict() == st2.as_dict()
    assert_same(E4M3, E4M3, a, b, FixedAccumulator(20, overflow="wrap"))


# --- fixed point narrower than the products: rounding at every step ------------------------


def test_fixed_rounding_known_answers():
    """Products 1, 0.5, 0.5 (and their negatives) into an integer register (F = 0)."""
    i8 = get_format("int8")
    e4 = E4M3
    a = e4.encode(np.array([[1.0, 0.5, 0.5], [-1.0, -0.5, -0.5]]))
    b = i8.encode(np.ones((3, 1)))
    want = {"nearest_even": [2.0, -2.0], "toward_zero": [1.0, -1.0], "down": [1.0, -3.0]}
    for rounding, values in want.items():
        c, st = gemm(a, b, e4, i8, accumulator=FixedAccumulator(8, 0), rounding=rounding)
        assert c[:, 0].tolist() == values, rounding
        assert st.swamping == 4
    # nearest-even: 1 + 0.5 = 1.5 → 2 (tie to even), 2 + 0.5 = 2.5 → 2: the second is absorbed
    _, st = gemm(a[:1].copy(), b, e4, i8, accumulator=FixedAccumulator(8, 0))
    assert st.absorbed == 1


@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero", "down"])
@pytest.mark.parametrize("mode", ["wrap", "saturate"])
@pytest.mark.parametrize("order", ["sequential", "blocks"])
def test_fixed_rounding_vs_reference(rounding, mode, order):
    rng = np.random.default_rng(zlib.crc32(f"{rounding}{mode}{order}".encode()))
    a = E4M3.encode(rng.normal(0, 4, (4, 30)))
    b = E4M3.encode(rng.normal(0, 4, (30, 3)))
    _, st = assert_same(
        E4M3, E4M3, a, b, FixedAccumulator(8, 2, mode), rounding, order, block=4, toggles=True
    )
    assert st.swamping > 0 and st.overflow > 0


@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero", "down"])
@pytest.mark.parametrize("mode", ["wrap", "saturate"])
def test_exhaustive_one_step_fixed_rounding(rounding, mode):
    """All 254 × 254 finite e4m3fn products after a start value, into a 16-bit register with
    4 fractional bits (products need 18): numpy's rint/trunc/floor as the oracle."""
    codes = finite_codes(E4M3)
    v = E4M3.decode(codes).astype(np.float64)
    start = E4M3.encode(np.array([3.25]))[0]
    a = np.empty((codes.size, 2), np.uint16)
    a[:, 0], a[:, 1] = start, codes
    b = np.empty((2, codes.size), np.uint16)
    b[0, :], b[1, :] = E4M3.encode(np.array([0.40625]))[0], codes
    got, st = gemm(a, b, E4M3, E4M3, accumulator=FixedAccumulator(16, 4, mode), rounding=rounding)
    rnd = {"nearest_even": np.rint, "toward_zero": np.trunc, "down": np.floor}[rounding]
    lo, hi = -(2**15), 2**15 - 1

    def overflow(x):
        return np.clip(x, lo, hi) if mode == "saturate" else (x - lo) % 2**16 + lo

    r0 = overflow(rnd(3.25 * 0.40625 * 16))
    s = rnd(r0 + np.multiply.outer(v, v) * 16)
    np.testing.assert_array_equal(got, overflow(s) / 16)
    inexact = (r0 + np.multiply.outer(v, v) * 16) != s
    assert st.swamping == int(inexact.sum()) + codes.size**2  # the start step rounds too
    assert st.overflow == int(((s < lo) | (s > hi)).sum())


# --- Kulisch registers wider than 62 bits ----------------------------------------------------


@pytest.mark.parametrize("fmts", [("fp16", "fp16"), ("bf16", "fp8_e5m2"), ("bf16", "bf16")])
def test_exact_multiword(fmts):
    rng = np.random.default_rng(12)
    fa, fb = (get_format(f) for f in fmts)
    pa, pb = finite_codes(fa), finite_codes(fb)
    a = random_codes(fa, (3, 40), rng, pa)
    b = random_codes(fb, (40, 2), rng, pb)
    c, st = assert_same(fa, fb, a, b, "exact")
    assert not st.fast and st.overflow == 0
    va, vb = fa.decode(a).astype(np.float64), fb.decode(b).astype(np.float64)
    for i in range(3):
        for j in range(2):
            terms = (Fraction(x) * Fraction(y) for x, y in zip(va[i], vb[:, j], strict=True))
            assert c[i, j] == float(sum(terms))


# --- the vectorised loops against the generic loop, threads ----------------------------------

FAST_CASES = [
    ("int8", "int8", FixedAccumulator(32, 0, "wrap"), 100.0),
    ("int8", "int8", FixedAccumulator(32, 0, "saturate"), 100.0),
    ("int8", "int8", FixedAccumulator(18, 0, "saturate"), 100.0),
    ("int8", "int8", FixedAccumulator(17, 0, "wrap"), 100.0),
    ("int4", "int8_sm", FixedAccumulator(48, 0, "wrap"), 8.0),
    ("fp8_e4m3fn", "fp8_e4m3fn", FixedAccumulator(40, 18, "saturate"), 1.0),
    ("fp8_e4m3fn", "fp8_e4m3fn", "exact", 1.0),
    ("fp8_e4m3fn", "fp8_e4m3fn", "fp32", 1.0),
    ("fp8_e5m2", "fp8_e5m2", "fp32", 1e4),
    ("fp8_e4m3fn", "fp8_e4m3fn", "fp16", 1.0),
    ("fp8_e5m2", "fp8_e4m3fn", "fp16", 1e3),  # overflows to Inf
    ("fp8_e4m3fn", "fp8_e4m3fn", FloatFormat(5, 10, subnormals=False), 1e-2),
    ("fp8_e4m3fn", "fp8_e4m3fn", "bf16", 1.0),
    ("fp8_e5m2", "fp8_e5m2", "bf16", 1e-3),
    ("fp8_e4m3fn", "fp8_e4m3fn", FloatFormat(4, 3), 1.0),
    ("fp16", "fp16", "fp32", 1.0),
]


@pytest.mark.parametrize("fa,fb,acc,scale", FAST_CASES, ids=str)
def test_fast_loops_equal_generic(fa, fb, acc, scale):
    rng = np.random.default_rng(zlib.crc32(f"{fa}{fb}{acc}".encode()))
    fa, fb = get_format(fa), get_format(fb)
    m, k, n = 9, 300, 70  # ragged against the 4-row groups and 64-column panels
    a = fa.encode(rng.normal(0, scale, (m, k)))
    b = fb.encode(rng.normal(0, 1, (k, n)))
    slow, st_slow = gemm(a, b, fa, fb, accumulator=acc, fast=False)
    for threads in (1, 2, 3):
        got, st = gemm(a, b, fa, fb, accumulator=acc, threads=threads)
        assert st.fast
        same_bits(got, slow)
        assert st.as_dict() == st_slow.as_dict()
    assert st_slow.swamping + st_slow.overflow + st_slow.max_abs > 0


def test_generic_loop_threads():
    rng = np.random.default_rng(13)
    a = random_codes(E4M3, (7, 33), rng)
    b = random_codes(E4M3, (33, 5), rng)
    base, st = gemm(a, b, E4M3, E4M3, accumulator="bf16", rounding="toward_zero", toggles=True)
    for threads in (2, 5, 64):
        c, st2 = gemm(
            a,
            b,
            E4M3,
            E4M3,
            accumulator="bf16",
            rounding="toward_zero",
            toggles=True,
            threads=threads,
        )
        same_bits(c, base)
        assert st2.as_dict() == st.as_dict()


# --- exhaustive: every pair of 8-bit codes, one MAC step into each accumulator ---------------


def _quantize_to(acc, x, rounding):
    """The oracle for one rounding: lowbit's bit-exact quantizer (held to ml_dtypes)."""
    over = "inf" if rounding == "nearest_even" else "saturate"
    with np.errstate(all="ignore"):
        q = np.asarray(acc.quantize(x, rounding=rounding, overflow=over), np.float64)
    return np.where(np.isfinite(x), q, x)  # an Inf or NaN operand is not an overflow


EIGHT_BIT = ["fp8_e4m3fn", "fp8_e5m2", "fp8_e4m3fnuz", "int8"]


@pytest.mark.parametrize("fmt", EIGHT_BIT)
@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp32"])
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_exhaustive_one_step_float(fmt, acc, rounding):
    """acc0 = a chosen start; C = round(acc0 + a·b) for all 256 × 256 code pairs (NaN/Inf
    codes included), against round-to-format of the exact double sum."""
    f = get_format(fmt)
    accf = get_format(acc)
    codes = np.arange(256, dtype=np.uint16)
    v = f.decode(codes).astype(np.float64)
    start_val = 0.75 if f.bits == 8 and "int" not in fmt else 3.0
    s0 = f.encode(np.array([start_val]))[0]
    a = np.empty((256, 2), np.uint16)
    a[:, 0], a[:, 1] = s0, codes
    b = np.empty((2, 256), np.uint16)
    b[0, :], b[1, :] = f.encode(np.array([1.0]))[0], codes
    got, _ = gemm(a, b, f, f, accumulator=acc, rounding=rounding)
    acc0 = _quantize_to(accf, np.array(float(f.decode(np.array([s0]))[0])), rounding)
    with np.errstate(all="ignore"):
        exact = acc0 + np.multiply.outer(v, v)  # exact in double: ≤ 2×17 bits apart
    want = _quantize_to(accf, exact, rounding)
    same_bits(got, want)


@pytest.mark.parametrize("fmt", ["int8", "uint8", "int8_sm", "fp8_e4m3fn"])
@pytest.mark.parametrize("mode", ["wrap", "saturate"])
def test_exhaustive_one_step_fixed(fmt, mode):
    f = get_format(fmt)
    vals = f.decode(np.arange(256, dtype=np.uint16)).astype(np.float64)
    codes = np.flatnonzero(np.isfinite(vals)).astype(np.uint16)
    v = vals[codes]
    frac = 18 if fmt.startswith("fp") else 0
    width = 20 if fmt.startswith("fp") else 14
    start = f.encode(np.array([100.0]))[0]
    a = np.empty((codes.size, 2), np.uint16)
    a[:, 0], a[:, 1] = start, codes
    b = np.empty((2, codes.size), np.uint16)
    b[0, :], b[1, :] = f.encode(np.array([100.0]))[0], codes
    got, st = gemm(a, b, f, f, accumulator=FixedAccumulator(width, frac, mode))
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    p0 = int(round(float(f.decode(np.array([start]))[0]) ** 2 * 2**frac))
    r0 = min(max(p0, lo), hi) if mode == "saturate" else (p0 - lo) % 2**width + lo
    s = r0 + np.round(np.multiply.outer(v, v) * 2**frac).astype(np.int64)
    want = np.clip(s, lo, hi) if mode == "saturate" else (s - lo) % 2**width + lo
    np.testing.assert_array_equal(got, want / 2.0**frac)
    assert st.overflow == int((s < lo).sum() + (s > hi).sum()) + codes.size**2 * (r0 != p0)
