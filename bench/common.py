"""The harness every benchmark group shares: timing, Markdown, and the machine lines.

Timing: :func:`measure` (one warm-up call, then the median of timed calls) and the CPU
ticks of lowbit's helper threads (:func:`measure_threads`, from ``/proc/self/task``).
Markdown: :func:`md_table` and the ``fmt_*`` number formats.  Machine: the table at the top
of BENCHMARKS.md (CPU, versions, ``git describe``, load average).

The group modules beside this file import it as ``common``: Python puts a script's own
directory first on ``sys.path``, so ``python bench/run.py`` (or any ``bench/bench_*.py``
run as a script) finds it without any path manipulation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEED = 0
#: lowbit runs an array in threads from this length on: two pieces of at least
#: lowbit.formats._kernels.PARALLEL_MIN values each.
PARALLEL_MIN = 2 << 16

# Targets of fp8_e4m3fn quantize-dequantize on one core (the scalar group's "Targets"
# subsection and the threads group's verdicts).
TARGET_VS_MLDTYPES = 10.0  # at least this many times faster than ml_dtypes' round trip
TARGET_COPY_1T = 3.5  # at most this many copy times (cpfloat's speed in the peer survey)

# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Wall times of ``repeats`` calls on ``n`` elements."""

    n: int
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def per_elem(self) -> float:
        return self.median / self.n


def measure(fn: Callable[[], object], n: int, repeats: int, warmup: bool = True) -> Timing:
    """One warm-up call (unless ``warmup`` is false), then ``repeats`` timed calls.

    >>> measure(lambda: None, n=10, repeats=3).n
    10
    """
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(n, times)


def thread_cpu_ticks() -> dict[str, int] | None:
    """User+system CPU ticks of every thread of this process (Linux), else None."""
    base = Path("/proc/self/task")
    if not base.is_dir():
        return None
    out = {}
    for task in base.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[task.name] = int(fields[11]) + int(fields[12])
    return out


def worker_ticks(before: dict[str, int] | None, after: dict[str, int] | None) -> int | None:
    """CPU ticks spent between two snapshots by threads other than the main one."""
    if before is None or after is None:
        return None
    main = str(os.getpid())
    return sum(t - before.get(k, 0) for k, t in after.items() if k != main)


def measure_threads(fn: Callable[[], object], n: int, repeats: int) -> tuple[Timing, int | None]:
    """``measure`` plus the CPU ticks lowbit's helper threads spent in it."""
    before = thread_cpu_ticks()
    timing = measure(fn, n, repeats)
    return timing, worker_ticks(before, thread_cpu_ticks())


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What every group gets: arguments, input, the copy baseline; groups add results."""

    args: argparse.Namespace
    x: np.ndarray
    copy: Timing
    #: per scalar format: its rows and the name of the peer its "speed vs" column refers to
    rows: dict[str, tuple[list[Any], str]] = field(default_factory=dict)
    alloc: Timing | None = None  # ``x * 1.0``
    load_before: tuple[float, ...] = (0.0, 0.0, 0.0)  # os.getloadavg() at the start

    @property
    def n(self) -> int:
        return self.x.shape[0]


# --------------------------------------------------------------------------- markdown


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A markdown table; ``align`` has one letter per column, l or r.

    >>> md_table(["a", "b"], [["1", "2"]], "lr")
    ['| a | b |', '|---|---:|', '| 1 | 2 |']
    """
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds with about three significant digits.

    >>> fmt_ms(0.01234)
    '12.34'
    """
    ms = seconds * 1e3
    if ms < 1:
        return f"{ms:.3f}"
    return f"{ms:.2f}" if ms < 100 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def fmt_ratio(r: float) -> str:
    """A ratio with about three significant digits, "n/a" when not finite.

    >>> fmt_ratio(123.4)
    '123'
    """
    if not np.isfinite(r):
        return "n/a"
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:,.0f}"


def fmt_int(v: int) -> str:
    """An integer with thousands separators (``10,000,000``)."""
    return f"{v:,}"


def fmt_rate(r: float | None) -> str:
    """A rate such as MAC/s in short scientific notation, "—" when unknown.

    >>> fmt_rate(2.5e9)
    '2.50e9'
    """
    if r is None or not np.isfinite(r):
        return "—"
    return f"{r:.2e}".replace("e+0", "e").replace("e+", "e")


def fmt_x(r: float | None, digits: int = 1) -> str:
    """A ratio with a × sign, "—" when unknown."""
    if r is None or not np.isfinite(r):
        return "—"
    return f"{r:.{digits}f}×" if r >= 0.1 else f"{r:.3f}×"


# --------------------------------------------------------------------------- agreement


def same_bits(a: np.ndarray, b: np.ndarray) -> int:
    """How many elements agree: identical bit patterns, or both NaN."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a64 = a.astype(np.float64)
        b64 = b.astype(np.float64)
        eq = (a64.view(np.uint64) == b64.view(np.uint64)) | (np.isnan(a64) & np.isnan(b64))
        return int(np.count_nonzero(eq))
    return int(np.count_nonzero(a.astype(np.int64) == b.astype(np.int64)))


def agreement(label: str, pairs: Sequence[tuple[str, int, int]]) -> str:
    parts = []
    for what, ok, total in pairs:
        verdict = "identical" if ok == total else f"**{total - ok:,} differ**"
        parts.append(f"{what} {ok:,}/{total:,} {verdict}")
    return f"- lowbit vs {label}: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_describe() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + (" + uncommitted changes" if dirty else "")


def command_line() -> str:
    exe = Path(sys.executable)
    try:
        exe = exe.relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.join([str(exe), *sys.argv])


def machine_lines(load_before: tuple[float, ...], numba_info: dict[str, str]) -> list[str]:
    load_after = os.getloadavg()
    rows = [
        ("CPU", cpu_model()),
        ("logical cores", str(os.cpu_count())),
        ("Python", platform.python_version()),
        ("numpy", np.__version__),
        ("numba", dist_version("numba") + f" (threading layer: {numba_info['layer']})"),
        ("ml_dtypes", dist_version("ml_dtypes")),
        ("gfloat", dist_version("gfloat")),
        ("torch / torchao", f"{dist_version('torch')} / {dist_version('torchao')}"),
        ("lowbit", dist_version("lowbit") + f", git {git_describe()}"),
        ("date (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        (
            "1-min load average",
            f"{load_before[0]:.2f} at start, {load_after[0]:.2f} at end "
            "(other processes on the machine distort the timings, two-thread ones most)",
        ),
    ]
    return md_table(["machine", ""], [[k, v] for k, v in rows], "ll")
