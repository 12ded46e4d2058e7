"""What the simulator needs to know of a set of operand values: the value of every code and
the bit range of the nonzero finite ones (the "lowest set bit" analysis).  It decides whether
products are exact in double, where a fixed-point register's binary point goes, and how
wide the exact register must be (:func:`lowbit.hwmodel.accumulator.exact_width`).  Shared by
the C front, the numpy oracle and the exact reference: it is precondition analysis, not the
accumulation arithmetic they check one another on.

>>> t = value_table("int8")
>>> t.low, t.top, t.sig, t.lo, t.hi
(0, 7, 7, Fraction(-128, 1), Fraction(127, 1))
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ...formats import FloatFormat, IntFormat, get_format
from ...formats.block import FixedPointElement


@dataclass(frozen=True)
class TableInfo:
    """Facts about a set of finite values that decide exactness of products.

    ``low``/``top``: smallest/largest exponent of a set bit over all nonzero finite
    values; ``sig``: the most significant bits any one value has; ``max_abs``, ``lo``,
    ``hi``: the largest magnitude, least and greatest finite value.
    """

    values: np.ndarray  # float64, one per code; NaN/Inf where the code is not finite
    finite: np.ndarray  # bool per code
    low: int
    top: int
    sig: int
    max_abs: Fraction
    lo: Fraction = Fraction(0)
    hi: Fraction = Fraction(0)


def describe(values: np.ndarray) -> tuple[int, int, int, Fraction, Fraction, Fraction]:
    """(low, top, sig, max_abs, lo, hi) of the finite entries of ``values`` (see TableInfo).

    >>> describe(np.array([0.75, -2.0, np.nan]))
    (-2, 1, 2, Fraction(2, 1), Fraction(-2, 1), Fraction(3, 4))
    """
    finite = np.isfinite(values)
    fin = values[finite]
    lo = Fraction(float(fin.min())) if fin.size else Fraction(0)
    hi = Fraction(float(fin.max())) if fin.size else Fraction(0)
    nz = np.abs(fin[fin != 0])
    if nz.size == 0:
        return 0, 0, 0, Fraction(0), lo, hi
    frac, exp = np.frexp(nz)  # nz = frac · 2^exp, frac ∈ [0.5, 1)
    mant = (frac * 2.0**53).astype(np.int64)  # exact: 53-bit integer significand
    tz = np.log2((mant & -mant).astype(np.float64)).astype(np.int64)  # trailing zeros
    low = exp - 53 + tz
    top = exp - 1
    mx = Fraction(float(nz.max()))
    return int(low.min()), int(top.max()), int((top - low + 1).max()), mx, lo, hi


def value_table(fmt: Any) -> TableInfo:
    """Decode every code of a scalar format of ≤ 16 bits into float64 and describe it.

    >>> value_table("fp8_e4m3fn").low, value_table("fp8_e4m3fn").max_abs
    (-9, Fraction(448, 1))
    """
    if isinstance(fmt, str):
        fmt = get_format(fmt)
    if not isinstance(fmt, (IntFormat, FloatFormat, FixedPointElement)):
        raise TypeError(
            f"macsim: operand format must be an IntFormat, FloatFormat or an MX format, got {fmt!r}"
        )
    if fmt.bits > 16:
        raise ValueError(f"macsim: operand format {fmt} has {fmt.bits} bits; at most 16 supported")
    values = np.asarray(fmt.decode(np.arange(2**fmt.bits, dtype=np.uint16)), dtype=np.float64)
    low, top, sig, mx, lo, hi = describe(values)
    return TableInfo(values, np.isfinite(values), low, top, sig, mx, lo, hi)


def scaled_table(t: TableInfo, scales: np.ndarray | None) -> TableInfo:
    """The value set of (element × block scale): bits within [l1 + l2, t1 + t2 + 1]; the
    extremes are the corners of the two intervals.

    >>> t = scaled_table(value_table("int8"), np.array([0.5, 4.0]))
    >>> t.low, t.top, t.lo, t.hi
    (-1, 10, Fraction(-512, 1), Fraction(508, 1))
    """
    if scales is None:
        return t
    low, top, sig, mx, slo, shi = describe(scales)
    if mx == 0:
        return TableInfo(t.values, t.finite, t.low, t.top, t.sig, Fraction(0))
    corners = [x * y for x in (t.lo, t.hi) for y in (slo, shi)]
    return TableInfo(
        t.values,
        t.finite,
        t.low + low,
        t.top + top + 1,
        t.sig + sig,
        t.max_abs * mx,
        min(corners),
        max(corners),
    )
