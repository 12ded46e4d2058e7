"""``lowbit tensors FILE``: the tensors of a checkpoint file (:func:`lowbit.analysis.tensors.list_tensors`)."""

from __future__ import annotations

import argparse
import json
import math


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``tensors`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser(
        "tensors", help="list the tensors (name, dtype, shape) of a .safetensors/.npz/.npy file"
    )
    p.add_argument("file", metavar="FILE", help="a .safetensors, .npz or .npy file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print one line per tensor: name, dtype, shape, element count; 0 on success.

    >>> import argparse, tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "w.npz"); np.savez(p, w=np.zeros((2, 3)))
    >>> run(argparse.Namespace(file=p, json=False))
    name  dtype    shape   values
    w     float64  [2, 3]  6
    0
    """
    from ..analysis.tensors import list_tensors

    infos = list_tensors(args.file)
    if args.json:
        print(json.dumps([{"name": n, "dtype": d, "shape": list(s)} for n, d, s in infos]))
        return 0
    rows = [("name", "dtype", "shape", "values")]
    rows += [(n, d, str(list(s)), str(math.prod(s))) for n, d, s in infos]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    return 0
