"""End-to-end GEMM-output error: both operands quantized (:mod:`.operands`), multiplied in
the bit-exact simulator (:func:`lowbit.hwmodel.macsim.gemm`) with the unit's accumulator
and order, and compared with the float64 GEMM of the unquantized operands.

Three results per configuration: ``y_ref = x @ w`` (float64), ``y_exact`` (the quantized
operands with exact accumulation: the quantization error alone) and ``y`` (the simulated
unit).  Error metrics are computed for y against y_ref (the total), y_exact against y_ref
(quantization) and y against y_exact (accumulation).  A configuration with any non-finite
output or any accumulator overflow (a saturated or wrapped fixed-point step, a float step
to ±Inf) is infeasible: its error metrics are NaN and it must not be ranked.

The default order is the unit's: ``order="blocks"`` with ``lanes`` products summed exactly
per accumulator addition, as a dot-product unit of ``lanes`` lanes does and as the hardware
model prices it (``lowbit.hwmodel.mac_cost(lanes=…)``); "sequential" and "pairwise" are
the alternatives (docs/macsim.md).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((4, 64)), rng.standard_normal((64, 3))
>>> r = quantized_gemm(x, w, "int8:per_token", "int8:per_channel",
...                    accumulator="fixed:32:0:saturate")  # doctest: +SKIP
>>> r.feasible, round(r.metrics["sqnr_db"], 1)  # doctest: +SKIP
(True, 40.7)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.metrics import sqnr_from_mse
from ..hwmodel.macsim import MacStats, gemm
from .operands import QuantizedOperand, parse_spec, quantize_operand

#: the error metrics of one comparison (prefix "" total, "q_" quantization, "acc_" accumulation)
ERROR_METRICS = ("sqnr_db", "rel_fro", "max_abs_err", "max_rel_err")


@dataclass
class GemmResult:
    """One simulated GEMM: outputs, the simulator's :class:`MacStats`, metrics and
    feasibility.  ``metrics``: ``sqnr_db``, ``rel_fro``, ``max_abs_err``, ``max_rel_err``
    (y vs y_ref), the same with prefix ``q_`` (y_exact vs y_ref) and ``acc_`` (y vs
    y_exact), ``nonfinite_frac``, ``overflow`` (accumulator steps that overflowed), and
    ``swamping_frac`` / ``absorbed_frac`` (the share of accumulator steps that lost part /
    all of the addend, :class:`MacStats`).
    """

    y: np.ndarray
    y_ref: np.ndarray
    y_exact: np.ndarray
    stats: MacStats | None  # None when a quantized operand holds ±Inf/NaN (not simulated)
    metrics: dict[str, float]
    feasible: bool
    reason: str
    config: dict[str, Any] = field(default_factory=dict)


def error_metrics(y: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Output error of ``y`` against ``ref``: SQNR 10·log10(Σref² / Σ(y − ref)²) in dB,
    relative Frobenius error ‖y − ref‖_F / ‖ref‖_F, the worst absolute error max|y − ref|
    and the worst error relative to the output's range, max|y − ref| / max|ref| (an
    element-wise relative error is unbounded near zero outputs).  All NaN when y holds a
    non-finite value (nothing to rank).

    >>> m = error_metrics(np.array([1.0, 2.1]), np.array([1.0, 2.0]))
    >>> round(m["rel_fro"], 4), round(m["max_rel_err"], 3)
    (0.0447, 0.05)
    """
    if not np.isfinite(y).all():
        return dict.fromkeys(ERROR_METRICS, math.nan)
    e = y - ref
    sig, err = float(np.sum(ref * ref)), float(np.sum(e * e))
    top = float(np.max(np.abs(ref), initial=0.0))
    worst = float(np.max(np.abs(e), initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return dict(
            sqnr_db=float(sqnr_from_mse(sig, err)),
            rel_fro=math.sqrt(err / sig) if sig else (0.0 if err == 0 else math.inf),
            max_abs_err=worst,
            max_rel_err=worst / top if top else (0.0 if worst == 0 else math.inf),
        )


def _simulate(qa: QuantizedOperand, qb: QuantizedOperand, accumulator, **kw):
    scale_block = qa.scale_block or qb.scale_block
    scales = None if qa.scales is None and qb.scales is None else (qa.scales, qb.scales)
    return gemm(
        qa.data,
        qb.data,
        qa.element,
        qb.element,
        accumulator=accumulator,
        scales=scales,
        scale_block=scale_block,
        **kw,
    )


def _feasibility(y: np.ndarray, stats: MacStats) -> tuple[bool, str]:
    bad = int(np.count_nonzero(~np.isfinite(y)))
    why = []
    if bad:
        why.append(f"{bad} of {y.size} outputs non-finite")
    if stats.overflow:
        why.append(f"{stats.overflow} accumulator steps overflowed")
    return (not why), "; ".join(why)


def quantized_gemm(
    x: Any,
    w: Any,
    x_spec: Any,
    w_spec: Any,
    accumulator: Any = "fp32",
    order: str = "blocks",
    lanes: int = 32,
    rounding: str = "nearest_even",
    outer_scales: str = "epilogue",
    threads: int = 1,
) -> GemmResult:
    """Quantize X (M×K, activations) by ``x_spec`` and W (K×N, weights) by ``w_spec``
    (:func:`~lowbit.evaluation.operands.parse_spec` grammar), multiply them bit-exactly
    with ``accumulator`` in ``order`` (``lanes`` products per exact block sum for
    "blocks"), and compare with the float64 X·W.

    ``accumulator``, ``rounding``, ``outer_scales``: as :func:`lowbit.hwmodel.macsim.gemm`
    (per-tensor/token/channel scales, NVFP4's tensor scale and VS-Quant's γ are applied after
    accumulation by default, as the hardware does; ``"fold_pow2"`` moves their power-of-two
    part into the products).  Returns a :class:`GemmResult`.

    >>> import numpy as np
    >>> x = np.full((1, 64), 300.0); w = np.full((64, 1), 300.0)
    >>> r = quantized_gemm(x, w, "fp16", "fp16", accumulator="fp16")  # doctest: +SKIP
    >>> r.feasible, r.reason  # doctest: +SKIP
    (False, '1 of 1 outputs non-finite; 1 accumulator steps overflowed')
    """
    xs, ws = parse_spec(x_spec), parse_spec(w_spec)
    qa = quantize_operand(x, xs, "activation")
    qb = quantize_operand(w, ws, "weight")
    if qa.values.shape[1] != qb.values.shape[0]:
        raise ValueError(
            f"quantized_gemm: inner dimensions differ: x is {qa.values.shape}, "
            f"w is {qb.values.shape}"
        )
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ValueError(f"quantized_gemm: lanes must be a positive int, got {lanes!r}")
    y_ref = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64)
    kw = dict(rounding=rounding, outer_scales=outer_scales, threads=threads)
    block = int(lanes) if order == "blocks" else None
    bad = [q.role for q in (qa, qb) if not np.isfinite(q.values).all()]
    if bad:  # beyond an unscaled format's range: nothing finite to simulate or rank
        y = y_exact = np.full(y_ref.shape, np.nan)
        stats, ok = None, False
        reason = "; ".join(f"the quantized {r} holds ±Inf or NaN" for r in bad)
    else:
        y, stats = _simulate(qa, qb, accumulator, order=order, block=block, **kw)
        y_exact, _ = _simulate(qa, qb, "exact", order="sequential", **kw)
        ok, reason = _feasibility(y, stats)
    metrics = dict(error_metrics(y, y_ref))
    metrics |= {f"q_{k}": v for k, v in error_metrics(y_exact, y_ref).items()}
    metrics |= {f"acc_{k}": v for k, v in error_metrics(y, y_exact).items()}
    metrics["nonfinite_frac"] = float(np.count_nonzero(~np.isfinite(y)) / max(y.size, 1))
    metrics["overflow"] = int(stats.overflow) if stats else 0
    # rounding events per accumulator step: part of an addend lost, all of it lost
    for key in ("swamping", "absorbed"):
        metrics[f"{key}_frac"] = getattr(stats, key) / stats.steps if stats and stats.steps else 0.0
    config = dict(
        x_spec=xs.describe(),
        w_spec=ws.describe(),
        accumulator=str(accumulator),
        order=order,
        lanes=int(lanes) if order == "blocks" else None,
        rounding=rounding,
        outer_scales=outer_scales,
        M=y.shape[0],
        K=qa.values.shape[1],
        N=y.shape[1],
    )
    return GemmResult(y, y_ref, y_exact, stats, metrics, ok, reason, config)
