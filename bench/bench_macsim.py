"""Throughput of the C MAC simulator (``lowbit.hwmodel.macsim.gemm``) against its numpy
version (``macsim.numpy_oracle.gemm_numpy``, same bit-exact results) and float32 BLAS ``np.matmul``
(the ceiling: not bit-exact, no finite accumulator), with issue 6's targets.

    .venv/bin/python bench/bench_macsim.py                 # prints the markdown section
    .venv/bin/python bench/bench_macsim.py --quick         # smaller shapes, one repeat
    .venv/bin/python bench/run.py --groups macsim --output /tmp/x.md

``bench/run.py`` calls :func:`section` for its "macsim" group.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import SEED, Context, fmt_rate, fmt_x, md_table, measure

K = 1024
#: the C GEMM runs at 1024×K×1024 unless that is estimated to take longer than this
MAX_C_SECONDS = 20.0
#: the numpy version runs at this M = N (its cost per MAC barely depends on M·N ≥ 128²)
NUMPY_MN = 256
TARGET_RATIO = 50.0  # each configuration ≥ 50× the numpy version (issue 6)


@dataclass(frozen=True)
class Config:
    label: str
    fmt: str  # both operands
    acc: Any  # accumulator argument of gemm
    target: float | None  # single-core MAC/s target of issue 6, None: only the ratio
    target_note: str = ""


def configs() -> list[Config]:
    from lowbit.hwmodel.macsim import FixedAccumulator

    return [
        Config("INT8×INT8 → fixed 32-bit wrap", "int8", FixedAccumulator(32, 0, "wrap"), 5e9),
        Config(
            "INT8×INT8 → fixed 32-bit saturate",
            "int8",
            FixedAccumulator(32, 0, "saturate"),
            5e8,
            "sat.",
        ),
        Config(
            "INT8×INT8 → fixed 20-bit saturate",
            "int8",
            FixedAccumulator(20, 0, "saturate"),
            5e8,
            "narrow",
        ),
        Config("E4M3×E4M3 → FP32", "fp8_e4m3fn", "fp32", 1e9),
        Config("E4M3×E4M3 → FP16", "fp8_e4m3fn", "fp16", 5e8),
        Config("E4M3×E4M3 → BF16", "fp8_e4m3fn", "bf16", None),
        Config("E4M3×E4M3 → exact", "fp8_e4m3fn", "exact", None),
    ]


def operands(fmt_name: str, m: int, k: int, n: int, seed: int = SEED):
    """Codes of N(0, 1) matrices: integer formats scaled per tensor so that max|x| is the
    format's max; float formats as drawn (E4M3 holds N(0, 1) without scaling, and scaling
    to 448 would overflow an FP16 accumulator within a few hundred steps)."""
    from lowbit import IntFormat, get_format

    fmt = get_format(fmt_name)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    if isinstance(fmt, IntFormat):
        top = float(fmt.max)
        a, b = a * (top / np.abs(a).max()), b * (top / np.abs(b).max())
    return fmt, fmt.encode(a), fmt.encode(b)


def timed(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls (no warm-up: nothing here compiles lazily)."""
    return measure(fn, 1, repeats, warmup=False).median


def gemm_kwargs() -> dict[str, bool]:
    from lowbit.hwmodel.macsim import gemm

    params = inspect.signature(gemm).parameters
    return {"threads": "threads" in params, "order": "order" in params}


