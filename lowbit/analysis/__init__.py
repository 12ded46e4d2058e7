"""Error analysis: distributions, metrics, exact expected MSE, range setting and sweeps."""

from .distributions import (
    Clipped,
    Distribution,
    Empirical,
    Gaussian,
    Laplace,
    OutlierMixture,
    ScipyDistribution,
    StudentT,
    Uniform,
    as_distribution,
    load_tensor,
)
from .expected import expected_mse, format_grid, uniform_grid
from .metrics import bits_from_mse, bits_of_accuracy, cosine, kl_divergence, mse, sqnr_db
from .ranges import EmaMinMax, aciq, clip_for, optimal_clip
from .sweep import sweep

__all__ = [
    "Clipped",
    "Distribution",
    "EmaMinMax",
    "Empirical",
    "Gaussian",
    "Laplace",
    "OutlierMixture",
    "ScipyDistribution",
    "StudentT",
    "Uniform",
    "aciq",
    "as_distribution",
    "bits_from_mse",
    "bits_of_accuracy",
    "clip_for",
    "cosine",
    "expected_mse",
    "format_grid",
    "kl_divergence",
    "load_tensor",
    "mse",
    "optimal_clip",
    "sqnr_db",
    "sweep",
    "uniform_grid",
]
