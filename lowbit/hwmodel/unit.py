"""One description of a compute unit (:class:`Unit`) and its price (:func:`price`).

Every format pair — scalar × scalar, block × block, weight-only (block × scalar, e.g.
``int4_g128`` × ``fp16``), mixed — is priced on the same structure, in this order
(docs/hwmodel.md, "The unit", gives every width):

1. ``quantize`` (option): amax over an activation block, its scale, and each element's rounding
   when activations are quantised on the fly;
2. ``mpy``: per lane, operand decode and the element multiplier (``datapath.multiply``), then
   the product put on the reduction's grid (``to_fixed``);
3. ``block``: the reduction over ``lanes`` products (an exact adder tree, or one aligned to the
   lanes' largest exponent and truncated to ``reduction_bits``), a partial-block register when
   a block spans several cycles, and the scale path (block-scale multiply or exponent add);
4. ``alignadd`` / ``normacc``: the accumulator (the one model of ``accumulator.py``);
5. ``output``: the per-output epilogue (FP32 per-channel / per-token / per-tensor scales).

Per MAC: lane logic counts once, per-unit logic (3, 4) is divided by the products the unit sums
per accumulator update (min(lanes, block size)), the epilogue (5) by K = ``terms``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ..formats import FloatFormat, Format, get_format
from . import arith as A
from . import block as B
from .accumulator import (
    FLOAT_ROUNDINGS,
    Accumulator,
    ExactAccumulator,
    FixedAccumulator,
    _grid,
    block_sum_width,
    exact_accumulator_width,
    parse_accumulator,
    signed_width,
)
from .datapath import Operand, Product, fixed_accumulate, float_accumulate, multiply, operand
from .gates import DEFAULT_COSTS, Cost, GateCosts

MULTIPLIERS = ("array", "dadda")
#: "exact": an exact two's-complement adder tree; "aligned": products aligned to the lanes'
#: largest exponent and truncated to ``reduction_bits`` (what FP dot-product units build).
REDUCTIONS = ("exact", "aligned")
#: per-output FP32 scales: "channel" (one per weight output channel), "token" (one per
#: activation row); both together need their product formed first (one more multiply).
OUTPUT_SCALES = ("channel", "token")


@dataclass(frozen=True)
class Unit:
    """A compute unit: ``lanes`` multipliers of weight × activation elements, a reduction, an
    accumulator, a scale path and an output epilogue; ``terms`` products per output (K).

    Build one with :func:`make_unit` (it applies the defaults and checks every field).

    >>> u = make_unit("int4_g128", "fp16")
    >>> u.lanes, u.accumulator.name
    (128, 'fp32')
    """

    weight: Format
    activation: Format
    accumulator: Accumulator
    lanes: int
    terms: int = 4096
    reduction: str = "exact"
    reduction_bits: int = 0
    rounding: str = "nearest_even"
    multiplier: str = "array"
    output_scales: tuple[str, ...] = ()
    quantize: FloatFormat | None = None
    costs: GateCosts = field(default=DEFAULT_COSTS, repr=False)
    stage_depth: int | None = None  # pipeline stages of at most this many gate levels

    @property
    def block(self) -> int:
        """Products that share one scale: the block size (lanes for scalar pairs)."""
        sw, sa = B.block_spec(self.weight), B.block_spec(self.activation)
        return (sw or sa).k if (sw or sa) else self.lanes


@dataclass(frozen=True)
class MacCost:
    """Cost of one MAC of a unit: ``cost`` is the tree (mac → mpy / block / alignadd /
    normacc / output → blocks); ``feasible`` is False (and ``warnings`` say why) when the unit
    cannot compute the stated K products without overflow, or needs an unbuildable register.

    >>> m = mac_cost_of(make_unit("int8_narrow", "int8_narrow"))
    >>> m.total, m.accumulator_width, m.feasible
    (727.0, 27, True)
    """

    weight: str
    activation: str
    accumulator: str
    terms: int
    accumulator_width: int
    cost: Cost
    unit: str
    # products summed per accumulator update: min(unit lanes, block size); the unit's own
    # lanes are spec.lanes
    lanes: int = 1
    feasible: bool = True
    warnings: tuple[str, ...] = ()
    spec: Unit | None = field(default=None, compare=False, repr=False)

    @property
    def total(self) -> float:
        return self.cost.total

    @property
    def depth(self) -> int:
        """Critical path of one MAC step, in gate levels."""
        return self.cost.depth

    def breakdown(self) -> dict[str, float]:
        """Totals of mpy, (block,) alignadd, normacc (and output)."""
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
            "unit_lanes": self.spec.lanes if self.spec else self.lanes,
            "reduction": self.spec.reduction if self.spec else "exact",
            "output_scales": list(self.spec.output_scales) if self.spec else [],
            "stage_depth": self.spec.stage_depth if self.spec else None,
            "feasible": self.feasible,
            "warnings": list(self.warnings),
            "breakdown": self.breakdown(),
            "blocks": self.cost.flat(),
        }


def _positive_int(what: str, v) -> int:
    """v as an int: numpy integers are integers too; bools are not."""
    if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v <= 0:
        raise ValueError(f"{what} must be a positive integer, got {v!r}")
    return int(v)


def _is_scaled(fmt: Format) -> bool:
    return B.block_spec(fmt) is not None


def make_unit(
    weight: Format | str,
    activation: Format | str,
    accumulator: object = None,
    lanes: int | None = None,
    terms: int = 4096,
    *,
    reduction: str = "exact",
    reduction_bits: int = 0,
    rounding: str = "nearest_even",
    multiplier: str = "array",
    output_scales: tuple[str, ...] | list[str] = (),
    quantize: FloatFormat | str | None = None,
    costs: GateCosts = DEFAULT_COSTS,
    stage_depth: int | None = None,
) -> Unit:
    """A checked :class:`Unit`.  Defaults: ``accumulator`` None → FP32 when either operand is
    a block format (as MX / NVFP4 hardware accumulates), else the exact (Kulisch) register;
    ``lanes`` None → the block size of a block format, 1 for a scalar pair; ``stage_depth``
    (gate levels a pipeline stage) adds the pipeline registers of
    :func:`~lowbit.hwmodel.timing.pipelined` to the price as group ``pipeline``.

    >>> make_unit("int8", "int8", "fp32", lanes=32, output_scales=("channel", "token")).lanes
    32
    """
    wf, af = get_format(weight), get_format(activation)
    if accumulator is None:
        scaled = _is_scaled(wf) or _is_scaled(af)
        accumulator = B.FP32 if scaled else ExactAccumulator()
    acc = parse_accumulator(accumulator)
    terms = _positive_int("terms", terms)
    if rounding not in FLOAT_ROUNDINGS:
        raise ValueError(
            f"accumulator rounding {rounding!r} has no hardware model; supported: "
            f"{list(FLOAT_ROUNDINGS)}"
        )
    if multiplier not in MULTIPLIERS:
        raise ValueError(f"unknown multiplier {multiplier!r}; supported: {list(MULTIPLIERS)}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; supported: {list(REDUCTIONS)}")
    if not isinstance(reduction_bits, int) or reduction_bits < 0:
        raise ValueError(f"reduction_bits must be an integer >= 0, got {reduction_bits!r}")
    scales = tuple(output_scales)
    bad = [s for s in scales if s not in OUTPUT_SCALES] + (
        ["repeated"] if len(set(scales)) != len(scales) else []
    )
    if bad:
        raise ValueError(f"output_scales {scales!r}: each one of {list(OUTPUT_SCALES)}, once")
    q = None if quantize is None else get_format(quantize)
    if q is not None and not isinstance(q, FloatFormat):
        raise ValueError(f"quantize={quantize!r}: the source of on-the-fly quantisation is a float")
    if q is not None and not _is_scaled(af):
        raise ValueError(
            f"quantize={quantize!r}: on-the-fly quantisation computes a block scale; "
            f"activation {af.name} is not a block format"
        )
    if lanes is None:
        spec = B.block_spec(wf) or B.block_spec(af)
        lanes = spec.k if spec else 1
    lanes = _positive_int("lanes", lanes)
    if stage_depth is not None:
        stage_depth = _positive_int("stage_depth", stage_depth)
    return Unit(wf, af, acc, lanes, terms, reduction, reduction_bits, rounding, multiplier, scales,
                q, costs, stage_depth)  # fmt: skip


# ---------------------------------------------------------------- feasibility


def _max_abs(fmt: Format) -> float:
    g = _grid(fmt)
    return float(max(abs(g.lo), abs(g.hi)))


def feasibility(unit: Unit, width: int, exact: int) -> tuple[str, ...]:
    """Why ``unit`` cannot work, if it cannot (``width``: its accumulator's bits; ``exact``:
    the bits an exact register needs for ``unit.terms`` products on this unit).

    Rules (docs/hwmodel.md, "Feasibility"): (1) an exact register over a power-of-two block
    scale (E8M0, OCP MX v1.0 §5.1) spans 2·254 binades — hundreds of bits no MX unit builds;
    (2) a fixed register narrower than K worst-case products need (Kulisch & Miranker 1981)
    can overflow; (3) a float accumulator whose largest finite value is below K worst-case
    products can overflow to ±Inf.  Rule 3 and a fixed register with a stated binary point
    use the element values (scale 1): a block's scale range is the tensor's, not the unit's.

    >>> feasibility(make_unit("int8", "int8", "fp16"), 16, 28)[0][:34]
    'fp16 accumulator can overflow: 409'
    """
    out: list[str] = []
    sw, sa = B.block_spec(unit.weight), B.block_spec(unit.activation)
    ew = sw.element if sw else unit.weight
    ea = sa.element if sa else unit.activation
    acc, k = unit.accumulator, unit.terms
    pow2 = any(s is not None and s.scale == "pow2" for s in (sw, sa))
    worst = k * _max_abs(ew) * _max_abs(ea)
    if isinstance(acc, ExactAccumulator) and pow2:
        out.append(
            f"exact (Kulisch) register over the E8M0 scale range: {width} bits; MX/BFP units "
            "accumulate in FP32 (use accumulator='fp32')"
        )
    elif isinstance(acc, FixedAccumulator):
        if acc.frac is None:
            need = exact
        else:
            top = math.ceil(worst * 2.0**acc.frac)
            need = signed_width(-top, top)
        if acc.width < need:
            out.append(
                f"fixed{acc.width} accumulator can overflow: {k} products of {ew.name} × "
                f"{ea.name} need {need} bits"
            )
    elif isinstance(acc, FloatFormat) and worst > acc.max:
        out.append(
            f"{acc.name} accumulator can overflow: {k} products of {ew.name} × {ea.name} "
            f"reach {worst:.3g} > {acc.name} max {acc.max:.6g}"
        )
    return tuple(out)


# ---------------------------------------------------------------- the pieces


def _reduce(unit: Unit, prod: Product, n: int, micro: int, costs: GateCosts):
    """(per-lane parts, per-unit parts, tree output width, exponent bits, exponent span) of
    the reduction of ``n`` products ``prod`` (``micro``: extra micro-exponent shift)."""
    lane: list[Cost] = []
    if prod.twos:
        tree, t = B.adder_tree(n, prod.width, False, costs)
        return lane, [tree], t, 0, 0
    if unit.reduction == "exact":
        span = prod.exp_span + micro
        if span:
            lane.append(A.widening_left_shifter(prod.width, span, costs=costs))
        lane.append(A.xor_bank(prod.width + span, name="complement", costs=costs))
        tree, t = B.adder_tree(n, prod.width + span + 1, True, costs)
        return [Cost.group("to_fixed", lane)], [tree], t, 0, 0
    # aligned: max exponent over the lanes, each product shifted right by its distance to it
    # and truncated to W bits (the multi-operand FP adders of Tensor Cores, Fasi et al. 2021)
    acc = unit.accumulator
    w = unit.reduction_bits or (acc.man_bits + 4)
    eb = max(prod.exp_bits, 1)
    cmp, mux = A.comparator(eb, costs=costs), A.mux_bank(eb, name="max_mux", costs=costs)
    levels = math.ceil(math.log2(n)) if n > 1 else 0
    maxexp = Cost.leaf(
        f"max_exp{n}",
        {c: (n - 1) * v for c, v in {**cmp.cells, **mux.cells}.items()},
        levels * (cmp.depth + 1),
        costs,
        width=eb,
    )
    lane = [
        A.ripple_adder(eb, costs=costs),  # distance to the max exponent
        A.right_shifter(w, w, costs=costs),
        A.xor_bank(w, name="complement", costs=costs),
    ]
    tree, t = B.adder_tree(n, w + 1, True, costs)
    return [Cost.group("to_aligned", lane)], [maxexp, tree], t, eb, prod.exp_span


def _accumulate(unit: Unit, value: Product, nblocks: int, costs: GateCosts):
    """(parts before the accumulator, accumulate groups, width, name) for a block value."""
    acc, t, eb, span = unit.accumulator, value.width, value.exp_bits, value.exp_span
    pre: list[Cost] = []
    if isinstance(acc, FloatFormat):
        conv = [A.conditional_negate(t, costs=costs), A.leading_zero_detector(t, costs=costs)]
        conv.append(A.left_shifter(t, t - 1, costs=costs))
        ebits = eb + 1 if eb else t.bit_length()
        if eb:
            conv.append(A.ripple_adder(ebits, costs=costs))  # exponent − leading zeros
        pre.append(Cost.group("block_to_float", conv))
        groups = float_accumulate(
            Product(t, False, ebits, span), acc, unit.rounding, costs, normalised=True
        )
        return pre, groups, acc.bits, acc.name, block_sum_width(t + span, nblocks)
    exact = block_sum_width(t + span, nblocks)
    if isinstance(acc, ExactAccumulator):
        width, overflow, name = exact, "wrap", f"fixed{exact} (exact)"
    else:
        width, overflow, name = acc.width, acc.overflow, f"fixed{acc.width} ({acc.overflow})"
    if span:
        pre.append(Cost.group("align_block", [A.widening_left_shifter(t, span, costs=costs)]))
        value = Product(t + span, True, 0, 0)
    return pre, fixed_accumulate(value, width, overflow, costs), width, name, exact


def _epilogue(unit: Unit, width: int, n_out: int, costs: GateCosts) -> list[Cost]:
    if not n_out:
        return []
    out = [] if isinstance(unit.accumulator, FloatFormat) else [B.to_float(width, costs)]
    return out + [B.fp_mult(B.FP32, costs, f"fp32_scale_mult{i + 1}") for i in range(n_out)]


def _specs(unit: Unit):
    wf, af = unit.weight, unit.activation
    sw, sa = B.block_spec(wf), B.block_spec(af)
    if sw and sa and (sw.family != sa.family or sw.k != sa.k or sw.sub != sa.sub):
        raise ValueError(
            f"{wf.name} × {af.name}: block families or sizes differ ({sw.family}/{sw.k} vs "
            f"{sa.family}/{sa.k}); supported: {B.SUPPORTED_PAIRS}"
        )
    k = (sw or sa).k if (sw or sa) else unit.lanes
    sw = sw or B.BlockSpec("scalar", wf, k)
    sa = sa or B.BlockSpec("scalar", af, k)
    return sw, sa, k


def _scalar_mac(unit: Unit, w: Operand, a: Operand, decode: list[Cost]):
    costs = unit.costs
    mpy, prod = multiply(w, a, unit.multiplier, costs)
    if decode:
        mpy = Cost.group("mpy", [*decode, *mpy.parts], depth=mpy.depth + 1)
    acc = unit.accumulator
    exact = exact_accumulator_width(unit.weight, unit.activation, unit.terms)
    if isinstance(acc, FloatFormat):
        groups = float_accumulate(prod, acc, unit.rounding, costs)
        width, name = acc.bits, acc.name
    else:
        if isinstance(acc, ExactAccumulator):
            width = exact
            overflow, name = "wrap", f"fixed{width} (exact)"
        else:
            width, overflow, name = acc.width, acc.overflow, f"fixed{acc.width} ({acc.overflow})"
        groups = fixed_accumulate(prod, width, overflow, costs)
    parts = [mpy, *groups]
    out = _epilogue(unit, width, len(unit.output_scales), costs)
    if out:
        parts.append(Cost.group("output", [B.amortise(p, unit.terms) for p in out]))
    return Cost.group("mac", parts), width, name, 1, exact


def _block_unit(unit: Unit, w: Operand, a: Operand, decode: list[Cost]):
    costs = unit.costs
    sw, sa, k = _specs(unit)
    u = min(unit.lanes, k)  # products per accumulator update
    if unit.reduction == "aligned" and (u < k or not isinstance(unit.accumulator, FloatFormat)):
        raise ValueError(
            "reduction='aligned' needs a float accumulator and lanes >= the block size "
            f"(got {unit.accumulator!r}, lanes={unit.lanes}, block {k})"
        )
    mpy, prod = multiply(w, a, unit.multiplier, costs)
    per_mac = [*decode, mpy] if decode else [mpy]
    per_unit: list[Cost] = []
    micro = 0
    if sw.micro_bits or sa.micro_bits:
        micro = (2**sw.micro_bits - 1) + (2**sa.micro_bits - 1)
        ctl = A.ripple_adder(max(sw.micro_bits, sa.micro_bits), costs=costs)
        per_unit.append(Cost.group("micro_shift_sum", [B.amortise(ctl, sw.sub)]))
    lane, red, t, eb, span = _reduce(unit, prod, u, micro, costs)
    per_mac += lane
    per_unit += red
    if u < k:  # a block spans k/u cycles: an exact partial-block register
        pw = block_sum_width(t, k // u)
        per_unit.append(
            Cost.group("block_partial", [A.ripple_adder(pw, costs=costs), A.register(pw, costs)])
        )
        t = pw
    scale, t, seb, sspan = B.scale_path(sw, sa, t, costs)
    per_unit += scale
    value = Product(t, True, max(eb, seb) + (1 if eb and seb else 0), span + sspan)
    pre, groups, width, name, exact = _accumulate(unit, value, math.ceil(unit.terms / k), costs)
    per_unit += pre
    n_out = len(unit.output_scales)
    if sw.family == "vsquant":  # × γ_w·γ_a; forming γ_w[n]·γ_a[m] is one more if both vary
        n_out = max(n_out, 1 + int(sw.outer and sa.outer))
    elif sw.per_tensor or sa.per_tensor:  # the two tensor scales fold into one constant
        n_out = max(n_out, 1)
    out = _epilogue(unit, width, n_out, costs)
    copies = unit.lanes // k if unit.lanes > k else 1
    if copies > 1:  # lanes/k block units, one accumulator each, merged once per output
        out += [Cost.group(f"merge{i + 1}", list(groups)) for i in range(copies - 1)]
    quant: list[Cost] = []
    if unit.quantize is not None:
        el, blk = B.quantize_on_the_fly(unit.activation, unit.quantize, costs)
        quant = [*el, *(B.amortise(p, k) for p in blk)]
    parts = [Cost.group("quantize", quant)] if quant else []
    parts += [
        Cost.group("mpy", per_mac),
        Cost.group("block", [B.amortise(p, u) for p in per_unit]),
        *(Cost.group(g.name, [B.amortise(p, u) for p in g.parts]) for g in groups),
    ]
    if out:
        parts.append(Cost.group("output", [B.amortise(p, unit.terms) for p in out]))
    return Cost.group("mac", [p for p in parts if p.parts]), width, name, u, exact


def mac_cost_of(
    unit: Unit, operands: tuple[Operand, Operand] | None = None, decode: list[Cost] = ()
) -> MacCost:
    """Price ``unit`` per MAC.  ``operands`` overrides what the multiplier sees of the two
    formats and ``decode`` adds per-lane operand decode (multi-format units,
    :mod:`lowbit.hwmodel.multiformat`).

    >>> m = mac_cost_of(make_unit("int4_g128", "fp16"))
    >>> m.lanes, m.accumulator, m.feasible
    (128, 'fp32', True)
    """
    wf, af, costs = unit.weight, unit.activation, unit.costs
    if B.is_binary(wf) or B.is_binary(af):
        if not (B.is_binary(wf) and B.is_binary(af)):
            raise ValueError(
                f"{wf.name} × {af.name}: binary pairs only with binary; "
                f"supported: {B.SUPPORTED_PAIRS}"
            )
        if not isinstance(unit.accumulator, ExactAccumulator):
            raise ValueError("binary × binary accumulates in an exact popcount ('fixed') only")
        root, width, name = B.binary_mac(unit.terms, costs)
        return MacCost(wf.name, af.name, name, unit.terms, width, root, costs.unit, spec=unit)
    sw, sa = B.block_spec(wf), B.block_spec(af)
    if operands is None:
        operands = (operand(sw.element if sw else wf), operand(sa.element if sa else af))
    if unit.lanes == 1 and sw is None and sa is None:
        root, width, name, u, exact = _scalar_mac(unit, *operands, list(decode))
    else:
        root, width, name, u, exact = _block_unit(unit, *operands, list(decode))
    warn = feasibility(unit, width, exact)
    m = MacCost(wf.name, af.name, name, unit.terms, width, root, costs.unit, u,
                not warn, warn, unit)  # fmt: skip
    return _with_pipeline(m) if unit.stage_depth else m


def _with_pipeline(m: MacCost) -> MacCost:
    """``m`` with the pipeline registers of ``m.spec.stage_depth`` as a ``pipeline`` group
    (:func:`lowbit.hwmodel.timing.pipelined`); ``depth`` stays the combinational path."""
    from .timing import pipelined  # timing builds on this module

    p = pipelined(m, m.spec.stage_depth, m.spec.costs)
    regs = Cost("pipeline", gates=p.register_gates, width=0)
    root = dataclasses.replace(m.cost, parts=(*m.cost.parts, regs))
    return dataclasses.replace(m, cost=root)
