"""Accumulator-width rules and the accumulator descriptions ``mac_cost`` accepts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..formats import FloatFormat, Format, IntFormat, get_format

#: Overflow behaviours of a fixed-point accumulator narrower than the exact width.
FIXED_OVERFLOW = ("wrap", "saturate")
#: Named floating-point accumulators (any FloatFormat object is accepted too).
FLOAT_ACCUMULATORS = ("fp16", "bf16", "fp32")
#: Rounding of a floating-point accumulator that has a hardware model here.
ACC_ROUNDING = ("nearest_even", "toward_zero")
SUPPORTED = (
    "'fixed' (or 'kulisch': exact width), an int width or FixedAccumulator(width, overflow), "
    f"a float name {list(FLOAT_ACCUMULATORS)} or any lowbit FloatFormat"
)


def int_accumulator_width(bits: int, terms: int) -> int:
    """Accumulator width for ``terms`` products of ``bits``-bit signed operands on the
    symmetric grid (−(2^(b−1)−1) … 2^(b−1)−1): 2b − 1 + ⌈log2 K⌉ (domain.md §6).

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


def _grid(fmt: Format) -> tuple[Fraction, Fraction, Fraction]:
    """(most negative value, most positive value, quantum) of a format's finite values."""
    if isinstance(fmt, IntFormat):
        return Fraction(fmt.qmin), Fraction(fmt.qmax), Fraction(1)
    if isinstance(fmt, FloatFormat):
        q = fmt.smallest_subnormal
        return Fraction(-fmt.max), Fraction(fmt.max), Fraction(q)
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
    wlo, whi, wq = _grid(get_format(weight))
    alo, ahi, aq = _grid(get_format(activation))
    prods = [wlo * alo, wlo * ahi, whi * alo, whi * ahi]
    q = wq * aq
    lo, hi = min(prods) / q, max(prods) / q
    assert lo.denominator == 1 and hi.denominator == 1
    return signed_width(int(lo) * terms, int(hi) * terms)


@dataclass(frozen=True)
class FixedAccumulator:
    """A fixed-point accumulator of ``width`` bits with the product grid's binary point;
    ``overflow`` is "wrap" (two's complement) or "saturate" (clamp to the width's range).

    >>> FixedAccumulator(24, "saturate").width
    24
    """

    width: int
    overflow: str = "wrap"

    def __post_init__(self):
        if not isinstance(self.width, int) or isinstance(self.width, bool) or self.width <= 0:
            raise ValueError(
                f"fixed accumulator width must be a positive integer, got {self.width!r}"
            )
        if self.overflow not in FIXED_OVERFLOW:
            raise ValueError(
                f"fixed accumulator overflow {self.overflow!r}: supported {list(FIXED_OVERFLOW)}"
            )


def resolve_accumulator(acc) -> str | FixedAccumulator | FloatFormat:
    """Normalise the ``accumulator`` argument: "fixed" (exact), a FixedAccumulator, or a
    FloatFormat; anything else raises ValueError listing what is supported.

    >>> resolve_accumulator("fp16").man_bits
    10
    """
    if isinstance(acc, FixedAccumulator) or isinstance(acc, FloatFormat):
        return acc
    if isinstance(acc, bool):
        raise ValueError(f"unknown accumulator {acc!r}; supported: {SUPPORTED}")
    if isinstance(acc, int):
        return FixedAccumulator(acc)
    if isinstance(acc, str):
        key = acc.strip().lower()
        if key in ("fixed", "kulisch", "exact"):
            return "fixed"
        if key.startswith("fixed") and key[5:].isdigit():
            return FixedAccumulator(int(key[5:]))
        if key.lstrip("-").isdigit():
            return FixedAccumulator(int(key))
        if key in FLOAT_ACCUMULATORS:
            return get_format(key)
        try:
            fmt = get_format(key)
        except ValueError:
            fmt = None
        if isinstance(fmt, FloatFormat):
            return fmt
    raise ValueError(f"unknown accumulator {acc!r}; supported: {SUPPORTED}")
