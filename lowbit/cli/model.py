"""``lowbit model``: quantization plans applied to a real network, layer by layer.

``MODEL`` is ``digits`` (an MLP trained here on scikit-learn's digits, a seed per
training run), ``ppocr-rec`` (PP-OCRv4 recognition from rapidocr-onnxruntime on rendered
lines) or a path to an ``.onnx`` file: random inputs of its input shapes (fidelity only),
or the user's data with ``--calibration-data CAL.npz --data EVAL.npz`` (one array per graph
input, first axis the samples; a ``.npy`` for a one-input model), and top-1 accuracy
against ``--labels LABELS.npy`` or ``--labels-key NAME`` (an array in EVAL.npz).
Each ``--plan`` is a TOML/JSON plan file (docs/nn.md) or ``NAME=WEIGHT,ACTIVATION[,TRANSFORM]``
in the operand-spec grammar (``w8a8=int8:per_channel,int8:per_token``). Prints the per-layer
SQNR (mean over seeds) and the end-to-end table (mean ± 95 % interval over seeds), and
writes every number as a tidy CSV/Parquet (``-o``; atomically). Bad plans, models and
outputs are refused before anything runs (``lowbit: error: ...``, status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``model`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser("model", help="quantization plans on a real network: per layer, end to end")
    p.add_argument("model", metavar="MODEL", help="digits, ppocr-rec, or a path to an .onnx file")
    p.add_argument(
        "--plan",
        action="append",
        required=True,
        metavar="PLAN",
        help="a .toml/.json plan, or NAME=WEIGHT,ACTIVATION[,TRANSFORM] (repeatable)",
    )
    p.add_argument(
        "--calibration", type=int, default=64, metavar="N", help="calibration inputs (64)"
    )
    p.add_argument(
        "--seeds", default="3", help="a count N (seeds 0..N-1) or a comma list (default 3)"
    )
    p.add_argument(
        "-n",
        type=int,
        help="evaluation inputs per seed (default: all held-out digits, 4 lines, all of --data;"
        " with --data each seed draws its own seeded subset of N)",
    )
    p.add_argument(
        "--calibration-data",
        metavar="CAL.npz",
        help="an .onnx model's calibration inputs: .npz by input name (or .npy), samples first",
    )
    p.add_argument(
        "--data",
        metavar="EVAL.npz",
        help="its evaluation inputs, as CAL (never used for calibration)",
    )
    labels = p.add_mutually_exclusive_group()
    labels.add_argument(
        "--labels", metavar="LABELS.npy", help="integer labels of --data: top-1 accuracy"
    )
    labels.add_argument("--labels-key", metavar="NAME", help="the labels' array in EVAL.npz")
    p.add_argument("--sensitivity", action="store_true", help="also quantize one layer at a time")
    p.add_argument("--executor", default="serial", choices=("serial", "processes", "dask"))
    p.add_argument("--save-plan", metavar="DIR", help="write each calibrated plan (TOML) here")
    p.add_argument("-o", "--output", metavar="OUT.csv|OUT.parquet|-", help="tidy results")
    p.set_defaults(run=run)
    return p


def parse_seeds(text: str) -> list[int]:
    """``"3"`` → [0, 1, 2]; ``"0,5"`` → [0, 5].

    >>> parse_seeds("3"), parse_seeds("4,7")
    ([0, 1, 2], [4, 7])
    """
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            seeds = list(range(int(text)))
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds: expected a count >= 1 or a list of seeds >= 0, got {text!r}")
    return seeds


def _fmt(mean: float, half: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if half == half else f"{mean:.{digits}f}"


def tables(results) -> tuple[str, str]:
    """The per-layer table (mean over seeds) and the end-to-end table (mean ± 95 % CI)."""
    from ..analysis.stats import summarize

    lay = results.layers
    per_layer = ""
    if not lay.empty:
        cols = ["weight_sqnr_db", "act_sqnr_db", "out_sqnr_db"]
        g = lay.groupby(["plan", "layer"], sort=False)[cols].mean().round(1)
        per_layer = g.to_string()
    e = results.end_to_end
    rows = []
    for plan in dict.fromkeys(e.plan):
        one = e[e.plan == plan]
        row = {"plan": plan}
        for col in ("metric", "float_metric", "top1_agreement", "logit_kl"):
            s = summarize(one, col).iloc[0]
            row[col] = _fmt(s["mean"], s["half_width"])
        row["seeds"] = len(one)
        bad = [x for x in one.infeasible if x]
        row["infeasible"] = bad[0] if bad else ""
        rows.append(row)
    import pandas as pd

    name = e.metric_name.iloc[0] if len(e) else "metric"
    ee = pd.DataFrame(rows).rename(columns={"metric": name, "float_metric": f"float {name}"})
    return per_layer, ee.to_string(index=False)


def run(args: argparse.Namespace) -> int:
    """Evaluate the plans; print the tables; write the tidy results. 0 on success.

    >>> import argparse
    >>> ns = argparse.Namespace(model="digits", plan=["w8=int8:per_channel,float"],
    ...     calibration=0, seeds="1", n=100, sensitivity=False, executor="serial",
    ...     save_plan=None, output=None, calibration_data=None, data=None, labels=None,
    ...     labels_key=None)
    >>> run(ns)  # doctest: +ELLIPSIS
    per layer (SQNR dB, mean over seeds):
    ...
    0
    """
    from ..fileio import check_output, write_table
    from ..nn.evaluate import MODELS, check_data, check_model, data_files, evaluate
    from ..nn.plan import Plan

    check_model(args.model)
    seeds = parse_seeds(args.seeds)
    plans = [Plan.parse(p) for p in args.plan]
    if args.calibration < 0:
        raise ValueError(f"--calibration must be >= 0, got {args.calibration}")
    if args.n is not None and args.n < 1:
        raise ValueError(f"-n must be >= 1, got {args.n}")
    files = data_files(args.model, args.calibration_data, args.data, args.labels, args.labels_key)
    if files is not None:
        check_data(args.model, files, args.calibration, args.n)
    inputs = [] if args.model in MODELS else [args.model]
    if files is not None:
        inputs += [f for f in (files.calibration, files.data, files.labels) if f]
    if args.output and args.output != "-":
        check_output(args.output, inputs)
    print(f"lowbit model: {len(plans)} plans × {len(seeds)} seeds on {args.model}", file=sys.stderr)
    results = evaluate(
        args.model,
        plans,
        seeds=seeds,
        calibration=args.calibration,
        n=args.n,
        layer_sensitivity=args.sensitivity,
        executor=args.executor,
        progress=None,  # plans done/total on a terminal
        calibration_data=args.calibration_data,
        data=args.data,
        labels=args.labels,
        labels_key=args.labels_key,
    )
    per_layer, e2e = tables(results)
    out = sys.stderr if args.output == "-" else sys.stdout  # -o -: stdout holds the CSV alone
    print("per layer (SQNR dB, mean over seeds):", file=out)
    print(per_layer, file=out)
    print("\nend to end (mean ± 95 % CI over seeds):", file=out)
    print(e2e, file=out)
    if args.save_plan:
        _save_plans(args, plans, seeds[0], files)
    if args.output:
        write_table(results.tidy(), args.output, inputs)
    return 0


def _save_plans(args, plans, seed: int, files=None) -> None:
    from ..nn.evaluate import _seed_task, calibration_batches
    from ..nn.quantize import calibrate

    out = Path(args.save_plan)
    out.mkdir(parents=True, exist_ok=True)
    task = _seed_task(args.model, seed, files)
    cal = calibration_batches(args.model, task, args.calibration, seed)
    for p in plans:
        calibrate(task.model, p, cal).plan.save(out / f"{p.name}.toml")
