"""Gate count of one multiply-accumulate unit for (weight format, activation format,
accumulator), after the MAC structure of van Baalen et al. 2023 (Fig. 2, App. B).

Groups: ``mpy`` (operand decode, significand multiplier, exponent adder, specials),
``alignadd`` (alignment and the adder) and ``normacc`` (normalise, round, accumulator register).
Every width is derived from the formats; docs/hwmodel.md gives the derivation of each block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats import FloatFormat, Format, IntFormat, get_format
from . import arith as A
from . import block as B
from .accumulator import (
    ACC_ROUNDING,
    FixedAccumulator,
    exact_accumulator_width,
    resolve_accumulator,
    signed_width,
)
from .gates import DEFAULT_COSTS, Cost, GateCosts

MULTIPLIERS = ("array", "dadda")


@dataclass(frozen=True)
class _Operand:
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

    def prod_width(self, other: _Operand) -> int:
        """Exact two's-complement width of an integer product (15 bits for int8_narrow)."""
        ends = [x * y for x in (self.qmin, self.qmax) for y in (other.qmin, other.qmax)]
        return signed_width(min(ends), max(ends))


def _operand(fmt: Format) -> _Operand:
    if isinstance(fmt, IntFormat):
        mag = max(abs(fmt.qmin), fmt.qmax).bit_length()
        twos = fmt.qmin < 0 and fmt.encoding == "twos_complement"
        return _Operand(
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
        return _Operand(
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
class _Product:
    """The multiplier's output: ``width`` bits, two's complement or sign-magnitude, with an
    exponent of ``exp_bits`` spanning ``exp_span`` binades (0 for integer products)."""

    width: int
    twos: bool
    exp_bits: int
    exp_span: int


@dataclass(frozen=True)
class MacCost:
    """Cost of one MAC unit: ``cost`` is the tree (mac → mpy / alignadd / normacc → blocks).

    >>> m = mac_cost("int8_narrow", "int8_narrow", "fixed")
    >>> m.total, m.accumulator_width
    (727.0, 27)
    """

    weight: str
    activation: str
    accumulator: str
    terms: int
    accumulator_width: int
    cost: Cost
    unit: str
    lanes: int = 1  # products summed per accumulator update (block size of a block format)

    @property
    def total(self) -> float:
        return self.cost.total

    @property
    def depth(self) -> int:
        """Critical path of one MAC step, in gate levels."""
        return self.cost.depth

    def breakdown(self) -> dict[str, float]:
        """Totals of mpy, alignadd and normacc."""
        return self.cost.breakdown()

    def to_dict(self) -> dict:
        return {
            "weight": self.weight,
            "activation": self.activation,
            "accumulator": self.accumulator,
            "terms": self.terms,
            "accumulator_width": self.accumulator_width,
            "total": self.total,
            "unit": self.unit,
            "lanes": self.lanes,
            "depth": self.depth,
            "breakdown": self.breakdown(),
            "blocks": self.cost.flat(),
        }


def _sig_multiplier(n: int, m: int, kind: str, costs: GateCosts) -> Cost:
    if kind == "dadda" and n == m:
        return A.dadda_multiplier(n, costs=costs)
    return A.array_multiplier(n, m, costs=costs)


def _specials(ops: list[_Operand], costs: GateCosts) -> list[Cost]:
    # A NaN/Inf code is one fixed pattern per kind: an AND tree over the code's bits per kind
    # and operand; the kinds OR into a sticky flag held in one FF (bit-exact NaN propagation).
    kinds = sum(op.specials for op in ops)
    if not kinds:
        return []
    cells = {"and2": sum(op.specials * (op.bits - 1) for op in ops), "or2": kinds + 1, "ff": 1}
    return [Cost.leaf("specials", cells, depth=4, costs=costs)]


def _multiply(w: _Operand, a: _Operand, kind: str, costs: GateCosts) -> tuple[Cost, _Product]:
    parts: list[Cost] = []
    if not w.is_float and not a.is_float and (w.twos or not w.signed) and (a.twos or not a.signed):
        # Integer × integer on a (Baugh–Wooley) signed array of the storage widths.
        parts.append(_sig_multiplier(w.bits, a.bits, kind, costs))
        return Cost.group("mpy", parts), _Product(w.prod_width(a), True, 0, 0)
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
    prod = _Product(w.mag_bits + a.mag_bits, False, eb, w.exp_span + a.exp_span)
    return Cost.group("mpy", parts, depth=depth + 1), prod


def _fixed_acc(p: _Product, width: int, overflow: str, costs: GateCosts) -> list[Cost]:
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


def _float_acc(p: _Product, acc: FloatFormat, rounding: str, costs: GateCosts) -> list[Cost]:
    sa, ea = acc.man_bits + 1, acc.exp_bits
    lane = sa + 2  # guard and round bits; the sticky bit is ORed separately
    ed = max(ea, p.exp_bits)
    add = [
        Cost.group(
            "exp_diff",
            [A.ripple_adder(ed, costs=costs)] + list(A.conditional_negate(ed, costs=costs).parts),
        ),
        Cost.group(
            "swap",
            [
                A.mux_bank(2 * sa, name="swap_sig", costs=costs),
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
        A.ripple_adder(sa + 3, carry_in=True, costs=costs),
    ]
    norm = [
        A.conditional_negate(sa + 3, costs=costs),
        A.normaliser(sa + 3, sa + 2, costs=costs),
    ]
    if rounding == "nearest_even":
        norm.append(A.rne_rounder(sa, costs=costs))
    norm += [
        Cost.group("exp_update", [A.ripple_adder(ea, costs=costs), A.incrementer(ea, costs=costs)]),
        A.register(acc.bits, costs=costs),
    ]
    return [Cost.group("alignadd", add), Cost.group("normacc", norm)]


def _positive_int(what: str, v) -> int:
    """v as an int: numpy integers are integers too; bools are not."""
    if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v <= 0:
        raise ValueError(f"{what} must be a positive integer, got {v!r}")
    return int(v)


def mac_cost(
    weight_format: Format | str,
    activation_format: Format | str,
    accumulator: str | int | FixedAccumulator | FloatFormat = "fixed",
    terms: int = 4096,
    *,
    rounding: str = "nearest_even",
    multiplier: str = "array",
    costs: GateCosts = DEFAULT_COSTS,
    lanes: int = 1,
) -> MacCost:
    """Gate count of a MAC unit computing weight × activation and accumulating ``terms``
    products into ``accumulator`` ("fixed" = exact Kulisch width, an int width, a
    FixedAccumulator, or a float accumulator "fp16"/"bf16"/"fp32"/any FloatFormat with RNE).

    Block formats (MX, MX9/6/4, BFP, NVFP4, VS-Quant, int4_g128) are priced as a block
    dot-product unit, reported per MAC (per-block logic / block size, per-output logic / terms);
    ``lanes`` > 1 prices scalar formats on such a unit too (an adder tree of ``lanes`` products,
    one accumulator). See lowbit.hwmodel.block and docs/hwmodel.md.

    >>> m = mac_cost("fp8_e4m3fnuz", "fp8_e4m3fnuz", "fp16")
    >>> round(m.total), sorted(m.breakdown())
    (1081, ['alignadd', 'mpy', 'normacc'])
    """
    terms = _positive_int("terms", terms)
    if rounding not in ACC_ROUNDING:
        raise ValueError(
            f"accumulator rounding {rounding!r} has no hardware model; supported: "
            f"{list(ACC_ROUNDING)}"
        )
    if multiplier not in MULTIPLIERS:
        raise ValueError(f"unknown multiplier {multiplier!r}; supported: {list(MULTIPLIERS)}")
    lanes = _positive_int("lanes", lanes)
    wf, af = get_format(weight_format), get_format(activation_format)
    acc = resolve_accumulator(accumulator)
    if B.is_binary(wf) or B.is_binary(af):
        if not (B.is_binary(wf) and B.is_binary(af)):
            raise ValueError(
                f"{wf.name} × {af.name}: binary pairs only with binary; "
                f"supported: {B.SUPPORTED_PAIRS}"
            )
        if acc != "fixed":
            raise ValueError("binary × binary accumulates in an exact popcount ('fixed') only")
        root, width, acc_name = B.binary_mac(terms, costs)
        return MacCost(wf.name, af.name, acc_name, terms, width, root, costs.unit)
    if lanes > 1 or B.block_spec(wf) is not None or B.block_spec(af) is not None:
        root, width, acc_name, k = B.block_mac(
            wf, af, acc, terms, rounding, multiplier, costs, lanes=lanes
        )
        return MacCost(wf.name, af.name, acc_name, terms, width, root, costs.unit, k)
    w, a = _operand(wf), _operand(af)
    mpy, prod = _multiply(w, a, multiplier, costs)
    if isinstance(acc, FloatFormat):
        groups = _float_acc(prod, acc, rounding, costs)
        width, acc_name = acc.bits, acc.name
    else:
        exact = exact_accumulator_width(wf, af, terms)
        if acc == "fixed":
            width, overflow, acc_name = exact, "wrap", f"fixed{exact} (exact)"
        else:
            width, overflow = acc.width, acc.overflow
            acc_name = f"fixed{width} ({overflow})"
        groups = _fixed_acc(prod, width, overflow, costs)
    root = Cost.group("mac", [mpy, *groups])
    return MacCost(wf.name, af.name, acc_name, terms, width, root, costs.unit)
