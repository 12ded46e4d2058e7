"""FloatFormat for splits, biases and rules ml_dtypes lacks: every code decoded and dense
inputs encoded in every deterministic rounding mode and overflow policy, held to the exact
scalar reference (lowbit.formats.reference) and to gfloat where gfloat has the format."""

from __future__ import annotations

import math

import gfloat
import numpy as np
import pytest
from gfloat.formats import format_info_ocp_e4m3
from hypothesis import given, settings
from hypothesis import strategies as st

import lowbit
from lowbit import FloatFormat
from lowbit.formats import reference as R
from tests.formats.helpers import dense_inputs

CUSTOM = [
    FloatFormat(2, 5, specials="fnuz"),  # the FP8-E2 of van Baalen et al.
    FloatFormat(3, 4, specials="fnuz"),
    FloatFormat(3, 2, specials="ieee"),
    FloatFormat(5, 1, specials="fn"),
    FloatFormat(4, 3, bias=11, specials="fnuz"),
    FloatFormat(2, 5, specials="none", subnormals=False),
    FloatFormat(4, 2, specials="fn", subnormals=False),
    FloatFormat(3, 0, specials="fn"),
    FloatFormat(4, 0, specials="none"),
    FloatFormat(1, 4, specials="none"),
    FloatFormat(6, 9, specials="ieee"),
    FloatFormat(3, 3, bias=-2, specials="ieee"),
]
MODES = ["nearest_even", "nearest_away", "toward_zero", "down", "up"]


def _gfloat_info(f: FloatFormat):
    return gfloat.FormatInfo(
        f.name,
        k=f.bits,
        precision=f.man_bits + 1,
        bias=f.bias,
        is_signed=True,
        domain=gfloat.Domain.Extended if f.specials == "ieee" else gfloat.Domain.Finite,
        has_nz=f.specials != "fnuz",
        num_high_nans={"ieee": 2**f.man_bits - 1, "fn": 1, "fnuz": 0, "none": 0}[f.specials],
        has_subnormals=f.subnormals,
        is_twos_complement=False,
    )


@pytest.mark.parametrize("fmt", CUSTOM, ids=lambda f: f.name)
def test_decode_every_code_vs_reference_and_gfloat(fmt):
    codes = np.arange(2**fmt.bits)
    ours = fmt.decode(codes).astype(np.float64)
    ref = np.array([R.float_code_value(fmt, int(c)) for c in codes])
    assert np.array_equal(ours, ref, equal_nan=True)
    num = ~np.isnan(ref)
    assert np.array_equal(np.signbit(ours[num]), np.signbit(ref[num]))
    if fmt.subnormals:  # gfloat decodes e=0 codes as subnormals always
        g = gfloat.decode_ndarray(_gfloat_info(fmt), codes)
        assert np.array_equal(ours, g, equal_nan=True)


@pytest.mark.parametrize("fmt", CUSTOM, ids=lambda f: f.name)
@pytest.mark.parametrize("rounding", MODES)
def test_encode_dense_inputs_vs_reference(fmt, rounding):
    x = dense_inputs(fmt.values())
    if x.size > 3000:  # the Fraction reference is slow: keep the specials, sample the rest
        rng = np.random.default_rng(1)
        x = np.concatenate([x[-5:], rng.choice(x[:-5], 3000, replace=False)])
    for overflow in fmt.overflow_policies:
        for dtype in (np.float64, np.float32):
            with np.errstate(all="ignore"):
                xi = x.astype(dtype)
            kw = dict(rounding=rounding, overflow=overflow)
            if not fmt.has_nan:
                kw["nan"] = "zero"
            ours = fmt.encode(xi, **kw)
            ref = np.array([R.encode_float_ref(fmt, float(v), **kw) for v in xi])
            bad = np.flatnonzero(ours.astype(np.int64) != ref)
            assert bad.size == 0, (
                fmt.name,
                rounding,
                overflow,
                dtype,
                xi[bad[:4]],
                ours[bad[:4]],
                ref[bad[:4]],
            )
            q = fmt.quantize(xi, **kw)
            dec = fmt.decode(ours).astype(dtype)
            assert np.array_equal(q, dec, equal_nan=True)
            assert np.array_equal(np.signbit(q[~np.isnan(q)]), np.signbit(dec[~np.isnan(dec)]))


_G_MODES = {
    "nearest_even": gfloat.RoundMode.TiesToEven,
    "nearest_away": gfloat.RoundMode.TiesToAway,
    "toward_zero": gfloat.RoundMode.TowardZero,
    "down": gfloat.RoundMode.TowardNegative,
    "up": gfloat.RoundMode.TowardPositive,
}


