"""Throughput of lowbit's scalar formats against their peers, measured in one run.

Usage (``make bench`` runs the first line):

    .venv/bin/python bench/bench_scalar.py --output BENCHMARKS.md
    .venv/bin/python bench/bench_scalar.py --n 100000 --repeats 2 --output /tmp/b.md   # smoke run
    .venv/bin/python bench/bench_scalar.py --groups threads --output /tmp/t.md        # one group

Input: ``np.random.default_rng(0).standard_normal(n, dtype=np.float32)`` (``--n``, default
10,000,000); int8 gets the same values times 127/4, scaled before any timing.  Every figure
is the median wall time of ``--repeats`` calls (default 7) after one warm-up call, all in
this process, so ratios between rows are meaningful while absolute times move with the
machine's load.

For each format: quantize-dequantize, encode only and decode only, by lowbit on one and on
two lowbit threads, by ml_dtypes (int8: numpy ``rint``/``clip``/``astype``, because ml_dtypes
integer casts truncate and wrap) and by gfloat (on the first 1,000,000 values, scaled per
element).  The physical limit is ``np.copyto`` of the float32 input.  Outputs are checked
for agreement in the same run.  Then: latency of calls on short arrays, and start-up costs
(``import lowbit``, first calls with an empty and with a warm numba cache, whether the
threaded kernels use their threads) measured in fresh subprocesses.

The report is a list of groups (``GROUPS``): each group writes one ``## `` section of the
output file.  Block formats and the MAC simulator add their groups there; ``threads``
(bench/bench_threads.py) measures 1 and 2 threads on an idle and a loaded machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SEED = 0
#: gfloat is pure numpy and ~100x slower than lowbit: it is timed on this many values.
GFLOAT_MAX = 1_000_000
#: lowbit runs an array in threads from this length on: two pieces of at least
#: lowbit.formats._kernels.PARALLEL_MIN values each.
PARALLEL_MIN = 2 << 16
OPS = ("quantize-dequantize", "encode", "decode")

# Targets (see the "Targets" subsection): fp8_e4m3fn quantize-dequantize on one core.
TARGET_VS_MLDTYPES = 10.0  # at least this many times faster than ml_dtypes' round trip
TARGET_COPY_1T = 3.5  # at most this many copy times (cpfloat's speed in the peer survey)
STRETCH_COPY_2T = 2.0  # two threads: within this many copy times


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


def measure(fn: Callable[[], object], n: int, repeats: int) -> Timing:
    """One warm-up call, then ``repeats`` timed calls."""
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


# --------------------------------------------------------------------------- rows, tables


@dataclass
class Row:
    op: str
    impl: str
    threads: int
    timing: Timing
    note: str = ""
    scaled: bool = False  # timed on a prefix, reported per element
    idle_thread: bool = False  # threads > 1, but lowbit's helper threads did no work


@dataclass
class Context:
    """What every group gets: arguments, input, the copy baseline; groups add results."""

    args: argparse.Namespace
    x: np.ndarray
    copy: Timing
    #: per format: its rows and the name of the peer its "speed vs" column refers to
    rows: dict[str, tuple[list[Row], str]] = field(default_factory=dict)
    alloc: Timing | None = None  # ``x * 1.0``
    load_before: tuple[float, ...] = (0.0, 0.0, 0.0)  # os.getloadavg() at the start

    @property
    def n(self) -> int:
        return self.x.shape[0]


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A markdown table; ``align`` has one letter per column, l or r."""
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    if ms < 1:
        return f"{ms:.3f}"
    return f"{ms:.2f}" if ms < 100 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def fmt_ratio(r: float) -> str:
    if not np.isfinite(r):
        return "n/a"
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:,.0f}"


def fmt_int(v: int) -> str:
    return f"{v:,}"


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


# --------------------------------------------------------------------------- scalar group


@dataclass(frozen=True)
class ScalarCase:
    """One lowbit format and how its peers spell the same operations."""

    name: str  # lowbit.get_format name
    ml_dtype: str | None  # ml_dtypes attribute; None: numpy integer peer
    gfloat_fi: str | None  # gfloat.formats attribute; None: gfloat has no such format
    gfloat_sat: bool = False  # gfloat round_ndarray(sat=...) matching lowbit's default
    scale: float = 1.0  # applied to the N(0,1) input before any timing
    about: str = ""


SCALAR_CASES = (
    ScalarCase(
        "fp8_e4m3fn",
        "float8_e4m3fn",
        "format_info_ocp_e4m3",
        about="OCP E4M3, overflow to NaN (lowbit's default, as ml_dtypes; gfloat sat=False).",
    ),
    ScalarCase(
        "fp8_e5m2",
        "float8_e5m2",
        "format_info_ocp_e5m2",
        about="OCP E5M2, overflow to Inf (lowbit's default, as ml_dtypes; gfloat sat=False).",
    ),
    ScalarCase(
        "fp4_e2m1fn",
        "float4_e2m1fn",
        "format_info_ocp_e2m1",
        gfloat_sat=True,
        about="OCP MX E2M1, saturating (lowbit's default, as ml_dtypes; gfloat needs "
        "sat=True for a format without Inf/NaN).",
    ),
    ScalarCase(
        "int8",
        None,
        None,
        scale=127 / 4,
        about="Two's complement int8, round to nearest even, saturating.  Input N(0,1)·127/4.  "
        "Peer: numpy `np.clip(np.rint(x), -128, 127).astype(np.int8)` to encode and "
        "`.astype(np.float32)` to decode (ml_dtypes integer casts truncate and wrap, and "
        "gfloat's `ocp_int8` is the MXINT8 element k/64, not int8).",
    ),
)


def numpy_int8_encode(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -128, 127).astype(np.int8)


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


