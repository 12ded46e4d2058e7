"""One unit that computes several formats (FP8 E4M3 + E5M2, FP8 + INT8, MXFP8 + MXFP6 + MXFP4),
priced as the union datapath and compared with each single-format unit.

The union unit (docs/hwmodel.md, "Multi-format units") is the single-format unit of
:mod:`lowbit.hwmodel.unit` built for the widest operand each format needs: the largest
significand (the multiplier), the largest exponent field and span (exponent adder, alignment
shifter, adder tree), sign-magnitude conversion if any format is two's complement, and one
accumulator.  In front of each multiplier input a decode stage routes each format's fields onto
the union's: (F − 1) MUX2 per union bit for F formats, the specials detectors of every format,
and, when the formats' minimum exponents differ, an exponent re-bias adder.  A format-select
register (⌈log2 F⌉ FF) is shared by the unit's lanes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..formats import Format, get_format
from . import arith as A
from . import block as B
from .datapath import Operand, operand
from .gates import DEFAULT_COSTS, Cost, GateCosts
from .unit import MacCost, mac_cost_of, make_unit


@dataclass(frozen=True)
class MultiFormatCost:
    """The union unit (``union``), each single-format unit on the same lanes and accumulator
    (``single``), and the union's cost over the most expensive single unit (``overhead``)."""

    formats: tuple[tuple[str, str], ...]
    union: MacCost
    single: dict[tuple[str, str], MacCost]

    @property
    def overhead(self) -> float:
        """union total / the most expensive single-format unit's total (1.0 = free)."""
        return self.union.total / max(m.total for m in self.single.values())

    @property
    def separate(self) -> float:
        """The alternative design: one datapath per format (multipliers, alignment, trees,
        scale paths) sharing the accumulator (``alignadd`` + ``normacc``) of the costliest one."""
        loops = sorted(
            sum(v for k, v in m.breakdown().items() if k in ("alignadd", "normacc"))
            for m in self.single.values()
        )
        return sum(m.total for m in self.single.values()) - sum(loops[:-1])

    def to_dict(self) -> dict:
        return {
            "formats": [list(p) for p in self.formats],
            "union": self.union.to_dict(),
            "single": {f"{w} x {a}": m.total for (w, a), m in self.single.items()},
            "overhead": self.overhead,
            "separate": self.separate,
        }


def _element(fmt: Format) -> Format:
    spec = B.block_spec(fmt)
    return spec.element if spec else fmt


def union_operand(fmts: list[Format]) -> Operand:
    """The widest operand every format of ``fmts`` fits on.

    >>> from lowbit import get_format
    >>> u = union_operand([get_format("fp8_e4m3fn"), get_format("fp8_e5m2")])
    >>> u.mag_bits, u.exp_bits, u.exp_span
    (4, 5, 29)
    """
    ops = [operand(_element(f)) for f in fmts]
    name = "|".join(o.name for o in ops)
    twos = any(o.twos for o in ops)
    signed = any(o.signed for o in ops)
    if not any(o.is_float for o in ops):
        return Operand(
            name, max(o.bits for o in ops), False, max(o.mag_bits for o in ops), twos=twos,
            signed=signed, qmin=min(o.qmin for o in ops), qmax=max(o.qmax for o in ops),
        )  # fmt: skip
    return Operand(
        name,
        max(o.bits for o in ops),
        True,
        max(o.mag_bits for o in ops),
        exp_bits=max(o.exp_bits for o in ops),
        exp_span=max(o.exp_span for o in ops),
        twos=twos,
        signed=signed,
        subnormals=any(o.subnormals for o in ops),
        specials=max(o.specials for o in ops),
    )


def _decode(fmts: list[Format], u: Operand, tag: str, lanes: int, costs: GateCosts) -> list[Cost]:
    """Per-lane decode of one multiplier input for the distinct element formats ``fmts``."""
    ops = {o.name: o for o in (operand(_element(f)) for f in fmts)}
    n = len(ops)
    if n == 1:
        return []
    field = u.mag_bits - int(u.is_float) + u.exp_bits  # stored significand + exponent bits
    mux = Cost.leaf(f"field_mux_{tag}", {"mux2": (n - 1) * field}, math.ceil(math.log2(n)),
                    costs, width=field)  # fmt: skip
    parts = [mux]
    extra = sum(o.specials * (o.bits - 1) for o in ops.values()) - u.specials * (u.bits - 1)
    if extra > 0:
        parts.append(Cost.leaf(f"specials_{tag}", {"and2": extra, "or2": n}, 4, costs))
    emins = {
        (_element(f).emin if hasattr(_element(f), "emin") else 0) for f in fmts
    }  # a float's emin, an integer's 0
    if len(emins) > 1 and u.is_float:
        parts.append(A.ripple_adder(u.exp_bits + 1, costs=costs))  # re-bias to the union's emin
    sel = Cost.leaf(f"format_select_{tag}", {"ff": math.ceil(math.log2(n))}, 0, costs)
    return parts + [B.amortise(sel, lanes)]


def _pairs(formats) -> list[tuple[Format, Format]]:
    out = []
    for f in formats:
        w, a = (f, f) if isinstance(f, (str, Format)) else tuple(f)
        out.append((get_format(w), get_format(a)))
    return out


def multi_format_cost(
    formats: list,
    accumulator: object = None,
    lanes: int = 32,
    terms: int = 4096,
    *,
    costs: GateCosts = DEFAULT_COSTS,
) -> MultiFormatCost:
    """Cost per MAC of one ``lanes``-wide unit computing every pair of ``formats`` (a format
    name means the format × itself; a (weight, activation) tuple a mixed pair), with one
    ``accumulator`` (default: FP32 for block formats, else exact), against each single-format
    unit on the same lanes and accumulator.

    >>> r = multi_format_cost(["fp8_e4m3fn", "fp8_e5m2"], "fp32")
    >>> r.overhead > 1, r.union.lanes
    (True, 32)
    """
    pairs = _pairs(formats)
    if len(pairs) < 2:
        raise ValueError(f"multi_format_cost: give at least two formats, got {formats!r}")
    specs = {(s.family, s.k, s.scale) if s else None for w, a in pairs for s in
             (B.block_spec(w), B.block_spec(a))}  # fmt: skip
    if len(specs) > 1:
        raise ValueError(
            f"multi_format_cost: {[w.name for w, _ in pairs]} mix block families or block "
            "sizes (or block with scalar); one unit has one scale path"
        )
    single = {
        (w.name, a.name): mac_cost_of(make_unit(w, a, accumulator, lanes, terms, costs=costs))
        for w, a in pairs
    }
    base_w, base_a = max(pairs, key=lambda p: single[(p[0].name, p[1].name)].accumulator_width)
    unit = make_unit(base_w, base_a, accumulator, lanes, terms, costs=costs)
    ws, as_ = [w for w, _ in pairs], [a for _, a in pairs]
    uw, ua = union_operand(ws), union_operand(as_)
    decode = _decode(ws, uw, "w", lanes, costs) + _decode(as_, ua, "a", lanes, costs)
    union = mac_cost_of(unit, operands=(uw, ua), decode=decode)
    warnings = tuple(dict.fromkeys(w for m in single.values() for w in m.warnings))
    union = MacCost(
        "|".join(w.name for w in ws), "|".join(a.name for a in as_), union.accumulator,
        union.terms, union.accumulator_width, union.cost, union.unit, union.lanes,
        not warnings, warnings, unit,
    )  # fmt: skip
    return MultiFormatCost(tuple(single), union, single)
