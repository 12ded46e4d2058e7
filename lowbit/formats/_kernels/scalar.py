"""General numba kernels of the scalar formats: minifloats, integers, E8M0, table decode.

Every kernel works on the bit pattern of its IEEE input (float32 seen as uint32, or float64
seen as uint64) in exact integer arithmetic: no floating-point operation touches a value,
so the result cannot depend on the host's rounding or on compiler contraction.

Rounding a positive value v = sig · 2^E (sig the input significand with its hidden bit) to a
minifloat with M mantissa bits and smallest normal exponent emin:

    lg   = floor(log2 v)                      (the input's unbiased exponent)
    qexp = max(lg, emin) - M                  (the exponent of one ulp in the target;
                                               emin instead when subnormals are off)
    k    = qexp - E                           (input bits that fall below that ulp)
    r    = sig >> k,  rem = sig mod 2^k       (truncated significand, discarded bits)
    r   += 1 if the rounding mode says so from (rem, 2^(k-1), r odd, sign, random bits)

The code's magnitude is then ((max(lg, emin) + bias - 1) << M) + r: a carry out of the
mantissa walks into the exponent field on its own, which is why one formula covers normal
values, subnormals and the step from the largest subnormal to the smallest normal.

What a NaN, an Inf or an overflowing value becomes is not decided here: the format object
works out those codes (FloatFormat.code_of_nan, code_of_inf, code_of_overflow, ...) and
passes each as a (base, sign mask) pair, the result being ``base | (input sign & mask)``.
All scalar parameters are validated by the format objects before a kernel is called.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .dispatch import (
    _OPTS,
    ENC_OFFSET,
    ENC_SIGN_MAG,
    ENC_TWOS,
    RDN,
    RNA,
    RNE,
    RSR,
    RTZ,
    RUP,
    SUBN_FLUSH,
    SUBN_OFF,
    SUBN_ON,
    _build,
)


@nb.njit(inline="always", **_OPTS)
def _round_up(r, rem, k, s, mode, rnd):
    """1 when the truncated significand ``r`` must be incremented, else 0."""
    if k == 0:
        return 0
    half = np.int64(1) << (k - 1)
    if mode == RNE:
        return 1 if (rem > half or (rem == half and (r & 1) == 1)) else 0
    if mode == RNA:
        return 1 if rem >= half else 0
    if mode == RTZ:
        return 0
    if mode == RDN:
        return 1 if (rem != 0 and s != 0) else 0
    if mode == RUP:
        return 1 if (rem != 0 and s == 0) else 0
    # stochastic: add k uniform random bits, carry out means round away (P = rem / 2^k)
    u = np.int64(np.uint64(rnd) >> np.uint64(64 - k))
    return 1 if (rem + u) >> k != 0 else 0


@nb.njit(inline="always", **_OPTS)
def _ieee_fields(frac):
    """(|x| mask, Inf bits, fraction mask, sign shift) of float32 (frac 23) / float64 (52)."""
    ebits = 11 if frac == 52 else 8
    absmask = (np.int64(1) << (frac + ebits)) - 1
    infbits = ((np.int64(1) << ebits) - 1) << frac
    return absmask, infbits, (np.int64(1) << frac) - 1, 63 if frac == 52 else 31


@nb.njit(inline="always", **_OPTS)
def _split(a, frac, fracmask, ebias, M, emin, subn):
    """(lg, sig, k) of a finite |x| given as bits ``a``: its unbiased exponent, its
    significand with the hidden bit, and how many of its bits fall below one ulp of the
    target (the module docstring's formula; emin's ulp when subnormals are off)."""
    e = a >> frac
    sig = (a & fracmask) | (np.int64(1 if e != 0 else 0) << frac)
    lg = e - ebias
    E = (e if e > 0 else 1) - ebias - frac
    if lg >= emin:
        qexp = lg - M
    elif subn == SUBN_ON:
        qexp = emin - M
    else:
        qexp = emin
    return lg, sig, min(qexp - E, 63)


def _encode_float(
    x, out, rbits, frac, ebias, M, emin, bias, subn, maxmag, signpos, mode,
    nan_b, nan_s, ovf_b, ovf_s, signed_zero,
):  # fmt: skip
    """Codes of ``x`` (uint32 or uint64 bit patterns of float32/float64 input).

    NaN input gets ``nan_b | (sign & nan_s)``; +-Inf and a finite value rounded beyond
    ``maxmag`` get ``ovf_b | (sign & ovf_s)`` (sign: the input's sign bit at ``signpos``);
    ``signed_zero`` False makes every zero +0.  Returns the number of NaN inputs.
    """
    n = x.shape[0]
    absmask, infbits, fracmask, signshift = _ieee_fields(frac)
    zmask = np.int64(-1) if signed_zero else np.int64(0)  # fnuz: every zero is +0
    stoch = mode == RSR
    nbad = 0
    for i in nb.prange(n):
        b = np.int64(x[i])
        s = (b >> signshift) & 1
        sc = s << signpos
        a = b & absmask
        if a >= infbits:
            if a > infbits:  # NaN input
                nbad += 1
                out[i] = nan_b | (sc & nan_s)
            else:  # +-Inf
                out[i] = ovf_b | (sc & ovf_s)
            continue
        lg, sig, k = _split(a, frac, fracmask, ebias, M, emin, subn)
        top = (lg + bias - 1) << M if lg >= emin else np.int64(0)
        r = sig >> k
        rem = sig & ((np.int64(1) << k) - 1)
        up = _round_up(r, rem, k, s, mode, rbits[i] if stoch else 0)
        r += up
        if lg < emin and subn == SUBN_OFF:
            mag = r << M
        elif lg < emin and subn == SUBN_FLUSH:
            mag = np.int64(0)  # |x| < 2^emin flushes to zero before rounding
        else:
            mag = top + r
        code = sc | mag
        if mag > maxmag:
            # IEEE 754-2019 §7.4: rounding toward zero never overflows to Inf/NaN
            tomax = mode == RTZ or (mode == RDN and s == 0) or (mode == RUP and s == 1)
            code = (sc | maxmag) if tomax else (ovf_b | (sc & ovf_s))
        out[i] = code & zmask if mag == 0 else code
    return nbad


def _quantize_float(
    x, out, rbits, frac, ebias, M, emin, subn, maxbits, qsubbits, mode,
    nan_b, nan_s, ovf_b, ovf_s, signed_zero,
):  # fmt: skip
    """Rounded values of ``x`` written as bit patterns of the same IEEE width.

    The special results are (base, sign mask) pairs of that width, as in _encode_float:
    the bit patterns of the values of the codes the format names.
    """
    n = x.shape[0]
    absmask, infbits, fracmask, signshift = _ieee_fields(frac)
    zmask = np.int64(-1) if signed_zero else np.int64(0)  # fnuz: every zero is +0
    stoch = mode == RSR
    nbad = 0
    for i in nb.prange(n):
        b = np.int64(x[i])
        s = (b >> signshift) & 1
        sgn = s << signshift
        a = b & absmask
        if a >= infbits:
            if a > infbits:
                nbad += 1
                out[i] = nan_b | (sgn & nan_s)
            else:
                out[i] = ovf_b | (sgn & ovf_s)
            continue
        lg, sig, k = _split(a, frac, fracmask, ebias, M, emin, subn)
        r = sig >> k
        rem = sig & ((np.int64(1) << k) - 1)
        up = _round_up(r, rem, k, s, mode, rbits[i] if stoch else 0)
        if k <= frac:
            # clearing the k low bits and adding one unit there: a carry out of the
            # fraction moves into the exponent field, exactly as the rounded value needs
            rb = ((a >> k) + up) << k
        else:
            rb = qsubbits if up else np.int64(0)
        if lg < emin and subn == SUBN_FLUSH:
            rb = np.int64(0)
        res = sgn | rb
        if rb > maxbits:
            tomax = mode == RTZ or (mode == RDN and s == 0) or (mode == RUP and s == 1)
            res = (sgn | maxbits) if tomax else (ovf_b | (sgn & ovf_s))
        res = res & zmask if rb == 0 else res
        out[i] = res
    return nbad


def _encode_int(x, out, rbits, qmin, qmax, mode, enc, bits):
    """Integer codes: round x to an integer, saturate to [qmin, qmax], encode.

    enc: an id of base.ENCODING_IDS (two's complement, sign-magnitude, offset binary, unsigned).
    Returns the number of NaN inputs (the caller raises).
    """
    n = x.shape[0]
    mask = (np.int64(1) << bits) - 1
    half_off = np.int64(1) << (bits - 1)
    nbad = 0
    for i in nb.prange(n):
        v = np.float64(x[i])
        if v != v:
            nbad += 1
            out[i] = 0
            continue
        if v >= qmax:
            q = qmax
        elif v <= qmin:
            q = qmin
        else:
            # |v| < 2^53 here; v - trunc(v) is exact (v - floor(v) is not for small v < 0)
            t = np.trunc(v)
            d = np.abs(v - t)
            sg = np.int64(1) if v > 0 else np.int64(-1)
            if mode == RNE:
                q = np.int64(np.rint(v))
            elif mode == RNA:
                q = np.int64(t) + (sg if d >= 0.5 else 0)
            elif mode == RTZ:
                q = np.int64(t)
            elif mode == RDN:
                q = np.int64(np.floor(v))
            elif mode == RUP:
                q = np.int64(np.ceil(v))
            else:
                # P(away from zero) = d, compared with 53 random bits
                u = np.float64(np.uint64(rbits[i]) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                q = np.int64(t) + (sg if u < d else 0)
            if q > qmax:
                q = qmax
            if q < qmin:
                q = qmin
        if enc == ENC_TWOS:
            out[i] = q & mask
        elif enc == ENC_SIGN_MAG:
            out[i] = (half_off | (-q)) if q < 0 else q
        elif enc == ENC_OFFSET:
            out[i] = q + half_off
        else:
            out[i] = q
    return nbad


def _quantize_int(x, out, rbits, qmin, qmax, mode):
    """Integer grid values of x (as floats), saturating; returns the NaN count."""
    n = x.shape[0]
    fmin = np.float64(qmin)
    fmax = np.float64(qmax)
    nbad = 0
    for i in nb.prange(n):
        v = np.float64(x[i])
        if v != v:
            nbad += 1
            out[i] = 0.0
            continue
        if mode == RNE:
            q = np.rint(v)
        elif mode == RNA:
            t = np.trunc(v)
            q = t + (np.sign(v) if np.abs(v - t) >= 0.5 else 0.0)
        elif mode == RTZ:
            q = np.trunc(v)
        elif mode == RDN:
            q = np.floor(v)
        elif mode == RUP:
            q = np.ceil(v)
        else:
            t = np.trunc(v)
            d = np.abs(v - t)
            u = np.float64(np.uint64(rbits[i]) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            q = t + (np.sign(v) if u < d else 0.0)
        q = fmin if q < fmin else q
        q = fmax if q > fmax else q
        out[i] = q + 0.0  # no negative zero from an integer grid
    return nbad


def _encode_exp(x, out, rbits, frac, ebias, bias, maxcode, nancode, mode, ovfcode):
    """Codes of an unsigned exponent-only format (E8M0): value 2^(code - bias).

    With no mantissa the two candidates for v in [2^lg, 2^(lg+1)) are both "odd", so
    nearest-even takes the larger one at a tie (IEEE 754-2019 4.3.1), as ml_dtypes does.
    Zero, negative numbers and NaN have no code but NaN; values below the smallest power
    round to it (there is no zero to round to).  +-Inf and values beyond the largest power
    get ``ovfcode`` (maxcode or nancode, the overflow policy's code).  Input: float64 bit
    patterns only.
    """
    n = x.shape[0]
    absmask, infbits, fracmask, signshift = _ieee_fields(frac)
    stoch = mode == RSR
    for i in nb.prange(n):
        b = np.int64(x[i])
        s = (b >> signshift) & 1
        a = b & absmask
        if a > infbits or a == 0 or s == 1:
            out[i] = nancode
            continue
        if a == infbits:
            out[i] = ovfcode
            continue
        e = a >> frac
        if e == 0:
            # a float64 subnormal lies far below the smallest power of two
            out[i] = 0
            continue
        lg = e - ebias
        k = frac
        r = np.int64(1)
        rem = a & fracmask
        up = _round_up(r, rem, k, 0, mode, rbits[i] if stoch else 0)
        c = lg + bias + up
        if c < 0:
            c = 0
        if c > maxcode:
            c = maxcode if (mode == RTZ or mode == RDN) else ovfcode
        out[i] = c
    return 0


def _quantize_int_rne(x, out, qmin, qmax):
    """Integer grid values, round-to-nearest-even, out of x's dtype (callers use it only
    when qmin and qmax are exact in that dtype)."""
    n = x.shape[0]
    fmin = x.dtype.type(qmin)
    fmax = x.dtype.type(qmax)
    nbad = 0
    for i in nb.prange(n):
        v = x[i]
        q = np.rint(v)
        q = fmin if q < fmin else q
        q = fmax if q > fmax else q
        isnan = v != v
        nbad += 1 if isnan else 0
        q = x.dtype.type(0) if isnan else q  # nan="zero" (with "raise" the caller raises)
        out[i] = q + x.dtype.type(0)
    return nbad


def _encode_int_rne(x, out, qmin, qmax, mask, offset):
    """Two's complement (offset 0) / offset binary / unsigned codes, round-to-nearest-even.

    The clamp is done on the int64 result: a float32 constant for qmax = 2^31 - 1 would
    round up to 2^31, whose code is qmin's.  The float clamp to +-2^40 (exact in float32 and
    float64) only keeps the int64 conversion defined for huge values and Inf.
    """
    n = x.shape[0]
    big = x.dtype.type(2.0**40)
    nbad = 0
    for i in nb.prange(n):
        v = x[i]
        q = np.rint(v)
        q = -big if q < -big else q
        q = big if q > big else q
        isnan = v != v
        q = x.dtype.type(0) if isnan else q
        nbad += 1 if isnan else 0
        qi = np.int64(q)
        qi = qmin if qi < qmin else qi
        qi = qmax if qi > qmax else qi
        out[i] = (qi + offset) & mask
    return nbad


def _decode_lut(codes, table, out, bits):
    """out[i] = table[codes[i] & mask]; returns the largest code (range check).

    Codes are read as uint64: an int64 view would turn codes >= 2^63 negative, below any
    range check.
    """
    n = codes.shape[0]
    mask = np.uint64((1 << bits) - 1)
    acc = np.uint64(0)
    for i in nb.prange(n):
        c = np.uint64(codes[i])
        acc = max(acc, c)
        out[i] = table[c & mask]
    return acc


encode_float = _build(_encode_float, split=(0, 1, 2))
quantize_float = _build(_quantize_float, split=(0, 1, 2))
encode_int = _build(_encode_int, split=(0, 1, 2))
quantize_int = _build(_quantize_int, split=(0, 1, 2))
encode_exp = _build(_encode_exp, split=(0, 1, 2))
quantize_int_rne = _build(_quantize_int_rne)
encode_int_rne = _build(_encode_int_rne)
decode_lut = _build(_decode_lut, split=(0, 2), combine="max")
