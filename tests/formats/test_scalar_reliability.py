"""Regression tests for the scalar-format findings of the reliability audit (issue 11):
integer saturation (F2), integer input above 2^53 (F16), code range (F4), ml_dtypes and
DLPack input (F15, item 10), the quantize dtype rule (F17), parameter validation (F19),
binarize/ternarize (F25), the sign of NaN codes and ``subnormals="flush"`` (item 9)."""

from __future__ import annotations

import ctypes
import math

import ml_dtypes
import numpy as np
import pytest

import lowbit
from lowbit import ExpFormat, FloatFormat, IntFormat
from lowbit.formats import reference as R
from lowbit.formats.base import Format

MODES = ["nearest_even", "nearest_away", "toward_zero", "down", "up"]
INT_VARIANTS = [
    (True, False, "twos_complement"),
    (True, True, "twos_complement"),
    (True, False, "sign_magnitude"),
    (True, False, "offset_binary"),
    (True, True, "offset_binary"),
    (False, False, "twos_complement"),
    (False, True, "twos_complement"),
]
ALL_INTS = [
    IntFormat(b, signed=s, narrow=n, encoding=e) for b in range(2, 33) for s, n, e in INT_VARIANTS
]
SCALAR = [
    n
    for n in lowbit.list_formats()
    if isinstance(lowbit.get_format(n), (IntFormat, FloatFormat, ExpFormat)) or n == "binary"
]


# -- F2: integer saturation for every width, encoding, rounding and input dtype ------------
def _edge_inputs(fmt: IntFormat, dtype) -> np.ndarray:
    """Values around ±qmax, qmin and the powers of two next to them, in ``dtype``, with
    their neighbours in that dtype, ±Inf and the dtype's extremes."""
    pts = []
    for q in (fmt.qmax, fmt.qmin, 2 ** (fmt.bits - 1), -(2 ** (fmt.bits - 1)), 2**fmt.bits):
        pts += [q + d for d in (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)]
    pts += [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 1e10, -1e10]
    with np.errstate(over="ignore"):
        x = np.array(pts, np.float64).astype(dtype)
    big = float(np.finfo(dtype).max)
    x = np.concatenate([x, [np.inf, -np.inf, big, -big]]).astype(dtype)
    with np.errstate(over="ignore"):
        x = np.concatenate([x, np.nextafter(x, dtype(np.inf)), np.nextafter(x, dtype(-np.inf))])
    return np.unique(x[np.isfinite(x) | np.isinf(x)])


def _int_ref(fmt, xs, rounding):
    return np.array([R.encode_int_ref(fmt, v, rounding) for v in xs], dtype=np.int64)


@pytest.mark.parametrize("bits", range(2, 33))
def test_int_saturation_every_width_encoding_mode_dtype(bits):
    """F2: float32/float16 +Inf and large positives gave the *minimum* code for >= 26 bits
    (unsigned >= 25) under nearest-even; every other path is checked here as well."""
    for fmt in (f for f in ALL_INTS if f.bits == bits):
        for dtype in (np.float16, np.float32, np.float64):
            x = _edge_inputs(fmt, dtype)
            xs = [float(v) for v in x]
            for rounding in MODES:
                ours = fmt.encode(x, rounding=rounding).astype(np.int64)
                ref = _int_ref(fmt, xs, rounding)
                assert np.array_equal(ours, ref), (fmt.name, dtype, rounding, x[ours != ref])
                q = fmt.quantize(x, rounding=rounding).astype(np.float64)
                assert np.array_equal(q, fmt.decode(ref).astype(np.float64)), (fmt.name, dtype)
            # stochastic: one of the two neighbours, and exact where x is an integer
            st = fmt.encode(x, rounding="stochastic", seed=1).astype(np.int64)
            assert np.all((st == _int_ref(fmt, xs, "down")) | (st == _int_ref(fmt, xs, "up")))
        xi = np.array([fmt.qmax, fmt.qmax + 1, fmt.qmin, fmt.qmin - 1, 0, 2**62], np.int64)
        for rounding in MODES:
            ref = _int_ref(fmt, [int(v) for v in xi], rounding)
            assert np.array_equal(fmt.encode(xi, rounding=rounding).astype(np.int64), ref)


