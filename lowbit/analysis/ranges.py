"""Range setting: the clip α (the value a format's max is scaled to) for a tensor or a pdf.

Every method returns a symmetric clip α > 0; the quantization scale is α / fmt.max.
``data`` is a sample array or anything :func:`as_distribution` takes (a pdf).  The
sample-based computations live in :mod:`lowbit.formats.calibration` (the formats' own
scales use them); this module adds the pdf-based versions and re-exports those.
Sources: ACIQ (Banner et al. 2019), TensorRT's entropy calibration (Migacz 2017),
OCTAV (Sakr et al. 2022).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize

from ..formats import get_format
from ..formats.calibration import (
    METHODS,
    aciq_clip,
    aciq_mse,
    aciq_spread,
    check_sample_range,
    kl_threshold,
    mse_rows,
    octav_fixed_point,
    sample_clip,
    sample_minmax,
    sample_mse_clip,
    sample_octav,
    sample_percentile,
    samples_of,
)
from .distributions import Distribution, Empirical, Gaussian, Laplace, as_distribution
from .expected import check_levels, expected_mse, format_grid, is_scalar_format
from .tensors import is_array_like

__all__ = [
    "METHODS",
    "EmaMinMax",
    "aciq",
    "aciq_clip",
    "aciq_mse",
    "aciq_spread",
    "clip_for",
    "fmt_max",
    "golden_section",
    "kl_clip",
    "kl_threshold",
    "minmax",
    "mse_clip",
    "mse_rows",
    "octav",
    "octav_fixed_point",
    "optimal_clip",
    "percentile",
    "quantize_scaled",
    "sample_clip",
    "sample_minmax",
    "sample_mse_clip",
    "sample_octav",
    "sample_percentile",
    "samples_of",
]
_GOLDEN = (math.sqrt(5) - 1) / 2


def _is_samples(data: Any) -> bool:
    return isinstance(data, Empirical) or (
        is_array_like(data) and not isinstance(data, Distribution)
    )


def _samples(data: Any) -> np.ndarray:
    x = data.samples if isinstance(data, Empirical) else Empirical(data).samples
    return x


def fmt_max(fmt: Any) -> float:
    """The largest magnitude of ``fmt`` (a format, its name, or an array of levels)."""
    if isinstance(fmt, np.ndarray):
        return float(np.max(np.abs(check_levels(fmt))))
    fmt = get_format(fmt)
    if not is_scalar_format(fmt):
        raise ValueError(
            f"{fmt.name}: a block format sets its own scales per block; there is no "
            "per-tensor clip to choose (use expected_mse or monte_carlo_mse at scale 1)"
        )
    return float(fmt.max)


def _finite_variance(dist: Distribution, who: str) -> None:
    """MSE-based clips need E[X²] < inf: with a heavier tail every clip's MSE is infinite."""
    if not math.isfinite(dist.var()):
        raise ValueError(
            f"{who}: {dist!r} has infinite variance, so the MSE is infinite at every clip; "
            "there is no MSE-optimal clip (use samples, 'percentile', or a Clipped distribution)"
        )


def quantize_scaled(fmt: Any, x: np.ndarray, scale: float) -> np.ndarray:
    """scale·Q(x/scale), saturating (a level array rounds to its nearest level)."""
    if isinstance(fmt, np.ndarray):
        grid = scale * format_grid(fmt)
        return grid[np.searchsorted(0.5 * (grid[1:] + grid[:-1]), x)]
    fmt = get_format(fmt)
    if not is_scalar_format(fmt):  # block formats: their shared scales set the range
        return scale * np.asarray(fmt.quantize(np.asarray(x) / scale), dtype=np.float64)
    return scale * fmt.quantize(np.asarray(x) / scale, overflow="saturate")


def _spread(dist: Distribution) -> float:
    s = dist.std()
    if math.isfinite(s) and s > 0:
        return s
    return float(dist.ppf(0.75) - dist.ppf(0.25))


# -- simple statistics ----------------------------------------------------------------------
def minmax(data: Any) -> float:
    """max |x| of samples, or of a bounded distribution's support.

    >>> minmax([-3.0, 2.0])
    3.0
    """
    if _is_samples(data):
        return sample_minmax(_samples(data))
    dist = as_distribution(data)
    lo, hi = float(dist.ppf(0.0)), float(dist.ppf(1.0))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"minmax: {dist!r} is unbounded; give samples or use 'percentile'")
    return max(abs(lo), abs(hi))


