"""Plans evaluated on a real model over seeds: tidy tables with 95 % intervals.

``model`` is ``"digits"`` (the MLP of `lowbit.nn.digits`; a seed is a training seed: its
own split, weights and 497 held-out images), ``"ppocr-rec"`` (PP-OCRv4 recognition,
`lowbit.nn.ocr`; a seed draws the evaluation lines), or a path to an ``.onnx`` file (random
standard-normal inputs of the model's input shapes, dynamic axes set to ``batch``; fidelity
only, the metric is NaN), or such a file with the user's data (``calibration_data`` and
``data``, optionally ``labels``: `lowbit.nn.datafile.FileTask`). Calibration data is always
other data than the evaluation's: training images for digits, the calibration file, or
lines or inputs drawn with seed ``CALIBRATION_SEED + seed``.

`evaluate` runs one plan per task through the executors of `lowbit.analysis.sweep`
("serial", "processes", "dask"); results do not depend on the executor.

>>> from lowbit.nn.plan import Plan
>>> r = evaluate("digits", [Plan.parse("w8a8=int8:per_channel,int8:per_token")], seeds=[0])
>>> row = r.end_to_end.iloc[0]
>>> row.plan, round(float(row.metric), 3), round(float(row.float_metric), 3)
('w8a8', 0.968, 0.968)
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.stats import summarize
from .datafile import DataFiles, FileTask, file_task, input_shapes
from .fidelity import Batch
from .graph import Model, load_onnx
from .measure import end_to_end, layer_errors, sensitivity
from .plan import Plan
from .quantize import calibrate
from .runtime import list_layers, run

MODELS = ("digits", "ppocr-rec")
CALIBRATION_SEED = 10_000
EXECUTORS = ("serial", "processes", "dask")


@dataclass(frozen=True)
class RandomInputTask:
    """An ONNX file with standard-normal inputs: output fidelity only (metric NaN)."""

    name: str
    model: Model
    shapes: dict
    metric_name: str = "none"
    output: str = ""
    probabilities: bool = False
    class_axis: int = -1

    def batch(self, n: int = 4, seed: int = 0) -> Batch:
        rng = np.random.default_rng(seed)
        inputs = {
            k: rng.standard_normal((n, *s[1:]) if s else (n,)).astype(np.float32)
            for k, s in self.shapes.items()
        }
        return Batch(inputs, None, seed)

    def metric(self, outputs, batch: Batch) -> float:
        return float("nan")


def check_model(model: str) -> None:
    """ValueError unless ``model`` is one of `MODELS` or an existing file."""
    if not isinstance(model, str) or (model not in MODELS and not os.path.isfile(model)):
        raise ValueError(f"model {model!r}: expected one of {', '.join(MODELS)} or an .onnx file")


def _onnx_task(path: str) -> RandomInputTask:
    check_model(path)
    model = load_onnx(path)
    shapes = {k: tuple(d or 1 for d in s) for k, s in input_shapes(model).items()}
    model.example_inputs = {k: np.zeros((1, *s[1:]), np.float32) for k, s in shapes.items()}
    return RandomInputTask(model.name, model, shapes, output=model.output_names[0])


def data_files(
    model: str,
    calibration_data: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    labels: str | os.PathLike | None = None,
    labels_key: str | None = None,
) -> DataFiles | None:
    """The user's data files for an .onnx ``model`` (None when none are given); ValueError
    unless calibration and evaluation data come together, for an .onnx file.

    >>> data_files("digits", "cal.npz", "eval.npz")
    Traceback (most recent call last):
    ...
    ValueError: data files need an .onnx model, not the built-in 'digits'
    """
    given = (calibration_data, data, labels, labels_key)
    if all(g is None for g in given):
        return None
    if model in MODELS:
        raise ValueError(f"data files need an .onnx model, not the built-in {model!r}")
    if calibration_data is None or data is None:
        raise ValueError("give calibration data and evaluation data together (both files)")
    lab = None if labels is None else os.fspath(labels)
    return DataFiles(os.fspath(calibration_data), os.fspath(data), lab, labels_key)


def check_data(model: str, files: DataFiles, calibration: int, n: int | None) -> None:
    """Read and check the data files (`lowbit.nn.datafile`) and the sample counts asked
    of them; ValueError naming the file and input otherwise (the task stays cached)."""
    task = load_task(model, 0, files)
    calibration_batches(model, task, calibration, 0)
    eval_batch(model, task, n, 0)


@functools.lru_cache(maxsize=8)
def load_task(model: str, seed: int = 0, files: DataFiles | None = None):
    """The task of ``model`` for ``seed`` (cached: a digits seed trains once per process);
    ``files`` (`data_files`): the user's data for an .onnx model, a `FileTask`."""
    if files is not None:
        check_model(model)
        return file_task(model, files)
    if model == "digits":
        from .digits import digits_task

        return digits_task(seed)
    if model == "ppocr-rec":
        from .ocr import ocr_task

        return ocr_task()
    return _onnx_task(model)


