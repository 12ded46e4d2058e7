"""Fast paths: float32 input, round-to-nearest (even or away) or toward zero, subnormals on,
every format value a float32.

The same arithmetic as the general kernels (scalar.py), written without branches so that
LLVM vectorises the loop (selects instead of jumps, constant-free variable shifts).  The
general kernels are the reference these are tested against (tests/formats/test_kernels.py).
Special results come in as (base, sign mask) pairs worked out by the format object, as
for the general kernels; ``signed_zero`` False (fnuz) makes every zero +0.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .dispatch import _OPTS, RNA, RNE, RTZ, _build


@nb.njit(inline="always", **_OPTS)
def _fast_round_f32(b, M, emin, is_rne, is_rna):
    """(|x| bits, truncated significand r, round-up bit, k) for one float32 bit pattern.

    Booleans are 0/1 uint32 values combined with & and |: no jumps, so the loop vectorises.
    """
    one = np.uint32(1)
    a = b & np.uint32(0x7FFFFFFF)
    e = a >> np.uint32(23)
    e1 = max(e, one)
    d = np.int32(emin + 127) - np.int32(e1)
    k = np.int32(23 - M) + max(d, np.int32(0))
    k = min(k, np.int32(25))  # 25: every significand bit lies below half an ulp
    ku = np.uint32(k)
    sig = (a & np.uint32(0x007FFFFF)) | (np.uint32(0x00800000) if e > 0 else np.uint32(0))
    r = sig >> ku
    rem = sig & ((one << ku) - one)
    half = (one << ku) >> one
    nz = np.uint32(rem != 0)
    up_rne = np.uint32(rem > half) | (np.uint32(rem == half) & nz & (r & one))
    up_rna = np.uint32(rem >= half) & nz
    up = (up_rne & is_rne) | (up_rna & is_rna)
    return a, r, up, ku


@nb.njit(inline="always", **_OPTS)
def _fast_specials(mode, maxval, sbit, nan_b, nan_s, ovf_b, ovf_s, signed_zero):
    """The special results as uint32 (base, sign mask) pairs: NaN input, +-Inf input, a
    finite value rounded beyond ``maxval`` (toward zero that is +-maxval, IEEE 754-2019
    §7.4), and the mask that keeps a zero's sign (none for fnuz)."""
    U = np.uint32
    nan_b, nan_s, inf_b, inf_s = U(nan_b), U(nan_s), U(ovf_b), U(ovf_s)
    if mode == RTZ:
        ov_b, ov_s = U(maxval), U(sbit)
    else:
        ov_b, ov_s = inf_b, inf_s
    keep_zero_sign = U(0xFFFFFFFF) if signed_zero else U(0)
    return nan_b, nan_s, inf_b, inf_s, ov_b, ov_s, keep_zero_sign


def _quantize_f32_fast(
    x, out, M, emin, maxbits, qsubbits, mode, nan_b, nan_s, ovf_b, ovf_s, signed_zero
):
    """Rounded float32 values (as bits) for round-to-nearest-even/away or toward zero."""
    n = x.shape[0]
    U = np.uint32
    is_rne = U(mode == RNE)
    is_rna = U(mode == RNA)
    infbits = U(0x7F800000)
    nan_b, nan_s, inf_b, inf_s, ov_b, ov_s, keep_zero_sign = _fast_specials(
        mode, maxbits, 0x80000000, nan_b, nan_s, ovf_b, ovf_s, signed_zero
    )
    anynan = U(0)
    for i in nb.prange(n):
        b = x[i]
        s = b & np.uint32(0x80000000)
        a, r, up, ku = _fast_round_f32(b, M, emin, is_rne, is_rna)
        big = ((a >> min(ku, np.uint32(23))) + up) << min(ku, np.uint32(23))
        rb = big if ku <= 23 else (qsubbits & (np.uint32(0) - up))
        sz = s & ((np.uint32(0) - np.uint32(rb != 0)) | keep_zero_sign)
        res = sz | rb
        res = (ov_b | (s & ov_s)) if rb > maxbits else res
        res = (inf_b | (s & inf_s)) if a == infbits else res
        isnan = np.uint32(a > infbits)
        res = (nan_b | (s & nan_s)) if isnan != 0 else res
        anynan += isnan
        out[i] = res
    return anynan


def _encode_f32_fast(
    x, out, M, emin, maxmag, signpos, mode, nan_b, nan_s, ovf_b, ovf_s, signed_zero
):
    """Codes for round-to-nearest-even/away or toward zero (float32 input)."""
    n = x.shape[0]
    U = np.uint32
    is_rne = U(mode == RNE)
    is_rna = U(mode == RNA)
    one = U(1)
    infbits = U(0x7F800000)
    Mu = U(M)
    mmask = (one << Mu) - one
    maxm = U(maxmag)
    minnorm = U((emin + 127) << 23)
    ebase = U(emin + 127 - 1)  # float32 exponent field of the code's field 1, minus 1
    k0 = U(23 - M)
    nan_b, nan_s, inf_b, inf_s, ov_b, ov_s, keep_zero_sign = _fast_specials(
        mode, maxmag, 1 << signpos, nan_b, nan_s, ovf_b, ovf_s, signed_zero
    )
    sh = U(31 - signpos)
    anynan = U(0)
    for i in nb.prange(n):
        b = x[i]
        sc = (b & np.uint32(0x80000000)) >> sh
        a, r, up, ku = _fast_round_f32(b, M, emin, is_rne, is_rna)
        rb = ((a >> min(ku, np.uint32(23))) + up) << min(ku, np.uint32(23))
        mag_n = (((rb >> np.uint32(23)) - ebase) << Mu) | ((rb >> k0) & mmask)
        mag = mag_n if (rb >= minnorm) & (ku <= 23) else (r + up)
        sz = sc & ((np.uint32(0) - np.uint32(mag != 0)) | keep_zero_sign)
        code = sz | mag
        code = (ov_b | (sc & ov_s)) if mag > maxm else code
        code = (inf_b | (sc & inf_s)) if a == infbits else code
        isnan = np.uint32(a > infbits)
        code = (nan_b | (sc & nan_s)) if isnan != 0 else code
        anynan += isnan
        out[i] = code
    return anynan


