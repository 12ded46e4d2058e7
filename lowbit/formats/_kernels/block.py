"""Fused block kernels: scale + element rounding + rescale, one block per iteration.

The block formats of lowbit/formats/block.py (OCP MX, MX9/6/4 and BFP, NVFP4) and
lowbit/formats/scaling.py (VS-Quant) call these for float32 input with round-to-nearest-even
elements; their general paths (encode, then decode) are the reference these are tested
against (tests/formats/test_block*.py).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .dispatch import _OPTS, _build


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


def _mx_quantize_f32(x, out, k, emax, M, emin, maxbits, int_frac, qmax, smin):
    """OCP MX, floor scale rule, RNE elements saturating (x, out: (n_blocks, k) float32).
    ``smin``: the scale format's smallest exponent (E8M0: -127, ``ExpFormat.emin``); the
    constants 127 and 23 below are float32's own exponent bias and mantissa width.

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
        e = np.int64(smin)
        if amax != 0:
            e = max(_floor_log2_bits(amax) - emax, np.int64(smin))
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


def _sharedexp_quantize(x, out, k, sub, dmax, m, smin):
    """MX9/6/4 and BFP (x, out: (n_blocks, k) float32), RNE elements, saturating.
    ``smin``: the scale format's smallest exponent (E8M0: -127, ``ExpFormat.emin``)."""
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
        eb = np.int64(smin)
        if amax != 0:
            eb = max(_floor_log2_bits(amax), np.int64(smin))
        if dmax == 1 and sub == 2:
            # pairs with one micro bit (MX9/6/4): shift by one when both members lie below
            # 2^eb
            # the float32 bits of 2^eb (a subnormal at eb = -127)
            lim = np.uint32((eb + 127) << 23) if eb > -127 else np.uint32(0x00400000)
            d0 = _pow2((m - 1) - eb)
            d1 = _pow2((m - 1) - (eb - 1))
            u0 = _pow2(eb - (m - 1))
            u1 = _pow2((eb - 1) - (m - 1))
            if k <= 128:
                # The pairs' shift bits first (bit p: pair p), then the elements.  The
                # element loop then reads x[b, j] and writes out[b, j] only, and LLVM
                # vectorises it behind a runtime overlap check of x and out; reading the
                # partner x[b, j ^ 1] in that loop (the k > 128 loop below) is an access
                # such a check cannot cover, so LLVM keeps it scalar unless x and out are
                # known apart (numba's parallel=True gufunc marks them noalias): about 3x
                # slower for MX9/6/4 on one thread.
                sh = np.uint64(0)
                for p in range(k >> 1):
                    a0 = np.float32(x[b, 2 * p]).view(np.uint32) & np.uint32(0x7FFFFFFF)
                    a1 = np.float32(x[b, 2 * p + 1]).view(np.uint32) & np.uint32(0x7FFFFFFF)
                    sh |= np.uint64(max(a0, a1) < lim) << np.uint64(p)
                for j in range(k):
                    shifted = (sh >> np.uint64(j >> 1)) & np.uint64(1) != 0
                    down = d1 if shifted else d0
                    up = u1 if shifted else u0
                    q = np.rint(np.float64(x[b, j]) * down)
                    q = min(max(q, -qmax), qmax) + 0.0  # the general path's zero is +0
                    out[b, j] = np.float32(q * up)
                continue
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
        if dmax == 0:
            # BFP: one scale for the block, one loop over it
            down = _pow2((m - 1) - eb)
            up = _pow2(eb - (m - 1))
            for j in range(k):
                q = np.rint(np.float64(x[b, j]) * down)
                q = min(max(q, -qmax), qmax) + 0.0  # the general path's zero is +0
                out[b, j] = np.float32(q * up)
            continue
        # unsigned column indices below: LLVM cannot tell that j of range(p, p + sub) is
        # never negative, and numba's negative-index wraparound on a signed j turns the
        # loops' loads and stores into gathers and scatters (~2x slower)
        for p in range(0, k, sub):
            d = np.int64(0)
            if dmax > 0:
                smax = np.uint32(0)
                for j in range(p, p + sub):
                    a = np.float32(x[b, np.uint64(j)]).view(np.uint32) & np.uint32(0x7FFFFFFF)
                    smax = max(smax, a)
                if smax == 0:
                    d = dmax
                else:
                    d = min(max(eb - _floor_log2_bits(smax), np.int64(0)), dmax)
            down = _pow2((m - 1) - (eb - d))
            up = _pow2((eb - d) - (m - 1))
            for j in range(p, p + sub):
                q = np.rint(np.float64(x[b, np.uint64(j)]) * down)
                q = min(max(q, -qmax), qmax) + 0.0  # the general path's zero is +0
                out[b, np.uint64(j)] = np.float32(q * up)


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


def _nvfp4_quantize(x, out, st, sfloor, s_emin, s_m, s_max, e_emin, e_m, e_max):
    """NVFP4 on (n_blocks, 16) float32: block scale max(amax/e_max/st, sfloor) RNE'd to the
    scale format (E4M3: smallest normal exponent s_emin = -6, s_m = 3 mantissa bits,
    saturating at s_max = 448), elements x/(s_b·st) RNE'd to the element format (E2M1:
    e_emin = 0, e_m = 1, saturating at e_max = 6), e·s_b·st.  The caller passes the
    formats' own facts (``NVFP4Format.scale_format`` / ``element``)."""
    nblocks, k = x.shape
    for b in nb.prange(nblocks):
        amax = 0.0
        for j in range(k):
            amax = max(amax, abs(np.float64(x[b, j])))
        sb = _rne_minifloat_f64(max(amax / e_max / st, sfloor), s_emin, s_m, s_max)
        den = sb * st
        for j in range(k):
            v = np.float64(x[b, j])
            if den > 0.0:
                # copysign: E2M1 keeps the sign of zero (-0.0 stays -0.0, as decode gives)
                e = math.copysign(_rne_minifloat_f64(v / den, e_emin, e_m, e_max), v)
            else:
                e = 0.0
            out[b, j] = np.float32(e * den)


nvfp4_quantize = _build(_nvfp4_quantize, combine=None)
