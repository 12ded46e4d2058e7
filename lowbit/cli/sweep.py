"""``lowbit sweep``: a sweep (:func:`lowbit.analysis.sweep.sweep`) written to CSV or Parquet.

``--dist`` takes the one distribution grammar of
:func:`lowbit.analysis.specs.parse_distribution` (docs/analysis.md), as ``lowbit simulate``.

Exit status: 0 when every row succeeded; 1 when the file was written but some rows failed
(each is printed to stderr as ``lowbit sweep: row FORMAT DIST RANGE GRANULARITY: ERROR``);
bad arguments (an unknown format, range or granularity, a bad seed) raise ValueError, which
``lowbit.cli`` reports as ``lowbit: error: ...`` with status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..analysis.specs import DIST_GRAMMAR
from ._common import seed_int

#: Exit status when the output was written but some rows carry an error.
ROWS_FAILED = 1


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sweep`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser(
        "sweep", help="error sweep over formats × distributions or tensors → CSV/Parquet"
    )
    p.add_argument("--formats", required=True, help="comma-separated, e.g. int8,fp8_e4m3fnuz")
    p.add_argument(
        "--dist", help=f"comma-separated, each {DIST_GRAMMAR}; e.g. gaussian,laplace,student_t:3"
    )
    p.add_argument(
        "--tensor",
        action="append",
        default=[],
        metavar="FILE[:NAME]",
        help="a tensor of a .safetensors/.npz/.npy file (repeatable); see `lowbit tensors FILE`",
    )
    p.add_argument(
        "--axis", type=int, help="block axis of block formats on --tensor (default: the last)"
    )
    p.add_argument("--range", default="mse", help="comma-separated range methods (default mse)")
    p.add_argument(
        "--granularity", default="per_tensor", help="per_tensor,per_channel,per_group (sampled)"
    )
    p.add_argument("--samples", type=int, help="sample this many values (default: analytic)")
    p.add_argument("--seed", type=seed_int, default=0, help="an integer in [0, 2^32 - 1]")
    p.add_argument("--executor", default="serial", choices=("serial", "processes", "dask"))
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT.csv|OUT.parquet|-",
        help="- is standard output",
    )
    p.set_defaults(run=run)
    return p


def _split(text: str | None, label: str, required: bool = True) -> list[str]:
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    if required and not items:
        raise ValueError(f"sweep: {label} names nothing (got {text!r}); give at least one")
    return items


def run(args: argparse.Namespace) -> int:
    """Run the sweep ``args`` describe and write it; 0 on success, 1 if some rows failed.

    >>> import argparse, tempfile, os, pandas as pd
    >>> out = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> ns = argparse.Namespace(formats="int8_narrow", dist="gaussian", range="mse",
    ...                         samples=None, seed=0, executor="serial", output=out)
    >>> run(ns), len(pd.read_csv(out))
    (0, 1)
    """
    # here, not at the top: pandas and scipy load only when a sweep runs
    from ..analysis.distributions import Empirical, parse_tensor_spec
    from ..analysis.sweep import parse_distribution, sweep
    from ..fileio import check_output, write_table

    tensors = list(getattr(args, "tensor", None) or [])
    dists = [parse_distribution(d) for d in _split(args.dist, "--dist", required=not tensors)]
    axis = getattr(args, "axis", None)
    paths = []
    for spec in tensors:
        path, name = parse_tensor_spec(spec)
        paths.append(path)
        dists.append(Empirical.from_file(path, name, axis=-1 if axis is None else axis))
    out = Path(args.output)
    check_output(out, paths)
    if out.suffix.lower() == ".parquet":
        _need_parquet()
    df = sweep(
        formats=_split(args.formats, "--formats"),
        distributions=dists,
        ranges=_split(args.range, "--range"),
        granularities=_split(getattr(args, "granularity", "per_tensor"), "--granularity"),
        samples=args.samples,
        seed=args.seed,
        executor=args.executor,
        axis=axis,
    )
    write_table(df, args.output, paths)
    failed = df[df.error != ""]
    for _, r in failed.iterrows():
        what = r["tensor"] or r["distribution"]
        print(
            f"lowbit sweep: row {r['format']} {what} {r['range']} {r['granularity']}: {r['error']}",
            file=sys.stderr,
        )
    if len(failed):
        print(f"lowbit sweep: {len(failed)} of {len(df)} rows failed; see {out}", file=sys.stderr)
        return ROWS_FAILED
    return 0


def _need_parquet() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(
            "writing .parquet needs pyarrow: pip install 'lowbit[parquet]', or name a .csv output"
        ) from None
