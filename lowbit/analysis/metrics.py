"""Error metrics between a tensor ``x`` and its quantized copy ``q`` (docs/background.md §5)."""

from __future__ import annotations

import numpy as np

from ..formats.calibration import histogram_kl
from .tensors import as_array


def _pair(x, q) -> tuple[np.ndarray, np.ndarray]:
    # numpy arrays, lists, and torch/jax tensors (through __array__ or DLPack)
    x = np.asarray(as_array(x), dtype=np.float64)
    q = np.asarray(as_array(q), dtype=np.float64)
    if x.shape != q.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {q.shape}")
    if x.size == 0:
        raise ValueError("empty tensor")
    return x, q


def mse(x, q, axis=None) -> np.ndarray | float:
    """Mean squared error mean((x − q)²).

    >>> mse([1.0, 2.0], [1.0, 2.5])
    0.125
    """
    x, q = _pair(x, q)
    out = np.mean((x - q) ** 2, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def sqnr_db(x, q, axis=None) -> np.ndarray | float:
    """Signal-to-quantization-noise ratio 10·log10(Σx² / Σ(x − q)²), in dB (inf if exact).

    >>> round(sqnr_db([1.0, 2.0], [1.0, 2.5]), 3)
    13.01
    """
    x, q = _pair(x, q)
    return sqnr_from_mse(np.sum(x * x, axis=axis), np.sum((x - q) ** 2, axis=axis))


def sqnr_from_mse(signal_power, mse_value) -> np.ndarray | float:
    """SQNR in dB from E[x²] (or Σx²) and the MSE (or Σ(x − q)²): 10·log10(signal / error),
    +inf for an exact result with a nonzero signal. The one SQNR rule: :func:`sqnr_db`
    and the sweeps' moment-based rows both use it.

    >>> sqnr_from_mse(1.0, 0.01), sqnr_from_mse(2.0, 0.0)
    (20.0, inf)
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out = 10 * np.log10(np.float64(signal_power) / np.float64(mse_value))
    return float(out) if np.ndim(out) == 0 else out


def bits_of_accuracy(x, q, axis=None) -> np.ndarray | float:
    """log2(σ / RMSE) (van Baalen et al. 2023), σ the standard deviation of x.

    >>> round(bits_of_accuracy([-1.0, 1.0], [-1.0, 0.75]), 4)
    2.5
    """
    x, q = _pair(x, q)
    with np.errstate(divide="ignore"):
        out = 0.5 * np.log2(np.var(x, axis=axis) / np.mean((x - q) ** 2, axis=axis))
    return float(out) if np.ndim(out) == 0 else out


def bits_from_mse(mse_value, variance) -> np.ndarray | float:
    """log2(σ / RMSE) from an MSE and a variance (the analytic form of bits_of_accuracy).

    >>> bits_from_mse(1 / 16, 1.0)
    2.0
    """
    with np.errstate(divide="ignore"):
        out = 0.5 * np.log2(np.asarray(variance, np.float64) / np.asarray(mse_value, np.float64))
    return float(out) if np.ndim(out) == 0 else out


def kl_divergence(p, q, axis=-1) -> np.ndarray | float:
    """KL(P‖Q) = Σ p·ln(p/q) in nats, of two histograms (each normalised to sum 1 first).

    Bins where p = 0 add nothing; a bin with p > 0 and q = 0 makes it inf.

    >>> round(kl_divergence([1, 1], [1, 3]), 4)
    0.1438
    """
    p = np.asarray(as_array(p), dtype=np.float64)
    q = np.asarray(as_array(q), dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histogram shapes differ: {p.shape} vs {q.shape}")
    if p.size == 0:
        raise ValueError("empty histogram")
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("histograms must be non-negative")
    return histogram_kl(p, q, axis)


def cosine(x, y, axis=None) -> np.ndarray | float:
    """Cosine similarity Σxy / (‖x‖·‖y‖).

    >>> round(cosine([1.0, 0.0], [1.0, 1.0]), 6)
    0.707107
    """
    x, y = _pair(x, y)
    num = np.sum(x * y, axis=axis)
    den = np.sqrt(np.sum(x * x, axis=axis) * np.sum(y * y, axis=axis))
    out = num / den
    return float(out) if np.ndim(out) == 0 else out
