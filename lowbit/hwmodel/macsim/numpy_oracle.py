"""Vectorised numpy oracle of :func:`lowbit.hwmodel.macsim.gemm`: same results, same stats.

Each output's accumulation stays sequential along K; the loop over K is Python and every
step is a handful of whole-array numpy operations on all M×N accumulators at once.  It is
the baseline the C simulator is benchmarked against (``bench/bench_macsim.py``) and a second
oracle for it (``tests/hwmodel/test_macsim_numpy.py``).  It only takes the paths where host
arithmetic is provably exact or correctly rounded, and raises ``ValueError`` elsewhere:

* fixed point (``FixedAccumulator``, and ``"exact"`` as the narrowest fixed-point register that
  cannot overflow): int64 registers; each product scaled by 2^frac must be an integer.
* ``"fp32"`` with nearest-even: native float32 addition, which is IEEE round-to-nearest-even
  with subnormals, provided every product is exact in float32 (checked from the tables).
* any other IEEE-style float accumulator (``"fp16"``, ``"bf16"``, a ``FloatFormat``; and
  FP32 with toward-zero): s = acc + p in float64, then one rounding of s to the accumulator.
  That is correct when s is exact, which holds while |acc| + max|p| < 2^(53 + L), L the lowest
  set bit of any product (the accumulator only ever holds multiples of 2^L): proved before
  the loop from the format's range, or before a step from the running maximum; where neither
  proves it, that step checks s − acc == p and s − p == acc (true iff s is exact: Fast2Sum
  on the larger operand) and raises if some sum was not exact.
  Rounding: numpy's float64 → float16 cast (correctly rounded) for FP16; else an exact
  frexp/ldexp/rint rounding written out in :func:`round_to_grid`.

>>> import numpy as np
>>> from lowbit import get_format
>>> e4m3 = get_format("fp8_e4m3fn")
>>> a = e4m3.encode(np.array([[1.0, 0.25, 0.25]]))
>>> b = e4m3.encode(np.array([[1.0], [2**-9], [2**-9]]))
>>> c, stats = gemm_numpy(a, b, e4m3, e4m3, accumulator="fp16")
>>> c.tolist(), stats["swamping"], stats["absorbed"]  # 1 + 2^-11 + 2^-11: two ties lost
([[1.0]], 2, 2)
>>> gemm_numpy(a, b, e4m3, e4m3, accumulator="fp32")[0].tolist()
[[1.0009765625]]
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from ...formats import FloatFormat, IntFormat, get_format
from ..accumulator import (
    FLOAT_ROUNDINGS,
    ExactAccumulator,
    FixedAccumulator,
    exact_width,
    parse_accumulator,
)
from .tables import TableInfo, value_table

#: "down" (toward −∞) is not implemented here
ROUNDINGS = FLOAT_ROUNDINGS
#: int64 registers: a register of at most 62 bits plus a product stays below 2^63
MAX_WIDTH = 62


def _fmt(f: Any) -> Any:
    f = get_format(f) if isinstance(f, str) else f
    if not isinstance(f, (IntFormat, FloatFormat)):
        raise TypeError(
            f"gemm_numpy: operand format must be an IntFormat or FloatFormat, got {f!r}"
        )
    if f.bits > 16:
        raise ValueError(f"gemm_numpy: operand format {f} has {f.bits} bits; at most 16 supported")
    return f


def _values(name: str, arr: Any, fmt: Any, table: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Decoded float64 values of validated codes (same rules as macsim.gemm)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"gemm_numpy: {name} must be a numpy array of codes")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"gemm_numpy: {name} must have an integer dtype, got {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"gemm_numpy: {name} must be 2-D, got shape {arr.shape}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= 2**fmt.bits:
            raise ValueError(
                f"gemm_numpy: {name} has codes outside [0, 2^{fmt.bits}) (min {lo}, max {hi})"
            )
    codes = arr.astype(np.intp)
    if not finite[codes].all():
        raise ValueError(f"gemm_numpy: {name} has codes of non-finite values (NaN/Inf)")
    return table[codes]


def round_to_grid(
    s: np.ndarray,
    man_bits: int,
    emin: int,
    emax: int,
    subnormals: bool = True,
    rounding: str = "nearest_even",
    overflow: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Round float64 ``s`` to the IEEE-style grid (precision man_bits + 1, normal exponents
    emin..emax), as ``reference.round_to_float`` does; returns (rounded, overflowed mask).

    The quantum is 2^(max(⌊log2|s|⌋, emin) − man_bits); s / quantum is an exact power-of-two
    scaling, ``np.rint`` rounds it half to even (``np.trunc`` toward zero).  Overflow gives
    ±Inf (nearest-even) or ±max (toward zero); without subnormals a result below 2^emin
    becomes a zero of s's sign.  ``overflow=False`` leaves results above max as they are.

    >>> r, ovf = round_to_grid(np.array([1 + 2**-11, 1 + 3 * 2**-11, 65520.0]), 10, -14, 15)
    >>> r.tolist(), ovf.tolist()
    ([1.0, 1.001953125, inf], [False, False, True])
    """
    _, e = np.frexp(s)  # |s| = m·2^e, m ∈ [0.5, 1): ⌊log2|s|⌋ = e − 1
    qe = np.maximum(e - 1, emin) - man_bits
    y = np.ldexp(s, -qe)
    y = np.rint(y, out=y) if rounding == "nearest_even" else np.trunc(y, out=y)
    r = np.ldexp(y, qe)
    max_finite = (2.0 - 2.0**-man_bits) * 2.0**emax
    over = np.abs(r) > max_finite if overflow else np.zeros(r.shape, bool)
    if over.any():
        big = np.inf if rounding == "nearest_even" else max_finite
        r[over] = np.copysign(big, s[over])
    if not subnormals:
        tiny = np.abs(r) < 2.0**emin
        r[tiny] = np.copysign(0.0, s[tiny])
    return r, over


