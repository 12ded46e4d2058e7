"""``lowbit sweep``: a sweep written to CSV or Parquet (registered by lowbit.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``sweep`` on an argparse subparsers object (its ``run`` default is :func:`run`)."""
    p = subparsers.add_parser(
        "sweep", help="error sweep over formats × distributions → CSV/Parquet"
    )
    p.add_argument("--formats", required=True, help="comma-separated, e.g. int8,fp8_e4m3fnuz")
    p.add_argument(
        "--dist", required=True, help="comma-separated, e.g. gaussian,laplace,student_t:3"
    )
    p.add_argument("--range", default="mse", help="comma-separated range methods (default mse)")
    p.add_argument(
        "--granularity", default="per_tensor", help="per_tensor,per_channel,per_group (sampled)"
    )
    p.add_argument("--samples", type=int, help="sample this many values (default: analytic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--executor", default="serial", choices=("serial", "processes", "dask"))
    p.add_argument("-o", "--output", required=True, metavar="OUT.csv|OUT.parquet")
    p.set_defaults(run=run)
    return p


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def run(args: argparse.Namespace) -> int:
    """Run the sweep ``args`` describe and write it; 0 on success.

    >>> import argparse, tempfile, os, pandas as pd
    >>> out = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> ns = argparse.Namespace(formats="int8_narrow", dist="gaussian", range="mse",
    ...                         samples=None, seed=0, executor="serial", output=out)
    >>> run(ns), len(pd.read_csv(out))
    (0, 1)
    """
    from .sweep import sweep  # here, not at import: every `lowbit` command imports this module

    df = sweep(
        formats=_split(args.formats),
        distributions=_split(args.dist),
        ranges=_split(args.range),
        granularities=_split(getattr(args, "granularity", "per_tensor")),
        samples=args.samples,
        seed=args.seed,
        executor=args.executor,
    )
    out = Path(args.output)
    if out.suffix.lower() == ".parquet":
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
    return 0
