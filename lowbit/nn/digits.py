"""A digit classifier trained here, on the 1,797 8×8 digits that scikit-learn ships.

An MLP 64 → 64 (ReLU) → 32 (ReLU) → 10, trained in numpy (mini-batch SGD with momentum,
float64, seeded: the same seed gives the same weights on every machine with the same
numpy), then written as an ONNX graph with ``onnx.helper`` so it runs through the same
front (`lowbit.nn.run`) as a pretrained network: the first layer is a ``Gemm``, the others
``MatMul`` + ``Add``. The data is the scikit-learn copy of the UCI optical digits test set
(Alpaydin & Kaynak 1998), read from the package, never downloaded.

>>> from lowbit.nn import run
>>> task = digits_task(seed=0)
>>> held_out = task.batch()
>>> round(task.metric(run(task.model, held_out.inputs), held_out), 3)
0.968
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .fidelity import Batch
from .graph import Model, load_onnx

HIDDEN = (64, 32)
TEST_SIZE = 497  # 1,797 − 1,300 training images


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 images as float32 in [0, 1] (shape (1797, 64)) and their labels."""
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as e:
        raise ImportError("the digits data needs scikit-learn: pip install 'lowbit[nn]'") from e
    d = _load()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def split(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out images for ``seed`` (a seeded permutation)."""
    order = np.random.default_rng(seed).permutation(1797)
    return order[TEST_SIZE:], order[:TEST_SIZE]


def train_mlp(x: np.ndarray, y: np.ndarray, seed: int, epochs: int = 40) -> list[np.ndarray]:
    """Weights and biases [W1, b1, W2, b2, W3, b3] (W as (in, out)) of the MLP, trained on
    ``x``, ``y`` with SGD (lr 0.05, momentum 0.9, batch 32, He initialisation)."""
    rng = np.random.default_rng(seed)
    sizes = (x.shape[1], *HIDDEN, 10)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)), np.zeros(n_out)]
    vel = [np.zeros_like(p) for p in params]
    x64, onehot = x.astype(np.float64), np.eye(10)[y]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = order[start : start + 32]
            grads = _grads(params, x64[idx], onehot[idx])
            for p, v, g in zip(params, vel, grads, strict=True):
                v *= 0.9
                v -= 0.05 * g
                p += v
    return params


def _grads(params, x, t):
    acts, h = [x], x
    for i in range(0, len(params) - 2, 2):
        h = np.maximum(h @ params[i] + params[i + 1], 0.0)
        acts.append(h)
    z = h @ params[-2] + params[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - t) / len(x)  # d(mean cross-entropy)/dz
    grads = [None] * len(params)
    for i in range(len(params) - 2, -1, -2):
        grads[i], grads[i + 1] = acts[i // 2].T @ delta, delta.sum(axis=0)
        if i:
            delta = (delta @ params[i].T) * (acts[i // 2] > 0)
    return grads


def to_onnx(params: list[np.ndarray], name: str = "digits_mlp"):
    """The MLP as an ONNX ``ModelProto`` (opset 17): input ``x`` (N, 64), output ``logits``."""
    import onnx
    from onnx import helper, numpy_helper

    w = [numpy_helper.from_array(p.astype(np.float32), f"p{i}") for i, p in enumerate(params)]
    nodes = [
        helper.make_node("Gemm", ["x", "p0", "p1"], ["h0"], name="fc1"),
        helper.make_node("Relu", ["h0"], ["r0"]),
        helper.make_node("MatMul", ["r0", "p2"], ["m1"], name="fc2"),
        helper.make_node("Add", ["m1", "p3"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("MatMul", ["r1", "p4"], ["m2"], name="fc3"),
        helper.make_node("Add", ["m2", "p5"], ["logits"]),
    ]
    f = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", f, ["N", params[0].shape[0]])],
        [helper.make_tensor_value_info("logits", f, ["N", 10])],
        w,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8  # what onnxruntime ≥ 1.14 reads
    onnx.checker.check_model(proto)
    return proto


@dataclass(frozen=True)
class DigitsTask:
    """The trained MLP with its held-out images; metric: top-1 accuracy."""

    name: str
    model: Model
    x_test: np.ndarray
    y_test: np.ndarray
    seed: int
    metric_name: str = "top-1 accuracy"
    output: str = "logits"
    probabilities: bool = False
    class_axis: int = -1

    def batch(self, n: int | None = None, seed: int = 0) -> Batch:
        """``n`` held-out images drawn without replacement with ``seed`` (all when None)."""
        total = len(self.y_test)
        if n is None:
            idx = np.arange(total)
        elif not 1 <= n <= total:
            raise ValueError(f"n must be in 1..{total} (the held-out images), got {n}")
        else:
            idx = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
        return Batch({"x": self.x_test[idx]}, self.y_test[idx], seed, {"indices": idx})

    def metric(self, outputs: Mapping[str, np.ndarray], batch: Batch) -> float:
        return float(np.mean(np.argmax(outputs[self.output], axis=-1) == batch.targets))


def digits_task(seed: int = 0, epochs: int = 40) -> DigitsTask:
    """Train the MLP on 1,300 images (split and weights from ``seed``) and wrap it."""
    x, y = load_digits()
    train, test = split(seed)
    params = train_mlp(x[train], y[train], seed, epochs)
    model = load_onnx(to_onnx(params), "digits_mlp", {"x": x[test[:1]]})
    return DigitsTask("digits_mlp", model, x[test], y[test], seed)
