"""A user's own data for an ONNX model: calibration and evaluation arrays read from files.

`DataFiles` names a calibration file, an evaluation file and optionally labels. Each data
file is an ``.npz`` with one array per graph input name (or a single ``.npy`` when the
model has one input), the first axis the samples. Every array is checked before anything
runs: each input present, a floating-point dtype, the graph's static dimensions, the same
number of samples in every input, and no NaN or infinity. `FileTask` is the task
`lowbit.nn.evaluate.load_task` builds from them: calibration draws only from the
calibration file, evaluation only from the evaluation file; a seed draws a seeded subset of
``n`` evaluation samples (all of them when ``n`` is None, the same for every seed). With
labels (integers, one per output position) the metric is top-1 accuracy of the model's
first output along its last axis; without, the metric is NaN (fidelity only).

>>> import numpy as np
>>> _check_array("x", np.zeros((5, 3), np.int64), (None, 3), "eval.npz")
Traceback (most recent call last):
...
ValueError: eval.npz: input 'x' has dtype int64; expected floating point of shape (N, 3)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .fidelity import Batch
from .graph import Model, load_onnx
from .runtime import run


@dataclass(frozen=True)
class DataFiles:
    """Paths of the calibration data, the evaluation data and the labels (a ``.npy``
    file, or ``labels_key``: the name of an array in the evaluation ``.npz``)."""

    calibration: str
    data: str
    labels: str | None = None
    labels_key: str | None = None

    def check(self) -> None:
        """ValueError for a missing file or contradictory labels."""
        for what, path in (("calibration data", self.calibration), ("data", self.data)):
            if not os.path.isfile(path):
                raise ValueError(f"{what} {path!r}: no such file (expected .npz or .npy)")
        if self.labels is not None and self.labels_key is not None:
            raise ValueError("give labels as a .npy file or as labels_key, not both")
        if self.labels is not None and not os.path.isfile(self.labels):
            raise ValueError(f"labels {self.labels!r}: no such file (expected .npy)")

    def warn_overlap(self) -> None:
        """A warning on stderr when calibration and evaluation are the same file: the
        static ranges are then fitted on the test inputs."""
        if os.path.samefile(self.calibration, self.data):
            print(
                f"lowbit: warning: calibration data and evaluation data are the same file "
                f"({self.data}): the ranges are fitted on the test inputs",
                file=sys.stderr,
            )


def input_shapes(model: Model) -> dict[str, tuple[int | None, ...]]:
    """The graph inputs' shapes, None for a dynamic dimension; ValueError for a non-float
    input (an integer token input needs a task written in Python)."""
    shapes = {}
    for i in model.proto.graph.input:
        if i.name not in model.input_names:
            continue
        if i.type.tensor_type.elem_type != 1:  # FLOAT
            raise ValueError(
                f"{model.name}: input {i.name!r} is not float32; give a task in Python"
            )
        dims = i.type.tensor_type.shape.dim
        shapes[i.name] = tuple(d.dim_value if d.dim_value > 0 else None for d in dims)
    return shapes


def _shape_text(shape: tuple[int | None, ...]) -> str:
    dims = ["N", *("?" if d is None else str(d) for d in shape[1:])]
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")


def _check_array(name: str, a: np.ndarray, shape: tuple, path: str) -> np.ndarray:
    want = _shape_text(shape)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(
            f"{path}: input {name!r} has dtype {a.dtype}; expected floating point of shape {want}"
        )
    ok = a.ndim == len(shape) and all(
        d is None or d == s for d, s in zip(shape[1:], a.shape[1:], strict=True)
    )
    if not ok or a.shape[0] == 0:
        raise ValueError(f"{path}: input {name!r} has shape {a.shape}; expected {want}, N >= 1")
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise ValueError(f"{path}: input {name!r} has {bad} NaN or infinite values")
    return a.astype(np.float32)


def read_inputs(path: str, shapes: Mapping[str, tuple], skip: str | None = None) -> dict:
    """The arrays of ``path`` (.npz by input name, or .npy for a one-input model), checked
    against ``shapes`` (`input_shapes`); ``skip`` names an array that is not an input."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz or .npy file ({e})") from e
    if isinstance(loaded, np.ndarray):
        if len(shapes) != 1:
            raise ValueError(f"{path}: a single array, but the model has inputs {list(shapes)}")
        arrays = {next(iter(shapes)): loaded}
    else:
        with loaded:
            arrays = {k: loaded[k] for k in loaded.files if k != skip}
    missing = [k for k in shapes if k not in arrays]
    extra = [k for k in arrays if k not in shapes]
    if missing or extra:
        hint = " (labels? pass --labels-key)" if extra and not missing else ""
        raise ValueError(
            f"{path}: arrays {sorted(arrays)}; the model's inputs are {list(shapes)}"
            f" (missing {missing}, unknown {extra}{hint})"
        )
    out = {k: _check_array(k, arrays[k], shapes[k], path) for k in shapes}
    counts = {k: len(v) for k, v in out.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"{path}: inputs have different numbers of samples {counts}")
    return out


