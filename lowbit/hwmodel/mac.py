"""Gate count of one multiply-accumulate for (weight format, activation format, accumulator)
on a compute unit (:class:`~lowbit.hwmodel.unit.Unit`), after the MAC structure of van Baalen
et al. 2023 (Fig. 2, App. B).

Groups: ``mpy`` (operand decode, significand multiplier, exponent adder, specials),
``block`` (reduction and scale path of a multi-lane unit), ``alignadd`` (alignment and the
adder) and ``normacc`` (normalise, round, accumulator register), ``output`` (epilogue).
Every width is derived from the formats; docs/hwmodel.md gives the derivation of each block.
"""

from __future__ import annotations

from ..formats import FloatFormat, Format
from .accumulator import ExactAccumulator, FixedAccumulator
from .gates import DEFAULT_COSTS, GateCosts
from .unit import MULTIPLIERS, MacCost, mac_cost_of, make_unit

__all__ = ["MULTIPLIERS", "MacCost", "mac_cost"]


def mac_cost(
    weight_format: Format | str,
    activation_format: Format | str,
    accumulator: str | int | FixedAccumulator | ExactAccumulator | FloatFormat | None = None,
    terms: int = 4096,
    *,
    rounding: str = "nearest_even",
    multiplier: str = "array",
    costs: GateCosts = DEFAULT_COSTS,
    lanes: int | None = None,
    reduction: str = "exact",
    reduction_bits: int = 0,
    output_scales: tuple[str, ...] = (),
    quantize: FloatFormat | str | None = None,
    stage_depth: int | None = None,
) -> MacCost:
    """Gate count of a MAC unit computing weight × activation and accumulating ``terms``
    products into ``accumulator``: any spec of :func:`~lowbit.hwmodel.accumulator.parse_accumulator`
    ("fixed" = the exact Kulisch width, an int width, a FixedAccumulator, or a float
    accumulator "fp16"/"bf16"/"fp32"/any FloatFormat; None: FP32 for block formats, the exact
    register for scalar pairs).  The arguments describe one :class:`~lowbit.hwmodel.unit.Unit`
    (:func:`~lowbit.hwmodel.unit.make_unit` documents each); the result says whether the unit
    is ``feasible`` and, if not, why (``warnings``).

    Block formats (MX, MX9/6/4, BFP, NVFP4, VS-Quant, int4_g128), alone or paired with a
    scalar format (W4A16: ``int4_g128`` × ``fp16``), are priced on a ``lanes``-wide unit (default:
    the block size), reported per MAC; ``lanes`` > 1 puts scalar pairs on the same unit (an
    adder tree of ``lanes`` products, one accumulator); ``output_scales=("channel", "token")``
    prices the per-output FP32 scale epilogue of W8A8.  See docs/hwmodel.md.

    >>> m = mac_cost("fp8_e4m3fnuz", "fp8_e4m3fnuz", "fp16")
    >>> round(m.total), sorted(m.breakdown())
    (1081, ['alignadd', 'mpy', 'normacc'])
    """
    unit = make_unit(
        weight_format,
        activation_format,
        accumulator,
        lanes,
        terms,
        reduction=reduction,
        reduction_bits=reduction_bits,
        rounding=rounding,
        multiplier=multiplier,
        output_scales=output_scales,
        quantize=quantize,
        costs=costs,
        stage_depth=stage_depth,
    )
    return mac_cost_of(unit)
