"""Slow exact reference for :func:`lowbit.hwmodel.macsim.gemm`: Fraction arithmetic, one explicit rounding a step.

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

from ...formats import FloatFormat, get_format
from ..accumulator import ExactAccumulator, FixedAccumulator, exact_width, parse_accumulator
from .tables import scaled_table, value_table


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


def _product(*factors: float) -> float:
    """The exact product (a double by the simulator's precondition); IEEE for NaN/Inf/0."""
    if not all(math.isfinite(f) for f in factors):
        out = 1.0
        for f in factors:
            out *= f  # IEEE: Inf·0 = NaN, NaN propagates
        return out
    p = Fraction(1)
    for f in factors:
        p *= Fraction(f)
    if p == 0:  # IEEE sign of a zero product
        neg = sum(math.copysign(1.0, f) < 0 for f in factors) % 2
        return -0.0 if neg else 0.0
    return _to_float_exact(p)


def float_step(
    acc: float, p: float, fmt: FloatFormat, rounding: str, symmetric: bool = False
) -> tuple[float, dict]:
    """One adder acc ← round(acc + p) of the FloatFormat accumulator ``fmt``.

    NaN/Inf follow IEEE 754 (Inf + finite = Inf, Inf − Inf = NaN, NaN propagates) and
    count no event.  ``symmetric``: absorption counted for either addend (tree nodes).
    """
    ev = dict(overflow=0, swamping=0, absorbed=0)
    if not (math.isfinite(acc) and math.isfinite(p)):
        return acc + p, ev
    x = Fraction(acc) + Fraction(p)
    if x == 0:  # exact zero: −0 only when both addends are −0 (IEEE 754 §6.3)
        neg = math.copysign(1.0, acc) < 0 and math.copysign(1.0, p) < 0
        return (-0.0 if neg else 0.0), ev
    r, ovf = round_to_float(x, fmt.man_bits, fmt.emin, fmt.emax, fmt.has_subnormals, rounding)
    ev["overflow"] = int(ovf)
    if math.isinf(r) or Fraction(r) != x:
        ev["swamping"] = 1
        ev["absorbed"] = int((p != 0 and r == acc) or (symmetric and acc != 0 and r == p))
    return r, ev


def float_register_bits(r: float, fmt: FloatFormat) -> int:
    """The accumulator register's bits: IEEE layout; NaN as the canonical quiet NaN."""
    if math.isnan(r):
        return (2**fmt.exp_bits - 1) << fmt.man_bits | (1 << max(fmt.man_bits - 1, 0))
    return int(fmt.encode(np.array([r]))[0])


def _fixed_step(reg: int, x, w: int, mode: str, rounding: str = "nearest_even"):
    """reg ← overflow(round(reg + x)) in register units; x may be a Fraction below the LSB.
    Returns (reg, overflowed, inexact)."""
    lo, hi = -(2 ** (w - 1)), 2 ** (w - 1) - 1
    total = reg + Fraction(x)
    r = math.floor(total)
    rest = total - r
    if rounding == "nearest_even":
        r += 1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and r % 2) else 0
    elif rounding == "toward_zero":
        r += 1 if rest and total < 0 else 0
    if lo <= r <= hi:
        return r, 0, int(rest != 0)
    if mode == "saturate":
        return (hi if r > hi else lo), 1, int(rest != 0)
    return (r - lo) % 2**w + lo, 1, int(rest != 0)


