"""The datapath pieces a MAC unit is built of, shared by the scalar MAC (``mac.py``) and
the block dot-product unit (``block.py``): what the hardware sees of an operand, the
multiplier, and the two kinds of accumulate stage (fixed point, floating point), after
van Baalen et al. 2023 (Fig. 2, App. B).  docs/hwmodel.md derives every width.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..formats import FloatFormat, Format, IntFormat
from . import arith as A
from .accumulator import signed_width
from .gates import Cost, GateCosts


@dataclass(frozen=True)
class Operand:
    """What the hardware sees of a format: significand magnitude bits (hidden bit included),
    exponent field bits, the exponent span in binades, and how signs and specials are coded."""

    name: str
    bits: int
    is_float: bool
    mag_bits: int
    exp_bits: int = 0
    exp_span: int = 0
    twos: bool = False  # two's-complement signed integer
    signed: bool = True
    subnormals: bool = False
    specials: int = 0  # number of special-value kinds to detect (NaN, Inf)
    qmin: int = 0
    qmax: int = 0

    def prod_width(self, other: Operand) -> int:
        """Exact two's-complement width of an integer product (15 bits for int8_narrow)."""
        ends = [x * y for x in (self.qmin, self.qmax) for y in (other.qmin, other.qmax)]
        return signed_width(min(ends), max(ends))


def operand(fmt: Format) -> Operand:
    """What the hardware sees of a scalar format (IntFormat or FloatFormat).

    >>> from lowbit import get_format
    >>> e4m3 = operand(get_format("fp8_e4m3fn"))
    >>> e4m3.mag_bits, e4m3.exp_bits, e4m3.exp_span
    (4, 4, 14)
    """
    if isinstance(fmt, IntFormat):
        mag = max(abs(fmt.qmin), fmt.qmax).bit_length()
        twos = fmt.qmin < 0 and fmt.encoding == "twos_complement"
        return Operand(
            fmt.name,
            fmt.bits,
            False,
            mag,
            twos=twos,
            signed=fmt.qmin < 0,
            qmin=fmt.qmin,
            qmax=fmt.qmax,
        )
    if isinstance(fmt, FloatFormat):
        return Operand(
            fmt.name,
            fmt.bits,
            True,
            fmt.man_bits + 1,
            exp_bits=fmt.exp_bits,
            exp_span=fmt.emax - fmt.emin,
            subnormals=fmt.has_subnormals,
            specials=int(fmt.has_nan) + int(fmt.has_inf),
        )
    raise ValueError(
        f"{getattr(fmt, 'name', fmt)!r}: no hardware model for {type(fmt).__name__}; "
        "supported: IntFormat and FloatFormat scalars, BinaryFormat, and the block formats "
        "(MX, MX9/6/4, BFP, NVFP4, VS-Quant, group-scaled INT); a power-of-two scale format "
        "such as e8m0 is a block scale, not a MAC operand"
    )


@dataclass(frozen=True)
class Product:
    """The multiplier's output: ``width`` bits, two's complement or sign-magnitude, with an
    exponent of ``exp_bits`` spanning ``exp_span`` binades (0 for integer products)."""

    width: int
    twos: bool
    exp_bits: int
    exp_span: int


def _sig_multiplier(n: int, m: int, kind: str, costs: GateCosts) -> Cost:
    if kind == "dadda" and n == m:
        return A.dadda_multiplier(n, costs=costs)
    return A.array_multiplier(n, m, costs=costs)


def _specials(ops: list[Operand], costs: GateCosts) -> list[Cost]:
    # A NaN/Inf code is one fixed pattern per kind: an AND tree over the code's bits per kind
    # and operand; the kinds OR into a sticky flag held in one FF (bit-exact NaN propagation).
    kinds = sum(op.specials for op in ops)
    if not kinds:
        return []
    cells = {"and2": sum(op.specials * (op.bits - 1) for op in ops), "or2": kinds + 1, "ff": 1}
    return [Cost.leaf("specials", cells, depth=4, costs=costs)]