def test_int32_float32_inf_is_qmax():
    i32 = lowbit.get_format("int32")
    x = np.float32([np.inf, 3e9, 2**31, -np.inf, -3e9])
    assert i32.decode(i32.encode(x)).tolist() == [2**31 - 1] * 3 + [-(2**31)] * 2
    u32 = IntFormat(32, signed=False)
    assert u32.decode(u32.encode(np.float16([np.inf]))).tolist() == [2**32 - 1]


# -- F16: int64/uint64 above 2^53 are rounded once -----------------------------------------
def _big_ints(p: int) -> list[int]:
    """Integers in [2^53, 2^64) at, next to and between the p-bit midpoints."""
    out = [2**64 - 1, 2**63, 2**63 - 1, 2**53 + 1]
    for k in (53, 54, 60, 62, 63):
        ulp = 2 ** (k - p + 1)
        for j in (0, 1, 2, 3, (1 << (p - 1)) - 1):
            mid = 2**k + j * ulp + ulp // 2
            out += [mid - 1, mid, mid + 1, mid + ulp // 2]
    return [v for v in out if 2**53 <= v < 2**64]


@pytest.mark.parametrize(
    "fmt",
    [
        lowbit.get_format("bf16"),
        FloatFormat(8, 7, specials="fn"),
        FloatFormat(7, 8, bias=40),
        FloatFormat(8, 5, specials="none"),
    ],
    ids=lambda f: f.name,
)
def test_int64_above_2p53_rounded_once(fmt):
    vals = _big_ints(fmt.man_bits + 1)
    signed = [v for v in vals if v < 2**63]
    for rounding in MODES:
        xu = np.array(vals, np.uint64)
        ref = [R.encode_float_ref(fmt, v, rounding) for v in vals]
        assert fmt.encode(xu, rounding=rounding).tolist() == ref, rounding
        xi = -np.array(signed, np.int64)
        ref = [R.encode_float_ref(fmt, -v, rounding) for v in signed]
        assert fmt.encode(xi, rounding=rounding).tolist() == ref, rounding
        q = fmt.quantize(xi, rounding=rounding)
        ref_q = fmt.decode(np.array(ref, np.uint32)).astype(np.float64)
        assert np.array_equal(q, ref_q, equal_nan=True)


def _rne_int(v: int, p: int) -> int:
    """v rounded to p significant bits, ties to even, in exact integer arithmetic."""
    a = abs(v)
    shift = max(a.bit_length() - p, 0)
    if shift == 0:
        return v
    q, r = divmod(a, 1 << shift)
    half = 1 << (shift - 1)
    q += 1 if r > half or (r == half and q & 1) else 0
    return (q << shift) * (1 if v >= 0 else -1)


def test_int64_fp32_e8m0_examples():
    fp32 = lowbit.get_format("fp32")
    v = 2**53 + 2**29 + 1  # just above an fp32 midpoint: a double rounding gave 2^53
    assert int(fp32.quantize(np.array([v], np.int64))[0]) == 2**53 + 2**30
    # the oracle is exact integer rounding (np.float32(v) of a Python int goes through
    # float64 and gives 2^53 for the value above)
    vals = [v for v in _big_ints(24) if v < 2**63] + [2**63 - 1]
    vals += [-v for v in vals] + [-(2**63)]
    got = fp32.quantize(np.array(vals, np.int64))
    assert [int(g) for g in got] == [_rne_int(v, 24) for v in vals]
    got = fp32.quantize(np.array(_big_ints(24), np.uint64))
    assert [int(g) for g in got] == [_rne_int(v, 24) for v in _big_ints(24)]
    e8m0 = lowbit.get_format("e8m0")
    big = [3 * 2**60 - 1, 3 * 2**60, 3 * 2**60 + 1, 2**64 - 1]
    ref = [R.encode_exp_ref(e8m0, v) for v in big]
    assert e8m0.encode(np.array(big, np.uint64)).tolist() == ref == [188, 189, 189, 191]


# -- F4: codes outside [0, 2^bits) raise in every scalar decode path ------------------------
@pytest.mark.parametrize("name", SCALAR)
def test_decode_rejects_out_of_range_codes(name):
    fmt = lowbit.get_format(name)
    pat = rf"{name}: .*code\(s\) outside \[0, 2\^{fmt.bits}\)"
    bad = [np.array([2**63, 2**64 - 1], np.uint64), np.array([2**fmt.bits], np.uint64)]
    big = np.zeros(70_001, np.uint64)  # the threaded kernel too
    big[12345] = 2**63
    for codes in bad + [big]:
        with pytest.raises(ValueError, match=pat):
            fmt.decode(codes)
    for dt in (np.int8, np.int64):
        with pytest.raises(ValueError, match=pat):
            fmt.decode(np.array([0, -1], dt))
    assert fmt.decode(np.array([0], np.int64)).shape == (1,)


# -- F15: ml_dtypes input -------------------------------------------------------------------
ML_FLOATS = [
    getattr(ml_dtypes, n)
    for n in dir(ml_dtypes)
    if n.startswith(("float", "bfloat")) and isinstance(getattr(ml_dtypes, n), type)
]


@pytest.mark.parametrize("dt", ML_FLOATS, ids=lambda d: np.dtype(d).name)
def test_every_ml_dtypes_float_is_accepted(dt):
    # positive values: float8_e8m0fnu and float8_e5m3fnu have no sign
    x = np.array([0.5, 1.5, 2.0, 4.0], np.float32).astype(dt)
    x32 = x.astype(np.float32)
    assert np.array_equal(x32, [0.5, 1.5, 2.0, 4.0]) or "e8m0" in np.dtype(dt).name
    for name in ("int8", "fp8_e4m3fn", "bf16", "e8m0"):
        f = lowbit.get_format(name)
        q = f.quantize(x)
        want = f.quantize(x32)
        assert q.dtype == want.dtype == np.float32
        assert np.array_equal(q, want, equal_nan=True)
        assert np.array_equal(f.encode(x), f.encode(x32))


@pytest.mark.parametrize("name", ["int1", "int2", "int4", "uint1", "uint2", "uint4"])
def test_ml_dtypes_ints_are_integers(name):
    dt = getattr(ml_dtypes, name)
    info = ml_dtypes.iinfo(dt)
    v = np.array(sorted({int(info.min), 0, int(info.max)}), np.int64)
    x = v.astype(dt)
    q = lowbit.get_format("fp4_e2m1fn").quantize(x)
    assert q.dtype == np.float64
    assert np.array_equal(q, lowbit.get_format("fp4_e2m1fn").quantize(v))
    assert (
        lowbit.get_format("int8").encode(x).tolist() == lowbit.get_format("int8").encode(v).tolist()
    )


def test_ml_dtypes_complex_refused():
    x = np.zeros(2, ml_dtypes.complex32) if hasattr(ml_dtypes, "complex32") else None
    if x is None:
        pytest.skip("this ml_dtypes has no complex32")
    with pytest.raises(TypeError, match="int8: expected a real numeric array"):
        lowbit.get_format("int8").quantize(x)


# -- F17: the quantize dtype rule ----------------------------------------------------------
IN_DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_, ml_dtypes.bfloat16]


