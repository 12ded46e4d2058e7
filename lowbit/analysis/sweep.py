"""Sweeps: every (format, distribution, range method) → one row of a tidy pandas DataFrame."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..formats import get_format
from .distributions import (
    Distribution,
    Empirical,
    Gaussian,
    Laplace,
    StudentT,
    Uniform,
    as_distribution,
)
from .expected import expected_mse, is_scalar_format, monte_carlo_mse
from .metrics import bits_from_mse
from .ranges import clip_for, fmt_max, quantize_scaled

COLUMNS = [
    "format", "bits_per_element", "distribution", "params", "range", "granularity", "clip",
    "scale", "mse",
    "mse_ci95", "sqnr_db", "bits_of_accuracy", "method", "samples", "seconds", "error",
]  # fmt: skip
CHUNK = 1 << 20  # sampled mode streams this many values at a time
CALIBRATION = 1 << 16  # sampled mode sets the range on the first this-many values
MC_SAMPLES = 1 << 18  # analytic mode's Monte Carlo sample count for block formats
GRANULARITIES = ("per_tensor", "per_channel", "per_group")


def parse_distribution(spec: str) -> Distribution:
    """A distribution from a short name: gaussian[:σ], laplace[:b], student_t:ν[:scale], uniform.

    >>> parse_distribution("student_t:3")
    StudentT(nu=3, scale=1)
    """
    name, *args = spec.strip().split(":")
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"bad distribution {spec!r}: parameters must be numbers") from None
    makers = {"gaussian": Gaussian, "normal": Gaussian, "laplace": Laplace, "uniform": Uniform,
              "student_t": StudentT, "t": StudentT}  # fmt: skip
    if name not in makers:
        raise ValueError(f"unknown distribution {name!r}; expected one of {', '.join(makers)}")
    if name in ("student_t", "t") and not values:
        raise ValueError("student_t needs ν, e.g. student_t:3")
    return makers[name](*values)


def _run_one(task: tuple) -> dict[str, Any]:
    index, fmt_name, dist, range_method, samples, seed, gran = task[:7]
    channels, group_size = task[7:] if len(task) > 7 else (64, 128)
    row: dict[str, Any] = {
        "format": str(fmt_name), "bits_per_element": math.nan, "distribution": "",
        "params": "", "range": range_method, "granularity": gran, "clip": math.nan,
        "scale": math.nan,
        "mse": math.nan, "mse_ci95": 0.0, "sqnr_db": math.nan, "bits_of_accuracy": math.nan,
        "method": "analytic" if samples is None else "sampled", "samples": samples or 0,
        "seconds": 0.0, "error": "",
    }  # fmt: skip
    start = time.perf_counter()
    try:
        fmt = get_format(fmt_name)
        row["format"], row["bits_per_element"] = fmt.name, float(fmt.bits_per_element)
        dist = as_distribution(dist)
        row["distribution"] = dist.name
        row["params"] = ",".join(f"{k}={v:g}" for k, v in dist.params.items())
        if gran not in GRANULARITIES:
            raise ValueError(f"unknown granularity {gran!r}; expected one of {GRANULARITIES}")
        if gran != "per_tensor":
            if samples is None:
                raise ValueError(
                    f"{gran} needs a sampled sweep (samples=n); analytic is per_tensor"
                )
            if not is_scalar_format(fmt):
                raise ValueError(f"{gran}: block formats set their own scales; use per_tensor")
            err, signal, variance, ci, n = _sampled_scaled(
                fmt, dist, range_method, samples, seed, index, gran, channels, group_size
            )
            row.update(
                mse=err, mse_ci95=ci, samples=n, bits_of_accuracy=bits_from_mse(err, variance)
            )
            with np.errstate(divide="ignore"):
                row["sqnr_db"] = float(10 * np.log10(signal / err))
            row["seconds"] = time.perf_counter() - start
            return row
        if not is_scalar_format(fmt):
            # block formats: the shared scales set the range; no per-tensor clip to choose
            row["range"], top = "block", math.nan
        else:
            top = fmt_max(fmt)
        if samples is None and is_scalar_format(fmt):
            clip = clip_for(fmt, dist, range_method)
            err = expected_mse(fmt, dist, clip / top)
            signal, variance = dist.moment2(), dist.var()
        elif samples is None:
            mc = monte_carlo_mse(fmt, dist, 1.0, samples=MC_SAMPLES, seed=seed + index)
            clip, err, signal, variance = math.nan, mc.mse, dist.moment2(), dist.var()
            row.update(method="monte_carlo", samples=mc.samples, mse_ci95=mc.ci_high - mc.mse)
        else:
            clip, err, signal, variance, ci = _sampled(
                fmt, dist, range_method, samples, seed, index
            )
            row["mse_ci95"] = ci
        row.update(
            clip=clip,
            scale=1.0 if math.isnan(top) else clip / top,
            mse=err,
            bits_of_accuracy=bits_from_mse(err, variance),
        )
        with np.errstate(divide="ignore"):
            row["sqnr_db"] = float(10 * np.log10(signal / err))
    except Exception as exc:  # a failing configuration is reported in its row
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - start
    return row


def _sampled(fmt, dist, range_method, samples, seed, index):
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    first = dist.rvs(size=min(samples, CALIBRATION), random_state=rng)
    if is_scalar_format(fmt):
        clip = clip_for(fmt, first, range_method)
        scale = clip / fmt_max(fmt)
    else:
        clip, scale = math.nan, 1.0
    n, s1, s2, se, se2 = 0, 0.0, 0.0, 0.0, 0.0
    chunk = first
    while True:  # stream: never more than CHUNK values in memory
        q = quantize_scaled(fmt, chunk, scale)
        n += chunk.size
        s1 += float(np.sum(chunk))
        s2 += float(np.sum(chunk * chunk))
        e = (chunk - q) ** 2
        se, se2 = se + float(e.sum()), se2 + float(np.sum(e * e))
        if n >= samples:
            break
        chunk = dist.rvs(size=min(CHUNK, samples - n), random_state=rng)
    mean, err = s1 / n, se / n
    # 95% half-width of the sample MSE (normal approximation); the range was set on these
    # samples too, so this is the sampling error of the estimate, not of the clip choice
    ci = 1.96 * math.sqrt(max(se2 / n - err * err, 0.0) / max(n - 1, 1))
    return clip, err, s2 / n, s2 / n - mean * mean, ci


def _sampled_scaled(fmt, dist, range_method, samples, seed, index, gran, channels, group_size):
    """Per-channel / per-group sampled MSE with lowbit.Quantizer setting the scales.

    The values form a (channels, n // channels) tensor; each channel (per_channel: one scale)
    or each run of ``group_size`` along a channel (per_group) gets its own scale from
    ``range_method``.  Draws stream in blocks of whole channels (channels are independent, so
    this is exact).  An Empirical distribution uses its tensor's own values in their stored
    order (the layout is what makes channels differ), not resamples, and ignores ``samples``.
    """
    from ..formats.scaling import Quantizer

    if isinstance(channels, bool) or int(channels) != channels or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    qz = Quantizer(fmt, granularity=gran, axis=0 if gran == "per_channel" else 1,
                   group_size=group_size, range=range_method)  # fmt: skip
    if isinstance(dist, Empirical):
        values = dist.values
        if values.size % channels:
            raise ValueError(
                f"a tensor of {values.size} values does not split into {channels} channels"
            )
        length = values.size // channels
    else:
        length = samples // channels
        if length < 1:
            raise ValueError(f"samples={samples} is fewer than channels={channels}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    rows_per_chunk = max(1, CHUNK // length)
    n, s1, s2, se, se2, done = 0, 0.0, 0.0, 0.0, 0.0, 0
    while done < channels:
        k = min(rows_per_chunk, channels - done)
        if isinstance(dist, Empirical):
            chunk = values[done * length : (done + k) * length].reshape(k, length)
        else:
            chunk = dist.rvs(size=(k, length), random_state=rng)
        e = (chunk - qz.quantize(chunk)) ** 2
        n += chunk.size
        s1, s2 = s1 + float(np.sum(chunk)), s2 + float(np.sum(chunk * chunk))
        se, se2 = se + float(e.sum()), se2 + float(np.sum(e * e))
        done += k
    mean, err = s1 / n, se / n
    ci = 1.96 * math.sqrt(max(se2 / n - err * err, 0.0) / max(n - 1, 1))
    return err, s2 / n, s2 / n - mean * mean, ci, n


def sweep(
    formats: Iterable[Any],
    distributions: Iterable[Any],
    ranges: Sequence[str] = ("mse",),
    granularities: Sequence[str] = ("per_tensor",),
    samples: int | None = None,
    seed: int = 0,
    executor: str = "serial",
    workers: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
    channels: int = 64,
    group_size: int = 128,
) -> pd.DataFrame:
    """One row per (format, distribution, range method, granularity), in that nested order.

    ``samples=None`` uses the exact expected MSE; an int draws that many values per
    configuration (streamed in chunks; the range is set on the first 65,536).  ``executor`` is
    "serial", "processes" (a local pool of ``workers``) or "dask" (a dask.distributed Client at
    ``address``, or a new LocalCluster).  Results do not depend on the executor.  A progress
    line goes to stderr once a sweep has run a second (``progress=None``: only on a terminal).

    ``granularities``: "per_tensor" (one clip, the only one analytic rows support),
    "per_channel" or "per_group" (sampled scalar formats only; the values form a
    (``channels``, n // ``channels``) tensor quantized by ``lowbit.Quantizer`` with a scale
    per channel or per ``group_size`` values along a channel; the row's clip and scale are
    NaN, there being many).  An analytic or block-format request for them is an error row.

    >>> df = sweep(["int8_narrow"], ["gaussian"], ranges=["mse"])
    >>> round(float(df.bits_of_accuracy[0]), 2)
    6.73
    """
    if samples is not None and (int(samples) != samples or samples < 1):
        raise ValueError(f"samples must be a positive integer or None, got {samples!r}")
    dists = [parse_distribution(d) if isinstance(d, str) else d for d in distributions]
    if isinstance(granularities, str):
        granularities = [granularities]
    combos = ((f, d, r, g) for f in formats for d in dists for r in ranges for g in granularities)
    tasks = [
        (i, f, d, r, samples, seed, g, channels, group_size)
        for i, (f, d, r, g) in enumerate(combos)
    ]
    show = _Progress(len(tasks), progress)
    if executor == "serial":
        rows = [show(_run_one(t)) for t in tasks]
    elif executor == "processes":
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # not fork: a process whose numba kernels started OpenMP threads cannot fork safely
        ctx = mp.get_context(
            "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        )
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            chunk = max(1, len(tasks) // 64)
            rows = [show(r) for r in pool.map(_run_one, tasks, chunksize=chunk)]
    elif executor == "dask":
        rows = _dask_map(tasks, address)
    else:
        raise ValueError(f"unknown executor {executor!r}; expected serial, processes or dask")
    return pd.DataFrame(rows, columns=COLUMNS)


class _Progress:
    """Counts finished rows; draws ``done/total`` on stderr after the first second."""

    def __init__(self, total: int, enabled: bool | None):
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.drawn = False

    def __call__(self, row: dict) -> dict:
        self.done += 1
        if self.enabled and (self.drawn or time.perf_counter() - self.start > 1.0):
            self.drawn = True
            end = "\n" if self.done == self.total else ""
            print(f"\rsweep: {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)
        return row


def _dask_map(tasks: list[tuple], address: str | None) -> list[dict]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(
            "executor='dask' needs the [dask] extra: pip install 'lowbit[dask]'"
        ) from None
    if address is not None:
        with Client(address) as client:
            return client.gather(client.map(_run_one, tasks, pure=False))
    with (
        LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        return client.gather(client.map(_run_one, tasks, pure=False))
