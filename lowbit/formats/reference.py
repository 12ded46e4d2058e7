"""Slow, obviously-correct scalar references for the scalar formats, from the definitions.

Exact rational arithmetic (``fractions.Fraction``), one value at a time, no bit tricks: the
value set is listed from the code → value rule, and rounding picks between the two listed
neighbours of x.  The fast kernels are tested against these functions.

Rounding rules written out (IEEE 754-2019 §4.3 where it speaks):
* nearest_even: the nearer neighbour; at a tie, zero if it is a neighbour, else the one with
  the even mantissa (magnitude code); with no mantissa bits (M = 0) both neighbours are
  "odd", so the larger magnitude (§4.3.1's fallback).
* nearest_away: the nearer; at a tie the larger magnitude.
* toward_zero / down / up: the neighbour in that direction.
* ``subnormals=False``: the grid has no subnormals (0, then ±2^emin); ``"flush"``: |x| below
  2^emin is ±0 whatever the rounding, the rest rounds as with ``False``.
* overflow happens when the rounded magnitude, with an unbounded exponent, exceeds max: the
  value above max is max + ulp(max) (for "fn" formats the NaN code's would-be value).
  Directed rounding that points back toward zero gives ±max instead (§7.4).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

from .expformat import ExpFormat
from .integer import IntFormat
from .minifloat import FloatFormat

NAN = float("nan")


def float_code_value(fmt: FloatFormat, code: int) -> float:
    """Decode one code of a FloatFormat from the definition (NaN and ±Inf included)."""
    E, M = fmt.exp_bits, fmt.man_bits
    s = (code >> (E + M)) & 1
    e = (code >> M) & ((1 << E) - 1)
    m = code & ((1 << M) - 1)
    mag_code = code & ((1 << (E + M)) - 1)
    if fmt.specials == "ieee" and e == (1 << E) - 1:
        return NAN if m else (-math.inf if s else math.inf)
    if fmt.specials == "fn" and mag_code == (1 << (E + M)) - 1:
        return NAN
    if fmt.specials == "fnuz" and s == 1 and mag_code == 0:
        return NAN
    v = _mag_value(fmt, mag_code)
    return -float(v) if s else float(v)


def _mag_value(fmt: FloatFormat, mag_code: int) -> Fraction:
    M = fmt.man_bits
    e = mag_code >> M
    m = mag_code & ((1 << M) - 1)
    if e == 0:
        if fmt.subnormals is not True:
            return Fraction(0)
        return Fraction(m, 1 << M) * Fraction(2) ** (1 - fmt.bias)
    return (1 + Fraction(m, 1 << M)) * Fraction(2) ** (e - fmt.bias)


@lru_cache(maxsize=64)
def _positive_grid(fmt: FloatFormat) -> tuple[tuple[Fraction, ...], tuple[int, ...]]:
    """Finite non-negative magnitudes (ascending) and their magnitude codes, plus the
    virtual value max + ulp(max) with code code_of_max + 1 (the overflow threshold)."""
    if fmt.bits > 20:
        raise ValueError("the reference lists every value: at most 20-bit formats")
    vals, codes = [], []
    M = fmt.man_bits
    for mag in range(fmt.code_of_max + 1):
        if fmt.subnormals is not True and (mag >> M) == 0 and mag != 0:
            continue
        vals.append(_mag_value(fmt, mag))
        codes.append(mag)
    ulp = Fraction(2) ** (fmt.emax - M)
    vals.append(vals[-1] + ulp)
    codes.append(fmt.code_of_max + 1)
    return tuple(vals), tuple(codes)


def _pick(lo, hi, clo, chi, x, rounding, negative, zero_even, u):
    """Choose lo or hi (lo ≤ x ≤ hi, magnitudes) by the rounding rule."""
    if lo == x:
        return lo, clo
    if rounding == "toward_zero":
        return lo, clo
    if rounding == "down":
        return (hi, chi) if negative else (lo, clo)
    if rounding == "up":
        return (lo, clo) if negative else (hi, chi)
    if rounding == "stochastic":
        return (hi, chi) if u < (x - lo) / (hi - lo) else (lo, clo)
    dlo, dhi = x - lo, hi - x
    if dlo < dhi:
        return lo, clo
    if dhi < dlo:
        return hi, chi
    if rounding == "nearest_away":
        return hi, chi
    # nearest_even tie
    if lo == 0:
        return lo, clo
    if zero_even is False:  # no mantissa bits: the larger magnitude (IEEE 754 §4.3.1)
        return hi, chi
    return (lo, clo) if clo % 2 == 0 else (hi, chi)


def encode_float_ref(
    fmt: FloatFormat,
    x: float,
    rounding: str = "nearest_even",
    overflow: str | None = None,
    nan: str = "raise",
    u: float = 0.5,
) -> int:
    """The code of one value (``u`` in [0, 1) drives stochastic rounding)."""
    overflow = overflow or fmt.default_overflow
    E, M = fmt.exp_bits, fmt.man_bits
    sbit = 1 << (E + M)
    top = (1 << E) - 1
    if fmt.specials == "ieee":
        inf_mag, nan_mag = top << M, (top << M) | (1 << (M - 1))
    elif fmt.specials == "fn":
        inf_mag, nan_mag = None, (1 << (E + M)) - 1
    else:
        inf_mag, nan_mag = None, None
    negative = math.copysign(1.0, x) < 0

    def nan_code(neg):
        if fmt.specials == "fnuz":
            return sbit
        if fmt.specials == "none":
            if nan == "raise":
                raise ValueError("NaN in a format without NaN")
            return sbit if nan == "negzero" else 0
        return (sbit if neg else 0) | nan_mag

    def over(neg, finite):
        directed_back = finite and (
            rounding == "toward_zero"
            or (rounding == "down" and not neg)
            or (rounding == "up" and neg)
        )
        if overflow == "saturate" or fmt.specials == "none" or directed_back:
            return (sbit if neg else 0) | fmt.code_of_max
        if overflow == "inf":
            return (sbit if neg else 0) | inf_mag
        return nan_code(neg)

    if math.isnan(x):
        return nan_code(negative)
    if math.isinf(x):
        return over(negative, False)
    ax = abs(Fraction(x))
    if fmt.subnormals == "flush" and ax < Fraction(2) ** fmt.emin:
        # flushed before rounding (microxcaling, allow_denorm=False): a signed zero
        return 0 if fmt.specials == "fnuz" or not negative else sbit
    vals, codes = _positive_grid(fmt)
    if ax > vals[-1]:
        return over(negative, True)
    # bisect for lo ≤ ax ≤ hi
    lo_i, hi_i = 0, len(vals) - 1
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        if vals[mid] <= ax:
            lo_i = mid
        else:
            hi_i = mid
    if vals[hi_i] == ax:
        lo_i = hi_i
    v, c = _pick(
        vals[lo_i], vals[hi_i], codes[lo_i], codes[hi_i], ax, rounding, negative,
        None if M > 0 else False, Fraction(u),
    )  # fmt: skip
    if c > fmt.code_of_max:
        return over(negative, True)
    if c == 0 and fmt.specials == "fnuz":
        return 0
    return (sbit if negative else 0) | c


def int_code_value(fmt: IntFormat, code: int) -> float:
    """Decode one integer code (codes outside a narrow range give NaN)."""
    n = fmt.bits
    half = 1 << (n - 1)
    if not fmt.signed:
        v = code
    elif fmt.encoding == "twos_complement":
        v = code - (1 << n) if code >= half else code
    elif fmt.encoding == "sign_magnitude":
        v = -(code - half) if code >= half else code
    else:
        v = code - half
    return float(v) if fmt.qmin <= v <= fmt.qmax else NAN


def encode_int_ref(fmt: IntFormat, x: float, rounding: str = "nearest_even", u: float = 0.5) -> int:
    """Round to an integer by the rule, saturate to [qmin, qmax], encode."""
    if math.isnan(x):
        raise ValueError("NaN has no integer code")
    if math.isinf(x):
        q = fmt.qmax if x > 0 else fmt.qmin
    else:
        fx = Fraction(x)
        lo = math.floor(fx)
        hi = lo + 1
        negative = fx < 0
        if fx == lo:
            q = lo
        elif rounding == "stochastic":
            q = hi if Fraction(u) < fx - lo else lo
        else:
            # work on magnitudes so that _pick's "toward zero" rules apply
            mlo, mhi = (abs(Fraction(hi)), abs(Fraction(lo))) if negative else (lo, hi)
            a = abs(fx)
            even = None
            v, _ = _pick(
                Fraction(mlo),
                Fraction(mhi),
                int(mlo),
                int(mhi),
                a,
                rounding,
                negative,
                even,
                Fraction(1, 2),
            )
            q = -int(v) if negative else int(v)
        q = min(max(q, fmt.qmin), fmt.qmax)
    n = fmt.bits
    if not fmt.signed:
        return q
    if fmt.encoding == "twos_complement":
        return q & ((1 << n) - 1)
    if fmt.encoding == "sign_magnitude":
        return ((1 << (n - 1)) | -q) if q < 0 else q
    return q + (1 << (n - 1))


def encode_exp_ref(
    fmt: ExpFormat, x: float, rounding: str = "nearest_even", overflow: str = "nan"
) -> int:
    """E8M0-style: powers of two 2^(c-bias), c < 2^E - 1; NaN code 2^E - 1."""
    nan_code = (1 << fmt.exp_bits) - 1
    if math.isnan(x) or x <= 0:
        return nan_code
    if math.isinf(x):
        return fmt.max_code if overflow == "saturate" else nan_code
    fx = Fraction(x)
    vals = [Fraction(2) ** (c - fmt.bias) for c in range(fmt.max_code + 1)]
    vals.append(Fraction(2) ** (fmt.max_code + 1 - fmt.bias))  # overflow threshold
    if fx <= vals[0]:
        return 0
    if fx > vals[-1]:
        return (
            fmt.max_code
            if overflow == "saturate" or rounding in ("toward_zero", "down")
            else nan_code
        )
    c = max(i for i, v in enumerate(vals) if v <= fx)
    if vals[c] == fx:
        pick = c
    else:
        _, pick = _pick(vals[c], vals[c + 1], c, c + 1, fx, rounding, False, False, Fraction(1, 2))
    if pick > fmt.max_code:
        return (
            fmt.max_code
            if overflow == "saturate" or rounding in ("toward_zero", "down")
            else nan_code
        )
    return pick