def _holds(values: np.ndarray, dtype) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.array_equal(values.astype(dtype).astype(np.float64), values))


@pytest.mark.parametrize("name", SCALAR)
def test_quantize_dtype_rule(name):
    """The result dtype is x's float dtype when that holds every value of the format, else
    the narrowest of float32/float64 that does: a final cast never changes a value."""
    fmt = lowbit.get_format(name)
    for dt in IN_DTYPES:
        x = np.array([0, 1, 1, 0], dt) if dt is np.bool_ else np.array([1.0, 2.0, 3.0, 300.0])
        x = x.astype(dt)
        if name == "e8m0":
            x = np.array([1.0, 2.0, 4.0, 256.0]).astype(dt) if dt is not np.bool_ else x | True
        out = fmt.quantize(x)
        fdt = np.dtype(np.float64) if np.dtype(dt).kind in "iub" else np.dtype(dt)
        if dt is ml_dtypes.bfloat16:
            fdt = np.dtype(np.float32)
        want = fdt if fmt.holds_values(fdt) else fmt.decode_dtype
        assert out.dtype == want == fmt.quantize_dtype(dt), (name, dt)
    if fmt.bits <= 16:
        vals = fmt.values()
        for fdt in (np.float16, np.float32, np.float64):
            assert fmt.holds_values(np.dtype(fdt)) == _holds(vals, fdt), (name, fdt)


