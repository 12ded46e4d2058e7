"""The start-up subsection of "Scalar formats": what a fresh process pays before the first
fast call.

``import lowbit`` against ``import numpy``/``numba`` in fresh interpreters; the first and
second call of every scalar operation in a fresh process with an empty and then a warm
``NUMBA_CACHE_DIR``; and whether the threaded kernel's second thread runs after a first
call on a large or on a short array.  The measurements run in child processes started as
``python bench/bench_startup.py --child ...``.  The driver adds :func:`section` at the end of
the scalar group unless ``--skip-startup`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from bench_scalar import GFLOAT_MAX, OPS, SCALAR_CASES
from common import SEED, Context, fmt_ms, md_table, thread_cpu_ticks, worker_ticks


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


def section(ctx: Context) -> list[str]:
    """The "### Start-up" subsection; nothing with ``--skip-startup``."""
    if ctx.args.skip_startup:
        return []
    print("[scalar] start-up", file=sys.stderr, flush=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: ``--child first-calls N`` or ``--child parallel-check ORDER N``;
    prints one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs="+", required=True, help="measurement to run")
    kind, *rest = ap.parse_args(argv).child
    if kind == "first-calls":
        res = child_first_calls(int(rest[0]))
    elif kind == "parallel-check":
        res = child_parallel_check(rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown child {kind}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
