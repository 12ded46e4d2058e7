"""Write BENCHMARKS.md: every benchmark group of lowbit, measured in one run.

Usage (``make bench`` runs the first line):

    .venv/bin/python bench/run.py --output BENCHMARKS.md
    .venv/bin/python bench/run.py --n 100000 --repeats 2 --output /tmp/b.md   # smoke run
    .venv/bin/python bench/run.py --groups threads --output /tmp/t.md         # one group

Input: ``np.random.default_rng(0).standard_normal(n, dtype=np.float32)`` (``--n``, default
10,000,000).  The report is a list of groups (``GROUPS``): each writes one ``## `` section
of the output file, from the ``section(ctx)`` function of its modules beside this file
(bench_scalar.py and bench_startup.py, bench_block.py, bench_analysis.py, bench_macsim.py,
bench_threads.py); the timing harness and the machine table are in common.py.  The output
file is written under a temporary name and renamed, so an interrupted run leaves the old
file whole.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import SEED, Context, command_line, machine_lines, measure


@dataclass(frozen=True)
class Group:
    """One ``## `` section: its heading and the modules whose ``section(ctx)`` fill it."""

    heading: str
    modules: tuple[str, ...]


#: Benchmark groups in report order.  Modules are imported when their group runs, after
#: ``NUMBA_CACHE_DIR`` is set (they import lowbit, hence numba).
GROUPS: dict[str, Group] = {
    "scalar": Group("Scalar formats", ("bench_scalar", "bench_startup")),
    "block": Group("Block formats", ("bench_block",)),
    "analysis": Group("Error-analysis sweeps", ("bench_analysis",)),
    "macsim": Group("MAC simulator", ("bench_macsim",)),
    "threads": Group("Threads", ("bench_threads",)),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The driver's options; the groups read ``n``, ``repeats`` and the start-up options.

    >>> parse_args(["--n", "1000", "--groups", "block"]).groups
    'block'
    """
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
    args = ap.parse_args(argv)
    if args.n < 1 or args.repeats < 1 or args.startup_runs < 1:
        ap.error("--n, --repeats and --startup-runs must be positive")
    unknown = [g for g in args.groups.split(",") if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    return args


def run_groups(args: argparse.Namespace, load_before: tuple[float, ...]) -> list[str]:
    """The ``## `` sections of the chosen groups, measured on one shared input."""
    x = np.random.default_rng(SEED).standard_normal(args.n, dtype=np.float32)
    dst = np.empty_like(x)
    copy = measure(lambda: np.copyto(dst, x), args.n, args.repeats)
    ctx = Context(args, x, copy, load_before=load_before)
    sections: list[str] = []
    for key in args.groups.split(","):
        group = GROUPS[key]
        sections += [f"## {group.heading}", ""]
        for name in group.modules:
            sections += importlib.import_module(name).section(ctx)
    return sections


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run the groups and write the Markdown report."""
    args = parse_args(argv)
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

        sections = run_groups(args, load_before)
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
        "Generated by `bench/run.py`; do not edit by hand.  Command:",
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
        write_atomic(Path(args.output), text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