def _tree(leaves: list, add) -> Any:
    """Pairwise order: neighbours added level by level; an odd last entry moves up."""
    if len(leaves) == 1:
        return add(None, leaves[0])
    level = list(leaves)
    while len(level) > 1:
        nxt = [add(level[2 * t], level[2 * t + 1]) for t in range(len(level) // 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def gemm_ref(
    a_codes: np.ndarray,
    b_codes: np.ndarray,
    a_format: Any,
    b_format: Any,
    accumulator: Any = "fp32",
    rounding: str = "nearest_even",
    order: str = "sequential",
    block: int = 32,
    block_scales: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
    scale_block: int = 1,
    toggles: bool = False,
) -> tuple[np.ndarray, dict]:
    """Same contract as :func:`lowbit.hwmodel.macsim.gemm` on codes, in exact Python
    arithmetic.  ``block_scales``: per-block scales (M × ⌈K/scale_block⌉, ⌈K/scale_block⌉ × N)
    multiplying each product.  Returns (C, stats) where stats also holds ``per_output``:
    M×N arrays of overflow, swamping, absorbed, toggles and max_abs."""
    a_fmt = get_format(a_format) if isinstance(a_format, str) else a_format
    b_fmt = get_format(b_format) if isinstance(b_format, str) else b_format
    a_codes, b_codes = np.asarray(a_codes), np.asarray(b_codes)
    m, k = a_codes.shape
    n = b_codes.shape[1]
    av = np.asarray(a_fmt.decode(a_codes), dtype=np.float64)
    bv = np.asarray(b_fmt.decode(b_codes), dtype=np.float64)
    sa, sb = block_scales
    acc_spec = parse_accumulator(accumulator)
    if isinstance(acc_spec, ExactAccumulator):
        # the register's width, from the accumulator model (only toggles depend on it)
        ia = scaled_table(value_table(a_fmt), None if sa is None else np.asarray(sa, float))
        ib = scaled_table(value_table(b_fmt), None if sb is None else np.asarray(sb, float))
        width, frac = exact_width(ia, ib, max(k, 1))
        width = max(width, 2)
    keys = ("overflow", "swamping", "absorbed", "toggles")
    po = {key: np.zeros((m, n), np.int64) for key in keys}
    po["max_abs"] = np.zeros((m, n), np.float64)
    out = np.zeros((m, n), dtype=np.float64)
    if order == "sequential":
        block = 1
    for i in range(m):
        for j in range(n):
            prods = []
            for t in range(k):
                f = [float(av[i, t]), float(bv[t, j])]
                if sa is not None:
                    f.append(float(sa[i, t // scale_block]))
                if sb is not None:
                    f.append(float(sb[t // scale_block, j]))
                prods.append(_product(*f))
            if order == "blocks":  # exact block sums (Fractions; host sums for NaN/Inf)
                prods = [
                    sum((Fraction(p) for p in prods[t : t + block]), Fraction(0))
                    if all(math.isfinite(p) for p in prods[t : t + block])
                    else sum(prods[t : t + block])
                    for t in range(0, k, block)
                ]
            cell = dict(overflow=0, swamping=0, absorbed=0, toggles=0)
            mx = [Fraction(0)]

            def note(ev, value, cell=cell, mx=mx):
                for key, v in ev.items():
                    cell[key] += v
                if isinstance(value, Fraction) or math.isfinite(value):
                    mx[0] = max(mx[0], abs(Fraction(value)))
                elif math.isinf(value):
                    mx[0] = math.inf

            if isinstance(acc_spec, FloatFormat):

                def fadd(x, y, note=note):
                    r, ev = float_step(0.0 if x is None else x, y, acc_spec, rounding, True)
                    note(ev, r)
                    return r

                if order == "pairwise" and k:
                    acc = _tree(prods, fadd)
                else:
                    acc = 0.0
                    for p in prods:
                        before = acc
                        acc, ev = float_step(acc, p, acc_spec, rounding)
                        note(ev, acc)
                        if toggles:
                            cell["toggles"] += bin(
                                float_register_bits(before, acc_spec)
                                ^ float_register_bits(acc, acc_spec)
                            ).count("1")
                out[i, j] = acc
            else:
                if isinstance(acc_spec, ExactAccumulator):
                    w, f, mode = width, frac, "saturate"
                else:
                    assert isinstance(acc_spec, FixedAccumulator)
                    w, f, mode = acc_spec.width, acc_spec.frac, acc_spec.overflow
                    if f is None:  # binary point at the products' LSB
                        f = -(value_table(a_fmt).low + value_table(b_fmt).low)

                def units(p, f=f):
                    scaled = Fraction(p) * Fraction(2) ** f
                    return scaled.numerator if scaled.denominator == 1 else scaled

                def xadd(x, y, w=w, f=f, mode=mode, note=note):
                    r, o, _ = _fixed_step(0 if x is None else x, y, w, mode, rounding)
                    note(dict(overflow=o), Fraction(r, 1) / Fraction(2) ** f)
                    return r

                if order == "pairwise" and k:
                    reg = _tree([units(p) for p in prods], xadd)
                else:
                    reg = 0
                    for p in prods:
                        before = reg
                        reg, o, inexact = _fixed_step(reg, units(p), w, mode, rounding)
                        lost = dict(swamping=inexact, absorbed=int(inexact and reg == before))
                        note(dict(overflow=o, **lost), Fraction(reg, 1) / Fraction(2) ** f)
                        if toggles:
                            cell["toggles"] += bin((before ^ reg) & (2**w - 1)).count("1")
                out[i, j] = float(Fraction(reg) / Fraction(2) ** f)
            for key in keys:
                po[key][i, j] = cell[key]
            po["max_abs"][i, j] = float(mx[0])
    stats = {key: int(po[key].sum()) for key in keys}
    stats["max_abs"] = float(po["max_abs"].max()) if po["max_abs"].size else 0.0
    stats["macs"] = m * n * k
    stats["per_output"] = po
    return out, stats
