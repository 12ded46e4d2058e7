"""Error analysis: distributions, metrics, exact expected MSE, range setting and sweeps.

The names below load their submodule on first use (PEP 562), so that importing a light
submodule (``lowbit.analysis.specs``, ``lowbit.analysis.tensors``: done by every ``lowbit``
command) does not pay for scipy.stats and pandas.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "Clipped": "distributions",
    "Distribution": "distributions",
    "Empirical": "distributions",
    "Gaussian": "distributions",
    "Laplace": "distributions",
    "OutlierMixture": "distributions",
    "ScipyDistribution": "distributions",
    "StudentT": "distributions",
    "Uniform": "distributions",
    "as_distribution": "distributions",
    "list_tensors": "tensors",
    "load_tensor": "tensors",
    "parse_tensor_spec": "tensors",
    "expected_mse": "expected",
    "format_grid": "expected",
    "uniform_grid": "expected",
    "bits_from_mse": "metrics",
    "sqnr_from_mse": "metrics",
    "bits_of_accuracy": "metrics",
    "cosine": "metrics",
    "kl_divergence": "metrics",
    "mse": "metrics",
    "sqnr_db": "metrics",
    "EmaMinMax": "ranges",
    "aciq": "ranges",
    "clip_for": "ranges",
    "optimal_clip": "ranges",
    "sweep": "sweep",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