def _quantize_f32_rne(x, out, M, emin, maxbits, nan_b, nan_s, ovf_b, ovf_s, signed_zero, count_nan):
    """Round-to-nearest-even of float32 input (M < 23), the default and the hot path.

    Normal range: add half an ulp minus one plus the ulp bit, clear the ulp's low bits (a
    constant mask).  Below the smallest normal the target grid is uniform with step
    2^(emin-M): (|x| + C) - C with C = 2^(emin-M+23) makes the FPU round there, ties to even.
    Every uint32 operation is wrapped in ``U(...)``: numba widens integer arithmetic to 64
    bits, and the truncation lets LLVM keep 32-bit vector lanes (twice as many per
    instruction; the kernel then runs at about memory speed).
    """
    n = x.shape[0]
    U = np.uint32
    k0 = U(23 - M)
    ulp = U(U(1) << k0)
    hm1 = U(U(ulp >> U(1)) - U(1))
    clear = U(~U(ulp - U(1)))
    minnorm = U((emin + 127) << 23)
    C = np.float32(np.ldexp(1.0, emin - M + 23))
    infbits = U(0x7F800000)
    maxbits = U(maxbits)
    nan_b, nan_s, inf_b, inf_s, _, _, keep_zero_sign = _fast_specials(
        RNE, maxbits, 0x80000000, nan_b, nan_s, ovf_b, ovf_s, signed_zero
    )
    nnan = U(0)
    if count_nan:
        # the caller raises on NaN: count them (a reduction costs ~10%, so only then)
        for i in nb.prange(n):
            b = x[i]
            isnan = (b & U(0x7FFFFFFF)) > infbits
            nnan += U(isnan)
            out[i] = _q_rne_one(
                b, hm1, ulp, clear, minnorm, C, maxbits, keep_zero_sign,
                inf_b, inf_s, nan_b, nan_s,
            )  # fmt: skip
    else:
        for i in nb.prange(n):
            out[i] = _q_rne_one(
                x[i], hm1, ulp, clear, minnorm, C, maxbits, keep_zero_sign,
                inf_b, inf_s, nan_b, nan_s,
            )  # fmt: skip
    return nnan


@nb.njit(inline="always", **_OPTS)
def _q_rne_one(b, hm1, ulp, clear, minnorm, C, maxbits, keep_zero_sign, inf_b, inf_s, nan_b, nan_s):
    U = np.uint32
    s = U(b & U(0x80000000))
    a = U(b & U(0x7FFFFFFF))
    odd = U(1) if U(a & ulp) != U(0) else U(0)
    rn = U(U(U(a + hm1) + odd) & clear)
    rs = np.float32((a.view(np.float32) + C) - C).view(np.uint32)
    rb = rn if a >= minnorm else rs
    sz = U(s & (U(0xFFFFFFFF) if rb != U(0) else keep_zero_sign))
    res = U(sz | rb)
    res = U(inf_b | U(s & inf_s)) if rb > maxbits else res
    return U(nan_b | U(s & nan_s)) if a > U(0x7F800000) else res


def _encode_f32_rne(x, out, M, emin, maxmag, signpos, nan_b, nan_s, ovf_b, ovf_s, signed_zero):
    """Codes, round-to-nearest-even, float32 input, M < 23 (see _quantize_f32_rne)."""
    n = x.shape[0]
    one = np.uint32(1)
    Mu = np.uint32(M)
    k0 = np.uint32(23 - M)
    hm1 = (one << (k0 - one)) - one
    clear = ~((one << k0) - one)
    mmask = (one << Mu) - one
    minnorm = np.uint32((emin + 127) << 23)
    ebase = np.uint32(emin + 127 - 1)
    C = np.float32(np.ldexp(1.0, emin - M + 23))
    Cbits = C.view(np.uint32)
    infbits = np.uint32(0x7F800000)
    maxm = np.uint32(maxmag)
    nan_b, nan_s, inf_b, inf_s, _, _, keep_zero_sign = _fast_specials(
        RNE, maxmag, 1 << signpos, nan_b, nan_s, ovf_b, ovf_s, signed_zero
    )
    sh = np.uint32(31 - signpos)
    nnan = np.uint32(0)
    for i in nb.prange(n):
        b = x[i]
        sc = (b & np.uint32(0x80000000)) >> sh
        a = b & np.uint32(0x7FFFFFFF)
        rn = (a + hm1 + ((a >> k0) & one)) & clear
        mag_n = (((rn >> np.uint32(23)) - ebase) << Mu) | ((rn >> k0) & mmask)
        mag_s = np.float32(np.uint32(a).view(np.float32) + C).view(np.uint32) - Cbits
        mag = mag_n if a >= minnorm else mag_s
        sz = sc & ((np.uint32(0) - np.uint32(mag != 0)) | keep_zero_sign)
        code = sz | mag
        code = (inf_b | (sc & inf_s)) if mag > maxm else code
        isnan = a > infbits
        code = (nan_b | (sc & nan_s)) if isnan else code
        nnan += np.uint32(isnan)
        out[i] = code
    return nnan


quantize_f32_fast = _build(_quantize_f32_fast)
quantize_f32_rne = _build(_quantize_f32_rne)
encode_f32_rne = _build(_encode_f32_rne)
encode_f32_fast = _build(_encode_f32_fast)
