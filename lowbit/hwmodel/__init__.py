"""Hardware cost model: gate counts of MAC units, MAC arrays, area and energy.

>>> from lowbit.hwmodel import mac_cost
>>> round(mac_cost("int8_narrow", "int8_narrow", "fixed").total)
727
"""

from .accumulator import (
    ExactAccumulator,
    FixedAccumulator,
    exact_accumulator_width,
    exact_width,
    int_accumulator_width,
    kulisch_width_formula,
    parse_accumulator,
)
from .activity import Activity, measure_activity
from .array import ArrayCost, array_cost
from .compare import Comparison, compare_units
from .energy import (
    HOROWITZ_45NM_PJ,
    HOROWITZ_45NM_UM2,
    HOROWITZ_2014_45NM,
    EnergyTable,
    Technology,
)
from .gates import DEFAULT_COSTS, SYNTH_CALIBRATED, VAN_BAALEN_2023, Cost, GateCosts
from .mac import MacCost, mac_cost
from .multiformat import MultiFormatCost, multi_format_cost
from .timing import Pipelined, equal_clock, pipelined
from .unit import Unit, mac_cost_of, make_unit


def __getattr__(name: str):
    # the sensitivity sweep returns pandas DataFrames: load it (and pandas) on first use
    if name in ("energy_sensitivity", "ranking_flips"):
        from . import sensitivity

        return getattr(sensitivity, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Activity",
    "ArrayCost",
    "EnergyTable",
    "HOROWITZ_2014_45NM",
    "HOROWITZ_45NM_PJ",
    "HOROWITZ_45NM_UM2",
    "Technology",
    "array_cost",
    "energy_sensitivity",
    "measure_activity",
    "ranking_flips",
    "DEFAULT_COSTS",
    "VAN_BAALEN_2023",
    "SYNTH_CALIBRATED",
    "Cost",
    "ExactAccumulator",
    "FixedAccumulator",
    "GateCosts",
    "Comparison",
    "MacCost",
    "MultiFormatCost",
    "Pipelined",
    "Unit",
    "compare_units",
    "equal_clock",
    "make_unit",
    "mac_cost_of",
    "multi_format_cost",
    "pipelined",
    "exact_accumulator_width",
    "exact_width",
    "int_accumulator_width",
    "kulisch_width_formula",
    "mac_cost",
    "parse_accumulator",
]