def test_quantize_never_changed_by_output_cast():
    f16max = np.float16([65504, -65504])
    assert lowbit.get_format("bf16").quantize(f16max).tolist() == [65536.0, -65536.0]
    assert lowbit.get_format("e8m0").quantize(np.float16([50000])).tolist() == [65536.0]
    q = lowbit.get_format("int32").quantize(np.float32([3e9, -3e9]))
    assert q.dtype == np.float64 and q.tolist() == [2**31 - 1, -(2**31)]
    assert lowbit.get_format("int16").quantize(np.float16([4097])).tolist() == [4096.0]
    assert lowbit.get_format("int16").quantize(np.float16([1])).dtype == np.float32
    # every float16 pattern through bf16 and e8m0: the values of decode(encode(x))
    x = np.arange(2**16, dtype=np.uint16).view(np.float16)
    for name in ("bf16", "e8m0", "fp8_e5m2", "int16", "uint16"):
        f = lowbit.get_format(name)
        kw = {"nan": "zero"} if isinstance(f, IntFormat) else {}
        q = f.quantize(x, **kw).astype(np.float64)
        d = f.decode(f.encode(x, **kw)).astype(np.float64)
        assert np.array_equal(q, d, equal_nan=True), name
    # the float32 fast path keeps float32
    assert lowbit.get_format("fp8_e4m3fn").quantize(np.float32([1.0])).dtype == np.float32


# -- F19: parameter validation -------------------------------------------------------------
@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: FloatFormat(4, 3, subnormals="no"), TypeError, "subnormals must be True"),
        (lambda: FloatFormat(4, 3, subnormals=None), TypeError, "subnormals must be True"),
        (lambda: IntFormat(8, signed="no"), TypeError, "signed must be True or False"),
        (lambda: IntFormat(8, narrow="yes"), TypeError, "narrow must be True or False"),
        (lambda: FloatFormat(4, 3, name=5), TypeError, "name must be a str"),
        (lambda: ExpFormat(8, bias=1.5), TypeError, "ExpFormat: bias must be an int"),
        (lambda: ExpFormat(8, bias="x"), TypeError, "ExpFormat: bias must be an int"),
        (lambda: lowbit.register("hello", name="zz"), TypeError, "register: expected a Format"),
        (lambda: lowbit.register(IntFormat(7), name=3), TypeError, "name must be a non-empty"),
    ],
)
def test_constructor_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
    assert "zz" not in lowbit.list_formats()


def test_numpy_ints_and_bools_are_accepted():
    assert IntFormat(np.int64(8), signed=np.bool_(True)) == IntFormat(8)
    assert FloatFormat(np.int64(4), 3, subnormals=np.bool_(False)).subnormals is False
    assert ExpFormat(8, bias=np.int64(127)).bias == 127


X = np.array([0.3, -1.7, 5.0, 2.0**-10], np.float32)


@pytest.mark.parametrize(
    "name, kw, match",
    [
        ("e8m0", {"nan": "ignore"}, r"e8m0: nan='ignore' is not supported; expected one of raise"),
        ("binary", {"overflow": "clip"}, r"binary: overflow='clip' .* expected one of saturate"),
        ("binary", {"nan": "zero"}, r"binary: nan='zero'"),
        ("int8", {"overflow": "inf"}, r"int8: overflow='inf' .* expected one of saturate"),
        ("int8", {"nan": "negzero"}, r"int8: nan='negzero' .* expected one of raise, zero"),
        ("fp8_e4m3fn", {"overflow": "inf"}, r"fp8_e4m3fn: overflow='inf' is impossible"),
        ("fp8_e4m3fn", {"rounding": "nearest"}, r"unknown rounding 'nearest'; expected one"),
        ("fp4_e2m1fn", {"overflow": "nan"}, r"fp4_e2m1fn: overflow='nan' is impossible"),
        ("fp8_e4m3fnuz", {"nan": "negzero"}, r"fp8_e4m3fnuz: nan='negzero' needs a -0"),
        ("e8m0", {"overflow": "inf"}, r"e8m0: overflow='inf' .* expected one of saturate, nan"),
    ],
)
def test_policy_names_validated(name, kw, match):
    f = lowbit.get_format(name)
    for fn in (f.quantize, f.encode):
        with pytest.raises(ValueError, match=match):
            fn(np.abs(X) if name == "e8m0" else X, **kw)