@pytest.mark.parametrize(
    "fmt", [f for f in CUSTOM if f.subnormals and f.man_bits > 0], ids=lambda f: f.name
)
@pytest.mark.parametrize("rounding", MODES)
def test_quantize_vs_gfloat(fmt, rounding):
    """gfloat's round_ndarray with sat=True (saturate) and sat=False (its Inf/NaN rule)."""
    x = dense_inputs(fmt.values())
    x = x[~np.isnan(x)]
    fi = _gfloat_info(fmt)
    for sat in (True, False):
        if not sat and fmt.specials == "none":
            continue
        g = gfloat.round_ndarray(fi, x, _G_MODES[rounding], sat=sat)
        overflow = "saturate" if sat else fmt.default_overflow
        ours = fmt.quantize(x, rounding=rounding, overflow=overflow)
        assert np.array_equal(ours, g, equal_nan=True), fmt.name


def test_ocp_e4m3_all_modes_vs_gfloat():
    fmt = lowbit.get_format("fp8_e4m3fn")
    x = dense_inputs(fmt.values())
    x = x[~np.isnan(x)]
    for rounding, gm in _G_MODES.items():
        for sat in (True, False):
            g = gfloat.round_ndarray(format_info_ocp_e4m3, x, gm, sat=sat)
            ours = fmt.quantize(x, rounding=rounding, overflow="saturate" if sat else "nan")
            assert np.array_equal(ours, g, equal_nan=True), rounding


def test_fp32_format_is_identity_on_float32():
    fmt = lowbit.get_format("fp32")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    codes = fmt.encode(x)
    assert codes.dtype == np.uint32
    nan = np.isnan(x)
    assert np.array_equal(codes[~nan], x.view(np.uint32)[~nan])
    assert np.array_equal(fmt.decode(codes).view(np.uint32)[~nan], x.view(np.uint32)[~nan])
    x64 = rng.standard_normal(10_000) * 1e30
    assert np.array_equal(fmt.quantize(x64), x64.astype(np.float32).astype(np.float64))


def test_wide_exponent_format_uses_float64():
    fmt = FloatFormat(11, 20)  # float64's range with 20 mantissa bits
    assert fmt.decode_dtype == np.float64
    x = np.array([1e300, 1e-310, 2.0**-1042, 2.0**-1043, 3 * 2.0**-1044, np.pi])
    q = fmt.quantize(x)
    g = gfloat.round_ndarray(_gfloat_info(fmt), x, gfloat.RoundMode.TiesToEven)
    assert np.array_equal(q, g)
    assert q[2] == 2.0**-1042 and q[3] == 0.0 and q[4] == 2.0**-1042  # tie to even; nearest


def test_van_baalen_formats_have_255_values():
    for e in (2, 3, 4, 5):
        f = lowbit.get_format(f"fp8_e{e}m{7 - e}fnuz")
        assert f.bias == 2 ** (e - 1)
        assert len(f.values()) == 255  # one zero, no Inf, the -0 code is the NaN
        assert np.isnan(f.decode([0x80]))[0]
        assert not np.isinf(f.decode(np.arange(256))).any()
        assert f.quantize([1e9], overflow="saturate")[0] == f.max
    # top exponent field 2^E - 1 holds finite values: max = 2^(2^E - 1 - bias) · (2 - 2^-M)
    assert lowbit.get_format("fp8_e2m5fnuz").max == 2.0 * (2 - 2**-5) == 3.9375
    assert lowbit.get_format("fp8_e3m4fnuz").max == 8.0 * (2 - 2**-4) == 15.5
    assert lowbit.get_format("fp8_e5m2fnuz").max == 57344.0


# -- special codes -------------------------------------------------------------------------
# FloatFormat.code_of_nan / code_of_inf / code_of_max / code_of_overflow are the one place
# the special codes are derived; the kernels take them from there.  They are held here to
# ml_dtypes (the named formats it has) and to the reference decode (any format).

ML_FLOATS = {
    "fp8_e4m3fn": "float8_e4m3fn",
    "fp8_e5m2": "float8_e5m2",
    "fp8_e4m3fnuz": "float8_e4m3fnuz",
    "fp8_e5m2fnuz": "float8_e5m2fnuz",
    "fp8_e4m3": "float8_e4m3",
    "fp8_e3m4": "float8_e3m4",
    "fp6_e2m3fn": "float6_e2m3fn",
    "fp6_e3m2fn": "float6_e3m2fn",
    "fp4_e2m1fn": "float4_e2m1fn",
    "bf16": "bfloat16",
    "fp16": "float16",
}


def _ml_code(value: float, dtype) -> int:
    """The code ml_dtypes' cast of a float32 ``value`` gives."""
    with np.errstate(over="ignore"):  # 2·max beyond float16/bfloat16: Inf, as wanted
        arr = np.array([value], np.float32).astype(dtype)
    return int(arr.view(np.uint16 if arr.itemsize == 2 else np.uint8)[0])


