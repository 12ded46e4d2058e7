"""Gate count of one multiply-accumulate unit for (weight format, activation format,
accumulator), after the MAC structure of van Baalen et al. 2023 (Fig. 2, App. B).

Groups: ``mpy`` (operand decode, significand multiplier, exponent adder, specials),
``alignadd`` (alignment and the adder) and ``normacc`` (normalise, round, accumulator register).
Every width is derived from the formats; docs/hwmodel.md gives the derivation of each block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats import FloatFormat, Format, get_format
from . import block as B
from .accumulator import (
    FLOAT_ROUNDINGS,
    ExactAccumulator,
    FixedAccumulator,
    exact_accumulator_width,
    parse_accumulator,
)
from .datapath import fixed_accumulate, float_accumulate, multiply, operand
from .gates import DEFAULT_COSTS, Cost, GateCosts

MULTIPLIERS = ("array", "dadda")


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


def _positive_int(what: str, v) -> int:
    """v as an int: numpy integers are integers too; bools are not."""
    if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v <= 0:
        raise ValueError(f"{what} must be a positive integer, got {v!r}")
    return int(v)


def mac_cost(
    weight_format: Format | str,
    activation_format: Format | str,
    accumulator: str | int | FixedAccumulator | ExactAccumulator | FloatFormat = "fixed",
    terms: int = 4096,
    *,
    rounding: str = "nearest_even",
    multiplier: str = "array",
    costs: GateCosts = DEFAULT_COSTS,
    lanes: int = 1,
) -> MacCost:
    """Gate count of a MAC unit computing weight × activation and accumulating ``terms``
    products into ``accumulator``: any spec of :func:`~lowbit.hwmodel.accumulator.parse_accumulator`
    ("fixed" = the exact Kulisch width, an int width, a FixedAccumulator, or a float
    accumulator "fp16"/"bf16"/"fp32"/any FloatFormat).

    Block formats (MX, MX9/6/4, BFP, NVFP4, VS-Quant, int4_g128) are priced as a block
    dot-product unit, reported per MAC (per-block logic / block size, per-output logic / terms);
    ``lanes`` > 1 prices scalar formats on such a unit too (an adder tree of ``lanes`` products,
    one accumulator). See lowbit.hwmodel.block and docs/hwmodel.md.

    >>> m = mac_cost("fp8_e4m3fnuz", "fp8_e4m3fnuz", "fp16")
    >>> round(m.total), sorted(m.breakdown())
    (1081, ['alignadd', 'mpy', 'normacc'])
    """
    terms = _positive_int("terms", terms)
    if rounding not in FLOAT_ROUNDINGS:
        raise ValueError(
            f"accumulator rounding {rounding!r} has no hardware model; supported: "
            f"{list(FLOAT_ROUNDINGS)}"
        )
    if multiplier not in MULTIPLIERS:
        raise ValueError(f"unknown multiplier {multiplier!r}; supported: {list(MULTIPLIERS)}")
    lanes = _positive_int("lanes", lanes)
    wf, af = get_format(weight_format), get_format(activation_format)
    acc = parse_accumulator(accumulator)
    if B.is_binary(wf) or B.is_binary(af):
        if not (B.is_binary(wf) and B.is_binary(af)):
            raise ValueError(
                f"{wf.name} × {af.name}: binary pairs only with binary; "
                f"supported: {B.SUPPORTED_PAIRS}"
            )
        if not isinstance(acc, ExactAccumulator):
            raise ValueError("binary × binary accumulates in an exact popcount ('fixed') only")
        root, width, acc_name = B.binary_mac(terms, costs)
        return MacCost(wf.name, af.name, acc_name, terms, width, root, costs.unit)
    if lanes > 1 or B.block_spec(wf) is not None or B.block_spec(af) is not None:
        root, width, acc_name, k = B.block_mac(
            wf, af, acc, terms, rounding, multiplier, costs, lanes=lanes
        )
        return MacCost(wf.name, af.name, acc_name, terms, width, root, costs.unit, k)
    w, a = operand(wf), operand(af)
    mpy, prod = multiply(w, a, multiplier, costs)
    if isinstance(acc, FloatFormat):
        groups = float_accumulate(prod, acc, rounding, costs)
        width, acc_name = acc.bits, acc.name
    else:
        exact = exact_accumulator_width(wf, af, terms)
        if isinstance(acc, ExactAccumulator):
            width, overflow, acc_name = exact, "wrap", f"fixed{exact} (exact)"
        else:
            width, overflow = acc.width, acc.overflow
            acc_name = f"fixed{width} ({overflow})"
        groups = fixed_accumulate(prod, width, overflow, costs)
    root = Cost.group("mac", [mpy, *groups])
    return MacCost(wf.name, af.name, acc_name, terms, width, root, costs.unit)