def _read_labels(files: DataFiles, n: int) -> np.ndarray | None:
    if files.labels_key is not None:
        z = np.load(files.data, allow_pickle=False)
        if isinstance(z, np.ndarray) or files.labels_key not in z.files:
            raise ValueError(f"{files.data}: no array {files.labels_key!r} for the labels")
        with z:
            y, src = z[files.labels_key], f"{files.data}[{files.labels_key}]"
    elif files.labels is not None:
        y, src = np.load(files.labels, allow_pickle=False), files.labels
    else:
        return None
    if not np.issubdtype(y.dtype, np.integer) or y.ndim < 1 or len(y) != n:
        raise ValueError(
            f"labels {src}: dtype {y.dtype}, shape {y.shape}; expected integer class indices "
            f"with {n} samples on the first axis (as the evaluation data)"
        )
    return y.astype(np.int64)


@dataclass(frozen=True, eq=False)
class FileTask:
    """An ONNX model with the user's calibration and evaluation arrays (see module doc)."""

    name: str
    model: Model
    inputs: Mapping[str, np.ndarray]
    calibration: Mapping[str, np.ndarray]
    labels: np.ndarray | None
    output: str
    metric_name: str = "none"
    probabilities: bool = False
    class_axis: int = -1

    @property
    def size(self) -> int:
        return len(next(iter(self.inputs.values())))

    def batch(self, n: int | None = None, seed: int = 0) -> Batch:
        """``n`` evaluation samples drawn without replacement with ``seed`` (all: None)."""
        idx = _draw(self.size, n, seed, "evaluation data")
        y = None if self.labels is None else self.labels[idx]
        return Batch({k: v[idx] for k, v in self.inputs.items()}, y, seed, {"indices": idx})

    def calibration_batches(self, n: int, seed: int) -> list[Batch]:
        """``n`` calibration samples drawn with ``seed``, in batches of at most 64."""
        total = len(next(iter(self.calibration.values())))
        idx = _draw(total, n, seed, "calibration data")
        return [
            Batch({k: v[idx[i : i + 64]] for k, v in self.calibration.items()}, None, seed)
            for i in range(0, n, 64)
        ]

    def metric(self, outputs: Mapping[str, np.ndarray], batch: Batch) -> float:
        """Top-1 accuracy of the output's arg-max over its last axis; NaN without labels."""
        if batch.targets is None:
            return float("nan")
        pred = np.argmax(outputs[self.output], axis=-1)
        if pred.shape != batch.targets.shape:
            raise ValueError(
                f"labels of shape {batch.targets.shape} for this batch, but the output "
                f"{self.output!r} gives predictions of shape {pred.shape} (arg-max, last axis)"
            )
        return float(np.mean(pred == batch.targets))


def _draw(total: int, n: int | None, seed: int, what: str) -> np.ndarray:
    if n is None or n == total:
        return np.arange(total)
    if not 1 <= n <= total:
        raise ValueError(f"{what} has {total} samples, asked for {n}")
    return np.sort(np.random.default_rng(seed).choice(total, n, replace=False))


def file_task(path: str, files: DataFiles) -> FileTask:
    """The `FileTask` of the ONNX model at ``path`` with ``files`` (all checks run here).

    >>> file_task("m.onnx", DataFiles("cal.npz", "eval.npz"))
    Traceback (most recent call last):
    ...
    ValueError: calibration data 'cal.npz': no such file (expected .npz or .npy)
    """
    files.check()
    model = load_onnx(path)
    shapes = input_shapes(model)
    cal = read_inputs(files.calibration, shapes, skip=files.labels_key)
    data = read_inputs(files.data, shapes, skip=files.labels_key)
    size = len(next(iter(data.values())))
    labels = _read_labels(files, size)
    model.example_inputs = {k: v[:1] for k, v in data.items()}
    output = model.output_names[0]
    name = "top-1 accuracy" if labels is not None else "none"
    task = FileTask(model.name, model, data, cal, labels, output, metric_name=name)
    if labels is not None:  # one sample through the float model: labels fit the output
        task.metric(run(model, model.example_inputs), Batch({}, labels[:1], 0))
    return task
