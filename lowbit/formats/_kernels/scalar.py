"""numba kernels behind the array paths of the scalar formats.

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

All scalar parameters are validated by the format objects before a kernel is called.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ... import threads as _threads

# rounding ids: must match base.ROUNDING_IDS
RNE, RNA, RTZ, RDN, RUP, RSR = 0, 1, 2, 3, 4, 5
# overflow ids
OVF_SAT, OVF_INF, OVF_NAN = 0, 1, 2
# what NaN becomes in a format with no NaN code
NAN_RAISE, NAN_ZERO, NAN_NEGZERO = 0, 1, 2
# specials ids
SP_NONE, SP_IEEE, SP_FN, SP_FNUZ = 0, 1, 2, 3
# subnormal rules (FloatFormat.subnormals False / True / "flush")
SUBN_OFF, SUBN_ON, SUBN_FLUSH = 0, 1, 2

_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)


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


def _encode_float(
    x, out, rbits, frac, ebias, M, emin, bias, subn, maxmag, signpos, sp, mode, ovf, nanpol
):
    """Codes of ``x`` (uint32 or uint64 bit patterns of float32/float64 input)."""
    n = x.shape[0]
    absmask = (np.int64(1) << (frac + (11 if frac == 52 else 8))) - 1
    infbits = ((np.int64(1) << (11 if frac == 52 else 8)) - 1) << frac
    fracmask = (np.int64(1) << frac) - 1
    signshift = 63 if frac == 52 else 31
    e_all = (np.int64(1) << (signpos - M)) - 1  # all-ones exponent field
    if sp == SP_IEEE:
        infmag = e_all << M
        nanmag = infmag | (np.int64(1) << (M - 1))
    elif sp == SP_FN:
        infmag = maxmag
        nanmag = (e_all << M) | ((np.int64(1) << M) - 1)
    else:
        infmag = maxmag
        nanmag = 0
    stoch = mode == RSR
    nbad = 0
    for i in nb.prange(n):
        b = np.int64(x[i])
        s = (b >> signshift) & 1
        a = b & absmask
        if a >= infbits:
            if a > infbits:  # NaN input
                if sp == SP_FNUZ:
                    code = np.int64(1) << signpos
                elif sp == SP_NONE:
                    if nanpol == NAN_RAISE:
                        nbad += 1
                        code = 0
                    elif nanpol == NAN_ZERO:
                        code = 0
                    else:
                        code = np.int64(1) << signpos
                else:
                    code = (s << signpos) | nanmag
            else:  # +-Inf
                if ovf == OVF_SAT or sp == SP_NONE:
                    code = (s << signpos) | maxmag
                elif ovf == OVF_INF:
                    code = (s << signpos) | infmag
                elif sp == SP_FNUZ:
                    code = np.int64(1) << signpos
                else:
                    code = (s << signpos) | nanmag
            out[i] = code
            continue
        e = a >> frac
        sig = (a & fracmask) | (np.int64(1 if e != 0 else 0) << frac)
        lg = e - ebias
        E = (e if e > 0 else 1) - ebias - frac
        if lg >= emin:
            qexp = lg - M
            top = (lg + bias - 1) << M
        elif subn == SUBN_ON:
            qexp = emin - M
            top = np.int64(0)
        else:
            qexp = emin
            top = np.int64(0)
        k = qexp - E
        if k > 63:
            k = 63
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
        if mag > maxmag:
            # IEEE 754 7.4: directed rounding toward zero never overflows to Inf/NaN
            if (
                ovf == OVF_SAT
                or sp == SP_NONE
                or mode == RTZ
                or (mode == RDN and s == 0)
                or (mode == RUP and s == 1)
            ):
                mag = maxmag
            elif ovf == OVF_INF:
                mag = infmag
            elif sp == SP_FNUZ:
                out[i] = np.int64(1) << signpos
                continue
            else:
                mag = nanmag
        if mag == 0 and sp == SP_FNUZ:
            out[i] = 0
        else:
            out[i] = (s << signpos) | mag
    return nbad


def _quantize_float(
    x, out, rbits, frac, ebias, M, emin, subn, maxbits, qsubbits, sp, mode, ovf, nanpol
):
    """Rounded values of ``x`` written as bit patterns of the same IEEE width."""
    n = x.shape[0]
    ebits = 11 if frac == 52 else 8
    absmask = (np.int64(1) << (frac + ebits)) - 1
    infbits = ((np.int64(1) << ebits) - 1) << frac
    nanbits = infbits | (np.int64(1) << (frac - 1))
    fracmask = (np.int64(1) << frac) - 1
    signshift = 63 if frac == 52 else 31
    # fnuz's one NaN is the -0 code: its value is a NaN with the sign bit set
    nanfnuz = nanbits | (np.int64(1) << signshift)
    stoch = mode == RSR
    nbad = 0
    for i in nb.prange(n):
        b = np.int64(x[i])
        s = (b >> signshift) & 1
        sgn = s << signshift
        a = b & absmask
        if a >= infbits:
            if a > infbits:
                if sp == SP_NONE:
                    if nanpol == NAN_RAISE:
                        nbad += 1
                        res = np.int64(0)
                    elif nanpol == NAN_ZERO:
                        res = np.int64(0)
                    else:
                        res = np.int64(1) << signshift
                else:
                    res = nanfnuz if sp == SP_FNUZ else (nanbits | sgn)
            elif ovf == OVF_SAT or sp == SP_NONE:
                res = sgn | maxbits
            elif ovf == OVF_INF:
                res = sgn | infbits
            else:
                res = nanfnuz if sp == SP_FNUZ else (nanbits | sgn)
            out[i] = res
            continue
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
        k = qexp - E
        if k > 63:
            k = 63
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
        if rb > maxbits:
            if (
                ovf == OVF_SAT
                or sp == SP_NONE
                or mode == RTZ
                or (mode == RDN and s == 0)
                or (mode == RUP and s == 1)
            ):
                res = sgn | maxbits
            elif ovf == OVF_INF:
                res = sgn | infbits
            else:
                res = nanfnuz if sp == SP_FNUZ else (nanbits | sgn)
        elif rb == 0 and sp == SP_FNUZ:
            res = np.int64(0)
        else:
            res = sgn | rb
        out[i] = res
    return nbad


def _encode_int(x, out, rbits, qmin, qmax, mode, enc, bits):
    """Integer codes: round x to an integer, saturate to [qmin, qmax], encode.

    enc: 0 two's complement, 1 sign-magnitude, 2 offset binary, 3 unsigned.
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
        if enc == 0:
            out[i] = q & mask
        elif enc == 1:
            out[i] = (half_off | (-q)) if q < 0 else q
        elif enc == 2:
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


