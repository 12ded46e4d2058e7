"""Sweeps: every (format, distribution, range method) → one row of a tidy pandas DataFrame."""

from __future__ import annotations

import inspect
import math
import pickle
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..formats import get_format
from ..formats.base import suggest
from ..formats.calibration import MSE_FRACTIONS
from ..formats.scaling import Quantizer
from .distributions import (
    Distribution,
    Empirical,
    as_distribution,
    is_scipy_frozen,
)
from .expected import expected_mse, is_scalar_format, monte_carlo_mse
from .metrics import bits_from_mse, sqnr_from_mse
from .ranges import METHODS, clip_for, fmt_max, quantize_scaled
from .specs import parse_distribution  # re-exported: sweep's callers name it here
from .tensors import is_array_like

COLUMNS = [
    "format", "bits_per_element", "distribution", "params", "tensor", "range", "granularity",
    "clip",
    "scale", "mse",
    "mse_ci95", "sqnr_db", "bits_of_accuracy", "method", "samples", "seconds", "error",
]  # fmt: skip
CHUNK = 1 << 20  # sampled mode streams this many values at a time
CALIBRATION = 1 << 16  # sampled mode sets the range on the first this-many values
MC_SAMPLES = 1 << 18  # analytic mode's Monte Carlo sample count for block formats
GRANULARITIES = ("per_tensor", "per_channel", "per_group")


def _base_row(task: tuple) -> dict[str, Any]:
    index, fmt_name, dist, range_method, samples, seed, gran = task[:7]
    return {
        "format": getattr(fmt_name, "name", str(fmt_name)), "bits_per_element": math.nan,
        "distribution": getattr(dist, "name", ""), "params": "",
        "tensor": getattr(dist, "label", "") if isinstance(dist, Empirical) else "",
        "range": range_method, "granularity": gran, "clip": math.nan, "scale": math.nan,
        "mse": math.nan, "mse_ci95": 0.0, "sqnr_db": math.nan, "bits_of_accuracy": math.nan,
        "method": "analytic" if samples is None else "sampled", "samples": samples or 0,
        "seconds": 0.0, "error": "",
    }  # fmt: skip


def _sqnr_db(signal: float, err: float) -> float:
    """10·log10(signal / err); +inf for an exact result (err = 0)."""
    _check_moments(signal, err)
    if err == 0 and signal == 0:
        return math.nan
    return sqnr_from_mse(signal, err)


def _check_moments(signal: float, err: float) -> None:
    """E[x²] and the MSE must be representable: values whose squares underflow (|x| below
    about 1e-154) or overflow (above 1e154) float64 give 0/0 or inf/inf, not a ratio."""
    if math.isnan(signal) or math.isnan(err):
        raise ValueError(
            "the error is NaN: the format returned NaN for some values "
            "(values beyond what its scales can represent?)"
        )
    if signal == 0 and err == 0:
        raise ValueError(
            "E[x²] and the MSE both underflow float64 (values below about 1e-154); "
            "rescale the data (SQNR and bits of accuracy do not depend on the scale)"
        )
    if math.isinf(signal) and math.isinf(err):
        raise ValueError(
            "E[x²] and the MSE both overflow float64 (values above about 1e154); "
            "rescale the data (SQNR and bits of accuracy do not depend on the scale)"
        )


def _bits(err: float, variance: float) -> float:
    """log2(σ / RMSE); +inf for an exact result, even of a constant tensor (σ = 0)."""
    return math.inf if err == 0 else bits_from_mse(err, variance)


def _check_clip(clip: float, range_method: str) -> float:
    if clip == 0:
        raise ValueError(
            f"range is zero: the {range_method!r} clip of these values is 0 "
            "(every value, or nearly every value, is 0); there is no scale to set"
        )
    if not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"the {range_method!r} clip is {clip!r}, not a finite number > 0")
    return clip