def _product_range(ta, tb) -> tuple[int, int, float]:
    """(lowest set bit, highest set bit bound, max |product|) of any nonzero product."""
    return ta.low + tb.low, ta.top + tb.top + 1, float(ta.max_abs * tb.max_abs)


def _fixed(av, bv, ta, tb, acc: FixedAccumulator, exact: bool) -> tuple[np.ndarray, dict]:
    m, k = av.shape
    n = bv.shape[1]
    low, top, _ = _product_range(ta, tb)
    if not 2 <= acc.width <= MAX_WIDTH:
        raise ValueError(f"gemm_numpy: {acc}: width={acc.width} outside 2..{MAX_WIDTH}")
    if acc.frac is None:  # the binary point at the products' least significant bit
        acc = FixedAccumulator(acc.width, -low, acc.overflow)
    shift = acc.frac + low  # product · 2^frac = (a·2^-low_a)(b·2^-low_b) · 2^shift
    if shift < 0:
        raise ValueError(
            f"gemm_numpy: {acc} cannot hold these products exactly: they need {-low} "
            "fractional bits"
        )
    if top + acc.frac > MAX_WIDTH or ta.low + acc.frac < -1000:
        raise ValueError(f"gemm_numpy: products scaled by 2^{acc.frac} exceed 2^{MAX_WIDTH}")
    # integers a·2^-low_a and b·2^-low_b (exact: ≤ 16-bit formats, spans < 53 bits)
    ai = np.ldexp(av, -ta.low).astype(np.int64).T.copy() << shift  # K×M
    bi = np.ldexp(bv, -tb.low).astype(np.int64)  # K×N
    lo, hi = -(1 << (acc.width - 1)), (1 << (acc.width - 1)) - 1
    pmax = int(ta.max_abs * tb.max_abs * Fraction(2) ** acc.frac)
    never = k * pmax <= hi  # no partial sum can leave the register: skip the checks
    reg = np.zeros((m, n), np.int64)
    prod = np.empty((m, n), np.int64)
    tmp = np.empty((m, n), np.int64)
    over = 0
    big = 0
    up = 64 - acc.width
    for t in range(k):
        np.multiply(ai[t][:, None], bi[t][None, :], out=prod)
        np.add(reg, prod, out=reg)
        if not never:
            if acc.overflow == "wrap":
                np.left_shift(reg, up, out=tmp)
                np.right_shift(tmp, up, out=tmp)  # arithmetic: sign-extends the low bits
                over += int(np.count_nonzero(tmp != reg))
                reg, tmp = tmp, reg
            else:
                over += int(np.count_nonzero(reg > hi)) + int(np.count_nonzero(reg < lo))
                np.clip(reg, lo, hi, out=reg)
        if reg.size:
            big = max(big, int(reg.max()), -int(reg.min()))
    if exact and over:  # pragma: no cover - the width was chosen so that it cannot
        raise AssertionError("gemm_numpy: exact register overflowed")
    out = np.ldexp(reg.astype(np.float64), -acc.frac)  # int64 → double rounds to nearest
    max_abs = float(np.ldexp(float(big), -acc.frac))
    return out, dict(overflow=over, swamping=0, absorbed=0, max_abs=max_abs, macs=m * n * k)


def _exact_acc(ta: TableInfo, tb: TableInfo, k: int) -> FixedAccumulator:
    width, frac = exact_width(ta, tb, max(k, 1))
    width = max(width, 2)
    if width > MAX_WIDTH:
        raise ValueError(
            f"gemm_numpy: the exact accumulator for these formats and K={k} needs {width} bits; "
            f"at most {MAX_WIDTH} fit an int64 register"
        )
    return FixedAccumulator(width, frac, "saturate")