def blas_one_thread(m: int, k: int, n: int, repeats: int) -> float | None:
    """Seconds per float32 ``np.matmul`` of m×k by k×n in a child limited to one BLAS thread."""
    code = (
        "import json, time, statistics, numpy as np\n"
        f"r = np.random.default_rng({SEED})\n"
        f"a = r.standard_normal(({m}, {k}), dtype=np.float32)\n"
        f"b = r.standard_normal(({k}, {n}), dtype=np.float32)\n"
        "a @ b\n"
        "t = []\n"
        f"for _ in range({repeats}):\n"
        "    t0 = time.perf_counter(); a @ b; t.append(time.perf_counter() - t0)\n"
        "print(json.dumps(statistics.median(t)))\n"
    )
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env[var] = "1"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
        )
        return float(json.loads(out.stdout.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def measure_config(cfg: Config, repeats: int, max_seconds: float, k: int, quick: bool) -> dict:
    from lowbit.hwmodel.macsim import gemm
    from lowbit.hwmodel.macsim.numpy_oracle import gemm_numpy

    has = gemm_kwargs()
    print(f"[macsim] {cfg.label}", file=sys.stderr, flush=True)
    # probe: estimate the C rate on a small shape, then pick the largest M = N ≤ 1024 that
    # is expected to finish within max_seconds
    fmt, a, b = operands(cfg.fmt, 128, k, 128)
    probe = timed(lambda: gemm(a, b, fmt, fmt, accumulator=cfg.acc), 1)
    rate = 128 * 128 * k / max(probe, 1e-9)
    mn = 1024 if not quick else 256
    while mn > 128 and mn * mn * k / rate > max_seconds:
        mn //= 2
    fmt, a, b = operands(cfg.fmt, mn, k, mn)
    macs = mn * mn * k
    est = macs / rate
    reps = repeats if est < 2.0 else 1
    t1 = timed(lambda: gemm(a, b, fmt, fmt, accumulator=cfg.acc), reps)
    t2 = None
    if has["threads"]:
        t2 = timed(lambda: gemm(a, b, fmt, fmt, accumulator=cfg.acc, threads=2), reps)
    af = fmt.decode(a).astype(np.float32)
    bf = fmt.decode(b).astype(np.float32)
    af @ bf
    t_blas = timed(lambda: af @ bf, max(repeats, 10))
    t_blas1 = blas_one_thread(mn, k, mn, max(repeats, 10))
    # numpy version on NUMPY_MN × K × NUMPY_MN, and the C result on the same operands
    nm = NUMPY_MN if not quick else 128
    fmt, a, b = operands(cfg.fmt, nm, k, nm)
    t_np = timed(lambda: gemm_numpy(a, b, fmt, fmt, accumulator=cfg.acc), repeats)
    c_np, st_np = gemm_numpy(a, b, fmt, fmt, accumulator=cfg.acc)
    c_c, st_c = gemm(a, b, fmt, fmt, accumulator=cfg.acc)
    same = bool(np.array_equal(c_np.view(np.uint64), c_c.view(np.uint64)))
    same_stats = all(st_np[key] == st_c[key] for key in st_np)
    return dict(
        cfg=cfg,
        mn=mn,
        k=k,
        reps=reps,
        c1=macs / t1,
        c2=None if t2 is None else macs / t2,
        t1=t1,
        blas=macs / t_blas,
        blas1=None if t_blas1 is None else macs / t_blas1,
        np_mn=nm,
        numpy=nm * nm * k / t_np,
        same=same,
        same_stats=same_stats,
        stats=st_c,
    )


def report(repeats: int = 3, max_seconds: float = MAX_C_SECONDS, k: int = K, quick=False):
    """The markdown lines of the section (without its ``## `` heading)."""
    has = gemm_kwargs()
    results = [measure_config(c, repeats, max_seconds, k, quick) for c in configs()]
    rows, target_rows, checks = [], [], []
    all_met = True
    for r in results:
        cfg = r["cfg"]
        ratio = r["c1"] / r["numpy"]
        rows.append(
            [
                cfg.label,
                f"{r['mn']}×{r['k']}×{r['mn']}",
                fmt_rate(r["c1"]),
                fmt_rate(r["c2"]),
                fmt_rate(r["numpy"]),
                fmt_x(ratio),
                fmt_rate(r["blas1"]),
                fmt_x(None if r["blas1"] is None else r["c1"] / r["blas1"], 3),
                fmt_rate(r["blas"]),
            ]
        )
        rate_met = None if cfg.target is None else r["c1"] >= cfg.target
        ratio_met = ratio >= TARGET_RATIO
        met = ratio_met and rate_met is not False
        all_met &= met
        target_rows.append(
            [
                cfg.label,
                "—" if cfg.target is None else f"≥ {fmt_rate(cfg.target)}",
                fmt_rate(r["c1"]),
                "—" if rate_met is None else ("met" if rate_met else "**not met**"),
                f"≥ {TARGET_RATIO:g}×",
                fmt_x(ratio),
                "met" if ratio_met else "**not met**",
            ]
        )
        verdict = "identical" if r["same"] else "**differ**"
        sverdict = "equal" if r["same_stats"] else "**differ**"
        checks.append(
            f"- {cfg.label}: results {verdict} bit for bit, stats {sverdict} "
            f"(overflow {r['stats']['overflow']:,}, swamping {r['stats']['swamping']:,}, "
            f"absorbed {r['stats']['absorbed']:,} on {r['np_mn']}×{k}×{r['np_mn']})."
        )
    # the numpy version's MAC/s against M = N, one configuration (it flattens once the
    # per-step Python overhead is amortised)
    from lowbit.hwmodel.macsim.numpy_oracle import gemm_numpy

    shape_rates = []
    for mn in (64, 128, NUMPY_MN, 2 * NUMPY_MN) if not quick else (64, 128):
        fmt, a, b = operands("fp8_e4m3fn", mn, k, mn)
        t = timed(lambda a=a, b=b, fmt=fmt: gemm_numpy(a, b, fmt, fmt, accumulator="fp16"), 1)
        shape_rates.append(f"{mn}×{k}×{mn}: {fmt_rate(mn * mn * k / t)}")
    threads_note = (
        "`threads=2`"
        if has["threads"]
        else "— (this build's `gemm` has no `threads=` argument yet)"
    )
    nm = results[0]["np_mn"]
    return [
        f"C = A·B, K = {k}, operands given as codes of N(0, 1) draws "
        f"(`np.random.default_rng({SEED})`; INT8 scaled per tensor so that max|x| = 127, "
        "E4M3 unscaled).  `gemm` (C core, bit-exact, statistics on, sequential order) is timed "
        f"on M = N = {1024 if not quick else 256} unless a probe on 128×{k}×128 predicts more "
        f"than {max_seconds:g} s, "
        "then on the largest halved M = N that fits (the C shape column says which); median "
        f"of {repeats} call(s), one call where a call takes over 2 s.  The numpy version "
        "(`lowbit.hwmodel.macsim.numpy_oracle.gemm_numpy`: a Python loop over K of whole-array "
        "operations on all M×N accumulators, identical results and statistics; it skips the "
        "wrap/saturate checks when no partial sum can overflow, as for INT8 into 32 bits) "
        f"runs on {nm}×{k}×{nm} (median of {repeats} call(s)).  MAC/s compare across the "
        "two shapes: both do the same work per MAC at any M, N for a given K, once numpy's "
        "per-step Python overhead is spread over enough outputs; numpy's MAC/s against "
        "M = N in this run (E4M3 → FP16, one call each): "
        f"{', '.join(shape_rates)}.  BLAS: float32 `np.matmul` of the decoded operands on the C "
        "shape, not bit-exact and with no finite accumulator (the ceiling); 1 thread in a "
        "child process with `OMP/OPENBLAS/MKL_NUM_THREADS=1`, and with numpy's default "
        f"threads in-process.  C, 2 threads: {threads_note}.",
        "",
        *md_table(
            [
                "configuration",
                "C shape",
                "C MAC/s, 1 thread",
                "C MAC/s, 2 threads",
                "numpy MAC/s",
                "C / numpy",
                "BLAS MAC/s, 1 thread",
                "C / BLAS (1 thread)",
                "BLAS MAC/s, default threads",
            ],
            rows,
            "llrrrrrrr",
        ),
        "",
        "### Targets (issue 6, single core)",
        "",
        *md_table(
            ["configuration", "target MAC/s", "C MAC/s", "", "target vs numpy", "C / numpy", ""],
            target_rows,
            "lrrlrrl",
        ),
        "",
        f"All targets met: {'yes' if all_met else '**no**'}.",
        "",
        "C against the numpy version in the same run, on the numpy shape:",
        "",
        *checks,
        "",
    ]


def section(ctx: Context) -> list[str]:
    """The driver's "macsim" group: ``ctx.args.repeats`` caps the repeats at 3."""
    return report(repeats=min(3, ctx.args.repeats))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per figure (3)")
    ap.add_argument("--k", type=int, default=K, help=f"inner dimension K ({K})")
    ap.add_argument("--max-seconds", type=float, default=MAX_C_SECONDS)
    ap.add_argument("--quick", action="store_true", help="C at ≤ 256², numpy at 128², smoke run")
    args = ap.parse_args(argv)
    lines = report(args.repeats, args.max_seconds, args.k, args.quick)
    print("\n".join(["## MAC simulator", "", *lines]).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