@pytest.mark.parametrize("name", sorted(ML_FLOATS))
def test_special_codes_match_ml_dtypes(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(getattr(ml_dtypes, ML_FLOATS[name], None) or getattr(np, ML_FLOATS[name]))
    fmt = lowbit.get_format(name)
    utype = np.uint16 if dt.itemsize == 2 else np.uint8
    with np.errstate(invalid="ignore"):  # NaN codes
        values = np.arange(2**fmt.bits, dtype=utype).view(dt).astype(np.float64)
    assert values[fmt.code_of_max] == float(ml_dtypes.finfo(dt).max)
    assert fmt.code_of_max == int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))
    if fmt.code_of_nan is None:
        assert not np.isnan(values).any()
    else:
        assert np.isnan(values[fmt.code_of_nan])
        assert fmt.code_of_nan == _ml_code(np.nan, dt)  # the NaN ml_dtypes' cast produces
    if fmt.code_of_inf is None:
        assert not np.isinf(values).any()
    else:
        assert values[fmt.code_of_inf] == np.inf
        assert fmt.code_of_inf == _ml_code(np.inf, dt)
    # ml_dtypes' casts overflow as the default policy: Inf, NaN, or saturation without specials
    assert fmt.code_of_overflow() == _ml_code(2.0 * fmt.max, dt)
    assert _ml_code(-2.0 * fmt.max, dt) in (
        fmt.code_of_overflow() | fmt.sign_bit,
        fmt.code_of_overflow(),  # fnuz: the NaN is the -0 code, unsigned
    )
    if not fmt.has_nan:  # ml_dtypes casts NaN to the -0 code
        assert fmt.code_of_nan_input("negzero") == _ml_code(np.nan, dt)


def _check_codes_against_reference(fmt: FloatFormat) -> None:
    vals = [R.float_code_value(fmt, c) for c in range(fmt.sign_bit)]
    finite = [v if math.isfinite(v) else -math.inf for v in vals]
    assert fmt.code_of_max == finite.index(max(finite))
    assert R.float_code_value(fmt, fmt.code_of_max) == fmt.max
    nans = [c for c in range(2 * fmt.sign_bit) if math.isnan(R.float_code_value(fmt, c))]
    if fmt.code_of_nan is None:
        assert not nans and not fmt.has_nan
    else:
        assert fmt.code_of_nan in nans
    if fmt.code_of_inf is None:
        assert math.inf not in vals and not fmt.has_inf
    else:
        assert R.float_code_value(fmt, fmt.code_of_inf) == math.inf
    for c in (0, 1, fmt.code_of_max):
        neg = R.float_code_value(fmt, c | fmt.sign_bit)
        if c or fmt.has_negative_zero:
            assert math.copysign(1.0, neg) == -1.0 and abs(neg) == R.float_code_value(fmt, c)
    for overflow in fmt.overflow_policies:
        got = R.float_code_value(fmt, fmt.code_of_overflow(overflow))
        want = {"saturate": fmt.max, "inf": math.inf, "nan": math.nan}[overflow]
        assert got == want or (math.isnan(got) and math.isnan(want))
        # the codes the kernels write: encode of a value far beyond max
        x = np.array([4.0 * fmt.max, -4.0 * fmt.max])
        codes = fmt.encode(x, overflow=overflow).tolist()
        assert codes[0] == fmt.code_of_overflow(overflow)
    if fmt.has_nan:
        assert fmt.encode([np.nan]).tolist() == [fmt.code_of_nan]
    else:
        assert fmt.encode([np.nan], nan="zero").tolist() == [fmt.code_of_nan_input("zero")]


REGISTERED_FLOATS = [
    n for n in lowbit.list_formats() if isinstance(lowbit.get_format(n), FloatFormat)
]


@pytest.mark.parametrize("name", REGISTERED_FLOATS)
def test_special_codes_match_reference(name):
    fmt = lowbit.get_format(name)
    if fmt.bits > 16:
        pytest.skip("every code is listed: up to 16 bits")
    _check_codes_against_reference(fmt)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    e=st.integers(1, 6),
    m=st.integers(0, 5),
    specials=st.sampled_from(["ieee", "fn", "fnuz", "none"]),
    bias=st.one_of(st.none(), st.integers(-4, 40)),
    sub=st.sampled_from([True, False, "flush"]),
)
def test_special_codes_of_random_formats(e, m, specials, bias, sub):
    try:
        fmt = FloatFormat(e, m, bias=bias, specials=specials, subnormals=sub)
    except lowbit.FormatError:
        return
    _check_codes_against_reference(fmt)
