"""Outlier transforms of a GEMM y = x @ w, applied to both operands so that x' @ w' = x @ w
in exact arithmetic; they act on float arrays before quantization, so they compose with every
lowbit format.  x is (..., K) (tokens × K features), w is (K, N).

- SmoothQuant (Xiao et al. 2023, arXiv:2211.10438, eq. 4): s_j = max|x_j|^α / max|w_j|^(1−α)
  per input channel j, x' = x·diag(s)⁻¹, w' = diag(s)·w.  The maxima are fitted on
  calibration activations; evaluation activations are other data.
- Hadamard rotation (QuaRot, Ashkboos et al. 2024, arXiv:2404.00456; SpinQuant, Liu et al.
  2024, arXiv:2405.16406): Q = D·blockdiag(H_b/√b, …), H_b a Hadamard matrix of order b (the
  whole K, or blocks of b as QuaRot's per-head rotations): Sylvester's for a power of two,
  Sylvester's ⊗ Paley's for b = 2^a·m (:mod:`lowbit.analysis.hadamard`), D an
  optional seeded random ±1 diagonal (the randomized Hadamard); x' = x·Q, w' = Qᵀ·w, by the
  fast Walsh–Hadamard transform (:mod:`lowbit.analysis.hadamard`), never a dense K × K
  matmul (a Paley factor is a dense m × m product on runs of m values).
- Random orthogonal rotation: Q = blockdiag(Q_b, …), Q_b the Q factor of a seeded Gaussian
  b × b matrix with the signs of R's diagonal moved into it, which makes Q_b Haar-distributed
  (Mezzadri 2007, "How to generate random matrices from the classical compact groups",
  Notices AMS 54(5)); x' = x·Q, w' = Qᵀ·w.
- A chain: each step fitted on the previous step's output (SmoothQuant, then Hadamard).

``Transform.fit(x_calib, w)`` returns a :class:`Fitted` transform whose ``apply(x, w)``
gives (x', w'); ``apply_x`` / ``apply_w`` transform one side (weights offline, activations
online).  :func:`parse_transform` reads the grammar :data:`TRANSFORM_GRAMMAR`.

>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((8, 64)), rng.standard_normal((64, 5))
>>> xt, wt = parse_transform("smoothquant:0.5+hadamard:16:signs=1").fit(x, w).apply(x, w)
>>> bool(np.allclose(xt @ wt, x @ w, rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..transformspec import (
    ORDERS,
    TRANSFORM_GRAMMAR,
    Step,
    hadamard_order,
    parse_transform_steps,
)
from .hadamard import fwht
from .tensors import as_array

__all__ = [
    "TRANSFORM_GRAMMAR", "Chain", "Fitted", "FittedChain", "FittedHadamard", "FittedRotation",
    "FittedScale", "Hadamard", "Identity", "Rotation", "SmoothQuant", "Transform",
    "haar_orthogonal", "parse_transform",
]  # fmt: skip


def _float_array(a, what: str) -> np.ndarray:
    arr = np.asarray(as_array(a), dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} has NaN or Inf values; transforms need finite data")
    return arr


def _operands(x, w) -> tuple[np.ndarray, np.ndarray]:
    """x (..., K) and w (K, N) as float64, their shapes checked against each other."""
    x, w = _float_array(x, "x"), _float_array(w, "w")
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D (K, N), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"x's last axis must be K = w.shape[0] = {w.shape[0]}, got {x.shape}")
    return x, w


class Fitted(ABC):
    """A transform fitted to a K (abstract: FittedScale, FittedHadamard, FittedRotation,
    FittedChain): ``apply_x`` right-multiplies x by T, ``apply_w`` left-multiplies w by T⁻¹,
    so apply_x(x) @ apply_w(w) = x @ w."""

    k: int

    @abstractmethod
    def apply_x(self, x) -> np.ndarray:
        """x·T."""

    @abstractmethod
    def apply_w(self, w) -> np.ndarray:
        """T⁻¹·w."""

    @abstractmethod
    def restore_x(self, xt) -> np.ndarray:
        """x'·T⁻¹: a transformed (and perhaps quantized) x back in the original basis, for
        the error of the tensor itself."""

    def apply(self, x, w) -> tuple[np.ndarray, np.ndarray]:
        """(x', w') with x' @ w' = x @ w in exact arithmetic (float64 here)."""
        x, w = _operands(x, w)
        if w.shape[0] != self.k:
            raise ValueError(f"fitted for K = {self.k}, got K = {w.shape[0]}")
        return self.apply_x(x), self.apply_w(w)


class Transform(Protocol):
    """What every transform is: a canonical ``spec`` string and ``fit(x_calib, w)``."""

    @property
    def spec(self) -> str: ...

    def fit(self, x_calib, w) -> Fitted: ...


@dataclass(frozen=True)
class FittedScale(Fitted):
    """x' = x / s, w' = s·w, one s_j per input channel j (SmoothQuant's diagonal)."""

    s: np.ndarray

    @property
    def k(self) -> int:
        return self.s.size

    def apply_x(self, x) -> np.ndarray:
        return _float_array(x, "x") / self.s

    def apply_w(self, w) -> np.ndarray:
        return self.s[:, None] * _float_array(w, "w")

    def restore_x(self, xt) -> np.ndarray:
        return _float_array(xt, "x'") * self.s


@dataclass(frozen=True)
class FittedHadamard(Fitted):
    """x' = x·D·blockdiag(H_b)/√b, w' = blockdiag(H_b)ᵀ·D·w/√b: each column of w, as a row
    vector, times D·H_b/√b, the same operation as on a row of x."""

    k: int
    block: int
    signs: np.ndarray | None  # the diagonal of D, or None for D = I

    def apply_x(self, x) -> np.ndarray:
        x = _float_array(x, "x")
        return fwht(x if self.signs is None else x * self.signs, axis=-1, block=self.block)

    def apply_w(self, w) -> np.ndarray:
        w = _float_array(w, "w")
        return fwht(w if self.signs is None else self.signs[:, None] * w, axis=0, block=self.block)

    def restore_x(self, xt) -> np.ndarray:
        x = fwht(_float_array(xt, "x'"), axis=-1, block=self.block, transpose=True)
        return x if self.signs is None else x * self.signs


@dataclass(frozen=True)
class FittedRotation(Fitted):
    """x' = x·blockdiag(Q_b), w' = blockdiag(Q_b)ᵀ·w, one Q_b shared by the K / b blocks."""

    k: int
    q: np.ndarray

    def apply_x(self, x) -> np.ndarray:
        x = _float_array(x, "x")
        b = self.q.shape[0]
        return (x.reshape(*x.shape[:-1], self.k // b, b) @ self.q).reshape(x.shape)

    def apply_w(self, w) -> np.ndarray:
        w = _float_array(w, "w")
        b = self.q.shape[0]
        return (self.q.T @ w.reshape(self.k // b, b, -1)).reshape(w.shape)

    def restore_x(self, xt) -> np.ndarray:
        x = _float_array(xt, "x'")
        b = self.q.shape[0]
        return (x.reshape(*x.shape[:-1], self.k // b, b) @ self.q.T).reshape(x.shape)


@dataclass(frozen=True)
class FittedChain(Fitted):
    """Steps in order: x' = x·T1·T2…, w' = …T2⁻¹·T1⁻¹·w."""

    steps: tuple[Fitted, ...]

    @property
    def k(self) -> int:
        return self.steps[0].k

    def apply_x(self, x) -> np.ndarray:
        for t in self.steps:
            x = t.apply_x(x)
        return np.asarray(x, dtype=np.float64)

    def apply_w(self, w) -> np.ndarray:
        for t in self.steps:
            w = t.apply_w(w)
        return np.asarray(w, dtype=np.float64)

    def restore_x(self, xt) -> np.ndarray:
        for t in reversed(self.steps):
            xt = t.restore_x(xt)
        return np.asarray(xt, dtype=np.float64)


def _seed(v, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{what}: the seed must be an integer >= 0, got {v!r}")
    return int(v)


def _block(block: int | None, k: int, what: str, hadamard: bool) -> int:
    b = k if block is None else block
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
        raise ValueError(f"{what}: the block must be an integer >= 1, got {b!r}")
    if hadamard and hadamard_order(int(b)) is None:
        raise ValueError(
            f"{what}: no Hadamard matrix of order K = {b}; {ORDERS}; "
            "use hadamard:B with such a B dividing K"
        )
    if k % b:
        raise ValueError(f"{what}: K = {k} is not divisible by the block {b}")
    return int(b)


@dataclass(frozen=True)
class Identity:
    """No transform (the baseline row of a study)."""

    @property
    def spec(self) -> str:
        return "none"

    def fit(self, x_calib, w) -> FittedScale:
        _, w = _operands(x_calib, w)
        return FittedScale(np.ones(w.shape[0]))


@dataclass(frozen=True)
class SmoothQuant:
    """SmoothQuant's migration strength α: s_j = max|x_j|^α / max|w_j|^(1−α) (Xiao et al.
    2023, eq. 4), max|x_j| over the calibration tokens, max|w_j| over w's row j (the N
    outputs).  A channel whose activation or weight maximum is 0 keeps s_j = 1.

    >>> x = np.array([[4.0, 1.0], [-2.0, 0.5]]); w = np.array([[1.0, 1.0], [0.25, -0.5]])
    >>> SmoothQuant(0.5).fit(x, w).s.round(6).tolist()     # √4/√1, √1/√0.5
    [2.0, 1.414214]
    """

    alpha: float = 0.5

    def __post_init__(self):
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.0 <= a <= 1.0:
            raise ValueError(f"smoothquant: α must be a number in [0, 1], got {a!r}")

    @property
    def spec(self) -> str:
        return f"smoothquant:{self.alpha:g}"

    def fit(self, x_calib, w) -> FittedScale:
        x, w = _operands(x_calib, w)
        ax = np.abs(x).reshape(-1, x.shape[-1]).max(axis=0)
        aw = np.abs(w).max(axis=1)
        ok = (ax > 0) & (aw > 0)
        s = np.ones_like(ax)
        s[ok] = ax[ok] ** self.alpha / aw[ok] ** (1.0 - self.alpha)
        return FittedScale(s)


@dataclass(frozen=True)
class Hadamard:
    """Orthonormal Hadamard rotation in blocks of ``block`` (None: the whole K), after a
    seeded random ±1 diagonal when ``signs`` is a seed (QuaRot's randomized Hadamard).

    >>> f = Hadamard(4).fit(np.zeros((1, 8)), np.eye(8))
    >>> f.apply_x(np.array([[2.0, 0, 0, 0, 0, 0, 0, 2.0]])).tolist()
    [[1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0]]
    """

    block: int | None = None
    signs: int | None = None

    @property
    def spec(self) -> str:
        parts = ["hadamard"] + ([str(self.block)] if self.block else [])
        return ":".join(parts + ([f"signs={self.signs}"] if self.signs is not None else []))

    def fit(self, x_calib, w) -> FittedHadamard:
        _, w = _operands(x_calib, w)
        k = w.shape[0]
        b = _block(self.block, k, self.spec, hadamard=True)
        d = None
        if self.signs is not None:
            rng = np.random.default_rng(_seed(self.signs, self.spec))
            d = rng.integers(0, 2, size=k).astype(np.float64) * 2.0 - 1.0
        return FittedHadamard(k, b, d)


def haar_orthogonal(n: int, seed: int) -> np.ndarray:
    """A Haar-random n × n orthogonal matrix: QR of a standard Gaussian matrix, each column
    of Q multiplied by the sign of R's diagonal entry (Mezzadri 2007, §5).

    >>> q = haar_orthogonal(3, 0); bool(np.allclose(q @ q.T, np.eye(3)))
    True
    """
    z = np.random.default_rng(_seed(seed, "rotation")).standard_normal((n, n))
    q, r = np.linalg.qr(z)
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    return q * d


@dataclass(frozen=True)
class Rotation:
    """Random orthogonal rotation in blocks of ``block`` (None: the whole K), seeded; one
    matrix shared by all blocks (as a per-head rotation)."""

    seed: int
    block: int | None = None

    def __post_init__(self):
        _seed(self.seed, "rotation")

    @property
    def spec(self) -> str:
        return f"rotation:{self.seed}" + (f":{self.block}" if self.block else "")

    def fit(self, x_calib, w) -> FittedRotation:
        _, w = _operands(x_calib, w)
        k = w.shape[0]
        return FittedRotation(
            k, haar_orthogonal(_block(self.block, k, self.spec, False), self.seed)
        )


@dataclass(frozen=True)
class Chain:
    """Transforms in order, each fitted on the previous one's output."""

    steps: tuple[Transform, ...]

    @property
    def spec(self) -> str:
        return "+".join(t.spec for t in self.steps)

    def fit(self, x_calib, w) -> FittedChain:
        x, w = _operands(x_calib, w)
        fitted = []
        for t in self.steps:
            f = t.fit(x, w)
            x, w = f.apply_x(x), f.apply_w(w)
            fitted.append(f)
        return FittedChain(tuple(fitted))


def _from_step(step: Step) -> Transform:
    if step.kind == "smoothquant":
        return SmoothQuant(step.alpha)
    if step.kind == "hadamard":
        return Hadamard(step.block, step.seed)
    if step.kind == "rotation":
        return Rotation(step.seed, step.block)
    return Identity()


def parse_transform(spec: str) -> Transform:
    """The transform of a spec of :data:`TRANSFORM_GRAMMAR`.

    >>> parse_transform("smoothquant:0.5+hadamard:128:signs=3")
    Chain(steps=(SmoothQuant(alpha=0.5), Hadamard(block=128, signs=3)))
    >>> parse_transform("hadamard:28")
    Traceback (most recent call last):
    ...
    ValueError: transform 'hadamard:28': no Hadamard matrix of order 28; orders are 2^a (Sylvester) or 2^a·m with m − 1 a prime ≡ 3 (mod 4) (Paley I): e.g. 128, 4096, 12, 20, 5120 = 256·20
    """
    steps = [_from_step(s) for s in parse_transform_steps(spec)]
    return steps[0] if len(steps) == 1 else Chain(tuple(steps))