def _run_one(task: tuple) -> dict[str, Any]:
    index, fmt_name, dist, range_method, samples, seed, gran = task[:7]
    channels, block_size = task[7:9] if len(task) > 8 else (64, 128)
    axis = task[9] if len(task) > 9 else None
    row = _base_row(task)
    start = time.perf_counter()
    try:
        fmt = get_format(fmt_name)
        row["format"], row["bits_per_element"] = fmt.name, float(fmt.bits_per_element)
        dist = as_distribution(dist)
        row["distribution"] = dist.name
        row["params"] = ",".join(f"{k}={v:g}" for k, v in dist.params.items())
        if gran not in GRANULARITIES:
            raise ValueError(f"unknown granularity {gran!r}; expected one of {GRANULARITIES}")
        if isinstance(dist, Empirical) and not np.any(dist.values):
            raise ValueError(
                f"range is zero: every value of the tensor ({dist.label}) is 0; no scale to set"
            )
        if gran != "per_tensor":
            if samples is None:
                raise ValueError(
                    f"{gran} needs a sampled sweep (samples=n); analytic is per_tensor"
                )
            if not is_scalar_format(fmt):
                raise ValueError(f"{gran}: block formats set their own scales; use per_tensor")
            err, signal, variance, ci, n = _sampled_scaled(
                fmt, dist, range_method, samples, seed, index, gran, channels, block_size
            )
            _check_moments(signal, err)
            row.update(mse=err, mse_ci95=ci, samples=n, bits_of_accuracy=_bits(err, variance))
            row["sqnr_db"] = _sqnr_db(signal, err)
            row["seconds"] = time.perf_counter() - start
            return row
        scalar = is_scalar_format(fmt)
        top = fmt_max(fmt) if scalar else math.nan
        if not scalar:
            row["range"] = "block"  # block formats: the shared scales set the range
        if samples is None and not math.isfinite(dist.var()):
            # every clip has an infinite MSE; a clip shown here would mean nothing
            row["mse"] = math.inf
            raise ValueError(
                f"{dist!r} has infinite variance: the expected MSE is infinite at every clip "
                "(use samples=n, or a Clipped distribution)"
            )
        if not scalar and isinstance(dist, Empirical):
            clip, err, signal, variance = (math.nan, *_tensor_blocks(fmt, dist, axis))
            row.update(method="tensor", samples=dist.values.size)
        elif samples is None and scalar:
            clip = _check_clip(clip_for(fmt, dist, range_method), range_method)
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
        _check_moments(signal, err)
        row.update(
            clip=clip,
            scale=1.0 if math.isnan(top) else clip / top,
            mse=err,
            bits_of_accuracy=_bits(err, variance),
        )
        row["sqnr_db"] = _sqnr_db(signal, err)
    except Exception as exc:  # a failing configuration is reported in its row
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - start
    return row


def _block_length(fmt) -> int | None:
    """The number of consecutive values along the axis that share a scale, if any."""
    if isinstance(fmt, Quantizer):
        return int(fmt.block_size) if fmt.granularity == "per_group" else None
    k = getattr(fmt, "block_size", None)
    return int(k) if k else None


def _tensor_blocks(fmt, dist: Empirical, axis: int | None) -> tuple[float, float, float]:
    """(MSE, E[x²], variance) of a block format on the tensor itself, blocks along ``axis``
    (default the Empirical's own): a block format's error depends on which values share a
    block, so i.i.d. resamples would measure a different tensor."""
    x = dist.tensor()
    ax = dist.axis if axis is None else axis
    if not -x.ndim <= ax < x.ndim:
        raise ValueError(f"{dist.label}: axis {ax} is out of range for shape {x.shape}")
    k = _block_length(fmt)
    if k is not None and x.shape[ax] < k:
        raise ValueError(
            f"{dist.label}: axis {ax} has {x.shape[ax]} values, fewer than one {fmt.name} "
            f"block of {k}; its blocks would be padded (choose another axis)"
        )
    if isinstance(fmt, Quantizer):
        q = replace(fmt, axis=ax).quantize(x)
    elif "axis" in inspect.signature(fmt.quantize).parameters:
        q = fmt.quantize(x, axis=ax)
    else:
        q = fmt.quantize(x)
    e = (x - np.asarray(q, dtype=np.float64)) ** 2
    return float(e.mean()), dist.moment2(), dist.var()


def _sampled(fmt, dist, range_method, samples, seed, index):
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    first = dist.rvs(size=min(samples, CALIBRATION), random_state=rng)
    if is_scalar_format(fmt):
        clip = _check_clip(clip_for(fmt, first, range_method), range_method)
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


class _Sums:
    """Running sums of x, x², e and e² over streamed pieces."""

    def __init__(self):
        self.n, self.s1, self.s2, self.se, self.se2 = 0, 0.0, 0.0, 0.0, 0.0

    def add(self, x: np.ndarray, q: np.ndarray) -> None:
        e = (x - q) ** 2
        self.n += x.size
        self.s1, self.s2 = self.s1 + float(np.sum(x)), self.s2 + float(np.sum(x * x))
        self.se, self.se2 = self.se + float(e.sum()), self.se2 + float(np.sum(e * e))

    def merge(self, other: _Sums) -> None:
        self.n, self.s1, self.s2 = self.n + other.n, self.s1 + other.s1, self.s2 + other.s2
        self.se, self.se2 = self.se + other.se, self.se2 + other.se2

    def result(self) -> tuple[float, float, float, float, int]:
        n = self.n
        mean, err = self.s1 / n, self.se / n
        ci = 1.96 * math.sqrt(max(self.se2 / n - err * err, 0.0) / max(n - 1, 1))
        return err, self.s2 / n, self.s2 / n - mean * mean, ci, n