def _encode_exp(x, out, rbits, frac, ebias, bias, maxcode, nancode, mode, ovf):
    """Codes of an unsigned exponent-only format (E8M0): value 2^(code - bias).

    With no mantissa the two candidates for v in [2^lg, 2^(lg+1)) are both "odd", so
    nearest-even takes the larger one at a tie (IEEE 754-2019 4.3.1), as ml_dtypes does.
    Zero, negative numbers and NaN have no code but NaN; values below the smallest power
    round to it (there is no zero to round to).  Input: float64 bit patterns only.
    """
    n = x.shape[0]
    ebits = 11 if frac == 52 else 8
    absmask = (np.int64(1) << (frac + ebits)) - 1
    infbits = ((np.int64(1) << ebits) - 1) << frac
    fracmask = (np.int64(1) << frac) - 1
    signshift = 63 if frac == 52 else 31
    stoch = mode == RSR
    for i in nb.prange(n):
        b = np.int64(x[i])
        s = (b >> signshift) & 1
        a = b & absmask
        if a > infbits or a == 0 or s == 1:
            out[i] = nancode
            continue
        if a == infbits:
            out[i] = maxcode if ovf == OVF_SAT else nancode
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
            c = maxcode if (ovf == OVF_SAT or mode == RTZ or mode == RDN) else nancode
        out[i] = c
    return 0


def _build(fn, split=(0, 1), combine="sum", serial_if=None):
    """(serial kernel, threaded runner) for ``fn``.

    Only the serial compilation exists: the runner cuts the arguments at positions
    ``split`` along their first axis (those whose first axis has the data's length, so a
    one-word ``NO_RANDOM`` passes whole) and runs the serial kernel on the pieces in
    lowbit's threads (lowbit/threads.py explains why not numba's ``parallel=True``).
    ``combine`` merges the pieces' return values ("sum", "max" or None);
    ``serial_if(args)`` true means this call cannot be cut (the kernel needs all rows).
    """
    serial = nb.njit(**_OPTS)(fn)
    return serial, _Chunked(serial, split, combine, serial_if)