def multiply(w: Operand, a: Operand, kind: str, costs: GateCosts) -> tuple[Cost, Product]:
    """The ``mpy`` group (operand decode, significand multiplier of ``kind`` "array" or
    "dadda", exponent adder, specials) and the product it hands on.

    >>> from lowbit import get_format
    >>> from lowbit.hwmodel.gates import DEFAULT_COSTS
    >>> e4m3 = operand(get_format("fp8_e4m3fn"))
    >>> cost, p = multiply(e4m3, e4m3, "array", DEFAULT_COSTS)
    >>> round(cost.total), p
    (146, Product(width=8, twos=False, exp_bits=5, exp_span=28))
    """
    parts: list[Cost] = []
    if not w.is_float and not a.is_float and (w.twos or not w.signed) and (a.twos or not a.signed):
        # Integer × integer on a (Baugh–Wooley) signed array of the storage widths.
        parts.append(_sig_multiplier(w.bits, a.bits, kind, costs))
        return Cost.group("mpy", parts), Product(w.prod_width(a), True, 0, 0)
    # Sign-magnitude datapath: two's-complement integers are converted first.
    for op, tag in ((w, "w"), (a, "a")):
        if op.twos:
            neg = A.conditional_negate(op.mag_bits, costs=costs)
            parts.append(Cost.group(f"to_sign_magnitude_{tag}", list(neg.parts)))
        if op.is_float:
            # hidden bit = OR of the exponent field (0 for zero/subnormals)
            parts.append(A.or_tree(op.exp_bits, name=f"hidden_{tag}_or", costs=costs))
            if op.subnormals:  # a subnormal's exponent is emin: force the field's LSB to 1
                parts.append(Cost.leaf(f"subnormal_exp_{tag}", {"or2": 1}, 1, costs))
    parts.append(_sig_multiplier(w.mag_bits, a.mag_bits, kind, costs))
    if w.signed or a.signed:
        parts.append(Cost.leaf("sign_xor", {"xor2": 1}, 1, costs))
    eb = max(w.exp_bits, a.exp_bits)
    if w.is_float and a.is_float:
        parts.append(A.ripple_adder(eb, costs=costs))  # exponent sum, E+1 bits out
        eb += 1
    parts += _specials([w, a], costs)
    depth = max(p.depth for p in parts)
    prod = Product(w.mag_bits + a.mag_bits, False, eb, w.exp_span + a.exp_span)
    # hands on sign, magnitude and exponent: what a register after the multiplier holds
    return Cost.group("mpy", parts, depth=depth + 1, width=prod.width + eb + 1), prod


def fixed_accumulate(p: Product, width: int, overflow: str, costs: GateCosts) -> list[Cost]:
    """The ``alignadd`` and ``normacc`` groups of a ``width``-bit two's-complement register
    (``overflow`` "wrap" or "saturate") adding product ``p``.

    >>> from lowbit.hwmodel.gates import DEFAULT_COSTS
    >>> groups = fixed_accumulate(Product(8, False, 5, 28), 49, "wrap", DEFAULT_COSTS)
    >>> [g.name for g in groups], round(sum(g.total for g in groups))
    (['alignadd', 'normacc'], 895)
    """
    add: list[Cost] = []
    if p.twos:
        aligned = p.width
    else:
        aligned = p.width + p.exp_span
        if p.exp_span:
            add.append(A.widening_left_shifter(p.width, p.exp_span, costs=costs))
        # sign-magnitude → two's complement: invert the aligned word on the sign, carry-in 1
        add.append(A.xor_bank(min(aligned, width), name="complement", costs=costs))
    low = min(aligned, width)
    add.append(A.ripple_adder(low, carry_in=not p.twos, costs=costs))
    if width > low:
        # the sign extension is folded into a constant in the reset value (the Baugh–Wooley
        # trick), so the upper bits only propagate the carry: an incrementer
        add.append(A.incrementer(width - low, costs=costs))
    acc = [A.register(width, costs=costs)]
    if overflow == "saturate":
        acc.append(Cost.leaf("overflow_detect", {"xor2": 1, "and2": 2}, 2, costs))
        acc.append(A.mux_bank(width, name="saturate", costs=costs))
    return [Cost.group("alignadd", add), Cost.group("normacc", acc)]