@pytest.mark.parametrize("name", ["fp8_e4m3fn", "int8", "e8m0", "binary", "fp16", "int32"])
def test_seed_and_ragged_input(name):
    f = lowbit.get_format(name)
    for rounding in ("nearest_even", "stochastic"):
        with pytest.raises(ValueError, match=r"seed=-1 is negative"):
            f.quantize(np.abs(X), rounding=rounding if name != "binary" else "stochastic", seed=-1)
        for bad in ("42", 1.5, True, [1, 2], np.random.RandomState(0)):
            with pytest.raises(TypeError, match="seed must be None, an int"):
                f.quantize(np.abs(X), rounding="stochastic", seed=bad)
    with pytest.raises(ValueError, match=rf"{name}: input is not a rectangular array"):
        f.quantize([[1.0, 2.0], [3.0]])


# -- F25: binarize / ternarize ---------------------------------------------------------------
def test_binarize_ternarize_refuse_nan_and_bad_delta():
    for fn in (lowbit.binarize, lowbit.ternarize):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: 1 NaN input value"):
            fn([np.nan, 1.0, -2.0])
    for bad in (-1, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"delta_factor=.* legal range is \[0, inf\)"):
            lowbit.ternarize([1.0, -2.0], delta_factor=bad)
    with pytest.raises(TypeError, match="delta_factor must be a real number"):
        lowbit.ternarize([1.0], delta_factor="0.7")
    q, d, a = lowbit.ternarize([1.0, -0.1, -2.0], delta_factor=0)
    assert q.tolist() == [1.0, -1.0, -1.0] and d == 0.0 and math.isclose(a, 3.1 / 3)
    q, a = lowbit.binarize([0.5, -1.5, 0.0])
    assert q.tolist() == [1.0, -1.0, 1.0] and a == 2.0 / 3


# -- item 9: the sign of NaN codes --------------------------------------------------------
ML_EQUIV = {
    "fp8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "fp8_e4m3": ml_dtypes.float8_e4m3,
    "fp8_e3m4": ml_dtypes.float8_e3m4,
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
}
NAN_FLOATS = [
    n
    for n in lowbit.list_formats()
    if isinstance(lowbit.get_format(n), FloatFormat)
    and lowbit.get_format(n).has_nan
    and lowbit.get_format(n).bits <= 16
]


@pytest.mark.parametrize("name", NAN_FLOATS)
def test_negative_nan_codes_keep_the_sign(name):
    f = lowbit.get_format(name)
    codes = np.arange(2**f.bits, dtype=np.uint8 if f.bits <= 8 else np.uint16)
    v = f.decode(codes)
    nan = np.isnan(v)
    sign = (codes >> (f.bits - 1)) & 1 == 1
    assert nan.any()
    assert np.array_equal(np.signbit(v[nan]), sign[nan])
    if name in ML_EQUIV:
        ref = codes.view(ML_EQUIV[name]).astype(np.float32)
        assert np.array_equal(np.isnan(ref), nan)
        assert np.array_equal(np.signbit(ref[nan]), np.signbit(v[nan]))
        # quantize of ±NaN: the sign ml_dtypes' round trip gives
        for dtype in (np.float32, np.float64):
            x = np.array([np.nan, -np.nan], dtype)
            rt = x.astype(np.float32).astype(ML_EQUIV[name]).astype(np.float32)
            q = f.quantize(x)
            assert np.array_equal(np.signbit(q), np.signbit(rt)), (name, dtype)
            assert np.array_equal(np.signbit(q), np.signbit(f.decode(f.encode(x))))