def run_scalar_case(ctx: Context, case: ScalarCase, threads: Sequence[int]) -> list[str]:
    import lowbit

    args = ctx.args
    R = args.repeats
    fmt = lowbit.get_format(case.name)
    x = ctx.x if case.scale == 1.0 else (ctx.x * np.float32(case.scale)).astype(np.float32)
    n = x.shape[0]
    all_codes = np.arange(2**fmt.bits, dtype=np.uint8)
    rows: list[Row] = []
    checks: list[str] = []

    # ---- lowbit, one and two threads
    codes = fmt.encode(x)
    for th in threads:
        lowbit.set_num_threads(th)
        for op, fn in (
            ("quantize-dequantize", lambda: fmt.quantize(x)),
            ("encode", lambda: fmt.encode(x)),
            ("decode", lambda: fmt.decode(codes)),
        ):
            timing, wt = measure_threads(fn, n, R)
            idle = th > 1 and n >= PARALLEL_MIN and wt == 0
            note = ""
            if idle:
                note = "**second thread never ran** (no CPU tick measured for the helper threads)"
            elif th > 1 and n < PARALLEL_MIN:
                note = f"n < {PARALLEL_MIN:,}: serial kernel"
            rows.append(Row(op, "lowbit", th, timing, note, idle_thread=idle))
    lowbit.set_num_threads(max(threads))

    # ---- the reference peer: ml_dtypes, or numpy for int8
    if case.ml_dtype is not None:
        import ml_dtypes

        T = getattr(ml_dtypes, case.ml_dtype)
        ref = "ml_dtypes"
        q = x.astype(T)
        peer = (
            (
                "quantize-dequantize",
                lambda: x.astype(T).astype(np.float32),
                "x.astype(T).astype(f32)",
            ),
            ("encode", lambda: x.astype(T), "x.astype(T)"),
            ("decode", lambda: q.astype(np.float32), "q.astype(f32)"),
        )
        peer_qdq = x.astype(T).astype(np.float32)
        peer_codes = q.view(np.uint8)
        peer_table = all_codes.view(T).astype(np.float32)
    else:
        ref = "numpy"
        q = numpy_int8_encode(x)
        peer = (
            (
                "quantize-dequantize",
                lambda: numpy_int8_encode(x).astype(np.float32),
                "clip(rint(x)).astype(i8).astype(f32)",
            ),
            ("encode", lambda: numpy_int8_encode(x), "clip(rint(x)).astype(i8)"),
            ("decode", lambda: q.astype(np.float32), "q.astype(f32)"),
        )
        peer_qdq = numpy_int8_encode(x).astype(np.float32)
        peer_codes = q.view(np.uint8)
        peer_table = all_codes.view(np.int8).astype(np.float32)
    checks.append(
        agreement(
            ref,
            [
                ("quantize-dequantize", same_bits(fmt.quantize(x), peer_qdq), n),
                ("encode", same_bits(codes, peer_codes), n),
                (
                    "decode of every code",
                    same_bits(fmt.decode(all_codes), peer_table),
                    len(all_codes),
                ),
            ],
        )
    )
    for op, fn, spelled in peer:
        rows.append(Row(op, ref, 1, measure(fn, n, R), f"`{spelled}`"))

    # ---- gfloat on a prefix
    if case.gfloat_fi is not None:
        try:
            import gfloat
            import gfloat.formats
        except ImportError:
            checks.append("- gfloat is not installed: its rows are missing.")
        else:
            fi = getattr(gfloat.formats, case.gfloat_fi)
            m = min(n, GFLOAT_MAX)
            xs = x[:m]
            rs = gfloat.round_ndarray(fi, xs, sat=case.gfloat_sat)
            cs = gfloat.encode_ndarray(fi, rs)
            sat = f"sat={case.gfloat_sat}"
            scaled = m < n
            g = (
                ("quantize-dequantize", lambda: gfloat.round_ndarray(fi, xs, sat=case.gfloat_sat),
                 f"`round_ndarray(fi, x, {sat})`, float64 out"),
                ("encode", lambda: gfloat.encode_ndarray(fi, rs),
                 "`encode_ndarray(fi, r)` of already rounded r (rounding not included)"),
                ("decode", lambda: gfloat.decode_ndarray(fi, cs), "`decode_ndarray(fi, c)`"),
            )  # fmt: skip
            for op, fn, note in g:
                rows.append(Row(op, "gfloat", 1, measure(fn, m, R), note, scaled))
            checks.append(
                agreement(
                    f"gfloat ({fi.name}, first {m:,} values)",
                    [
                        ("quantize-dequantize", same_bits(fmt.quantize(xs), rs), m),
                        ("encode", same_bits(fmt.encode(xs), cs), m),
                        (
                            "decode of every code",
                            same_bits(fmt.decode(all_codes), gfloat.decode_ndarray(fi, all_codes)),
                            len(all_codes),
                        ),
                    ],
                )
            )

    by = {(r.op, r.impl, r.threads): r for r in rows}
    ctx.rows[case.name] = (rows, ref)

    # ---- table
    out = [f"### {case.name}", "", case.about, ""]
    table = []
    for op in OPS:
        ref_row = by[(op, ref, 1)]
        for r in (r for r in rows if r.op == op):
            ms = r.timing.per_elem * n
            table.append(
                [
                    op,
                    r.impl,
                    str(r.threads),
                    fmt_ms(ms) + (" *" if r.scaled else ""),
                    f"{1e-6 / r.timing.per_elem:,.1f}",
                    fmt_ratio(r.timing.per_elem / ctx.copy.per_elem),
                    fmt_ratio(ref_row.timing.per_elem / r.timing.per_elem),
                    r.note,
                ]
            )
    out += md_table(
        [
            "operation",
            "implementation",
            "threads",
            f"median ms ({fmt_int(n)} values)",
            "Melem/s",
            "× copy time",
            f"speed vs {ref}",
            "note",
        ],
        table,
        "lllrrrrl",
    )
    if any(r.scaled for r in rows):
        out += ["", f"\\* timed on the first {GFLOAT_MAX:,} values; the time shown is scaled to n."]
    out += ["", "Agreement, checked in this run:", "", *checks, ""]
    return out