def float_accumulate(
    p: Product, acc: FloatFormat, rounding: str, costs: GateCosts, normalised: bool = False
) -> list[Cost]:
    """The ``alignadd`` and ``normacc`` groups of a floating-point accumulator ``acc``
    adding product ``p`` with ``rounding`` (the steps of van Baalen et al. 2023, Fig. 2).
    With ``costs.float_adder == "full"`` the adder spans the product's full width plus sign,
    guard, round and sticky, and (unless ``normalised``: the block path normalised it
    already) the product is first normalised (negate, leading-zero count, shift), as the
    correctly rounding unit of lowbit.hwmodel.synth.units builds it.

    >>> from lowbit import get_format
    >>> from lowbit.hwmodel.gates import DEFAULT_COSTS
    >>> fp16 = get_format("fp16")
    >>> groups = float_accumulate(Product(8, False, 5, 28), fp16, "nearest_even", DEFAULT_COSTS)
    >>> [g.name for g in groups], round(sum(g.total for g in groups))
    (['alignadd', 'normacc'], 935)
    """
    sa, ea = acc.man_bits + 1, acc.exp_bits
    full = costs.float_adder == "full"
    tb = p.width + (0 if p.twos else 1)  # the product as a two's-complement word
    sig = max(sa, tb) if full else sa  # significand bits each operand brings to the adder
    lane = sig + 4 if full else sa + 2  # (sign,) guard and round bits (and sticky)
    add_w = lane + 2 if full else sa + 3
    ed = max(ea, p.exp_bits)
    add: list[Cost] = []
    if full and not normalised:
        add.append(
            Cost.group(
                "product_normalise",
                [
                    A.conditional_negate(tb, costs=costs),
                    A.leading_zero_detector(tb, costs=costs),
                    # the leading one to the word's top: a tb-bit shift (the sig − tb
                    # bits below it are constant zeros)
                    A.left_shifter(tb, tb - 1, costs=costs),
                ],
            )
        )
    add += [
        Cost.group(
            "exp_diff",
            [A.ripple_adder(ed, costs=costs)] + list(A.conditional_negate(ed, costs=costs).parts),
        ),
        Cost.group(
            "swap",
            [
                A.mux_bank(2 * sig, name="swap_sig", costs=costs),
                A.mux_bank(ed, name="swap_exp", costs=costs),
            ],
            depth=1,
        ),
        A.right_shifter(lane, lane, costs=costs),
        A.or_tree(lane, name="sticky", costs=costs),
    ]
    if p.width > lane:  # product bits below the lane only reach the sticky bit
        add.append(A.or_tree(p.width - lane + 1, name="product_sticky", costs=costs))
    add += [
        A.xor_bank(lane, name="complement", costs=costs),
        A.ripple_adder(add_w, carry_in=True, costs=costs),
    ]
    norm = [
        A.conditional_negate(add_w, costs=costs),
        A.normaliser(add_w, add_w - 1, costs=costs),
    ]
    if rounding == "nearest_even":
        norm.append(A.rne_rounder(sa, costs=costs))
    norm += [
        Cost.group("exp_update", [A.ripple_adder(ea, costs=costs), A.incrementer(ea, costs=costs)]),
        A.register(acc.bits, costs=costs),
    ]
    return [Cost.group("alignadd", add), Cost.group("normacc", norm)]
