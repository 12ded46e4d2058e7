"""Slow exact reference for ``macsim.gemm``: Fraction arithmetic, one explicit rounding a step.

Nothing here uses host floating-point addition: each accumulator step forms the exact
rational a + p and rounds it to the accumulator by the rule written out in
:func:`round_to_float`; host floats only carry values that are exactly representable.

>>> round_to_float(Fraction(2049, 2048), man_bits=10, emin=-14, emax=15)  # a tie in FP16
(1.0, False)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from ..formats import FloatFormat, get_format
from .macsim import ExactAcc, FixedAcc, resolve_accumulator


def _floor_log2(x: Fraction) -> int:
    """⌊log2 x⌋ for x > 0."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    return e if x >= Fraction(2) ** e else e - 1


def round_to_float(
    x: Fraction,
    man_bits: int,
    emin: int,
    emax: int,
    subnormals: bool = True,
    rounding: str = "nearest_even",
) -> tuple[float, bool]:
    """Round x ≠ 0 to the IEEE-style grid of precision man_bits + 1, normal exponents
    emin..emax: quantum 2^(max(⌊log2|x|⌋, emin) − man_bits).  Returns (value, overflowed).

    Overflow: nearest-even gives ±Inf, toward-zero ±max.  Without subnormals a nonzero
    result below 2^emin becomes zero of x's sign; a result rounded to zero keeps x's sign.
    """
    sign = -1 if x < 0 else 1
    ax = abs(x)
    q = Fraction(2) ** (max(_floor_log2(ax), emin) - man_bits)
    scaled = ax / q
    n = math.floor(scaled)
    rest = scaled - n
    if rounding == "nearest_even":
        if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and n % 2 == 1):
            n += 1
    elif rounding != "toward_zero":
        raise ValueError(f"rounding={rounding!r}")
    r = n * q
    max_finite = (2 - Fraction(1, 2**man_bits)) * Fraction(2) ** emax
    if r > max_finite:
        return (sign * math.inf if rounding == "nearest_even" else sign * float(max_finite)), True
    if r == 0 or (not subnormals and r < Fraction(2) ** emin):
        return math.copysign(0.0, sign), False
    return sign * float(r), False


def _to_float_exact(x: Fraction) -> float:
    f = float(x)
    assert Fraction(f) == x, f"{x} is not a double"
    return f


def _product(a: float, b: float) -> float:
    p = Fraction(a) * Fraction(b)
    if p == 0:  # IEEE sign of a zero product
        return math.copysign(0.0, math.copysign(1.0, a) * math.copysign(1.0, b))
    return _to_float_exact(p)


def float_step(acc: float, p: float, fmt: FloatFormat, rounding: str) -> tuple[float, dict]:
    """One MAC step acc ← round(acc + p) into the FloatFormat accumulator ``fmt``."""
    ev = dict(overflow=0, swamping=0, absorbed=0)
    if math.isinf(acc):
        return acc, ev
    x = Fraction(acc) + Fraction(p)
    if x == 0:  # exact zero: −0 only when both addends are −0 (IEEE 754 §6.3)
        neg = math.copysign(1.0, acc) < 0 and math.copysign(1.0, p) < 0
        return (-0.0 if neg else 0.0), ev
    r, ovf = round_to_float(x, fmt.man_bits, fmt.emin, fmt.emax, fmt.subnormals, rounding)
    ev["overflow"] = int(ovf)
    if math.isinf(r) or Fraction(r) != x:
        ev["swamping"] = 1
        ev["absorbed"] = int(p != 0 and r == acc)
    return r, ev


def gemm_ref(
    a_codes: np.ndarray,
    b_codes: np.ndarray,
    a_format: Any,
    b_format: Any,
    accumulator: Any = "fp32",
    rounding: str = "nearest_even",
) -> tuple[np.ndarray, dict]:
    """Same contract as :func:`lowbit.hwmodel.macsim.gemm`, in exact Python arithmetic."""
    a_fmt = get_format(a_format) if isinstance(a_format, str) else a_format
    b_fmt = get_format(b_format) if isinstance(b_format, str) else b_format
    av = [float(v) for v in a_fmt.decode(np.asarray(a_codes).ravel())]
    bv = [float(v) for v in b_fmt.decode(np.asarray(b_codes).ravel())]
    m, k = np.asarray(a_codes).shape
    n = np.asarray(b_codes).shape[1]
    acc_spec = resolve_accumulator(accumulator)
    out = np.zeros((m, n), dtype=np.float64)
    stats = dict(overflow=0, swamping=0, absorbed=0, max_abs=0.0, macs=m * n * k)
    max_abs = Fraction(0)
    for i in range(m):
        for j in range(n):
            prods = [_product(av[i * k + t], bv[t * n + j]) for t in range(k)]
            if isinstance(acc_spec, FloatFormat):
                acc = 0.0
                for p in prods:
                    acc, ev = float_step(acc, p, acc_spec, rounding)
                    for key, v in ev.items():
                        stats[key] += v
                    stats["max_abs"] = max(stats["max_abs"], abs(acc))
                out[i, j] = acc
                continue
            if isinstance(acc_spec, ExactAcc):
                total = Fraction(0)
                for p in prods:
                    total += Fraction(p)
                    max_abs = max(max_abs, abs(total))
                out[i, j] = float(total)
                continue
            assert isinstance(acc_spec, FixedAcc)
            w, f = acc_spec.width, acc_spec.frac
            lo, hi = -(2 ** (w - 1)), 2 ** (w - 1) - 1
            reg = 0
            for p in prods:
                scaled = Fraction(p) * Fraction(2) ** f
                assert scaled.denominator == 1, "product not on the fixed-point grid"
                reg += scaled.numerator
                if not lo <= reg <= hi:
                    stats["overflow"] += 1
                    if acc_spec.mode == "saturate":
                        reg = hi if reg > hi else lo
                    else:
                        reg = (reg - lo) % 2**w + lo
                max_abs = max(max_abs, abs(Fraction(reg, 1) / Fraction(2) ** f))
            out[i, j] = float(Fraction(reg) / Fraction(2) ** f)
    if not isinstance(acc_spec, FloatFormat):
        stats["max_abs"] = float(max_abs)
    return out, stats