def _is_fp32(fmt: FloatFormat) -> bool:
    return (fmt.man_bits, fmt.emin, fmt.emax, fmt.has_subnormals) == (23, -126, 127, True)


def _is_fp16(fmt: FloatFormat) -> bool:
    return (fmt.man_bits, fmt.emin, fmt.emax, fmt.has_subnormals) == (10, -14, 15, True)


def _float32_native(av, bv, ta, tb) -> tuple[np.ndarray, dict]:
    low, top, _ = _product_range(ta, tb)
    fits = ta.sig + tb.sig <= 24 and low >= -149 and top <= 127
    fits = fits and min(ta.low, tb.low) >= -149 and max(ta.top, tb.top) <= 127
    if not fits:
        raise ValueError(
            "gemm_numpy: fp32 accumulation needs every product exact in float32 "
            f"({ta.sig}+{tb.sig} significant bits, bits 2^{low}..2^{top}); "
            "at most 24 bits within 2^-149..2^127"
        )
    m, k = av.shape
    n = bv.shape[1]
    a32 = av.astype(np.float32).T.copy()  # exact: checked above
    b32 = bv.astype(np.float32)
    acc = np.zeros((m, n), np.float32)
    s = np.empty_like(acc)
    p = np.empty_like(acc)
    d = np.empty_like(acc)
    ok = np.empty((m, n), bool)
    ok2 = np.empty((m, n), bool)
    st = dict(overflow=0, swamping=0, absorbed=0, max_abs=0.0, macs=m * n * k)
    inf_seen = False
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(k):
            np.multiply(a32[t][:, None], b32[t][None, :], out=p)  # exact
            np.add(acc, p, out=s)  # IEEE binary32 round-to-nearest-even
            # s = acc + p exactly iff s − acc == p and s − p == acc (Fast2Sum on the larger)
            np.subtract(s, acc, out=d)
            np.equal(d, p, out=ok)
            np.subtract(s, p, out=d)
            np.equal(d, acc, out=ok2)
            np.logical_and(ok, ok2, out=ok)
            np.equal(s, acc, out=ok2)  # unchanged; with p ≠ 0 the product was absorbed
            np.logical_and(ok2, p != 0, out=ok2)
            if inf_seen:  # an Inf accumulator stays Inf and counts no more events
                fin = np.isfinite(acc)
                np.logical_or(ok, ~fin, out=ok)
                np.logical_and(ok2, fin, out=ok2)
            st["swamping"] += ok.size - int(np.count_nonzero(ok))
            st["absorbed"] += int(np.count_nonzero(ok2))
            step_max = float(max(s.max(), -s.min())) if s.size else 0.0
            if step_max == np.inf:
                st["overflow"] += int(np.count_nonzero(np.isinf(s) & np.isfinite(acc)))
                inf_seen = True
            st["max_abs"] = max(st["max_abs"], step_max)
            acc, s = s, acc
    return acc.astype(np.float64), st


def round_bits(s: np.ndarray, man_bits: int, rounding: str = "nearest_even") -> np.ndarray:
    """Round float64 ``s`` to man_bits mantissa bits on its own binade, on the bit pattern.

    Right only where every nonzero result is a normal number of the target (the caller
    proves it) and before any overflow check: RNE adds 2^(d−1) − 1 plus the lowest kept bit
    and clears the d = 52 − man_bits dropped bits (a carry walks into the exponent, as it
    should); toward zero just clears them.  Zeros and infinities pass unchanged.

    >>> round_bits(np.array([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8)]), 7).tolist()
    [1.0, 1.015625, -1.0]
    """
    drop = 52 - man_bits
    u = s.view(np.uint64)
    if rounding == "nearest_even":
        r = np.right_shift(u, np.uint64(drop))
        np.bitwise_and(r, np.uint64(1), out=r)
        np.add(r, np.uint64((1 << (drop - 1)) - 1), out=r)
        np.add(r, u, out=r)
    else:
        r = u.copy()
    np.bitwise_and(r, np.uint64(~((1 << drop) - 1) & (2**64 - 1)), out=r)
    return r.view(np.float64)