def scalar_limits(ctx: Context) -> list[str]:
    """The memory-bandwidth limit rows: what any elementwise float32 pass costs."""
    x = ctx.x
    dst = np.empty_like(x)
    R = ctx.args.repeats
    rows = [
        ("`np.copyto(dst, x)` (read 4 B + write 4 B per value)", ctx.copy),
        ("`np.multiply(x, 1.0, out=dst)`", measure(lambda: np.multiply(x, 1.0, out=dst), ctx.n, R)),
        ("`x * 1.0` (allocates its output, as lowbit does)", measure(lambda: x * 1.0, ctx.n, R)),
    ]
    ctx.alloc = rows[2][1]
    table = [
        [
            what,
            fmt_ms(t.median),
            f"{t.n / t.median / 1e6:,.0f}",
            f"{8 * t.n / t.median / 1e9:.1f}",
            fmt_ratio(t.per_elem / ctx.copy.per_elem),
        ]
        for what, t in rows
    ]
    return [
        "### Memory-bandwidth limit (numpy, one thread)",
        "",
        *md_table(
            ["operation", "median ms", "Melem/s", "GB/s at 8 B/value", "× copy time"],
            table,
            "lrrrr",
        ),
        "",
    ]


def targets(ctx: Context, threads: Sequence[int]) -> list[str]:
    if "fp8_e4m3fn" not in ctx.rows:
        return []
    rows_e4m3, ref = ctx.rows["fp8_e4m3fn"]
    by = {(r.impl, r.threads): r for r in rows_e4m3 if r.op == "quantize-dequantize"}
    copy = ctx.copy.per_elem
    vs = by[(ref, 1)].timing.per_elem / by[("lowbit", 1)].timing.per_elem
    xc1 = by[("lowbit", 1)].timing.per_elem / copy
    contention: list[str] = []

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    rows = [
        [
            "one thread: speed vs ml_dtypes `x.astype(float8_e4m3fn).astype(float32)`",
            f"≥ {TARGET_VS_MLDTYPES:g}×",
            f"{vs:.2f}×",
            verdict(vs >= TARGET_VS_MLDTYPES),
        ],
        [
            "one thread: time in units of `np.copyto` time (cpfloat's speed in the peer survey)",
            f"≤ {TARGET_COPY_1T:g}×",
            f"{xc1:.2f}×",
            verdict(xc1 <= TARGET_COPY_1T),
        ],
    ]
    if 2 in threads:
        xc2 = by[("lowbit", 2)].timing.per_elem / copy
        idle = by[("lowbit", 2)].idle_thread
        rows.append(
            [
                "stretch, two threads: time in units of one-thread `np.copyto` time",
                f"≤ {STRETCH_COPY_2T:g}×",
                f"{xc2:.2f}×" + (" (second thread never ran)" if idle else ""),
                verdict(xc2 <= STRETCH_COPY_2T),
            ]
        )
        speedup = xc1 / xc2
        rows.append(["two threads vs one thread (information)", "", f"speed-up {speedup:.2f}×", ""])
        load = ctx.load_before[0]
        if speedup < 1 and load > 0.5:
            contention = [
                f"Two threads were slower than one while the 1-minute load average was "
                f"{load:.2f} on {os.cpu_count()} cores, which suggests another process was "
                "using a core: the helper thread then runs only part of the time.",
                "",
            ]
    alloc = []
    if ctx.alloc is not None:
        alloc = [
            f"For scale: allocating the output alone (`x * 1.0`) costs "
            f"{ctx.alloc.per_elem / copy:.2f}× copy time in this run.",
            "",
        ]
    return [
        "### Targets",
        "",
        "fp8_e4m3fn quantize-dequantize (`lowbit.get_format('fp8_e4m3fn').quantize(x)`), "
        "computed from the rows above; verdicts are decided by the script.",
        "",
        *md_table(["target", "goal", "measured", "verdict"], rows, "lrrl"),
        "",
        *contention,
        *alloc,
    ]


def per_call_section(ctx: Context, size: int = 1000, calls: int = 200) -> list[str]:
    """Latency of calls on short arrays, where Python overhead and thread launches show."""
    import lowbit

    R = ctx.args.repeats
    table = []
    launched_any = False
    for case in SCALAR_CASES:
        fmt = lowbit.get_format(case.name)
        xs = (ctx.x[:size] * np.float32(case.scale)).astype(np.float32)
        codes = fmt.encode(xs)
        if case.ml_dtype is not None:
            import ml_dtypes

            T = getattr(ml_dtypes, case.ml_dtype)
            q = xs.astype(T)
            peer = {
                "quantize-dequantize": lambda xs=xs, T=T: xs.astype(T).astype(np.float32),
                "encode": lambda xs=xs, T=T: xs.astype(T),
                "decode": lambda q=q: q.astype(np.float32),
            }
        else:
            q = numpy_int8_encode(xs)
            peer = {
                "quantize-dequantize": lambda xs=xs: numpy_int8_encode(xs).astype(np.float32),
                "encode": lambda xs=xs: numpy_int8_encode(xs),
                "decode": lambda q=q: q.astype(np.float32),
            }
        ours = {
            "quantize-dequantize": lambda fmt=fmt, xs=xs: fmt.quantize(xs),
            "encode": lambda fmt=fmt, xs=xs: fmt.encode(xs),
            "decode": lambda fmt=fmt, codes=codes: fmt.decode(codes),
        }
        for op in OPS:
            fn, pf = ours[op], peer[op]

            def many(fn=fn):
                for _ in range(calls):
                    fn()

            t_ours, wt = measure_threads(many, size * calls, R)
            t_peer = measure(lambda pf=pf: [pf() for _ in range(calls)], size * calls, R)
            launched = bool(wt)
            launched_any |= launched
            table.append(
                [
                    case.name,
                    op,
                    f"{t_ours.median / calls * 1e6:.1f}",
                    f"{t_peer.median / calls * 1e6:.1f}",
                    "**yes**" if launched else "no" if wt is not None else "unknown",
                ]
            )
    out = [
        "### Short arrays",
        "",
        f"Microseconds per call on {size:,} values (median of {R} timings of {calls} calls), "
        f"lowbit with {lowbit.get_num_threads()} threads allowed.  Below "
        f"{PARALLEL_MIN:,} values lowbit calls its serial kernels, so its helper threads "
        "should stay idle; the last column says whether they ran.",
        "",
        *md_table(
            ["format", "operation", "lowbit µs", "ml_dtypes / numpy µs", "worker threads ran"],
            table,
            "llrrl",
        ),
        "",
    ]
    if launched_any:
        out += [
            "Helper threads ran for short arrays, where lowbit should call its serial "
            "kernels: a regression.",
            "",
        ]
    return out