# -- item 9: subnormals="flush" ------------------------------------------------------------
FLUSH = [
    FloatFormat(4, 3, specials="fn", subnormals="flush"),
    FloatFormat(5, 2, specials="ieee", subnormals="flush"),
    FloatFormat(4, 3, specials="fnuz", subnormals="flush"),
    FloatFormat(2, 1, specials="none", subnormals="flush"),
    FloatFormat(3, 2, specials="none", subnormals="flush"),
    FloatFormat(3, 0, specials="fn", subnormals="flush"),
]


def _flush_inputs(fmt) -> np.ndarray:
    from tests.formats.helpers import dense_inputs

    # the full value set of the format with subnormals, so the flushed band is dense too
    with_sub = FloatFormat(fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.specials)
    x = dense_inputs(with_sub.values())
    return x[~np.isnan(x)]


@pytest.mark.parametrize("fmt", FLUSH, ids=lambda f: f.name)
def test_flush_against_reference(fmt):
    x = _flush_inputs(fmt)
    for dtype in (np.float32, np.float64):
        xd = x.astype(dtype)
        for rounding in MODES:
            ours = fmt.encode(xd, rounding=rounding)
            ref = [R.encode_float_ref(fmt, float(v), rounding) for v in xd]
            assert ours.tolist() == ref, (dtype, rounding)
            q = fmt.quantize(xd, rounding=rounding)
            d = fmt.decode(np.array(ref, ours.dtype))
            assert np.array_equal(q.astype(np.float64), d.astype(np.float64), equal_nan=True)
            assert np.array_equal(np.signbit(q), np.signbit(d))
        # stochastic: flushed below 2^emin whatever the draw, else one of the two neighbours
        st = fmt.encode(xd, rounding="stochastic", seed=3).astype(np.int64)
        lo = np.array([R.encode_float_ref(fmt, float(v), "toward_zero") for v in xd])
        away = [R.encode_float_ref(fmt, float(v), "up" if v > 0 else "down") for v in xd]
        assert np.all((st == lo) | (st == np.array(away)))
        small = np.abs(xd) < fmt.smallest_normal
        assert small.sum() > 10 and np.array_equal(st[small], lo[small])
        assert np.all(fmt.decode(st[small].astype(ours.dtype)) == 0)


def test_flush_versus_no_subnormals():
    fl = FloatFormat(4, 3, specials="fn", subnormals="flush")
    ns = FloatFormat(4, 3, specials="fn", subnormals=False)
    x = np.float32([0.99 * 2**-6, 0.75 * 2**-6, 0.5 * 2**-6, -0.99 * 2**-6, 2**-6, 1.0])
    assert ns.quantize(x).tolist() == [2**-6, 2**-6, 0.0, -(2**-6), 2**-6, 1.0]
    assert fl.quantize(x).tolist() == [0.0, 0.0, 0.0, -0.0, 2**-6, 1.0]
    assert np.signbit(fl.quantize(x))[3]
    assert fl.name == "fp8_e4m3fn_flush" and fl.smallest_subnormal == 2**-6
    assert np.array_equal(fl.values(), ns.values())


# -- item 10: __array__ and DLPack input ---------------------------------------------------
class OnlyArray:
    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


class OnlyDLPack:
    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


@pytest.mark.parametrize("name", SCALAR)
@pytest.mark.parametrize("wrap", [OnlyArray, OnlyDLPack])
def test_array_and_dlpack_objects(name, wrap):
    f = lowbit.get_format(name)
    x = np.array([[0.3, 1.7], [2.5, 100.0]], np.float32)
    want = f.quantize(x)
    got = f.quantize(wrap(x))
    assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(f.encode(wrap(x)), f.encode(x))
    codes = f.encode(x)
    assert np.array_equal(f.decode(wrap(codes)), f.decode(codes), equal_nan=True)


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    pass


_DLManagedTensor._fields_ = [
    ("dl_tensor", _DLTensor),
    ("manager_ctx", ctypes.c_void_p),
    ("deleter", ctypes.CFUNCTYPE(None, ctypes.POINTER(_DLManagedTensor))),
]


