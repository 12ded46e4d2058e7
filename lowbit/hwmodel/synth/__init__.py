"""Synthesis of whole MAC units with Yosys, and a gate-level simulator that proves the netlist
computes lowbit's own arithmetic (docs/hwmodel.md, "Synthesis check").

>>> from lowbit.hwmodel.synth import yosys_available
>>> isinstance(yosys_available(), bool)
True
"""

from .mac import (
    SynthResult,
    model_side,
    model_vs_synthesis,
    reference_step,
    simulate_unit,
    standard_configs,
    synthesize_mac,
)
from .multipliers import (
    compare_multipliers,
    fp_multiplier_verilog,
    int_multiplier_verilog,
    synthesise,
)
from .netlist import Netlist, weighted_gates
from .table import REPORT_CONFIGS, all_configs, fit_costs, load_data, synthesis_table
from .units import Unit, mac_unit
from .yosys import yosys_available, yosys_backend, yosys_version

__all__ = [
    "Netlist",
    "REPORT_CONFIGS",
    "all_configs",
    "fit_costs",
    "load_data",
    "model_side",
    "synthesis_table",
    "SynthResult",
    "model_vs_synthesis",
    "reference_step",
    "simulate_unit",
    "standard_configs",
    "synthesize_mac",
    "Unit",
    "compare_multipliers",
    "fp_multiplier_verilog",
    "int_multiplier_verilog",
    "mac_unit",
    "synthesise",
    "weighted_gates",
    "yosys_available",
    "yosys_backend",
    "yosys_version",
]