# --------------------------------------------------------------------------- start-up


def _child_env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    return env


def _run_child(argv: list[str], cache_dir: str | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *argv]
    res = subprocess.run(cmd, env=_child_env(cache_dir), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"child {argv} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def child_first_calls(n: int) -> dict:
    """In a fresh process: import lowbit, then first and second call of every operation."""
    t0 = time.perf_counter()
    import lowbit

    t_import = time.perf_counter() - t0
    x = np.random.default_rng(SEED).standard_normal(n, dtype=np.float32)
    calls = []
    for case in SCALAR_CASES:
        fmt = lowbit.get_format(case.name)
        xi = x if case.scale == 1.0 else (x * np.float32(case.scale)).astype(np.float32)
        for size, arr in (("large", xi), ("small", xi[:1000].copy())):
            codes = None
            for op in OPS:  # encode before decode: decode's input is encode's output
                fn = {"quantize-dequantize": fmt.quantize, "encode": fmt.encode}.get(op)
                fn, arg = (fmt.decode, codes) if fn is None else (fn, arr)
                t = time.perf_counter()
                res = fn(arg)
                first = time.perf_counter() - t
                t = time.perf_counter()
                fn(arg)
                second = time.perf_counter() - t
                codes = res if op == "encode" else codes
                calls.append(dict(fmt=case.name, op=op, size=size, first=first, second=second))
    return dict(import_s=t_import, calls=calls)


def child_parallel_check(order: str, n: int) -> dict:
    """Whether the threaded kernel uses the second thread after ``order`` in a fresh cache."""
    import lowbit

    fmt = lowbit.get_format("fp8_e4m3fn")
    x = np.random.default_rng(SEED).standard_normal(n, dtype=np.float32)
    if order == "small-first":
        fmt.quantize(x[:1000])
    lowbit.set_num_threads(2)
    fmt.quantize(x)
    before = thread_cpu_ticks()
    t0 = time.process_time()
    w0 = time.perf_counter()
    for _ in range(20):
        fmt.quantize(x)
    wall = time.perf_counter() - w0
    cpu = time.process_time() - t0
    return dict(worker_ticks=worker_ticks(before, thread_cpu_ticks()), cpu=cpu, wall=wall)


def import_times(runs: int) -> dict[str, float]:
    """Median wall time of fresh interpreters running a few one-liners, interleaved so that
    a change in the machine's load hits every one-liner alike."""
    codes = {
        "pass": "pass",
        "numpy": "import numpy",
        "numba": "import numba",
        "lowbit": "import lowbit",
    }
    ts: dict[str, list[float]] = {label: [] for label in codes}
    for _ in range(runs):
        for label, code in codes.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            ts[label].append(time.perf_counter() - t0)
    return {label: statistics.median(t) for label, t in ts.items()}


def startup_section(ctx: Context) -> list[str]:
    imp = import_times(ctx.args.startup_runs)
    n_first = min(ctx.n, GFLOAT_MAX)
    tmp = tempfile.mkdtemp(prefix="lowbit-bench-numba-")
    try:
        cold = _run_child(["first-calls", str(n_first)], tmp)
        warm = _run_child(["first-calls", str(n_first)], tmp)
        par = {}
        if (os.cpu_count() or 1) >= 2:
            for order in ("large-first", "small-first"):
                d = tempfile.mkdtemp(prefix="lowbit-bench-numba-", dir=tmp)
                par[order] = _run_child(["parallel-check", order, str(4_000_000)], d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    out = [
        "### Start-up",
        "",
        f"Fresh interpreters, median of {ctx.args.startup_runs} runs each.",
        "",
        *md_table(
            ["what", "ms"],
            [
                ["`python -c pass`", f"{imp['pass'] * 1e3:.0f}"],
                ["`import numpy` (minus `pass`)", f"{(imp['numpy'] - imp['pass']) * 1e3:.0f}"],
                ["`import numba` (minus `pass`)", f"{(imp['numba'] - imp['pass']) * 1e3:.0f}"],
                [
                    "**`import lowbit`** (minus `pass`)",
                    f"{(imp['lowbit'] - imp['pass']) * 1e3:.0f}",
                ],
                [
                    "`import lowbit` minus `import numba`",
                    f"{(imp['lowbit'] - imp['numba']) * 1e3:.0f}",
                ],
            ],
            "lr",
        ),
        "",
        f"First calls in a fresh process: each operation called twice on {n_first:,} values "
        "(threaded kernel) and then twice on 1,000 values (serial kernel); *cold*: empty "
        "`NUMBA_CACHE_DIR` (numba compiles and writes the cache), *warm*: the same directory "
        "again (numba loads).  Second calls show the steady cost.  Threads: lowbit's default "
        f"({os.cpu_count()} here).",
        "",
    ]
    table = []
    tot = {"cold": 0.0, "warm": 0.0, "second": 0.0}
    for c, w in zip(cold["calls"], warm["calls"], strict=True):
        tot["cold"] += c["first"]
        tot["warm"] += w["first"]
        tot["second"] += w["second"]
        if c["size"] != "large":
            continue
        table.append(
            [
                c["fmt"],
                c["op"],
                fmt_ms(c["first"]),
                fmt_ms(w["first"]),
                fmt_ms(w["second"]),
            ]
        )
    table.append(
        [
            "**all**",
            "**all 24 first calls** (both sizes)",
            f"**{fmt_ms(tot['cold'])}**",
            f"**{fmt_ms(tot['warm'])}**",
            fmt_ms(tot["second"]),
        ]
    )
    out += md_table(
        ["format", "operation", "cold first call ms", "warm first call ms", "second call ms"],
        table,
        "llrrr",
    )
    out += [
        "",
        f"`import lowbit` inside those processes: {cold['import_s'] * 1e3:.0f} ms cold, "
        f"{warm['import_s'] * 1e3:.0f} ms warm (no kernel is compiled at import).",
        "",
    ]
    if par:
        out += [
            "Threaded-kernel check: a fresh process with an empty cache calls "
            "`quantize` on 4,000,000 values 20 times with 2 lowbit threads, after calling "
            "it first on a large array or first on 1,000 values:",
            "",
        ]
        rows = []
        for order, d in par.items():
            wt = d["worker_ticks"]
            used = "unknown" if wt is None else ("yes" if wt > 0 else "**no**")
            rows.append([order, used, f"{d['cpu'] / d['wall']:.2f}", f"{d['wall'] / 20 * 1e3:.2f}"])
        out += md_table(
            ["first call", "second thread ran", "CPU time / wall time", "ms per call"],
            rows,
            "llrr",
        )
        if any(d["worker_ticks"] == 0 for d in par.values()):
            out += [
                "",
                "The helper thread did no work in some run: the calling thread took every "
                "piece (a busy machine), or threading is broken.",
            ]
        out.append("")
    return out


def run_scalar_group(ctx: Context) -> list[str]:
    from lowbit.threads import max_threads

    threads = [t for t in (1, 2) if t <= max_threads()]
    out = [
        f"Input: {ctx.n:,} float32 values `np.random.default_rng({SEED}).standard_normal(n)`.  "
        f"Median of {ctx.args.repeats} timed calls after one warm-up.  "
        '"× copy time" is time per value over the time per value of `np.copyto(dst, x)` in '
        "this run; \"speed vs\" is the peer's time over this row's time for the same "
        "operation (above 1: faster than the peer).  lowbit uses `lowbit.set_num_threads(t)`; "
        f"arrays of at least {PARALLEL_MIN:,} values run its threaded kernels.  numpy, "
        "ml_dtypes and gfloat are single-threaded.",
        "",
        *scalar_limits(ctx),
    ]
    for case in SCALAR_CASES:
        print(f"[scalar] {case.name}", file=sys.stderr, flush=True)
        out += run_scalar_case(ctx, case, threads)
    out += targets(ctx, threads)
    print("[scalar] short arrays", file=sys.stderr, flush=True)
    out += per_call_section(ctx)
    if not ctx.args.skip_startup:
        print("[scalar] start-up", file=sys.stderr, flush=True)
        out += startup_section(ctx)
    return out


# --------------------------------------------------------------------------- block group

#: Block formats timed against ``np.copyto`` and their peers (quantize-dequantize).
BLOCK_SPEED = ("mxfp8_e4m3", "mxfp4", "mx9", "mx6", "mx4", "vsq_int4", "nvfp4")
#: Every registered block format, for the QSNR table.
BLOCK_QSNR = (
    "mxfp8_e4m3",
    "mxfp8_e5m2",
    "mxfp6_e2m3",
    "mxfp6_e3m2",
    "mxfp4",
    "mxint8",
    "mx9",
    "mx6",
    "mx4",
    "bfp8_b16",
    "nvfp4",
    "vsq_int4",
    "vsq_int8",
    "int4_g128",
)
#: Scalar formats with one absmax scale per tensor, for comparison in the QSNR table.
PER_TENSOR_QSNR = ("fp8_e4m3fn", "fp8_e5m2", "int8")
QSNR_N = 1_000_000
QSNR_VSQ_SHAPE = (625, 1600)  # all QSNR_N values, K a multiple of 16 (VS-Quant's fast path)
#: VS-Quant's fast path wants a 2-D (channels, K) array with K a multiple of 16.
VSQ_K = 992
GFLOAT_BLOCK_MAX = 32_768  # gfloat.quantize_block runs a Python loop per block
# Targets of issue 3 (quantize-dequantize, one core).
TARGET_MX_COPY_1T = 4.0  # MXFP8 and MXFP4: at most this many copy times
TARGET_VS_MXFP8 = 2.0  # MX9/MX6/MX4 and VS-Quant: at most this many times MXFP8's time
#: ISCA 2023 (Rouhani et al., "With Shared Microexponents, A Little Shifting Goes a Long
#: Way"): MX9 about this many dB of QSNR above FP8 E4M3.
PAPER_MX9_VS_E4M3_DB = 16.0


def vsq_shape(n: int) -> tuple[int, int]:
    """A (channels, K) shape for the first values of an n-value array (VS-Quant input)."""
    if n >= VSQ_K:
        return n // VSQ_K, VSQ_K
    return 1, max(16, n - n % 16)


def block_input(x: np.ndarray, name: str) -> np.ndarray:
    """The array a block format is timed on: the longest prefix its fast path accepts."""
    if name.startswith("vsq"):
        rows, k = vsq_shape(x.shape[0])
        return x[: rows * k].reshape(rows, k)
    m = x.shape[0] - x.shape[0] % 32  # block 32 (MX) and 16 (MX9/6/4, NVFP4) both divide
    return x[: m or x.shape[0]]


def np_mx(xb: np.ndarray, elem: type, emax_elem: int, maxv: float) -> np.ndarray:
    """numpy + ml_dtypes composition of OCP MX (not a peer API): xb has shape (blocks, 32);
    X = 2^(floor(log2 amax) - emax_elem), clamped to [2^-127, 2^127]; elements RNE, saturated.
    """
    amax = np.abs(xb).max(axis=-1, keepdims=True)
    e = np.frexp(amax)[1].astype(np.int32) - 1 - emax_elem  # floor(log2(amax)) - emax
    e = np.where(amax == 0, -127, np.clip(e, -127, 127))
    scale = np.ldexp(np.float32(1), e)
    y = np.clip(xb / scale, -maxv, maxv)
    return y.astype(elem).astype(np.float32) * scale


def qsnr_db(x: np.ndarray, q: np.ndarray) -> float:
    x64 = np.asarray(x, dtype=np.float64).reshape(-1)
    err = x64 - np.asarray(q, dtype=np.float64).reshape(-1)
    return float(10 * np.log10(np.sum(x64 * x64) / np.sum(err * err)))


def block_speed(ctx: Context, threads: Sequence[int]) -> tuple[list[str], dict, list[str]]:
    """Timing rows of lowbit and the peers, agreement lines, and lowbit's times by
    (format, threads) for the targets."""
    import lowbit

    R = ctx.args.repeats
    copy = ctx.copy.per_elem
    rows: list[list[str]] = []
    checks: list[str] = []
    ours: dict[tuple[str, int], Timing] = {}
    idle: dict[tuple[str, int], bool] = {}
    qd: dict[str, np.ndarray] = {}  # lowbit's quantize-dequantize of MXFP8 / MXFP4
    peer_time: dict[str, float] = {}  # torchao's time per value, for "speed vs torchao"

    def add(fmt: str, impl: str, th: int | str, t: Timing, note: str = "") -> None:
        scaled = t.n < ctx.n and not fmt.startswith("vsq") and impl != "lowbit"
        rows.append(
            [
                fmt,
                impl,
                str(th),
                fmt_ms(t.median) + (f" ({t.n:,} values)" if scaled else ""),
                f"{t.n / t.median / 1e6:,.1f}"
                if t.n / t.median >= 1e6
                else f"{t.n / t.median / 1e6:.3f}",
                fmt_ratio(t.per_elem / copy),
                note,
            ]
        )

    for name in BLOCK_SPEED:
        print(f"[block] {name}", file=sys.stderr, flush=True)
        f = lowbit.get_format(name)
        xb = block_input(ctx.x, name)
        shape = " × ".join(f"{d:,}" for d in xb.shape)
        for th in threads:
            lowbit.set_num_threads(th)
            t, wt = measure_threads(lambda f=f, xb=xb: f.quantize(xb, axis=-1), xb.size, R)
            ours[(name, th)] = t
            idle[(name, th)] = th > 1 and xb.size >= PARALLEL_MIN and wt == 0
            note = f"input shape ({shape})" if xb.ndim > 1 else ""
            if idle[(name, th)]:
                note = (note + "; " if note else "") + "**second thread never ran**"
            add(name, "lowbit", th, t, note)
        lowbit.set_num_threads(max(threads))
        if name in ("mxfp8_e4m3", "mxfp4"):
            qd[name] = f.quantize(xb, axis=-1)

    # ---- peers of MXFP8 / MXFP4 (block 32 along the last axis)
    x = block_input(ctx.x, "mxfp8_e4m3")
    m = x.shape[0]
    cols = 4000 if m % 4000 == 0 else 32
    try:
        import ml_dtypes
    except ImportError:
        checks.append("- ml_dtypes is not installed: the numpy composition rows are missing.")
    else:
        xb32 = x.reshape(-1, 32)
        for name, elem, emax, maxv in (
            ("mxfp8_e4m3", ml_dtypes.float8_e4m3fn, 8, 448.0),
            ("mxfp4", ml_dtypes.float4_e2m1fn, 2, 6.0),
        ):
            fn = lambda elem=elem, emax=emax, maxv=maxv: np_mx(xb32, elem, emax, maxv)  # noqa: E731
            add(
                name,
                "numpy + ml_dtypes",
                1,
                measure(fn, m, R),
                "composition, not a peer API: amax → E8M0 exponent → x/X → astype → back",
            )
            checks.append(
                agreement(
                    f"numpy + ml_dtypes composition ({name})",
                    [("quantize-dequantize", same_bits(qd[name], fn().reshape(-1)), m)],
                )
            )
    try:
        import torch
        from torchao.prototype.mx_formats.mx_tensor import MXTensor
    except Exception as e:  # noqa: BLE001  (torchao raises more than ImportError)
        rows.append(["mxfp8_e4m3, mxfp4", "torchao", "1", "not installed", "", "", str(e)[:80]])
    else:
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        xt = torch.from_numpy(x.reshape(-1, cols))
        try:
            for name, elem in (
                ("mxfp8_e4m3", torch.float8_e4m3fn),
                ("mxfp4", torch.float4_e2m1fn_x2),
            ):
                fn = lambda elem=elem: MXTensor.to_mx(xt, elem, 32).dequantize(torch.float32)  # noqa: E731
                t = measure(fn, m, R)
                peer_time[name] = t.per_elem
                spelled = "float8_e4m3fn" if name == "mxfp8_e4m3" else "float4_e2m1fn_x2"
                add(
                    name,
                    "torchao",
                    1,
                    t,
                    f"`MXTensor.to_mx(t, torch.{spelled}, 32).dequantize(torch.float32)`, "
                    f"input ({m // cols:,}, {cols:,}), `torch.set_num_threads(1)`",
                )
                checks.append(
                    agreement(
                        f"torchao ({name}, FLOOR scale)",
                        [("quantize-dequantize", same_bits(qd[name], fn().numpy().reshape(-1)), m)],
                    )
                )
        finally:
            torch.set_num_threads(old)
    try:
        import gfloat
        import gfloat.formats
    except ImportError:
        checks.append("- gfloat is not installed: its rows are missing.")
    else:
        s = min(m, GFLOAT_BLOCK_MAX)
        blocks = x[:s].astype(np.float64).reshape(-1, 32)
        for name, fi in (
            ("mxfp8_e4m3", gfloat.formats.format_info_mxfp8_e4m3),
            ("mxfp4", gfloat.formats.format_info_mxfp4_e2m1),
        ):
            fn = lambda fi=fi: [  # noqa: E731
                gfloat.quantize_block(fi, b, gfloat.compute_scale_amax) for b in blocks
            ]
            add(
                name,
                "gfloat",
                1,
                measure(fn, s, max(3, R // 2)),
                f"`quantize_block(fi, b, compute_scale_amax)` per block of 32, first {s:,} "
                "values, float64; time per value scaled",
            )
            checks.append(
                agreement(
                    f"gfloat `quantize_block` ({name}, first {s:,} values)",
                    [("quantize-dequantize", same_bits(qd[name][:s], np.concatenate(fn())), s)],
                )
            )
    for name, pt in peer_time.items():
        for th in threads:
            r = pt / ours[(name, th)].per_elem
            checks.append(
                f"- {name}, lowbit on {th} thread{'s' if th > 1 else ''}: "
                f"{fmt_ratio(r)}× the speed of torchao on one thread."
            )
    table = md_table(
        ["format", "implementation", "threads", "median ms", "Melem/s", "× copy time", "notes"],
        rows,
        "lllrrrl",
    )
    return table, {"ours": ours, "idle": idle}, checks


def block_targets(ours: dict, idle: dict, ctx: Context, threads: Sequence[int]) -> list[str]:
    copy = ctx.copy.per_elem

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    def two(name: str, ref: float) -> str:
        if 2 not in threads:
            return "n/a"
        t = ours[(name, 2)].per_elem / ref
        return f"{t:.2f}×" + (" (second thread never ran)" if idle[(name, 2)] else "")

    rows = []
    for name in ("mxfp8_e4m3", "mxfp4"):
        r1 = ours[(name, 1)].per_elem / copy
        rows.append(
            [
                f"{name}: quantize-dequantize time / `np.copyto` time",
                f"≤ {TARGET_MX_COPY_1T:g}×",
                f"{r1:.2f}×",
                verdict(r1 <= TARGET_MX_COPY_1T),
                two(name, copy),
            ]
        )
    mx8_1 = ours[("mxfp8_e4m3", 1)].per_elem
    for name in ("mx9", "mx6", "mx4", "vsq_int4"):
        r1 = ours[(name, 1)].per_elem / mx8_1
        ref2 = ours[("mxfp8_e4m3", 2)].per_elem if 2 in threads else 1.0
        rows.append(
            [
                f"{name}: quantize-dequantize time / mxfp8_e4m3's time",
                f"≤ {TARGET_VS_MXFP8:g}×",
                f"{r1:.2f}×",
                verdict(r1 <= TARGET_VS_MXFP8),
                two(name, ref2),
            ]
        )
    return [
        "### Targets (issue 3)",
        "",
        "Decided on one numba thread, per value; the last column gives the same ratio with "
        "two threads for lowbit (for information: both times on two threads, except "
        "`np.copyto`, which is single-threaded).",
        "",
        *md_table(
            ["target", "goal", "measured, one thread", "verdict", "two threads"],
            rows,
            "llrll",
        ),
        "",
    ]


def block_qsnr(ctx: Context) -> list[str]:
    import lowbit

    xq = np.random.default_rng(SEED).standard_normal(QSNR_N, dtype=np.float32)
    rows = []
    db: dict[str, float] = {}
    for name in BLOCK_QSNR:
        f = lowbit.get_format(name)
        xi = xq.reshape(QSNR_VSQ_SHAPE) if name.startswith("vsq") else xq
        # int4_g128 is a Quantizer, whose groups run along its own configured axis
        has_axis = "axis" in inspect.signature(f.quantize).parameters
        db[name] = qsnr_db(xi, f.quantize(xi, axis=-1) if has_axis else f.quantize(xi))
        how = f"input ({xi.shape[0]:,}, {xi.shape[1]:,}), axis −1" if xi.ndim > 1 else ""
        rows.append([name, f"{f.bits_per_element:g}", f"{db[name]:.2f}", how])
    for name in PER_TENSOR_QSNR:
        f = lowbit.get_format(name)
        s = np.float32(np.max(np.abs(xq)) / f.max)
        q = s * f.quantize(xq / s, overflow="saturate")
        db[name] = qsnr_db(xq, q)
        rows.append(
            [
                f"{name}, per-tensor absmax scale",
                f"{f.bits:g} (+ one FP32 scale)",
                f"{db[name]:.2f}",
                's = max(abs(x)) / fmt.max, q = s · fmt.quantize(x / s, overflow="saturate")',
            ]
        )
    diff = db["mx9"] - db["fp8_e4m3fn"]
    gap = diff - PAPER_MX9_VS_E4M3_DB
    if abs(gap) <= 1.0:
        rel = f"within 1 dB of the claim ({gap:+.2f} dB)"
    else:
        rel = f"{abs(gap):.2f} dB {'above' if gap > 0 else 'below'} the claim"
    return [
        "### QSNR",
        "",
        f"QSNR = 10·log10(Σx² / Σ(x − q)²) in dB on {QSNR_N:,} values "
        f"`np.random.default_rng({SEED}).standard_normal({QSNR_N:,}, dtype=np.float32)`, "
        "q = `fmt.quantize(x, axis=-1)` (blocks along the last axis).  Bits per element "
        "count the element and the per-block scales (`bits_per_element`); VS-Quant's "
        "per-channel FP32 γ is not counted.",
        "",
        *md_table(["format", "bits / element", "QSNR dB", "notes"], rows, "lrrl"),
        "",
        f"MX9 − FP8 E4M3 (per-tensor absmax scale): **{diff:.2f} dB** "
        f"({db['mx9']:.2f} − {db['fp8_e4m3fn']:.2f}).  The ISCA 2023 paper (Rouhani et al., "
        f'"With Shared Microexponents, A Little Shifting Goes a Long Way") claims MX9 about '
        f"{PAPER_MX9_VS_E4M3_DB:g} dB above FP8 E4M3; this run is {rel}.",
        "",
    ]


def run_block_group(ctx: Context) -> list[str]:
    from lowbit.threads import max_threads

    threads = [t for t in (1, 2) if t <= max_threads()]
    table, res, checks = block_speed(ctx, threads)
    print("[block] qsnr", file=sys.stderr, flush=True)
    return [
        f"Input: the first values of the {ctx.n:,} float32 values "
        f"`np.random.default_rng({SEED}).standard_normal(n)` that fill whole blocks "
        f"(VS-Quant: reshaped to (channels, {VSQ_K})).  Quantize-dequantize (`fmt.quantize(x, "
        f"axis=-1)`, float32 out), median of {ctx.args.repeats} timed calls after one warm-up "
        f'(gfloat: {max(3, ctx.args.repeats // 2)}); "× copy time" is time per value over '
        f"the time per value of `np.copyto(dst, x)` ({fmt_ms(ctx.copy.median)} ms for "
        f"{ctx.n:,} values in this run).  lowbit uses `lowbit.set_num_threads(t)`; numpy, "
        "ml_dtypes and gfloat are single-threaded; torchao runs with "
        "`torch.set_num_threads(1)`.",
        "",
        "### Quantize-dequantize speed",
        "",
        *table,
        "",
        "Agreement, same run (identical float32 values, or both NaN):",
        "",
        *checks,
        "",
        *block_targets(res["ours"], res["idle"], ctx, threads),
        *block_qsnr(ctx),
    ]


def run_analysis_group(ctx: Context) -> list[str]:
    """Sweep throughput of lowbit.analysis (bench/bench_analysis.py's table), about 15 s."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_analysis import throughput

    executors = ["serial", "processes"]
    try:
        import dask.distributed  # noqa: F401

        executors.append("dask")
    except ImportError:
        pass
    configs, samples = 1000, 10_000
    print("[analysis] sweep throughput", file=sys.stderr, flush=True)
    table = throughput(configs, samples, executors, "percentile")
    return [
        f"`lowbit.analysis.sweep` over {configs:,} configurations: 5 scalar formats (int8_narrow, "
        "fp8_e4m3fnuz, fp8_e5m2fnuz, fp8_e2m5fnuz, int4) × 200 Gaussians, range method "
        "`percentile` (99.99), per tensor.  Analytic: exact expected MSE; sampled: "
        f"{samples:,} draws per configuration.  processes: a pool of 2 workers started by forkserver, start-up included; dask: an "
        "in-process LocalCluster (1 worker, 2 threads), its start-up included.  One timed run "
        "each, wall time of the whole `sweep` call.  (`bench/bench_analysis.py --range mse` "
        "times the costlier MSE-optimal search: about 20 analytic configurations/s.)",
        "",
        *table.splitlines(),
        "",
    ]


def run_macsim_group(ctx: Context) -> list[str]:
    """The C MAC simulator against its numpy version and float32 BLAS (bench/bench_macsim.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_macsim import run_macsim_group as run

    return run(ctx)


def run_threads_group(ctx: Context) -> list[str]:
    """1 and 2 threads, idle and beside a busy process (bench/bench_threads.py)."""
    from bench_threads import run_group  # this directory is on sys.path when run as a script

    return run_group(ctx)


# --------------------------------------------------------------------------- groups, main


@dataclass(frozen=True)
class Group:
    heading: str  # the "## " heading of this group's section in the output file
    run: Callable[[Context], list[str]]


#: Benchmark groups in report order.  Block formats and the MAC simulator add theirs here.
GROUPS: dict[str, Group] = {
    "scalar": Group("Scalar formats", run_scalar_group),
    "block": Group("Block formats", run_block_group),
    "analysis": Group("Error-analysis sweeps", run_analysis_group),
    "macsim": Group("MAC simulator", run_macsim_group),
    "threads": Group("Threads", run_threads_group),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=10_000_000, help="values per array (10,000,000)")
    ap.add_argument("--repeats", type=int, default=7, help="timed calls per row (7)")
    ap.add_argument("--output", default=None, help="markdown file to write (default: stdout)")
    ap.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help=f"comma-separated groups to run (default: all of {', '.join(GROUPS)})",
    )
    ap.add_argument("--startup-runs", type=int, default=7, help="runs per import timing (7)")
    ap.add_argument("--skip-startup", action="store_true", help="skip the subprocess timings")
    ap.add_argument(
        "--keep-numba-cache",
        action="store_true",
        help="use the environment's numba cache instead of a fresh one for this run",
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.n < 1 or args.repeats < 1 or args.startup_runs < 1:
        ap.error("--n, --repeats and --startup-runs must be positive")
    unknown = [g for g in args.groups.split(",") if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "first-calls":
            res = child_first_calls(int(rest[0]))
        elif kind == "parallel-check":
            res = child_parallel_check(rest[0], int(rest[1]))
        else:
            raise SystemExit(f"unknown child {kind}")
        print(json.dumps(res))
        return 0

    load_before = os.getloadavg()
    cache_note = "the environment's numba cache"
    tmp_cache = None
    if not args.keep_numba_cache:
        # Before numba is imported: a fresh cache, so that the run does not depend on cache
        # files left by other processes (see "Threaded-kernel check").
        tmp_cache = tempfile.mkdtemp(prefix="lowbit-bench-numba-")
        os.environ["NUMBA_CACHE_DIR"] = tmp_cache
        cache_note = "a fresh, empty `NUMBA_CACHE_DIR`, first calls on long arrays"
    try:
        import numba

        x = np.random.default_rng(SEED).standard_normal(args.n, dtype=np.float32)
        dst = np.empty_like(x)
        copy = measure(lambda: np.copyto(dst, x), args.n, args.repeats)
        ctx = Context(args, x, copy, load_before=load_before)
        sections = []
        for key in args.groups.split(","):
            group = GROUPS[key]
            sections += [f"## {group.heading}", "", *group.run(ctx)]
        try:
            numba_info = {"layer": str(numba.threading_layer())}
        except ValueError:  # lowbit runs serial kernels in its own threads
            numba_info = {"layer": "unused: lowbit runs serial kernels in its own threads"}
    finally:
        if tmp_cache is not None:
            shutil.rmtree(tmp_cache, ignore_errors=True)

    lines = [
        "# lowbit benchmarks",
        "",
        "Generated by `bench/bench_scalar.py`; do not edit by hand.  Command:",
        "",
        "```",
        command_line(),
        "```",
        "",
        *machine_lines(load_before, numba_info),
        "",
        f"lowbit kernels ran from {cache_note} (compile time is excluded by the warm-up "
        "call).  Compare ratios within one run: absolute times vary between runs on a shared "
        "virtual machine.",
        "",
        *sections,
    ]
    text = "\n".join(lines).rstrip() + "\n"
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
