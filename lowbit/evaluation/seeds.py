"""GEMM-output error over seeds: one row per seed and a summary (mean, Student-t interval,
n) from :mod:`lowbit.analysis.stats`.

Operands are drawn per seed: X from ``np.random.default_rng(SeedSequence([seed, 0]))`` and
W from ``SeedSequence([seed, 1])`` (independent streams, so changing one distribution leaves
the other's draws unchanged).  A configuration is feasible only when every seed is; an
infeasible one gets no mean (NaN): it is never ranked.

>>> from lowbit.analysis import Gaussian
>>> t = gemm_error(Gaussian(1.0), Gaussian(1.0), "int8:per_token", "int8:per_channel",
...                shape=(4, 64, 4), seeds=range(3))  # doctest: +SKIP
>>> list(t.rows["seed"]), t.feasible  # doctest: +SKIP
([0, 1, 2], True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.distributions import Distribution
from ..analysis.stats import mean_ci
from .gemm import ERROR_METRICS, quantized_gemm

#: the per-seed columns summarised (total, quantization-only and accumulation-only errors)
SUMMARY_METRICS = (
    *ERROR_METRICS,
    *(f"q_{m}" for m in ERROR_METRICS),
    *(f"acc_{m}" for m in ERROR_METRICS),
    "nonfinite_frac",
    "overflow",
)


@dataclass
class SeedTable:
    """``rows``: one row per seed (its config, feasibility and metrics); ``summary``: one
    row per metric with ``mean``, ``half_width`` (the t interval at ``confidence``),
    ``std`` and ``n`` over the seeds (NaN mean when any seed is infeasible, except for
    the feasibility counts ``nonfinite_frac`` and ``overflow``)."""

    rows: Any
    summary: Any
    feasible: bool
    confidence: float

    def value(self, metric: str) -> tuple[float, float]:
        """(mean, half-width) of ``metric`` from the summary."""
        row = self.summary[self.summary["metric"] == metric]
        if row.empty:
            raise ValueError(f"SeedTable: no metric {metric!r}; have {list(SUMMARY_METRICS)}")
        return float(row["mean"].iloc[0]), float(row["half_width"].iloc[0])


def _draw(src: Any, shape: tuple[int, int], seed: int, stream: int, what: str) -> np.ndarray:
    if isinstance(src, Distribution):
        rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
        return src.rvs(size=shape, random_state=rng)
    if callable(src):
        rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
        out = np.asarray(src(rng, shape), dtype=np.float64)
        if out.shape != shape:
            raise ValueError(f"gemm_error: {what}(rng, {shape}) returned shape {out.shape}")
        return out
    return np.asarray(src, dtype=np.float64)


def _shape(x: Any, w: Any, shape: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    drawn = [isinstance(s, Distribution) or callable(s) for s in (x, w)]
    if any(drawn):
        if shape is None or len(shape) != 3 or any(int(d) != d or d < 1 for d in shape):
            raise ValueError(f"gemm_error: drawn operands need shape=(M, K, N), got {shape!r}")
        m, k, n = (int(d) for d in shape)
        return (m, k), (k, n)
    return np.shape(x), np.shape(w)


def gemm_error(
    x: Distribution | Callable | np.ndarray,
    w: Distribution | Callable | np.ndarray,
    x_spec: Any,
    w_spec: Any,
    shape: tuple[int, int, int] | None = None,
    seeds: Iterable[int] = range(8),
    confidence: float = 0.95,
    **gemm_options: Any,
) -> SeedTable:
    """:func:`~lowbit.evaluation.gemm.quantized_gemm` once per seed.

    ``x``, ``w``: a :class:`~lowbit.analysis.distributions.Distribution` (drawn with
    ``shape=(M, K, N)``), a callable ``f(rng, shape) -> array``, or a fixed array (then
    every seed sees the same operand: give at least one drawn operand for a spread).
    ``seeds``: the seeds (their count is the study's n); ``gemm_options``: accumulator,
    order, lanes, rounding, outer_scales, threads.  Returns a :class:`SeedTable`.
    """
    import pandas as pd

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("gemm_error: seeds must name at least one seed")
    xs, ws = _shape(x, w, shape)
    if len(seeds) > 1 and not any(isinstance(s, Distribution) or callable(s) for s in (x, w)):
        raise ValueError(
            "gemm_error: both operands are fixed arrays, so every seed gives the same result "
            "(a zero-width interval that means nothing); draw one operand or pass one seed"
        )
    rows = []
    for seed in seeds:
        xv, wv = _draw(x, xs, seed, 0, "x"), _draw(w, ws, seed, 1, "w")
        r = quantized_gemm(xv, wv, x_spec, w_spec, **gemm_options)
        rows.append(dict(seed=seed) | r.config | dict(feasible=r.feasible, reason=r.reason))
        rows[-1] |= r.metrics
    table = pd.DataFrame(rows)
    feasible = bool(table["feasible"].all())
    out = []
    for metric in SUMMARY_METRICS:
        v = table[metric].to_numpy(dtype=np.float64)
        mean = half = std = math.nan
        if not (feasible or metric in ("nonfinite_frac", "overflow")):
            pass  # infeasible: no mean to rank
        elif np.isfinite(v).all():
            ci = mean_ci(v, confidence)
            mean, half, std = ci.mean, ci.half_width, ci.std
        elif (v == v[0]).all():  # e.g. an exact accumulator's SQNR: +inf on every seed
            mean, half, std = float(v[0]), 0.0, 0.0
        out.append(
            dict(
                metric=metric, mean=mean, half_width=half, std=std, n=len(seeds), feasible=feasible
            )
        )
    return SeedTable(table, pd.DataFrame(out), feasible, confidence)


#: the columns :func:`gemm_sweep` reports for each metric (mean and interval half-width)
SWEEP_METRICS = ("sqnr_db", "q_sqnr_db", "acc_sqnr_db", "rel_fro", "nonfinite_frac")


def gemm_sweep(
    configs: Iterable[dict[str, Any]],
    x: Any,
    w: Any,
    shape: tuple[int, int, int] | None = None,
    seeds: Iterable[int] = range(8),
    confidence: float = 0.95,
):
    """:func:`gemm_error` for each configuration (a dict of ``x_spec``, ``w_spec`` and any
    :func:`~lowbit.evaluation.gemm.quantized_gemm` option), on the same operands and seeds
    (so configurations are paired).  Returns a DataFrame with one row per configuration:
    its settings, ``feasible``, ``infeasible_seeds``, and ``<metric>`` / ``<metric>_ci`` (mean
    and t half-width) for each of :data:`SWEEP_METRICS`.

    >>> from lowbit.analysis import Gaussian
    >>> t = gemm_sweep([dict(x_spec="mxfp4", w_spec="mxfp4", accumulator="fp16")],
    ...                Gaussian(1.0), Gaussian(1.0), (4, 64, 4), seeds=range(2))  # doctest: +SKIP
    >>> bool(t.loc[0, "feasible"])  # doctest: +SKIP
    True
    """
    import pandas as pd

    seeds = list(seeds)
    rows = []
    for cfg in configs:
        cfg = dict(cfg)
        try:
            xs, ws = cfg.pop("x_spec"), cfg.pop("w_spec")
        except KeyError as exc:
            raise ValueError(f"gemm_sweep: each config needs x_spec and w_spec: {exc}") from None
        t = gemm_error(x, w, xs, ws, shape, seeds, confidence, **cfg)
        first = t.rows.iloc[0]
        row = {k: first[k] for k in ("x_spec", "w_spec", "accumulator", "order", "lanes")}
        row |= dict(outer_scales=first["outer_scales"], seeds=len(seeds), feasible=t.feasible)
        row["infeasible_seeds"] = int((~t.rows["feasible"]).sum())
        for metric in SWEEP_METRICS:
            row[metric], row[f"{metric}_ci"] = t.value(metric)
        rows.append(row)
    return pd.DataFrame(rows)