def _sampled_scaled(fmt, dist, range_method, samples, seed, index, gran, channels, block_size):
    """Per-channel / per-group sampled MSE with lowbit.Quantizer setting the scales.

    The values form a (channels, n // channels) tensor; each channel (per_channel: one scale)
    or each run of ``block_size`` along a channel (per_group) gets its own scale from
    ``range_method``.  Draws stream in blocks of whole channels (channels are independent, so
    this is exact) while a channel fits in CHUNK values; a longer channel streams in pieces
    of at most CHUNK values (see :func:`_stream_channel`).  An Empirical distribution uses its tensor's own values in their stored order
    (the layout is what makes channels differ), not resamples, and ignores ``samples``.
    """
    if isinstance(channels, bool) or int(channels) != channels or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    qz = Quantizer(fmt, granularity=gran, axis=0 if gran == "per_channel" else 1,
                   block_size=block_size, range=range_method)  # fmt: skip
    if isinstance(dist, Empirical):
        values = dist.values
        if values.size % channels:
            raise ValueError(
                f"a tensor of {values.size} values does not split into {channels} channels"
            )
        length = values.size // channels
    else:
        values = None
        length = samples // channels
        if length < 1:
            raise ValueError(f"samples={samples} is fewer than channels={channels}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    sums = _Sums()
    if length > CHUNK:
        for c in range(channels):
            _stream_channel(qz, dist, values, c, length, rng, sums)
        return sums.result()
    rows_per_chunk = max(1, CHUNK // length)
    done = 0
    while done < channels:
        k = min(rows_per_chunk, channels - done)
        if values is not None:
            chunk = values[done * length : (done + k) * length].reshape(k, length)
        else:
            chunk = dist.rvs(size=(k, length), random_state=rng)
        sums.add(chunk, qz.quantize(chunk))
        done += k
    return sums.result()


def _stream_channel(qz, dist, values, c: int, length: int, rng, sums: _Sums) -> None:
    """One channel longer than CHUNK, in pieces of at most CHUNK values (whole groups).

    per_group: each piece is whole groups, so this is exact.  per_channel with "minmax" or
    "mse": a first pass finds max|x| over the whole channel, a second pass over the same
    values (the generator's state is rewound) sums the error of each of Quantizer's 100
    candidate clips, so this is exact too.  The other per_channel ranges (percentile, aciq,
    kl, octav) need every value at once: they set the channel's scale on its first piece
    (CHUNK values), as per-tensor sampling sets its range on its first values."""
    group = qz.block_size if qz.granularity == "per_group" else 1
    piece = max(CHUNK // group * group, group)

    def pieces():
        for lo in range(0, length, piece):
            m = min(piece, length - lo)
            if values is not None:
                yield values[c * length + lo : c * length + lo + m].reshape(1, m)
            else:
                yield dist.rvs(size=(1, m), random_state=rng)

    if qz.granularity == "per_group":
        for x in pieces():
            sums.add(x, qz.quantize(x))
        return
    if qz.range in ("minmax", "mse"):
        state = rng.bit_generator.state
        top = np.array([max(float(np.max(np.abs(x))) for x in pieces())])
        rng.bit_generator.state = state  # the second pass draws the same values
        # Quantizer's "mse" keeps the first of 100 fractions of max|x| with the least error
        fractions = [1.0] if qz.range == "minmax" else MSE_FRACTIONS
        trial = [_Sums() for _ in fractions]
        for x in pieces():
            for t, f in zip(trial, fractions, strict=True):
                t.add(x, qz._fake(x, top * f))
        sums.merge(trial[int(np.argmin([t.se for t in trial]))])
        return
    clip = None
    for x in pieces():
        if clip is None:  # the channel's scale, set on its first piece as Quantizer does
            clip = _quantizer_clip(qz, x)
        sums.add(x, qz._fake(x, clip))


def _quantizer_clip(qz, g: np.ndarray) -> np.ndarray:
    """The clip Quantizer chooses for the rows of ``g`` (its "mse": best of 100 fractions)."""
    r = qz._range(g)
    if qz.range != "mse":
        return r
    fractions = MSE_FRACTIONS
    errs = [float(((qz._fake(g, r * c) - g) ** 2).sum()) for c in fractions]
    return r * fractions[int(np.argmin(errs))]


def sweep(
    formats: Iterable[Any] | str,
    distributions: Iterable[Any] | Any,
    ranges: Sequence[str] | str = ("mse",),
    granularities: Sequence[str] | str = ("per_tensor",),
    samples: int | None = None,
    seed: int = 0,
    executor: str = "serial",
    workers: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
    channels: int = 64,
    block_size: int = 128,
    axis: int | None = None,
) -> pd.DataFrame:
    """One row per (format, distribution, range method, granularity), in that nested order.

    ``samples=None`` uses the exact expected MSE; an int draws that many values per
    configuration (streamed in chunks; the range is set on the first 65,536).  ``executor`` is
    "serial", "processes" (a local pool of ``workers``) or "dask" (a dask.distributed Client at
    ``address``, or a new LocalCluster).  Results do not depend on the executor.  A progress
    line goes to stderr once a sweep has run a second (``progress=None``: only on a terminal).

    Each of ``formats``, ``distributions``, ``ranges`` and ``granularities`` is a list, or one
    item (a single string is one name, not a list of letters).  A distribution is a name
    ("student_t:3"), a :class:`Distribution`, a frozen scipy.stats distribution, or a tensor
    (numpy, torch, jax: anything with ``__array__`` or DLPack, taken as its
    :class:`Empirical` distribution; its label goes to the ``tensor`` column).  Names of
    formats, ranges and granularities, the seed and the sizes are checked before anything
    runs (ValueError); a configuration that fails while running fills its ``error`` column,
    and a sweep whose every row fails with a TypeError raises it.

    ``granularities``: "per_tensor" (one clip, the only one analytic rows support),
    "per_channel" or "per_group" (sampled scalar formats only; the values form a
    (``channels``, n // ``channels``) tensor quantized by ``lowbit.Quantizer`` with a scale
    per channel or per ``block_size`` values along a channel; the row's clip and scale are
    NaN, there being many).  An analytic or block-format request for them is an error row.

    Block formats (MX, NVFP4, VS-Quant...) set their own scales, so they give one row per
    (format, distribution, granularity) whatever ``ranges`` holds, with range "block".  On a
    tensor they are measured on the tensor itself with blocks along ``axis`` (None: the
    Empirical's own, by default its last axis; an axis shorter than one block is an error
    row), never on resamples (method "tensor").

    >>> df = sweep(["int8_narrow"], ["gaussian"], ranges=["mse"])
    >>> round(float(df.bits_of_accuracy[0]), 2)
    6.73
    """
    samples = _check_samples(samples)
    seed = _check_count("seed", seed, low=0)
    channels = _check_count("channels", channels, low=1)
    block_size = _check_count("block_size", block_size, low=1)
    if workers is not None:
        workers = _check_count("workers", workers, low=1)
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, (int, np.integer))):
        raise TypeError(f"sweep: axis must be an integer or None, got {axis!r}")
    if executor not in ("serial", "processes", "dask"):
        raise ValueError(f"unknown executor {executor!r}; expected serial, processes or dask")
    fmts = [_check_format(f) for f in _as_list(formats, "formats")]
    dists = [_as_dist(d) for d in _as_list(distributions, "distributions", one=_is_one_dist)]
    ranges = [_check_name(r, METHODS, "range method") for r in _as_list(ranges, "ranges")]
    grans = [
        _check_name(g, GRANULARITIES, "granularity")
        for g in _as_list(granularities, "granularities")
    ]
    tasks: list[tuple] = []
    for f in fmts:
        # block formats set their own scales: one row, not one per range method
        rs = ranges if is_scalar_format(f) else ranges[:1]
        for d in dists:
            for r in rs:
                for g in grans:
                    tasks.append(
                        (len(tasks), f, d, r, samples, seed, g, channels, block_size, axis)
                    )
    show = _Progress(len(tasks), progress)
    if executor == "serial":
        rows = [show(_run_one(t)) for t in tasks]
    elif executor == "processes":
        _check_picklable(dists)
        rows = _process_map(tasks, workers, show)
    else:
        rows = _dask_map(tasks, address)
    errors = [r["error"] for r in rows]
    if errors and all(e.startswith("TypeError") for e in errors):
        raise TypeError(f"sweep: every configuration failed: {errors[0]}")
    return pd.DataFrame(rows, columns=COLUMNS)


def _as_list(value: Any, label: str, one=None) -> list:
    """A list from a list, or from one item (a str is one name, not its letters)."""
    if isinstance(value, str) or (one is not None and one(value)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(
            f"sweep: {label} must be a list or one item, got {type(value).__name__}"
        ) from None


def _is_one_dist(value: Any) -> bool:
    if isinstance(value, Distribution) or is_scipy_frozen(value):
        return True
    return is_array_like(value) and not isinstance(value, (list, tuple))


def _as_dist(d: Any) -> Distribution:
    return parse_distribution(d) if isinstance(d, str) else as_distribution(d)


def _check_format(f: Any):
    get_format(f)  # ValueError with "did you mean" for a misspelt name
    return f


def _check_name(name: Any, legal: Sequence[str], label: str) -> str:
    if not isinstance(name, str) or name not in legal:
        hint = suggest(name, legal) if isinstance(name, str) else ""
        tail = hint or f"; expected one of {', '.join(legal)}"
        raise ValueError(f"unknown {label} {name!r}{tail}")
    return name


def _check_count(label: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"sweep: {label} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_samples(samples: Any) -> int | None:
    if samples is None:
        return None
    number = (int, float, np.integer, np.floating)
    ok = not isinstance(samples, bool) and isinstance(samples, number)
    if not ok or not math.isfinite(samples) or int(samples) != samples or samples < 1:
        raise ValueError(f"samples must be a positive integer or None, got {samples!r}")
    return int(samples)


def _check_picklable(dists: list[Distribution]) -> None:
    """Worker processes get their configurations pickled: say which distribution cannot be."""
    for d in dists:
        try:
            pickle.dumps(d)
        except Exception as exc:
            raise TypeError(
                f"sweep: {d!r} cannot be sent to a worker process ({type(exc).__name__}: "
                f"{exc}); define its class at module level, or use executor='serial'"
            ) from None


def _process_map(tasks: list[tuple], workers: int | None, show, fn=None, failed=None) -> list[dict]:
    """Run ``tasks`` in a process pool.  A worker that dies (killed, segfault, out of memory)
    breaks the whole pool; the rows finished by then are kept, and the unfinished ones run
    again one at a time in a fresh worker, so that only the configuration that kills its
    worker becomes an error row.  ``fn(task)`` makes a row and ``failed(task, message)`` an
    error row (default: a sweep's; ``lowbit.nn.evaluate`` runs plans through the same pool).
    """
    fn, failed = fn or _run_one, failed or _failed_row
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # not fork: a process whose numba kernels started OpenMP threads cannot fork safely
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    rows: dict[int, dict] = {}
    broken = False
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(fn, t): t for t in tasks}
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                rows[task[0]] = show(fut.result())
            except BrokenProcessPool:
                broken = True
            except Exception as exc:  # e.g. the task could not be sent to the worker
                rows[task[0]] = show(failed(task, f"{type(exc).__name__}: {exc}"))
    if broken:
        solo = None
        for task in (t for t in tasks if t[0] not in rows):
            solo = solo or ProcessPoolExecutor(max_workers=1, mp_context=ctx)
            try:
                row = solo.submit(fn, task).result()
            except BrokenProcessPool:
                row = failed(task, WORKER_DIED)
                solo.shutdown(wait=True)
                solo = None
            rows[task[0]] = show(row)
        if solo is not None:
            solo.shutdown(wait=True)
    return [rows[t[0]] for t in tasks]


#: The error of a row whose worker process died while running it.
WORKER_DIED = (
    "WorkerDied: the worker process running this configuration died "
    "(killed, crashed or out of memory)"
)


def _failed_row(task: tuple, message: str) -> dict[str, Any]:
    row = _base_row(task)
    row["error"] = message
    return row


class _Progress:
    """Counts finished rows; draws ``done/total`` on stderr after the first second."""

    def __init__(self, total: int, enabled: bool | None, label: str = "sweep"):
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.drawn = False

    def __call__(self, row: dict) -> dict:
        self.done += 1
        if self.enabled and (self.drawn or time.perf_counter() - self.start > 1.0):
            self.drawn = True
            end = "\n" if self.done == self.total else ""
            line = f"\r{self.label}: {self.done}/{self.total}"
            print(line, end=end, file=sys.stderr, flush=True)
        return row


def _dask_map(tasks: list[tuple], address: str | None, fn=None) -> list[dict]:
    fn = fn or _run_one
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(
            "executor='dask' needs the [dask] extra: pip install 'lowbit[dask]'"
        ) from None
    if address is not None:
        with Client(address) as client:
            return client.gather(client.map(fn, tasks, pure=False))
    with (
        LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        return client.gather(client.map(fn, tasks, pure=False))