def _float64_path(av, bv, ta, tb, fmt: FloatFormat, rounding: str) -> tuple[np.ndarray, dict]:
    low, top, pmax = _product_range(ta, tb)
    limit = 2.0 ** (53 + low)  # partial sums below this are exact doubles (multiples of 2^low)
    static_ok = fmt.max + pmax < limit
    m, k = av.shape
    n = bv.shape[1]
    at = av.T.copy()
    if _is_fp16(fmt) and rounding == "nearest_even":
        how = "cast"  # numpy's float64 → float16 conversion rounds correctly
    elif low >= fmt.emin:
        how = "bits"  # every nonzero sum is ≥ 2^low ≥ 2^emin: never subnormal
    else:
        how = "grid"
    big = np.inf if rounding == "nearest_even" else fmt.max
    acc = np.zeros((m, n))
    s = np.empty_like(acc)
    p = np.empty_like(acc)
    h = np.empty((m, n), np.float16)
    st = dict(overflow=0, swamping=0, absorbed=0, max_abs=0.0, macs=m * n * k)
    inf_seen = False
    fin = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(k):
            np.multiply(at[t][:, None], bv[t][None, :], out=p)  # exact (checked)
            np.add(acc, p, out=s)
            if not static_ok and st["max_abs"] + pmax >= limit:
                # the bound does not prove s exact: check it (Fast2Sum on the larger operand)
                exact = (s - acc == p) & (s - p == acc)
                if inf_seen:
                    exact |= ~np.isfinite(acc)
                if not exact.all():
                    raise ValueError(
                        f"gemm_numpy: at step {t} a sum acc + product is not exact in float64 "
                        f"(products span 2^{low}..2^{top}); use macsim.gemm"
                    )
            if how == "cast":
                np.copyto(h, s, casting="unsafe")
                r = h.astype(np.float64)
            elif how == "bits":
                r = round_bits(s, fmt.man_bits, rounding)
            else:
                r, _ = round_to_grid(
                    s,
                    fmt.man_bits,
                    fmt.emin,
                    fmt.emax,
                    fmt.has_subnormals,
                    rounding,
                    overflow=False,
                )
            if inf_seen:
                fin = np.isfinite(acc)
            step_max = float(max(r.max(), -r.min())) if r.size else 0.0
            if step_max > fmt.max:  # overflow: ±Inf (nearest-even) or ±max (toward zero)
                over = np.abs(r) > fmt.max
                if inf_seen:
                    over &= fin  # an Inf accumulator stays Inf: no new event
                st["overflow"] += int(np.count_nonzero(over))
                r[over] = np.copysign(big, r[over])
                step_max = float(max(r.max(), -r.min()))
                inf_seen = inf_seen or step_max == np.inf
            inexact = r != s
            absorbed = (r == acc) & (p != 0)
            if fin is not None:
                inexact &= fin
                absorbed &= fin
            st["swamping"] += int(np.count_nonzero(inexact))
            st["absorbed"] += int(np.count_nonzero(absorbed))
            st["max_abs"] = max(st["max_abs"], step_max)
            acc = r
    return acc, st


def gemm_numpy(
    a_codes: np.ndarray,
    b_codes: np.ndarray,
    a_format: Any,
    b_format: Any,
    accumulator: Any = "fp32",
    rounding: str = "nearest_even",
) -> tuple[np.ndarray, dict]:
    """C = A · B on codes, as :func:`lowbit.hwmodel.macsim.gemm` computes it, in numpy.

    Returns (C as float64, stats) with the same stats keys (``overflow``, ``swamping``,
    ``absorbed``, ``max_abs``, ``macs``).  Raises ``ValueError`` where host arithmetic would
    not be exact (see the module docstring), and for bad input (as ``gemm``).
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"gemm_numpy: rounding={rounding!r}; expected one of {ROUNDINGS}")
    a_fmt, b_fmt = _fmt(a_format), _fmt(b_format)
    ta, tb = value_table(a_fmt), value_table(b_fmt)
    av = _values("a_codes", a_codes, a_fmt, ta.values, ta.finite)
    bv = _values("b_codes", b_codes, b_fmt, tb.values, tb.finite)
    if av.shape[1] != bv.shape[0]:
        raise ValueError(f"gemm_numpy: inner dimensions differ: a is {av.shape}, b is {bv.shape}")
    if ta.sig + tb.sig > 53:  # pragma: no cover - ≤ 16-bit formats never get here
        raise ValueError("gemm_numpy: products are not exact in double")
    acc = parse_accumulator(accumulator)
    if isinstance(acc, ExactAccumulator):
        return _fixed(av, bv, ta, tb, _exact_acc(ta, tb, av.shape[1]), exact=True)
    if isinstance(acc, FixedAccumulator):
        return _fixed(av, bv, ta, tb, acc, exact=False)
    if acc.specials != "ieee":
        raise ValueError(
            f"gemm_numpy: floating-point accumulator {acc} must be IEEE-style (specials='ieee')"
        )
    if acc.man_bits > 23 or acc.emin < -126 or acc.emax > 127:
        raise ValueError(f"gemm_numpy: accumulator {acc} is wider than FP32")
    if _is_fp32(acc) and rounding == "nearest_even":
        return _float32_native(av, bv, ta, tb)
    return _float64_path(av, bv, ta, tb, acc, rounding)


__all__ = ["gemm_numpy", "round_to_grid"]