def _seed_task(model: str, seed: int, files: DataFiles | None = None):
    # one OCR / ONNX model serves every seed; digits trains one per seed
    return load_task(model, seed if model == "digits" else 0, files)


def calibration_batches(model: str, task, n: int, seed: int) -> list[Batch]:
    """``n`` calibration inputs in batches of at most 64, none of them evaluation data."""
    if n < 0:
        raise ValueError(f"calibration must be >= 0 inputs, got {n}")
    if n == 0:
        return []
    rng_seed = CALIBRATION_SEED + seed
    if isinstance(task, FileTask):
        return task.calibration_batches(n, rng_seed)
    if model == "digits":
        from .digits import load_digits, split

        x, y = load_digits()
        train, _ = split(seed)
        if n > len(train):
            raise ValueError(f"calibration: digits has {len(train)} training images, asked {n}")
        idx = np.random.default_rng(rng_seed).choice(train, n, replace=False)
        return [
            Batch({"x": x[idx[i : i + 64]]}, y[idx[i : i + 64]], rng_seed) for i in range(0, n, 64)
        ]
    sizes = [min(64, n - i) for i in range(0, n, 64)]
    return [task.batch(k, seed=rng_seed + 100 * j) for j, k in enumerate(sizes)]


def eval_batch(model: str, task, n: int | None, seed: int) -> Batch:
    """The evaluation batch of ``seed``: all held-out digits or all of the evaluation file
    (``n`` None), else ``n`` drawn with ``seed``."""
    if model == "digits" or isinstance(task, FileTask):
        return task.batch(n, seed) if n else task.batch()
    return task.batch(n or 4, seed=seed)


def evaluate_plan(
    model: str,
    plan: Plan,
    seeds: Sequence[int],
    calibration: int = 64,
    n: int | None = None,
    per_layer: bool = True,
    layer_sensitivity: bool = False,
    files: DataFiles | None = None,
) -> dict[str, list[dict]]:
    """One plan on ``model`` for each seed: rows of ``layers``, ``end_to_end`` and
    ``sensitivity`` (see `lowbit.nn.measure`), each with ``plan`` and ``seed``."""
    out: dict[str, list[dict]] = {"layers": [], "end_to_end": [], "sensitivity": []}
    for seed in seeds:
        task = _seed_task(model, seed, files)
        batch = eval_batch(model, task, n, seed)
        prep = calibrate(task.model, plan, calibration_batches(model, task, calibration, seed))
        ref = run(task.model, batch.inputs)
        tag = {"plan": plan.name, "seed": int(seed)}
        macs = {la.name: la.macs for la in list_layers(task.model)}
        if per_layer:
            for r in layer_errors(prep, batch):
                lp = prep.states[r["layer"]].plan
                out["layers"].append(
                    tag
                    | r
                    | {"macs": macs.get(r["layer"], 0), "clip": prep.states[r["layer"]].clip}
                    | {"weight": lp.weight, "activation": lp.activation}
                )
        e2e = end_to_end(prep, task, batch, ref)
        e2e["float_metric"] = float(task.metric(ref, batch))
        out["end_to_end"].append(tag | {"metric_name": task.metric_name} | e2e)
        if layer_sensitivity:
            out["sensitivity"] += [tag | r for r in sensitivity(prep, task, batch, ref)]
    return out


