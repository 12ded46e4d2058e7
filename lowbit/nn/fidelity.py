"""Output fidelity of a network against its float run, and the task interface.

`logit_kl` is the mean KL(float ‖ test) of the output distributions (softmax of logits, or
the outputs themselves when they are probabilities), in nats; `top1_agreement` the share of
positions whose arg-max class is unchanged. Both reduce every axis but ``axis``.

>>> import numpy as np
>>> ref = np.array([[2.0, 0.0], [0.0, 1.0]])
>>> top1_agreement(ref, np.array([[1.0, 0.0], [1.0, 0.0]]))
0.5
>>> logit_kl(ref, ref)
0.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..analysis.metrics import kl_divergence
from .graph import Model


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def logit_kl(ref, test, axis: int = -1, probabilities: bool = False) -> float:
    """Mean over positions of KL(P_ref ‖ P_test) along ``axis``, in nats; inf where the test
    gives zero probability to a class the reference does not."""
    ref = np.asarray(ref, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    if ref.shape != test.shape:
        raise ValueError(f"output shapes differ: {ref.shape} vs {test.shape}")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(test))):
        return float("inf")
    if not probabilities:
        ref, test = _softmax(ref, axis), _softmax(test, axis)
    return float(np.mean(kl_divergence(ref, test, axis=axis)))


def top1_agreement(ref, test, axis: int = -1) -> float:
    """Share of positions whose arg-max along ``axis`` is the same in ``test`` as in ``ref``."""
    ref, test = np.asarray(ref), np.asarray(test)
    if ref.shape != test.shape:
        raise ValueError(f"output shapes differ: {ref.shape} vs {test.shape}")
    return float(np.mean(np.argmax(ref, axis=axis) == np.argmax(test, axis=axis)))


@dataclass(frozen=True)
class Batch:
    """Inputs by the model's input names, the task's targets, and the seed that made them."""

    inputs: Mapping[str, np.ndarray]
    targets: Any
    seed: int
    info: Mapping[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """A real model with its data: what the plan/measurement layer runs.

    ``batch(n, seed)`` makes ``n`` inputs deterministically; ``metric(outputs, batch)`` is
    the task metric (higher is better, ``metric_name`` says what it is); ``output`` names
    the output that fidelity compares, ``probabilities`` says whether it is already a
    distribution (else logits), and ``class_axis`` its class axis.
    """

    name: str
    model: Model
    metric_name: str
    output: str
    probabilities: bool
    class_axis: int

    def batch(self, n: int, seed: int) -> Batch: ...

    def metric(self, outputs: Mapping[str, np.ndarray], batch: Batch) -> float: ...
