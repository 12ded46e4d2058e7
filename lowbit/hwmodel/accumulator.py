"""The one accumulator model: what an accumulator is, how it is spelled, how wide it must be.

Three kinds, used by the hardware model (``mac_cost``), the simulator (``macsim.gemm``), the
command line (``lowbit hw --acc``, ``lowbit simulate --acc``) and the report recipes alike:

* :class:`FixedAccumulator` ``(width, frac=None, overflow="wrap"|"saturate")``: two's
  complement, register n worth n · 2^-frac; ``frac=None`` puts the binary point at the
  products' least significant bit.  A sum below the LSB is rounded onto it (the MAC's
  ``rounding``, one of :data:`ACC_ROUNDINGS`), then wrapped or saturated.
* :class:`ExactAccumulator`: a Kulisch register (Kulisch & Miranker 1981) as wide as
  :func:`exact_width` says; it never rounds or overflows.
* any IEEE-style :class:`~lowbit.formats.FloatFormat` (fp16, bf16, fp32, …).

:func:`parse_accumulator` is the one grammar that turns a spec into one of these.  The
arithmetic of each kind is not here: the C core, the numpy oracle and the exact reference
each implement it on their own, so that they check one another.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

import numpy as np

from ..formats import FloatFormat, Format, IntFormat, get_format

Overflow = Literal["wrap", "saturate"]
AccRounding = Literal["nearest_even", "toward_zero", "down"]
#: Overflow behaviours of a fixed-point accumulator.
OVERFLOWS: tuple[Overflow, ...] = ("wrap", "saturate")
#: Rounding of an accumulator step; "down" (toward −∞: dropping two's-complement low bits)
#: is for fixed-point registers only.
ACC_ROUNDINGS: tuple[AccRounding, ...] = ("nearest_even", "toward_zero", "down")
#: The roundings a floating-point accumulator (and the gate-count model) takes.
FLOAT_ROUNDINGS: tuple[AccRounding, ...] = tuple(r for r in ACC_ROUNDINGS if r != "down")
#: Spellings of the exact accumulator ("fixed": fixed point at the exact width).
EXACT_NAMES = ("exact", "kulisch", "fixed")
#: register values n · 2^-frac and the factor 2^frac must be finite doubles (IEEE 754-2019
#: §3.6: binary64 exponents −1074 … 1023)
MAX_FIXED_FRAC = 1023
#: The grammar of :func:`parse_accumulator`, for messages and --help.
GRAMMAR = (
    "exact | kulisch | fixed (exact width) | W | fixedW | fixedWs | "
    "fixed:W[:F][:wrap|saturate] | fp16 | bf16 | fp32 | an IEEE-style float format name"
)


@dataclass(frozen=True)
class FixedAccumulator:
    """Two's-complement fixed-point accumulator: ``width`` bits, ``frac`` of them fractional
    (register n is worth n · 2^-frac, n ∈ [−2^(width−1), 2^(width−1) − 1]); ``frac=None``
    puts the binary point at the products' least significant bit.  ``overflow``: "wrap"
    (modulo 2^width) or "saturate" (clamp).  ``frac`` lies in [width − 1024, 1023]: then
    2^frac and every register value are finite doubles (IEEE 754-2019 §3.6).

    >>> FixedAccumulator(24, overflow="saturate")
    FixedAccumulator(width=24, frac=None, overflow='saturate')
    """

    width: int
    frac: int | None = None
    overflow: Overflow = "wrap"

    def __post_init__(self) -> None:
        for what, v in (("width", self.width), ("frac", self.frac)):
            if v is None and what == "frac":
                continue
            if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)):
                raise TypeError(f"FixedAccumulator: {what} must be an int, got {v!r}")
        if self.width <= 0:
            raise ValueError(
                f"fixed accumulator width must be a positive integer, got {self.width!r}"
            )
        lo = self.width - 1024
        if self.frac is not None and not lo <= self.frac <= MAX_FIXED_FRAC:
            raise ValueError(
                f"FixedAccumulator: frac={self.frac} outside {lo}..{MAX_FIXED_FRAC} for width="
                f"{self.width} (the register's values n·2^-frac must be finite doubles)"
            )
        if not isinstance(self.overflow, str) or self.overflow not in OVERFLOWS:
            raise ValueError(
                f"FixedAccumulator: overflow={self.overflow!r}; expected one of {OVERFLOWS}"
            )


@dataclass(frozen=True)
class ExactAccumulator:
    """The exact (Kulisch) accumulator: every partial sum is kept without error, in a
    register as wide as :func:`exact_width` gives for the operands and K.

    >>> ExactAccumulator()
    ExactAccumulator()
    """


Accumulator = FixedAccumulator | ExactAccumulator | FloatFormat


def parse_accumulator(spec: object) -> Accumulator:
    """The accumulator a spec names, in lowbit's one grammar (:data:`GRAMMAR`).

    * ``exact``, ``kulisch``, ``fixed``: :class:`ExactAccumulator`;
    * an int ``W``, ``"W"`` or ``"fixedW"``: ``FixedAccumulator(W)`` (wrap, binary point at
      the products' LSB); ``"fixedWs"``: the same, saturating;
    * ``"fixed:W[:F][:wrap|saturate]"``: ``FixedAccumulator(W, F, overflow)`` (wrap unless
      given; without F the binary point is at the products' LSB);
    * a FloatFormat, or the name of one (``fp16``, ``bf16``, ``fp32``, …);
    * an accumulator object is returned as it is.

    Whether a consumer supports the result (an IEEE-style float, a width the C core holds)
    is that consumer's check.  Anything else raises ValueError naming the grammar.

    >>> parse_accumulator("fixed:24:3:saturate")
    FixedAccumulator(width=24, frac=3, overflow='saturate')
    >>> parse_accumulator("fixed32s"), parse_accumulator("fixed")
    (FixedAccumulator(width=32, frac=None, overflow='saturate'), ExactAccumulator())
    >>> parse_accumulator("bf16").name
    'bf16'
    """
    if isinstance(spec, (FixedAccumulator, ExactAccumulator, FloatFormat)):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return FixedAccumulator(int(spec))
    if not isinstance(spec, str):
        raise ValueError(f"unknown accumulator {spec!r}; supported: {GRAMMAR}")
    key = spec.strip().lower()
    if key in EXACT_NAMES:
        return ExactAccumulator()
    if re.fullmatch(r"-?\d+", key):
        return FixedAccumulator(int(key))
    m = re.fullmatch(r"fixed(\d+)(s?)", key)
    if m:
        return FixedAccumulator(int(m.group(1)), None, "saturate" if m.group(2) else "wrap")
    m = re.fullmatch(r"fixed:(\d+)(?::(-?\d+))?(?::(wrap|saturate))?", key)
    if m:
        frac = None if m.group(2) is None else int(m.group(2))
        return FixedAccumulator(int(m.group(1)), frac, m.group(3) or "wrap")
    if key.startswith("fixed"):
        raise ValueError(
            f"accumulator {spec!r}: fixed-point specs are fixed, W, fixedW, fixedWs or "
            "fixed:W[:F][:wrap|saturate]"
        )
    try:
        fmt = get_format(key)
    except ValueError:
        fmt = None
    if isinstance(fmt, FloatFormat):
        return fmt
    raise ValueError(f"unknown accumulator {spec!r}; supported: {GRAMMAR}")


class ValueRange(Protocol):
    """What exact accumulation needs of an operand: its least and greatest finite values
    (``lo``, ``hi``) and the exponent of the lowest set bit of any nonzero one (``low``)."""

    lo: Fraction
    hi: Fraction
    low: int


@dataclass(frozen=True)
class Grid:
    """A :class:`ValueRange` given directly: values in [lo, hi] on multiples of 2^low."""

    lo: Fraction
    hi: Fraction
    low: int


def exact_width(a: ValueRange, b: ValueRange, terms: int) -> tuple[int, int]:
    """(width, frac) of the exact (Kulisch) register summing ``terms`` products a·b: the
    binary point at the products' lowest set bit, frac = −(low_a + low_b), and room for
    ``terms`` extreme products of either sign (Kulisch & Miranker 1981).

    >>> i8 = Grid(Fraction(-128), Fraction(127), 0)
    >>> exact_width(i8, i8, 4096)
    (28, 0)
    """
    if isinstance(terms, (bool, np.bool_)) or not isinstance(terms, (int, np.integer)):
        raise ValueError(f"terms must be a positive integer, got {terms!r}")
    if terms <= 0:
        raise ValueError(f"terms must be a positive integer, got {terms!r}")
    frac = -(a.low + b.low)
    unit = Fraction(2) ** frac
    prods = [x * y * unit for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    lo, hi = math.floor(min(prods)) * int(terms), math.ceil(max(prods)) * int(terms)
    return signed_width(lo, hi), frac


def block_sum_width(word_width: int, words: int) -> int:
    """Width of an exact sum of ``words`` two's-complement words of ``word_width`` bits:
    one more bit per doubling, ``word_width + ⌈log2 words⌉`` (the block MAC's accumulator
    at the exact width, docs/hwmodel.md).

    >>> block_sum_width(20, 128)
    27
    """
    return word_width + math.ceil(math.log2(words)) if words > 1 else word_width


def int_accumulator_width(bits: int, terms: int) -> int:
    """Accumulator width for ``terms`` products of ``bits``-bit signed operands on the
    symmetric grid (−(2^(b−1)−1) … 2^(b−1)−1): 2b − 1 + ⌈log2 K⌉ (van Baalen et al. 2023, App. B).

    >>> int_accumulator_width(8, 4096)
    27
    """
    if bits <= 0 or terms <= 0:
        raise ValueError(f"bits and terms must be > 0, got bits={bits}, terms={terms}")
    return 2 * bits - 1 + math.ceil(math.log2(terms))


def kulisch_width_formula(fmt: FloatFormat, terms: int) -> int:
    """Kulisch width of van Baalen et al. 2023 (Fig. 2, App. B): 2S − 1 + 2(2^E − 2) + V with
    S = M + 2 (sign, hidden bit, M mantissa bits) and V = ⌈log2 K⌉.

    It equals :func:`exact_accumulator_width` for formats whose exponent field spans
    2^E − 1 binades (fnuz, fn); for E4M3 at K = 4096: 9 + 28 + 12 = 49.

    >>> kulisch_width_formula(get_format("fp8_e4m3fnuz"), 4096)
    49
    """
    if terms <= 0:
        raise ValueError(f"terms must be > 0, got {terms}")
    s = fmt.man_bits + 2
    return 2 * s - 1 + 2 * (2**fmt.exp_bits - 2) + math.ceil(math.log2(terms))


def _grid(fmt: Format) -> Grid:
    """The :class:`Grid` of a format's finite values (its quantum is a power of two)."""
    if isinstance(fmt, IntFormat):
        return Grid(Fraction(fmt.qmin), Fraction(fmt.qmax), 0)
    if isinstance(fmt, FloatFormat):
        q = Fraction(fmt.smallest_subnormal)
        low = (q.numerator.bit_length() - 1) - (q.denominator.bit_length() - 1)
        return Grid(Fraction(-fmt.max), Fraction(fmt.max), low)
    raise ValueError(f"{fmt.name}: no accumulator rule for {type(fmt).__name__}")


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi].

    >>> signed_width(-16256 * 4096, 16384 * 4096)
    28
    """
    w = 1
    while not (-(2 ** (w - 1)) <= lo and hi <= 2 ** (w - 1) - 1):
        w += 1
    return w


def exact_accumulator_width(weight: Format | str, activation: Format | str, terms: int) -> int:
    """Exact ("Kulisch") two's-complement width that sums ``terms`` products of the two
    formats without overflow or rounding: the product grid's quantum is the product of the
    quanta, and K extreme products must fit (Kulisch & Miranker 1981).

    >>> exact_accumulator_width("int8", "int8", 4096), exact_accumulator_width(
    ...     "int8_narrow", "int8_narrow", 4096)
    (28, 27)
    """
    if not isinstance(terms, int) or terms <= 0:
        raise ValueError(f"terms must be a positive integer, got {terms!r}")
    return exact_width(_grid(get_format(weight)), _grid(get_format(activation)), terms)[0]