#: Arrays shorter than this run serially, and no piece is shorter: below ~2^16 values the
#: hand-over to a helper thread costs more than the helper saves.
PARALLEL_MIN = 1 << 16
#: Pieces per thread: small pieces let the caller take over the work of a helper that the
#: OS does not schedule (busy machine); each piece costs a few microseconds of dispatch.
PIECES_PER_THREAD = 8


class _Chunked:
    """Calls a serial kernel on row ranges of its array arguments in lowbit's threads."""

    def __init__(self, kernel, split, combine, serial_if):
        self.kernel = kernel
        self.split = split
        self.combine = combine
        self.serial_if = serial_if
        #: threaded calls so far (tests observe which path ran)
        self.calls = 0

    def __call__(self, *args):
        threads = _threads.get_num_threads()
        lead = args[self.split[0]]
        rows = lead.shape[0]
        if threads < 2 or rows == 0 or (self.serial_if is not None and self.serial_if(args)):
            return self.kernel(*args)
        per_row = max(lead.size // rows, 1)
        step = max(-(-PARALLEL_MIN // per_row), -(-rows // (threads * PIECES_PER_THREAD)))
        if per_row < 16:
            step = -(-step // 16) * 16  # whole cache lines of a 1-D output at every cut
        nchunks = -(-rows // step)
        if nchunks < 2:
            return self.kernel(*args)
        self.calls += 1
        cut = [
            i
            for i in self.split
            if isinstance(args[i], np.ndarray) and args[i].ndim and args[i].shape[0] == rows
        ]

        def piece(c):
            a = list(args)
            for i in cut:
                a[i] = args[i][c * step : (c + 1) * step]
            return self.kernel(*a)

        res = _threads.run_chunks(piece, nchunks, threads)
        if res[0] is None:  # the kernel returns nothing
            return None
        if self.combine == "sum":
            return sum(res)
        if self.combine == "max":
            return max(res)
        return None


encode_float = _build(_encode_float, split=(0, 1, 2))
quantize_float = _build(_quantize_float, split=(0, 1, 2))
encode_int = _build(_encode_int, split=(0, 1, 2))
quantize_int = _build(_quantize_int, split=(0, 1, 2))
encode_exp = _build(_encode_exp, split=(0, 1, 2))


def pick(kernels, n: int):
    """The serial kernel for short arrays or one thread, else the threaded runner."""
    if n >= 2 * PARALLEL_MIN and _threads.get_num_threads() > 1:
        return kernels[1]
    return kernels[0]


NO_RANDOM = np.zeros(1, dtype=np.uint64)


# ---------------------------------------------------------------------------------------
# Fast paths: float32 input, round-to-nearest (even or away) or toward zero, subnormals on,
# every format value a float32.  The same arithmetic as above, written without branches so
# that LLVM vectorises the loop (selects instead of jumps, constant-free variable shifts).
# The general kernels above are the reference these are tested against.
# ---------------------------------------------------------------------------------------


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
def _fast_consts(sp, mode, ovf, nanpol):
    """Per-call constants: (base, sign mask) pairs of the special results, as uint32."""
    SB = np.uint32(0x80000000)
    Z = np.uint32(0)
    if sp == SP_NONE:
        nan_b, nan_s = (SB if nanpol == NAN_NEGZERO else Z), Z
    elif sp == SP_FNUZ:  # the -0 code: a NaN with the sign bit set
        nan_b, nan_s = np.uint32(0xFFC00000), Z
    else:
        nan_b, nan_s = np.uint32(0x7FC00000), SB
    sat = ovf == OVF_SAT or sp == SP_NONE
    return nan_b, nan_s, sat, ovf == OVF_INF, mode == RTZ


def _quantize_f32_fast(x, out, M, emin, maxbits, qsubbits, sp, mode, ovf, nanpol):
    """Rounded float32 values (as bits) for round-to-nearest-even/away or toward zero."""
    n = x.shape[0]
    is_rne = np.uint32(mode == RNE)
    is_rna = np.uint32(mode == RNA)
    infbits = np.uint32(0x7F800000)
    nan_b, nan_s, sat, oinf, rtz = _fast_consts(sp, mode, ovf, nanpol)
    # result for a finite value that overflows, and for +-Inf input: (base, sign mask)
    if sat:
        inf_b, inf_s = maxbits, np.uint32(0x80000000)
    elif oinf:
        inf_b, inf_s = infbits, np.uint32(0x80000000)
    else:
        inf_b, inf_s = nan_b, nan_s
    if rtz:
        ov_b, ov_s = maxbits, np.uint32(0x80000000)
    else:
        ov_b, ov_s = inf_b, inf_s
    keep_zero_sign = np.uint32(0xFFFFFFFF) if sp != SP_FNUZ else np.uint32(0)
    anynan = np.uint32(0)
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


def _encode_f32_fast(x, out, M, emin, bias, maxmag, signpos, sp, mode, ovf, nanpol):
    """Codes for round-to-nearest-even/away or toward zero (float32 input)."""
    n = x.shape[0]
    is_rne = np.uint32(mode == RNE)
    is_rna = np.uint32(mode == RNA)
    one = np.uint32(1)
    infbits = np.uint32(0x7F800000)
    Mu = np.uint32(M)
    ebits_all = (one << np.uint32(signpos - M)) - one
    mmask = (one << Mu) - one
    maxm = np.uint32(maxmag)
    minnorm = np.uint32((emin + 127) << 23)
    ebase = np.uint32(emin + 127 - 1)  # float32 exponent field of the code's field 1, minus 1
    k0 = np.uint32(23 - M)
    sbit = one << np.uint32(signpos)
    if sp == SP_IEEE:
        infmag = ebits_all << Mu
        nanmag = infmag | (one << np.uint32(M - 1))
    elif sp == SP_FN:
        infmag = maxm
        nanmag = (ebits_all << Mu) | mmask
    else:
        infmag = maxm
        nanmag = np.uint32(0)
    # (base, sign-bit mask) of the NaN code, the +-Inf result and the finite-overflow result
    if sp == SP_NONE:
        nan_b, nan_s = (sbit if nanpol == NAN_NEGZERO else np.uint32(0)), np.uint32(0)
    elif sp == SP_FNUZ:
        nan_b, nan_s = sbit, np.uint32(0)
    else:
        nan_b, nan_s = nanmag, sbit
    if ovf == OVF_SAT or sp == SP_NONE:
        inf_b, inf_s = maxm, sbit
    elif ovf == OVF_INF:
        inf_b, inf_s = infmag, sbit
    else:
        inf_b, inf_s = nan_b, nan_s
    if mode == RTZ:
        ov_b, ov_s = maxm, sbit
    else:
        ov_b, ov_s = inf_b, inf_s
    keep_zero_sign = np.uint32(0xFFFFFFFF) if sp != SP_FNUZ else np.uint32(0)
    sh = np.uint32(31 - signpos)
    anynan = np.uint32(0)
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


def _quantize_f32_rne(x, out, M, emin, maxbits, sp, ovf, nanpol):
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
    nan_b, nan_s, sat, oinf, rtz = _fast_consts(sp, RNE, ovf, nanpol)
    nan_b, nan_s, maxbits = U(nan_b), U(nan_s), U(maxbits)
    SB = U(0x80000000)
    if sat:
        inf_b, inf_s = maxbits, SB
    elif oinf:
        inf_b, inf_s = infbits, SB
    else:
        inf_b, inf_s = nan_b, nan_s
    keep_zero_sign = U(0xFFFFFFFF) if sp != SP_FNUZ else U(0)
    nnan = U(0)
    if sp == SP_NONE and nanpol == NAN_RAISE:
        # the caller raises on NaN: count them (a reduction costs ~10%, so only here)
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


def _encode_f32_rne(x, out, M, emin, maxmag, signpos, sp, ovf, nanpol):
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
    ebits_all = (one << np.uint32(signpos - M)) - one
    sbit = one << np.uint32(signpos)
    if sp == SP_IEEE:
        infmag = ebits_all << Mu
        nanmag = infmag | (one << np.uint32(M - 1))
    elif sp == SP_FN:
        infmag = maxm
        nanmag = (ebits_all << Mu) | mmask
    else:
        infmag = maxm
        nanmag = np.uint32(0)
    if sp == SP_NONE:
        nan_b, nan_s = (sbit if nanpol == NAN_NEGZERO else np.uint32(0)), np.uint32(0)
    elif sp == SP_FNUZ:
        nan_b, nan_s = sbit, np.uint32(0)
    else:
        nan_b, nan_s = nanmag, sbit
    if ovf == OVF_SAT or sp == SP_NONE:
        inf_b, inf_s = maxm, sbit
    elif ovf == OVF_INF:
        inf_b, inf_s = infmag, sbit
    else:
        inf_b, inf_s = nan_b, nan_s
    keep_zero_sign = np.uint32(0xFFFFFFFF) if sp != SP_FNUZ else np.uint32(0)
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


quantize_f32_fast = _build(_quantize_f32_fast)
quantize_f32_rne = _build(_quantize_f32_rne)
encode_f32_rne = _build(_encode_f32_rne)
encode_f32_fast = _build(_encode_f32_fast)
quantize_int_rne = _build(_quantize_int_rne)
encode_int_rne = _build(_encode_int_rne)
decode_lut = _build(_decode_lut, split=(0, 2), combine="max")


# ---------------------------------------------------------------------------------------
# Block formats: fused scale + element rounding + rescale, one block per iteration.
# ---------------------------------------------------------------------------------------


@nb.njit(inline="always", **_OPTS)
def _pow2(n):
    """2.0**n as float64 for -1022 <= n <= 1023, built from its bits (no libm call)."""
    return np.int64((n + 1023) << 52).view(np.float64)


@nb.njit(inline="always", **_OPTS)
def _floor_log2_bits(a):
    """floor(log2 v) of a positive finite float32 given its bits ``a`` (subnormals too)."""
    e = np.int64(a >> np.uint32(23))
    if e > 0:
        return e - 127
    m = np.int64(a)
    lg = np.int64(-150)
    while m > 0:
        m >>= 1
        lg += 1
    return lg


def _mx_quantize_f32(x, out, k, emax, M, emin, maxbits, int_frac, qmax):
    """OCP MX, floor scale rule, RNE elements saturating (x, out: (n_blocks, k) float32).

    Element: a minifloat (int_frac < 0) rounded with the float32 RNE trick, or an integer
    grid q / 2^int_frac (MXINT8: |q| ≤ qmax).  A block with NaN/Inf is all NaN.
    """
    nblocks = x.shape[0]
    one = np.uint32(1)
    k0 = np.uint32(23 - M) if M < 23 else np.uint32(0)
    hm1 = (one << (k0 - one)) - one if k0 > 0 else np.uint32(0)
    clear = ~((one << k0) - one)
    minnorm = np.uint32((emin + 127) << 23) if int_frac < 0 else np.uint32(0)
    C = np.float32(np.ldexp(1.0, emin - M + 23)) if int_frac < 0 else np.float32(1.0)
    SB = np.uint32(0x80000000)
    fq = np.float64(qmax)
    for b in nb.prange(nblocks):
        amax = np.uint32(0)
        for j in range(k):
            a = np.float32(x[b, j]).view(np.uint32) & np.uint32(0x7FFFFFFF)
            amax = max(amax, a)
        if amax >= np.uint32(0x7F800000):
            for j in range(k):
                out[b, j] = np.nan
            continue
        e = np.int64(-127)
        if amax != 0:
            e = max(_floor_log2_bits(amax) - emax, np.int64(-127))
        down = _pow2(-e)
        up = _pow2(e)
        if int_frac < 0 and emin + e + 127 >= 1:
            # Rounding x/X to the element grid and multiplying back by X = 2^e is rounding
            # x to the same minifloat with every exponent shifted by e: the scalar RNE trick
            # with shifted constants, on x's own bits (no scaling, no conversions).
            mn = np.uint32((emin + e + 127) << 23)
            mxb = np.uint32(np.int64(maxbits) + (e << 23))
            # Below the shifted smallest normal the grid is uniform with step 2^qs.  The
            # float32 trick (|x| + C) - C needs C = 2^(qs + 23) to be a finite float32;
            # for large shared exponents (E4M3 from amax 2^122 on) it is not, and the
            # subnormal-range elements round in float64 instead: |x|·2^-qs is exact there
            # and rint rounds ties to even.
            qs = emin + e - M
            if qs + 23 <= 127:
                Ce = np.float32(_pow2(qs + 23))
                for j in range(k):
                    bv = np.float32(x[b, j]).view(np.uint32)
                    a = bv & np.uint32(0x7FFFFFFF)
                    rn = (a + hm1 + ((a >> k0) & one)) & clear
                    rs = np.float32((np.uint32(a).view(np.float32) + Ce) - Ce).view(np.uint32)
                    rb = rn if a >= mn else rs
                    rb = min(rb, mxb)
                    out[b, j] = np.uint32((bv & SB) | rb).view(np.float32)
            else:
                dq = _pow2(-qs)
                uq = _pow2(qs)
                for j in range(k):
                    bv = np.float32(x[b, j]).view(np.uint32)
                    a = bv & np.uint32(0x7FFFFFFF)
                    rn = (a + hm1 + ((a >> k0) & one)) & clear
                    av = np.float64(np.uint32(a).view(np.float32))
                    rs = np.float32(np.rint(av * dq) * uq).view(np.uint32)
                    rb = rn if a >= mn else rs
                    rb = min(rb, mxb)
                    out[b, j] = np.uint32((bv & SB) | rb).view(np.float32)
            continue
        for j in range(k):
            v = np.float64(x[b, j]) * down
            if int_frac >= 0:
                q = np.rint(v * _pow2(int_frac))
                # + 0.0: a two's complement element has no negative zero
                q = min(max(q, -fq), fq) + 0.0
                out[b, j] = np.float32(q * _pow2(-int_frac) * up)
            else:
                bv = np.float32(v).view(np.uint32)
                s = bv & SB
                a = bv & np.uint32(0x7FFFFFFF)
                rn = (a + hm1 + ((a >> k0) & one)) & clear
                rs = np.float32((np.uint32(a).view(np.float32) + C) - C).view(np.uint32)
                rb = rn if a >= minnorm else rs
                rb = min(rb, maxbits)
                out[b, j] = np.float32(np.float64(np.uint32(s | rb).view(np.float32)) * up)


def _sharedexp_quantize(x, out, k, sub, dmax, m):
    """MX9/6/4 and BFP (x, out: (n_blocks, k) float32), RNE elements, saturating."""
    nblocks = x.shape[0]
    qmax = np.float64((1 << m) - 1)
    for b in nb.prange(nblocks):
        amax = np.uint32(0)
        for j in range(k):
            a = np.float32(x[b, j]).view(np.uint32) & np.uint32(0x7FFFFFFF)
            amax = max(amax, a)
        if amax >= np.uint32(0x7F800000):
            for j in range(k):
                out[b, j] = np.nan
            continue
        eb = np.int64(-127)
        if amax != 0:
            eb = max(_floor_log2_bits(amax), np.int64(-127))
        if dmax == 1 and sub == 2:
            # pairs with one micro bit (MX9/6/4): shift by one when both members lie below
            # 2^eb; written per element (partner j ^ 1) so the loop vectorises
            lim = np.uint32((eb + 127) << 23) if eb > -127 else np.uint32(0x00400000)
            d0 = _pow2((m - 1) - eb)
            d1 = _pow2((m - 1) - (eb - 1))
            u0 = _pow2(eb - (m - 1))
            u1 = _pow2((eb - 1) - (m - 1))
            for j in range(k):
                a0 = np.float32(x[b, j]).view(np.uint32) & np.uint32(0x7FFFFFFF)
                a1 = np.float32(x[b, j ^ 1]).view(np.uint32) & np.uint32(0x7FFFFFFF)
                shifted = max(a0, a1) < lim
                down = d1 if shifted else d0
                up = u1 if shifted else u0
                q = np.rint(np.float64(x[b, j]) * down)
                q = min(max(q, -qmax), qmax) + 0.0  # the general path's zero is +0
                out[b, j] = np.float32(q * up)
            continue
        for p in range(0, k, sub):
            d = np.int64(0)
            if dmax > 0:
                smax = np.uint32(0)
                for j in range(p, p + sub):
                    a = np.float32(x[b, j]).view(np.uint32) & np.uint32(0x7FFFFFFF)
                    smax = max(smax, a)
                if smax == 0:
                    d = dmax
                else:
                    d = min(max(eb - _floor_log2_bits(smax), np.int64(0)), dmax)
            down = _pow2((m - 1) - (eb - d))
            up = _pow2((eb - d) - (m - 1))
            for j in range(p, p + sub):
                q = np.rint(np.float64(x[b, j]) * down)
                q = min(max(q, -qmax), qmax) + 0.0  # the general path's zero is +0
                out[b, j] = np.float32(q * up)


mx_quantize_f32 = _build(_mx_quantize_f32, combine=None)
sharedexp_quantize = _build(_sharedexp_quantize, combine=None)


def _vsq_quantize(x, out, sv, V, qmax, smax, per_tensor):
    """VS-Quant on (C, n) float32 rows = channels, vectors of V along each row."""
    C, n = x.shape
    nv = n // V
    fq = np.float64(qmax)
    fs = np.float64(smax)
    for c in nb.prange(C):
        for v in range(nv):
            m = 0.0
            for j in range(v * V, v * V + V):
                m = max(m, abs(np.float64(x[c, j])))
            sv[c, v] = m / fq
    gmax_t = 0.0
    if per_tensor:
        for c in range(C):
            for v in range(nv):
                gmax_t = max(gmax_t, sv[c, v])
    for c in nb.prange(C):
        gmax = gmax_t
        if not per_tensor:
            gmax = 0.0
            for v in range(nv):
                gmax = max(gmax, sv[c, v])
        g = np.float64(np.float32(gmax / fs)) if gmax > 0 else 1.0
        if g == 0.0:
            # γ below FP32's smallest subnormal: that subnormal, as the general path
            # (float32 input cannot overflow γ, so that check is the caller's alone)
            g = np.float64(np.float32(1.401298464324817e-45))
        for v in range(nv):
            sq = min(max(np.rint(sv[c, v] / g), 1.0), fs)
            s = g * sq
            for j in range(v * V, v * V + V):
                q = np.rint(np.float64(x[c, j]) / s)
                q = min(max(q, -fq), fq) + 0.0  # the general path's zero is +0
                out[c, j] = np.float32(q * s)


# per-tensor outer scales need every channel's vector scales: that case runs serially
vsq_quantize = _build(_vsq_quantize, split=(0, 1, 2), combine=None, serial_if=lambda a: a[6])


@nb.njit(inline="always", **_OPTS)
def _rne_minifloat_f64(y, emin, M, vmax):
    """|y| (float64, finite) rounded to nearest even on the grid of a minifloat with
    smallest normal exponent ``emin`` and M mantissa bits, saturating at ``vmax``: scaling
    by the ulp 2^q is exact and rint rounds ties to even."""
    a = abs(y)
    if a == 0.0:
        return 0.0
    # exponent field of the double; a double subnormal (field 0) lies below emin anyway
    lg = ((np.float64(a).view(np.int64) >> 52) & 0x7FF) - 1023
    q = max(lg, emin) - M
    r = np.rint(a * _pow2(-q)) * _pow2(q)
    return min(r, vmax)


def _nvfp4_quantize(x, out, st, sfloor):
    """NVFP4 on (n_blocks, 16) float32: E4M3 block scale of max(amax/6/st, sfloor) (RNE,
    saturating at 448), E2M1 elements of x/(s_b·st) (RNE, saturating at 6), e·s_b·st."""
    nblocks, k = x.shape
    for b in nb.prange(nblocks):
        amax = 0.0
        for j in range(k):
            amax = max(amax, abs(np.float64(x[b, j])))
        sb = _rne_minifloat_f64(max(amax / 6.0 / st, sfloor), -6, 3, 448.0)
        den = sb * st
        for j in range(k):
            v = np.float64(x[b, j])
            if den > 0.0:
                # copysign: E2M1 keeps the sign of zero (-0.0 stays -0.0, as decode gives)
                e = math.copysign(_rne_minifloat_f64(v / den, 0, 1, 6.0), v)
            else:
                e = 0.0
            out[b, j] = np.float32(e * den)


nvfp4_quantize = _build(_nvfp4_quantize, combine=None)
