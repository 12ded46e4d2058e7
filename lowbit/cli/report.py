"""``lowbit report [RECIPE.toml]``: the PDF report of a recipe, or (``--tables``) the
Markdown/CSV format and N(0, 1) accuracy tables."""

from __future__ import annotations

import argparse
import sys
from importlib.resources import as_file as resources_path

from ..fileio import STDOUT, check_output
from ._common import seed_int

#: The recipe ``lowbit report`` reads when none is named (a built-in copy if it is missing).
_DEFAULT_RECIPE = "reports/format-comparison.toml"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser(
        "report", help="write the PDF report of a recipe (default: the packaged format comparison)"
    )
    p.add_argument(
        "recipe",
        nargs="?",
        metavar="RECIPE.toml",
        help=f"report recipe (default: ./{_DEFAULT_RECIPE} when it exists, else the packaged "
        "lowbit/report/recipes/format-comparison.toml)",
    )
    p.add_argument(
        "-o", "--output", metavar="OUT.pdf|DIR", help="PDF path, or a directory for RECIPE.pdf"
    )
    p.add_argument("--seed", type=seed_int, help="override the recipe's seed")
    p.add_argument(
        "--host-name",
        action="store_true",
        help="print this computer's network name on the title page (default: left out)",
    )
    p.add_argument(
        "--tables",
        action="store_true",
        help="write the Markdown/CSV format and N(0, 1) accuracy tables to DIR instead",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="build the packaged quick recipe instead (every study on small sizes, seconds: "
        "for CI and for trying a change; lowbit/report/recipes/smoke.toml)",
    )
    p.add_argument("--samples", type=int, default=1_000_000, help=argparse.SUPPRESS)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the PDF report of a recipe (``--tables``: the basic accuracy tables); 0 on success."""
    if args.tables:
        return _run_tables(args)
    from pathlib import Path

    from ..report.build import build_report
    from ..report.recipe import DEFAULT_RECIPE, RECIPES, load_recipe

    source = args.recipe
    if args.quick:
        if source is not None:
            raise ValueError("lowbit report: --quick builds the packaged quick recipe; name "
                             "either a RECIPE.toml or --quick, not both")  # fmt: skip
        with resources_path(RECIPES / "smoke.toml") as quick:
            source = str(quick)
    elif source is None and Path(DEFAULT_RECIPE).is_file():
        source = DEFAULT_RECIPE
    if args.output == STDOUT:
        raise ValueError(
            "lowbit report writes a PDF and a folder of CSV files: -o names a .pdf or a "
            "directory, not standard output"
        )
    recipe = load_recipe(source)  # None: the built-in copy of the default recipe
    if args.seed is not None:
        recipe.seed = args.seed
    stem = Path(source).stem if source else Path(DEFAULT_RECIPE).stem
    out = Path(args.output) if args.output else Path("reports/out")
    if out.suffix.lower() != ".pdf":
        out = out / f"{stem}.pdf"
    check_output(out, [source])
    command = "lowbit report" + (f" {source}" if source else "") + f" -o {out}"

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    res = build_report(
        recipe,
        out,
        progress=None if args.quiet else progress,
        command=command,
        host_name=args.host_name,
    )
    for problem in res.problems:
        print(f"lowbit: warning: layout: {problem}", file=sys.stderr)
    for note in res.notes:
        print(f"lowbit: note: {note}", file=sys.stderr)
    print(
        f"wrote {res.path} ({res.pages} pages, {res.figures} figures, {res.tables} tables) "
        f"in {res.seconds:.1f} s"
    )
    if res.data_files:
        print(f"data behind them: {res.data_files[0].parent}/ ({len(res.data_files)} CSV files)")
    return 0


def _run_tables(args: argparse.Namespace) -> int:
    from ..report import write_basic_report

    results = []
    seed = 0 if args.seed is None else args.seed

    def progress(i, total, r):
        results.append(r)
        print(
            f"[{i:>2}/{total}] {r.name:<14} {r.sqnr_db:6.2f} dB  {r.accuracy_bits:5.2f} bits",
            file=sys.stderr,
        )

    out_dir = args.output or "reports/out"
    if out_dir == STDOUT:
        raise ValueError("lowbit report --tables writes four files: -o names a directory")
    paths = write_basic_report(out_dir, n=args.samples, seed=seed, on_result=progress)
    print(
        f"format accuracy on {args.samples:,} N(0, 1) samples (seed {seed}), "
        "per-tensor absmax scale; best SQNR per width:"
    )
    for bits in sorted({r.bits for r in results}):
        best = max((r for r in results if r.bits == bits), key=lambda r: r.sqnr_db)
        print(f"  {bits:>2} bits  {best.name:<14} {best.sqnr_db:6.2f} dB")
    print("wrote:")
    for path in paths:
        print(f"  {path}")
    return 0