def percentile(data: Any, p: float = 99.99) -> float:
    """The p-th percentile of |x| (samples, or exactly from a pdf's ppf).

    >>> round(percentile(Gaussian(1.0), 95.0), 4)
    1.96
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile: p must be in (0, 100], got {p!r}")
    if _is_samples(data):
        return sample_percentile(_samples(data), p)
    dist = as_distribution(data)
    # P(|X| ≤ c) = p/100: solve on F(c) − F(−c); symmetric pdfs give ppf(1/2 + p/200)
    target = p / 100

    def inside(c):
        return float(dist.cdf(c) - dist.cdf(-c)) - target

    hi = _spread(dist)
    while inside(hi) < 0:
        hi *= 2
    return float(optimize.brentq(inside, 0.0, hi, xtol=1e-13 * hi))


class EmaMinMax:
    """Exponential moving average of min and max over a calibration stream.

    >>> ema = EmaMinMax(momentum=0.5)
    >>> ema.update([-1.0, 2.0]).update([-3.0, 4.0]).clip
    3.0
    """

    def __init__(self, momentum: float = 0.9):
        if not 0 <= momentum < 1:
            raise ValueError(f"EmaMinMax: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self.min: float | None = None
        self.max: float | None = None

    def update(self, x: Any) -> EmaMinMax:
        x = _samples(x)
        lo, hi = float(x.min()), float(x.max())
        if self.min is None:
            self.min, self.max = lo, hi
        else:
            m = self.momentum
            self.min = m * self.min + (1 - m) * lo
            self.max = m * self.max + (1 - m) * hi
        return self

    @property
    def clip(self) -> float:
        if self.min is None:
            raise ValueError("EmaMinMax: no data seen yet")
        return max(abs(self.min), abs(self.max))


# -- MSE search -----------------------------------------------------------------------------
def golden_section(f, a: float, b: float, rtol: float = 1e-10) -> tuple[float, float]:
    """Minimise a unimodal f on [a, b] by golden-section search; returns (x, f(x)).

    >>> x, _ = golden_section(lambda t: (t - 2.0) ** 2, 0.0, 5.0)
    >>> round(x, 6)
    2.0
    """
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    while b - a > rtol * (abs(a) + abs(b)):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    x = (a + b) / 2
    return float(x), float(f(x))


def mse_clip(fmt: Any, data: Any, candidates: int = 100) -> tuple[float, float]:
    """The MSE-optimal clip and its MSE.

    A pdf: scan 128 clips log-spaced over [0.1σ, 10⁶σ] on the exact expected MSE, then
    golden-section between the best one's neighbours.  Samples: a grid search over
    ``candidates`` clips in (0, max|x|].

    >>> clip, err = mse_clip("int8_narrow", Gaussian(1.0))
    >>> round(clip, 2)
    3.92
    """
    top = fmt_max(fmt)
    if _is_samples(data):
        x = _samples(data)
        return sample_mse_clip(x, lambda c: quantize_scaled(fmt, x, c / top), candidates)
    dist = as_distribution(data)
    spread = _spread(dist)
    if not spread * 1e6 * top < 1e300:  # the scan's largest grid must stay finite
        raise ValueError(
            f"mse_clip: {dist!r} is too wide for float64 (spread {spread:g}); rescale the data"
        )
    _finite_variance(dist, "mse_clip")

    def f(clip):
        return expected_mse(fmt, dist, clip / top)

    clips = spread * np.logspace(-1, 6, 128)
    errs = np.array([f(c) for c in clips])
    i = int(np.argmin(errs))
    return golden_section(f, clips[max(i - 1, 0)], clips[min(i + 1, clips.size - 1)])


# -- closed forms -----------------------------------------------------------------------------
def aciq(bits: int, data: Any, prior: str | None = None) -> float:
    """ACIQ's optimal clip for a ``bits``-bit uniform quantizer (Banner et al. 2019).

    Laplace(b): d/dα = 0 gives (α/b)·e^{α/b} = 3·4^M, so α = b·W(3·4^M) (Lambert W).
    Gaussian(σ): the model is minimised numerically.  ``data`` is a Laplace or Gaussian
    (the prior is then implied) or samples with ``prior`` given (b = mean|x − x̄|, σ = std).

    >>> [round(aciq(m, Laplace(1.0)), 3) for m in (2, 3, 4)]
    [2.831, 3.897, 5.029]
    """
    if int(bits) != bits or bits < 1:
        raise ValueError(f"aciq: bits must be a positive integer, got {bits!r}")
    if isinstance(data, Laplace) and prior in (None, "laplace"):
        prior, spread = "laplace", data.b
    elif isinstance(data, Gaussian) and prior in (None, "gaussian"):
        prior, spread = "gaussian", data.sigma
    elif _is_samples(data) and prior in ("laplace", "gaussian"):
        spread = aciq_spread(_samples(data), prior)
    else:
        raise ValueError(
            "aciq: needs a Laplace or Gaussian distribution, or samples with "
            f"prior='laplace' or 'gaussian' (got {type(data).__name__}, prior={prior!r})"
        )
    return aciq_clip(bits, prior, spread)


def octav(bits: int, data: Any, iterations: int = 50) -> float:
    """OCTAV's MSE-optimal clip by its Newton–Raphson fixed point (Sakr et al. 2022, eq. 5):

    s ← E[|X|·1{|X|>s}] / (4^{−B}/3 · P(|X|≤s) + P(|X|>s)).

    Expectations are exact for a pdf with closed forms, else over samples.

    >>> round(octav(4, Laplace(1.0)), 2)
    5.03
    """
    if int(bits) != bits or bits < 1:
        raise ValueError(f"octav: bits must be a positive integer, got {bits!r}")
    if _is_samples(data):
        return sample_octav(bits, _samples(data), iterations)
    dist = as_distribution(data)
    _finite_variance(dist, "octav")
    if dist.partial_moments(0.0, 1.0) is None:
        return octav(bits, dist.rvs(size=200_000, random_state=0), iterations)

    def stats(s):
        m0p, m1p, _ = dist.partial_moments(s, math.inf)
        m0n, m1n, _ = dist.partial_moments(-math.inf, -s)
        return float(m1p - m1n), float(m0p + m0n)

    return octav_fixed_point(stats, _spread(dist), bits, iterations)


def kl_clip(fmt: Any, data: Any, bins: int = 2048, samples: int = 1_000_000) -> float:
    """TensorRT's entropy calibration: the threshold minimising KL(P‖Q) (Migacz 2017).

    A 2048-bin histogram of |x|; for each candidate threshold i ≥ L (L = the format's positive
    levels + 1; 128 for INT8) P is hist[:i] with the outliers folded into bin i−1, Q is hist[:i]
    merged into L groups and spread back over each group's non-empty bins.

    >>> round(kl_clip("int8_narrow", Gaussian(1.0)), 1)
    4.7
    """
    levels = int(np.count_nonzero(format_grid(fmt) > 0)) + 1
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < levels:
        raise ValueError(
            f"kl_clip: bins must be an integer >= {levels} (the format's positive levels + 1), "
            f"got {bins!r}"
        )
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"kl_clip: samples must be a positive integer, got {samples!r}")
    if _is_samples(data):
        a = np.abs(_samples(data))
    else:
        a = np.abs(as_distribution(data).rvs(size=samples, random_state=0))
    return kl_threshold(a, levels, bins)


# -- one entry point ------------------------------------------------------------------------
def clip_for(fmt: Any, data: Any, method: str = "mse", **options: Any) -> float:
    """The clip that ``method`` (one of METHODS) chooses for ``fmt`` on ``data``.

    >>> round(clip_for("int4", Laplace(1.0), "aciq"), 2)
    5.03
    """

    def bits() -> int:
        return int(math.log2(fmt.size)) if isinstance(fmt, np.ndarray) else get_format(fmt).bits

    if method == "minmax":
        return minmax(data)
    if method == "percentile":
        return percentile(data, **options)
    if method == "mse":
        return mse_clip(fmt, data, **options)[0]
    if method == "aciq":
        return aciq(bits(), data, **options)
    if method == "octav":
        return octav(bits(), data, **options)
    if method == "kl":
        return kl_clip(fmt, data, **options)
    raise ValueError(f"unknown range method {method!r}; expected one of {', '.join(METHODS)}")


def optimal_clip(fmt: Any, dist: Any, method: str = "mse", **options: Any) -> tuple[float, float]:
    """(clip, MSE at that clip): exact expected MSE for a pdf, the sample MSE for samples.

    >>> clip, err = optimal_clip("int8_narrow", Laplace(1.0), method="aciq")
    >>> print(f"{clip:.2f} {err:.2e}")
    9.90 6.07e-04
    """
    if method == "mse":
        return mse_clip(fmt, dist, **options)
    clip = clip_for(fmt, dist, method, **options)
    top = fmt_max(fmt)
    if _is_samples(dist):
        x = _samples(dist)
        check_sample_range(x, "optimal_clip")
        return clip, float(np.mean((x - quantize_scaled(fmt, x, clip / top)) ** 2))
    return clip, expected_mse(fmt, dist, clip / top)
