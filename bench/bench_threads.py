"""lowbit on one and two threads, on an idle machine and beside a busy process.

Usage (also the ``threads`` group of ``bench/run.py``; ``make bench`` runs all):

    .venv/bin/python bench/bench_threads.py                      # markdown to stdout
    .venv/bin/python bench/run.py --groups threads --output /tmp/threads.md

fp8_e4m3fn quantize-dequantize of ``--n`` float32 values (default 10,000,000), with a new
output array and with ``out=``, on 1 and 2 lowbit threads, against ``np.copyto`` and the
ml_dtypes round trip ``x.astype(float8_e4m3fn).astype(float32)`` measured in the same
process.  Each figure is measured in ``--processes`` fresh processes (threading behaviour
can differ from one process to the next), each taking the median of ``--repeats`` rounds
in which every variant runs once (so a change of load hits all variants alike).  "loaded":
the benchmark itself runs one busy-loop process (``python -c "while True: pass"``) beside
the measuring process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import SEED, TARGET_COPY_1T, TARGET_VS_MLDTYPES, Context

HOG = "while True: pass"
VARIANTS = ("t1", "t2", "t1o", "t2o")
LABEL = {
    "t1": "lowbit, 1 thread, new output array",
    "t2": "lowbit, 2 threads, new output array",
    "t1o": "lowbit, 1 thread, `out=`",
    "t2o": "lowbit, 2 threads, `out=`",
}


def child(n: int, repeats: int) -> dict:
    """In a fresh process: per-variant median seconds, interleaved rounds."""
    import ml_dtypes

    import lowbit
    from lowbit.threads import max_threads

    f = lowbit.get_format("fp8_e4m3fn")
    x = np.random.default_rng(SEED).standard_normal(n, dtype=np.float32)
    dst = np.empty_like(x)
    out = np.empty_like(x)
    two = max_threads() >= 2

    def q(threads: int, use_out: bool):
        def fn():
            lowbit.set_num_threads(threads)
            return f.quantize(x, out=out if use_out else None)

        return fn

    fns = {
        "copy": lambda: np.copyto(dst, x),
        "ml_dtypes": lambda: x.astype(ml_dtypes.float8_e4m3fn).astype(np.float32),
        "t1": q(1, False),
        "t1o": q(1, True),
    }
    if two:
        fns.update(t2=q(2, False), t2o=q(2, True))
    first = {k: fn() for k, fn in fns.items()}  # warm-up (and compile)
    ref = first["t1"].view(np.uint32)
    agree = {k: bool(np.array_equal(first[k].view(np.uint32), ref)) for k in VARIANTS if k in fns}
    ml = first["ml_dtypes"]
    agree["ml_dtypes"] = bool(
        np.array_equal(np.isnan(ml), np.isnan(first["t1"]))
        and np.array_equal(ml[~np.isnan(ml)], first["t1"][~np.isnan(ml)])
    )
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {"median": {k: statistics.median(v) for k, v in times.items()}, "agree": agree}


def _run_children(n: int, repeats: int, processes: int, loaded: bool) -> list[dict]:
    hog = subprocess.Popen([sys.executable, "-c", HOG]) if loaded else None
    try:
        if hog is not None:
            time.sleep(0.5)  # let the scheduler see it
        res = []
        for _ in range(processes):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n), str(repeats)]
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res.append(json.loads(r.stdout.strip().splitlines()[-1]))
        return res
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def _ms(s: float) -> str:
    return f"{s * 1e3:.2f}"


def measure_states(n: int, repeats: int, processes: int) -> dict:
    """Per-process medians on the idle machine and beside a busy process, and the load."""
    load0 = os.getloadavg()[0]
    data = {
        "idle": _run_children(n, repeats, processes, loaded=False),
        "loaded": _run_children(n, repeats, processes, loaded=True),
    }
    return {"runs": data, "load": (load0, os.getloadavg()[0])}


def report(m: dict, n: int, repeats: int, processes: int, command: str) -> list[str]:
    rows = []
    verdicts = []
    disagree = set()
    for cond, runs in m["runs"].items():
        for d in runs:
            disagree |= {k for k, ok in d["agree"].items() if not ok}
        keys = [k for k in ("copy", "ml_dtypes", *VARIANTS) if k in runs[0]["median"]]
        med = {k: statistics.median(d["median"][k] for d in runs) for k in keys}
        for k in keys:
            per = [d["median"][k] for d in runs]
            xc = statistics.median(d["median"][k] / d["median"]["copy"] for d in runs)
            vs = statistics.median(d["median"]["ml_dtypes"] / d["median"][k] for d in runs)
            rows.append(
                f"| {cond} | {LABEL.get(k, '`np.copyto(dst, x)`' if k == 'copy' else 'ml_dtypes round trip')} "
                f"| {_ms(med[k])} | {_ms(min(per))}–{_ms(max(per))} | {xc:.2f} | {vs:.1f} |"
            )
        if cond == "idle":
            for k in ("t1", "t1o"):
                xc = statistics.median(d["median"][k] / d["median"]["copy"] for d in runs)
                vs = statistics.median(d["median"]["ml_dtypes"] / d["median"][k] for d in runs)
                ok = xc <= TARGET_COPY_1T and vs >= TARGET_VS_MLDTYPES
                verdicts.append(
                    f"| {LABEL[k]} | {xc:.2f}× (≤ {TARGET_COPY_1T:g}×) | "
                    f"{vs:.1f}× (≥ {TARGET_VS_MLDTYPES:g}×) | {'**met**' if ok else '**not met**'} |"
                )
    load0, load1 = m["load"]
    out = [
        f"fp8_e4m3fn quantize-dequantize of {n:,} float32 values "
        f"(`np.random.default_rng({SEED}).standard_normal(n)`), each figure the median over "
        f"{processes} fresh processes of the per-process median of {repeats} interleaved "
        "rounds; the range is the spread of those per-process medians.  × copy: time over "
        "`np.copyto` time in the same process; vs ml_dtypes: the ml_dtypes round trip's time "
        "over this row's time.  *loaded*: one busy-loop process (`python -c \"while True: "
        f'pass"`) runs beside the measurement.  1-minute load average {load0:.2f} at the '
        f"start, {load1:.2f} at the end ({os.cpu_count()} logical cores; other processes on "
        "the machine count as load too, so *idle* means no load added by the benchmark).",
        "",
        "Reproduce:",
        "",
        "```",
        command,
        "```",
        "",
        "| machine | what | median ms | range ms | × copy | vs ml_dtypes |",
        "|:--|:--|--:|--:|--:|--:|",
        *rows,
        "",
        "Targets (one thread, idle machine):",
        "",
        "| what | × copy | vs ml_dtypes | verdict |",
        "|:--|--:|--:|:--|",
        *verdicts,
        "",
    ]
    if disagree:
        out += [
            f"**Results differ from the one-thread result: {', '.join(sorted(disagree))}.**",
            "",
        ]
    else:
        out += [
            "Every variant's result is bit-identical to the one-thread result, and equal to "
            "ml_dtypes' (NaN where ml_dtypes has NaN), in every process.",
            "",
        ]
    return out


def section(ctx: Context) -> list[str]:
    """The driver's ``threads`` group (uses its --n, and --repeats of at least 11)."""
    n, repeats = ctx.args.n, max(ctx.args.repeats, 11)
    processes = 3
    m = measure_states(n, repeats, processes)
    cmd = f".venv/bin/python bench/bench_threads.py --n {n} --repeats {repeats} --processes {processes}"
    return report(m, n, repeats, processes, cmd)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=10_000_000, help="values (10,000,000)")
    ap.add_argument("--repeats", type=int, default=11, help="rounds per process (11)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per machine state")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(int(args.child[0]), int(args.child[1]))))
        return 0
    if args.n < 1 or args.repeats < 1 or args.processes < 1:
        ap.error("--n, --repeats and --processes must be positive")
    m = measure_states(args.n, args.repeats, args.processes)
    cmd = (
        f".venv/bin/python bench/bench_threads.py --n {args.n} --repeats {args.repeats} "
        f"--processes {args.processes}"
    )
    sys.stdout.write(
        "\n".join(["## Threads", "", *report(m, args.n, args.repeats, args.processes, cmd)])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