@dataclass
class Results:
    """Tidy tables of an evaluation: one row per (plan, seed[, layer])."""

    layers: pd.DataFrame
    end_to_end: pd.DataFrame
    sensitivity: pd.DataFrame

    def summary(self, value: str = "metric") -> pd.DataFrame:
        """Mean, 95 % t-interval half width, std and n of ``value`` per plan."""
        return summarize(self.end_to_end, value, ["plan"])

    def tidy(self) -> pd.DataFrame:
        """Every number as one row: ``table``, ``plan``, ``seed``, ``layer``, ``quantity``,
        ``value`` (what ``lowbit model -o`` writes)."""
        parts = []
        for table, df, keys in (
            ("layer", self.layers, ["plan", "seed", "layer"]),
            ("end_to_end", self.end_to_end, ["plan", "seed"]),
            ("sensitivity", self.sensitivity, ["plan", "seed", "layer"]),
        ):
            if df.empty:
                continue
            num = [c for c in df.columns if c not in keys and pd.api.types.is_numeric_dtype(df[c])]
            long = df.melt(id_vars=keys, value_vars=num, var_name="quantity")
            long.insert(0, "table", table)
            parts.append(long)
        cols = ["table", "plan", "seed", "layer", "quantity", "value"]
        return pd.concat(parts, ignore_index=True).reindex(columns=cols)


def _plan_task(task: tuple) -> dict:
    i, model, plan_dict, seeds, options = task
    try:
        rows = evaluate_plan(model, Plan.from_dict(plan_dict), seeds, **options)
        return {"index": i, "rows": rows, "error": ""}
    except Exception as e:  # one bad plan is an error row, not a lost evaluation
        return {"index": i, "rows": {}, "error": f"{type(e).__name__}: {e}"}


def _failed(task: tuple, message: str) -> dict:
    return {"index": task[0], "rows": {}, "error": message}


def evaluate(
    model: str,
    plans: Sequence[Plan],
    seeds: Sequence[int] = (0, 1, 2),
    calibration: int = 64,
    n: int | None = None,
    per_layer: bool = True,
    layer_sensitivity: bool = False,
    executor: str = "serial",
    workers: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
    calibration_data: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    labels: str | os.PathLike | None = None,
    labels_key: str | None = None,
) -> Results:
    """Evaluate ``plans`` on ``model`` over ``seeds``, one plan per executor task.

    ``calibration``: calibration inputs per seed; ``n``: evaluation inputs per seed (None:
    all held-out digits, 4 OCR lines or random inputs, or all of ``data``). For an .onnx
    model, ``calibration_data`` and ``data`` (.npz by input name, or .npy) replace the
    random inputs: calibration draws from the first only, evaluation (a seeded subset of
    ``n`` per seed) from the second only; ``labels`` (.npy) or ``labels_key`` (an array in
    ``data``) give top-1 accuracy (`lowbit.nn.datafile`). A plan that fails raises
    ValueError naming it, after the others ran.
    """
    from ..analysis.sweep import _dask_map, _process_map, _Progress

    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    plans = list(plans)
    if not plans or not all(isinstance(p, Plan) for p in plans):
        raise TypeError("plans must be a non-empty list of lowbit.nn.plan.Plan")
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise ValueError(f"plan names must differ, got {names}")
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be integers >= 0, got {seeds}")
    files = data_files(model, calibration_data, data, labels, labels_key)
    if files is not None:  # bad data fails here, before any task runs
        check_data(model, files, calibration, n)
        files.warn_overlap()
    elif model not in MODELS:
        _onnx_task(model)  # a bad path fails here, before any task runs
    options = dict(calibration=calibration, n=n, per_layer=per_layer, files=files)
    options["layer_sensitivity"] = layer_sensitivity
    tasks = [(i, model, p.to_dict(), seeds, options) for i, p in enumerate(plans)]
    show = _Progress(len(tasks), progress, label="plans")
    start = time.perf_counter()
    if executor == "serial":
        done = [show(_plan_task(t)) for t in tasks]
    elif executor == "processes":
        done = _process_map(tasks, workers, show, fn=_plan_task, failed=_failed)
    else:
        done = _dask_map(tasks, address, fn=_plan_task)
    bad = [f"{names[d['index']]}: {d['error']}" for d in done if d["error"]]
    if bad:
        raise ValueError("plans failed: " + "; ".join(bad))
    if progress:
        print(
            f"evaluated {len(plans)} plans in {time.perf_counter() - start:.1f} s", file=sys.stderr
        )
    frames = {
        k: pd.DataFrame([r for d in sorted(done, key=lambda d: d["index"]) for r in d["rows"][k]])
        for k in ("layers", "end_to_end", "sensitivity")
    }
    return Results(**frames)
