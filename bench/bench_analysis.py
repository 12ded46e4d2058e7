"""Error-analysis reproductions and sweep throughput, printed as Markdown.

Usage:

    .venv/bin/python bench/bench_analysis.py                    # everything (about 4 minutes on 2 cores)
    .venv/bin/python bench/bench_analysis.py --configs 100 --no-lloyd-max   # smoke run
    .venv/bin/python bench/run.py --groups analysis --output /tmp/a.md      # the driver's group

The driver (bench/run.py) calls :func:`section`: the throughput table only.

1. ACIQ's optimal Laplace clip at 2, 3, 4 (and 8) bits: the closed form, golden-section on
   ACIQ's MSE model, and golden-section on the exact MSE of the 2^M-level uniform quantizer.
2. Bits of accuracy log2(σ/RMSE) of the FP8-vs-INT8 study (van Baalen et al. 2023) with the
   MSE-optimal per-tensor scale, exact expected MSE, and Lloyd–Max (256 levels) as the line
   no 8-bit scalar quantizer can beat.
3. Configurations per second of a sweep of ``--configs`` (format, distribution) pairs,
   analytic and sampled (``--samples`` each), with the serial, processes and dask executors.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import Context

from lowbit.analysis import Gaussian, Laplace, StudentT, Uniform, optimal_clip, sweep
from lowbit.analysis.expected import uniform_grid
from lowbit.analysis.lloyd_max import lloyd_max
from lowbit.analysis.metrics import bits_from_mse
from lowbit.analysis.ranges import aciq, aciq_mse, golden_section, mse_clip

FP8_STUDY = ["int8_narrow", "fp8_e2m5fnuz", "fp8_e3m4fnuz", "fp8_e4m3fnuz", "fp8_e5m2fnuz"]
DISTS = {"uniform": Uniform(-1.0, 1.0), "normal": Gaussian(1.0), "student-t ν=3": StudentT(3.0)}


def aciq_table() -> str:
    lines = [
        "| bits | paper | ACIQ closed form | golden-section, ACIQ model | exact MSE, uniform quantizer |",
        "|---:|---:|---:|---:|---:|",
    ]
    paper = {2: "2.83", 3: "3.89", 4: "5.03", 8: "–"}
    for m in (2, 3, 4, 8):
        closed = aciq(m, Laplace(1.0))
        model, _ = golden_section(lambda a, m=m: aciq_mse(a, m, "laplace", 1.0), 0.5, 30.0)
        exact, _ = mse_clip(uniform_grid(m), Laplace(1.0))
        lines.append(f"| {m} | {paper[m]} | {closed:.3f} | {model:.3f} | {exact:.3f} |")
    return "\n".join(lines)


def bits_table(with_lloyd_max: bool) -> str:
    head = "| format | " + " | ".join(DISTS) + " |"
    lines = [head, "|---|" + "---:|" * len(DISTS)]
    for f in FP8_STUDY:
        cells = [bits_from_mse(optimal_clip(f, d)[1], d.var()) for d in DISTS.values()]
        lines.append(f"| {f} | " + " | ".join(f"{b:.2f}" for b in cells) + " |")
    if with_lloyd_max:
        cells = [bits_from_mse(lloyd_max(d, 256).mse, d.var()) for d in DISTS.values()]
        lines.append("| Lloyd–Max, 256 levels | " + " | ".join(f"{b:.2f}" for b in cells) + " |")
    return "\n".join(lines)


def throughput(configs: int, samples: int, executors: list[str], range_method: str = "mse") -> str:
    """A Markdown table of configurations per second, one row per (mode, executor)."""
    fmts = ["int8_narrow", "fp8_e4m3fnuz", "fp8_e5m2fnuz", "fp8_e2m5fnuz", "int4"]
    dists = [Gaussian(0.5 + i / configs) for i in range(max(1, configs // len(fmts)))]
    lines = [
        "| mode | executor | configurations | seconds | configurations/s |",
        "|---|---|---:|---:|---:|",
    ]
    for mode, n in (("analytic", None), (f"sampled ({samples:,})", samples)):
        for ex in executors:
            kw = {"workers": 2} if ex == "processes" else {}
            start = time.perf_counter()
            df = sweep(
                fmts, dists, ranges=[range_method], samples=n, executor=ex, progress=False, **kw
            )
            t = time.perf_counter() - start
            bad = int((df.error != "").sum())
            note = f" ({bad} errors)" if bad else ""
            lines.append(f"| {mode} | {ex}{note} | {len(df)} | {t:.2f} | {len(df) / t:,.0f} |")
    return "\n".join(lines)


def section(ctx: Context) -> list[str]:
    """The "Error-analysis sweeps" section of the driver: sweep throughput, about 15 s."""
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--no-lloyd-max", action="store_true")
    ap.add_argument("--executors", default="serial,processes,dask")
    ap.add_argument("--range", default="mse", help="range method of the throughput sweep")
    args = ap.parse_args(argv)
    executors = args.executors.split(",")
    if "dask" in executors:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            executors.remove("dask")
    print("## ACIQ: optimal clip of Laplace(b), in units of b\n")
    print(aciq_table())
    print("\n## Bits of accuracy, MSE-optimal per-tensor scale (exact expected MSE)\n")
    print(bits_table(not args.no_lloyd_max))
    print(f"\n## Sweep throughput, {args.configs} configurations, range {args.range}\n")
    print(throughput(args.configs, args.samples, executors, args.range))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