class ForeignDLPack:
    """A 1-d CPU tensor exported only as a DLPack capsule built by hand (DLPack's C ABI,
    legacy "dltensor" capsule), as torch does for bfloat16 (type code 4 = kDLBfloat)."""

    def __init__(self, buf: np.ndarray, code: int):
        self._buf = np.ascontiguousarray(buf)
        self._shape = (ctypes.c_int64 * 1)(self._buf.size)
        m = _DLManagedTensor()
        m.dl_tensor.data = self._buf.ctypes.data
        m.dl_tensor.device = _DLDevice(1, 0)  # kDLCPU
        m.dl_tensor.ndim = 1
        m.dl_tensor.dtype = _DLDataType(code, 8 * self._buf.itemsize, 1)
        m.dl_tensor.shape = self._shape
        self._m = m

    def __dlpack__(self, **kw):
        new = ctypes.pythonapi.PyCapsule_New
        new.restype = ctypes.py_object
        new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        return new(ctypes.addressof(self._m), b"dltensor", None)

    def __dlpack_device__(self):
        return (1, 0)


def test_dlpack_foreign_float32_and_bfloat16():
    f = lowbit.get_format("fp8_e4m3fn")
    x = np.array([0.3, -1.7, 500.0], np.float32)
    got = f.quantize(ForeignDLPack(x, code=2), overflow="saturate")  # kDLFloat, 32 bits
    assert got.dtype == np.float32 and got.tolist() == [0.3125, -1.75, 448.0]
    bf16 = np.array([1.0, 2.0], ml_dtypes.bfloat16).view(np.uint16)
    msg = r"{}: numpy cannot import .* convert it to float32"
    with pytest.raises(TypeError, match=msg.format("fp8_e4m3fn")):
        f.quantize(ForeignDLPack(bf16, code=4))
    # numpy's own exporter refuses ml_dtypes' bfloat16 as well: same message
    with pytest.raises(TypeError, match=msg.format("int8")):
        lowbit.get_format("int8").quantize(OnlyDLPack(np.array([1.0], ml_dtypes.bfloat16)))
    assert issubclass(type(lowbit.get_format("int8")), Format)


# -- item 9: docs/formats-rules.md's notes on ml_dtypes, for the installed version ----------
@pytest.mark.skipif(
    not ml_dtypes.__version__.startswith("0.7."), reason="the notes state ml_dtypes 0.7 facts"
)
def test_ml_dtypes_notes_hold_for_0_7():
    # float64 is rounded once: nextafter(0.53125, 1) -> 0.5625 (0.6.0 gave 0.5)
    x = np.array([np.nextafter(0.53125, 1.0)])
    assert x.astype(ml_dtypes.float8_e4m3fn).astype(np.float64).tolist() == [0.5625]
    assert lowbit.get_format("fp8_e4m3fn").quantize(x).tolist() == [0.5625]
    # E8M0 band (2^-127, 2^-126): nearest, tie to the larger power (0.6.0 always rounded up)
    v = np.array([1.1, 1.4, 1.5, 1.9]) * 2.0**-127
    ml = np.log2(v.astype(ml_dtypes.float8_e8m0fnu).astype(np.float64))
    assert ml.tolist() == [-127, -127, -126, -126]
    e8m0 = lowbit.get_format("e8m0")
    assert np.log2(e8m0.quantize(v)).tolist() == ml.tolist()
    # int4: float casts truncate and give 0 out of range; integer casts wrap
    with np.errstate(invalid="ignore"):
        f = np.array([8.0, -9.0, 7.9, -2.5]).astype(ml_dtypes.int4).astype(np.int64)
    assert f.tolist() == [0, 0, 7, -2]
    assert np.array([8, -9], np.int32).astype(ml_dtypes.int4).astype(np.int64).tolist() == [-8, 7]
    # NaN in a format without NaN: NaN -> the -0 code, -NaN -> 0 (float4_e2m1fn)
    codes = np.array([np.nan, -np.nan], np.float32).astype(ml_dtypes.float4_e2m1fn)
    assert codes.view(np.uint8).tolist() == [0x8, 0x0]
