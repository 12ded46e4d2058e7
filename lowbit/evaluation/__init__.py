"""Evaluation: studies that need both the error analysis and the hardware model — the
GEMM-output error of quantized operands through the bit-exact MAC simulator.

* :mod:`.operands` — :class:`OperandSpec` (``"int8:per_channel"``, ``"mxfp4"``, …) and
  :func:`quantize_operand`: an operand quantized along the right axis for the simulator;
* :mod:`.gemm` — :func:`quantized_gemm`: simulated Y = X·W against the float64 product,
  with metrics and feasibility;
* :mod:`.seeds` — :func:`gemm_error`: the same over seeds, with confidence intervals;
  :func:`gemm_sweep`: one summary row per configuration.

Layer: above ``lowbit.analysis`` and ``lowbit.hwmodel`` (it imports both), below
``lowbit.report`` (pyproject ``[tool.importlinter]``).
"""

from __future__ import annotations

from .gemm import ERROR_METRICS, GemmResult, error_metrics, quantized_gemm
from .operands import OperandSpec, QuantizedOperand, parse_spec, quantize_operand
from .seeds import SWEEP_METRICS, SeedTable, gemm_error, gemm_sweep

__all__ = [
    "ERROR_METRICS",
    "SWEEP_METRICS",
    "GemmResult",
    "OperandSpec",
    "QuantizedOperand",
    "SeedTable",
    "error_metrics",
    "gemm_error",
    "gemm_sweep",
    "parse_spec",
    "quantize_operand",
    "quantized_gemm",
]
