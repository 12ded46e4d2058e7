"""Sample-based range setting: the clip α a scale is set from, computed on sample values.

A clip α is the magnitude a format's largest value is scaled to (scale = α / fmt.max).
These are the methods that need only the values themselves, so the scaled formats and
``Quantizer`` (``scaling.py``) can set their ranges without the analysis layer;
:mod:`lowbit.analysis.ranges` adds the pdf-based versions of the same methods and
re-exports these.  Sources: ACIQ (Banner et al., "Post training 4-bit quantization of
convolutional networks for rapid-deployment", NeurIPS 2019), TensorRT's entropy
calibration (Migacz, "8-bit inference with TensorRT", GTC 2017), OCTAV (Sakr et al.,
"Optimal clipping and magnitude-aware differentiation for improved quantization-aware
training", ICML 2022, eq. 5).

>>> x = samples_of([-3.0, 1.0, 2.0])
>>> sample_minmax(x), sample_percentile(x, 50.0)
(3.0, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: The range methods (what ``Quantizer(range=...)`` and ``analysis.ranges.clip_for`` take).
METHODS = ("minmax", "percentile", "mse", "aciq", "kl", "octav")
#: The candidate clips of ``Quantizer``'s "mse" range, as fractions of max|x| per slice.
MSE_FRACTIONS = np.linspace(0.01, 1.0, 100)


def samples_of(x: Any) -> np.ndarray:
    """Samples as the methods take them: float64, flattened, sorted (so sums run in one
    order whatever the input's layout), finite and non-empty, else ValueError.

    >>> samples_of([[2.0, -1.0]]).tolist()
    [-1.0, 2.0]
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("samples: need at least one value, got an empty array")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"samples: {np.count_nonzero(~np.isfinite(a))} non-finite values")
    return np.sort(a)


def check_sample_range(x: np.ndarray, who: str) -> None:
    """Samples whose squared error can be computed: not all zero, squares within float64.

    >>> check_sample_range(np.zeros(3), "demo")
    Traceback (most recent call last):
    ...
    ValueError: demo: range is zero: every value is 0; there is no scale to set
    """
    top = float(np.max(np.abs(x)))
    if top == 0:
        raise ValueError(f"{who}: range is zero: every value is 0; there is no scale to set")
    if not top < 1e154:
        raise ValueError(f"{who}: values up to {top:g} square beyond float64; rescale the data")


def sample_minmax(x: np.ndarray) -> float:
    """max |x| (see the module example)."""
    return float(np.max(np.abs(x)))


def sample_percentile(x: np.ndarray, p: float = 99.99) -> float:
    """The p-th percentile of |x| (see the module example)."""
    return float(np.percentile(np.abs(x), p))


def sample_mse_clip(
    x: np.ndarray, quantize_at: Callable[[float], np.ndarray], candidates: int = 100
) -> tuple[float, float]:
    """(clip, MSE) of the best of ``candidates`` clips max|x|·i/candidates, i = 1..candidates
    (the first on a tie), ``quantize_at(clip)`` giving x quantized at that clip.

    >>> sample_mse_clip(np.array([-1.0, 0.5, 1.0]), lambda c: np.clip(np.array([-1.0, 0.5, 1.0]), -c, c), 4)
    (1.0, 0.0)
    """
    check_sample_range(x, "mse_clip")
    clips = np.max(np.abs(x)) * np.arange(1, candidates + 1) / candidates
    errs = [np.mean((x - quantize_at(c)) ** 2) for c in clips]
    i = int(np.argmin(errs))
    return float(clips[i]), float(errs[i])


def mse_rows(
    g: np.ndarray, r: np.ndarray, fake: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Each row of ``g`` fake-quantized at its best clip r·c, c in :data:`MSE_FRACTIONS`
    (least squared error; the first on a tie): ``Quantizer``'s "mse" range.
    ``fake(g, clips)`` quantizes every row at its clip.

    >>> g = np.array([[0.2, 1.0]])
    >>> mse_rows(g, np.array([1.0]), lambda g, c: np.minimum(g, c[:, None])).tolist()
    [[0.2, 1.0]]
    """
    best = best_err = None
    for c in MSE_FRACTIONS:
        q = fake(g, r * c)
        err = ((q - g) ** 2).sum(axis=1)
        if best is None:
            best, best_err = q, err
        else:
            better = err < best_err
            best = np.where(better[:, None], q, best)
            best_err = np.minimum(err, best_err)
    return best


# -- ACIQ -----------------------------------------------------------------------------------
def aciq_mse(alpha: float, bits: int, prior: str, spread: float) -> float:
    """ACIQ's MSE model: the clipping error of a Laplace(b) or Gaussian(σ) prior plus the
    rounding noise α²/(3·4^M) of an M-bit uniform quantizer (Banner et al. 2019, eq. 5, 9).

    >>> round(aciq_mse(2.83, 2, "laplace", 1.0), 4)
    0.2849
    """
    from scipy import special  # late: importing lowbit.formats stays light

    noise = alpha**2 / (3 * 4.0**bits)
    if prior == "laplace":
        return 2 * spread**2 * math.exp(-alpha / spread) + noise
    if prior == "gaussian":
        s = spread
        tail = (alpha**2 + s**2) * special.erfc(alpha / (math.sqrt(2) * s))
        return (
            tail - math.sqrt(2 / math.pi) * alpha * s * math.exp(-(alpha**2) / (2 * s * s)) + noise
        )
    raise ValueError(f"ACIQ prior must be 'laplace' or 'gaussian', got {prior!r}")


def aciq_spread(x: np.ndarray, prior: str) -> float:
    """The prior's scale fitted to samples: b = mean|x − x̄| (Laplace) or σ = std (Gaussian).

    >>> aciq_spread(np.array([-1.0, 1.0]), "laplace")
    1.0
    """
    return float(np.mean(np.abs(x - x.mean())) if prior == "laplace" else x.std())


def aciq_clip(bits: int, prior: str, spread: float) -> float:
    """ACIQ's optimal clip for a ``bits``-bit uniform quantizer and a prior of scale
    ``spread``.  Laplace(b): d/dα = 0 gives (α/b)·e^{α/b} = 3·4^M, so α = b·W(3·4^M)
    (Lambert W); Gaussian(σ): the model is minimised numerically.

    >>> round(aciq_clip(4, "laplace", 1.0), 3)
    5.029
    """
    from scipy import optimize, special  # late: importing lowbit.formats stays light

    if not 0 < spread < 1e150:  # ACIQ's model squares α: keep it within float64
        raise ValueError(f"aciq: spread {spread:g} is zero or too wide for float64")
    if prior == "laplace":
        return float(spread * special.lambertw(3 * 4.0**bits).real)
    res = optimize.minimize_scalar(
        lambda a: aciq_mse(a, bits, "gaussian", spread),
        bounds=(1e-3 * spread, 40 * spread),
        method="bounded",
        options={"xatol": 1e-12 * spread},
    )
    return float(res.x)


# -- OCTAV ----------------------------------------------------------------------------------
def octav_fixed_point(
    stats: Callable[[float], tuple[float, float]], s: float, bits: int, iterations: int = 50
) -> float:
    """OCTAV's Newton–Raphson fixed point (Sakr et al. 2022, eq. 5) from ``s``:
    s ← E[|X|·1{|X|>s}] / (4^{−B}/3 · P(|X|≤s) + P(|X|>s)), ``stats(s)`` giving
    (E[|X|·1{|X|>s}], P(|X|>s)); stops when a step moves s by at most 1e-14·s.

    >>> round(sample_octav(4, np.linspace(-1.0, 1.0, 1001)), 4)
    0.9524
    """
    k = 4.0**-bits / 3
    for _ in range(iterations):
        tail_abs, p_out = stats(s)
        s_new = tail_abs / (k * (1 - p_out) + p_out)
        if abs(s_new - s) <= 1e-14 * s:
            return s_new
        s = s_new
    return s


def sample_octav(bits: int, x: np.ndarray, iterations: int = 50) -> float:
    """OCTAV's clip on samples, starting from mean|x| (example: :func:`octav_fixed_point`)."""
    a = np.abs(x)

    def stats(s):
        out = a > s
        return float(np.sum(a[out]) / a.size), float(np.mean(out))

    return octav_fixed_point(stats, float(np.mean(a)), bits, iterations)


# -- KL (TensorRT entropy calibration) --------------------------------------------------------
def histogram_kl(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """KL(P‖Q) = Σ p·ln(p/q) in nats of two non-negative histograms, each normalised to
    sum 1 first; bins where p = 0 add nothing, a bin with p > 0 and q = 0 makes it inf.

    >>> round(histogram_kl(np.array([1.0, 1.0]), np.array([1.0, 3.0])), 4)
    0.1438
    """
    p = p / np.sum(p, axis=axis, keepdims=True)
    q = q / np.sum(q, axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    out = np.sum(terms, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def kl_threshold(a: np.ndarray, levels: int, bins: int = 2048) -> float:
    """The threshold of |x| (``a``) minimising KL(P‖Q) (Migacz 2017): a ``bins``-bin
    histogram of ``a``; for each candidate i ≥ ``levels`` P is hist[:i] with the outliers
    folded into bin i−1, Q is hist[:i] merged into ``levels`` groups and spread back over
    each group's non-empty bins.  0 when every value is 0.

    >>> kl_threshold(np.abs(np.linspace(-1.0, 1.0, 101)), 2, 4)
    1.0
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < levels:
        raise ValueError(
            f"kl_clip: bins must be an integer >= {levels} (the format's positive levels + 1), "
            f"got {bins!r}"
        )
    if not a.max() > 0:  # every value is 0: the range is zero (callers refuse a zero clip)
        return 0.0
    hist, edges = np.histogram(a, bins=bins, range=(0.0, float(a.max())))
    hist = hist.astype(np.float64)
    best, best_kl = bins, math.inf
    tail = np.cumsum(hist[::-1])[::-1]  # tail[i] = Σ hist[i:]
    for i in range(levels, bins + 1):
        p = hist[:i].copy()
        if i < bins:
            p[i - 1] += tail[i]
        groups = np.minimum(np.arange(i) * levels // i, levels - 1)
        total = np.bincount(groups, weights=hist[:i], minlength=levels)
        filled = np.bincount(groups, weights=(hist[:i] > 0), minlength=levels)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(hist[:i] > 0, total[groups] / filled[groups], 0.0)
        d = histogram_kl(p, q)
        if d < best_kl:
            best, best_kl = i, d
    return float(edges[best])


def kl_levels(fmt: Any) -> int:
    """The KL search's group count for a scalar format: its positive values + 1 (128 for
    INT8 narrow).

    >>> import lowbit
    >>> kl_levels(lowbit.get_format("int8_narrow"))
    128
    """
    v = np.asarray(fmt.values(), dtype=np.float64)
    return int(np.count_nonzero(np.unique(v[np.isfinite(v)]) > 0)) + 1


# -- one entry point ------------------------------------------------------------------------
def sample_clip(fmt: Any, x: np.ndarray, method: str, **options: Any) -> float:
    """The clip ``method`` chooses for the scalar format ``fmt`` on samples ``x``
    (see :func:`samples_of`): "minmax", "percentile" (``p``), "aciq" (``prior``),
    "kl" (``bins``) or "octav" (``iterations``).  "mse" needs a quantizer: see
    :func:`sample_mse_clip` and :func:`mse_rows`.

    >>> import lowbit
    >>> x = samples_of(np.random.default_rng(0).laplace(size=10_000))
    >>> round(sample_clip(lowbit.get_format("int4"), x, "aciq", prior="laplace"), 2)
    5.04
    """
    if method == "minmax":
        return sample_minmax(x)
    if method == "percentile":
        return sample_percentile(x, **options)
    if method == "aciq":
        prior = options.get("prior")
        if prior not in ("laplace", "gaussian"):
            raise ValueError(f"aciq: samples need prior='laplace' or 'gaussian', got {prior!r}")
        return aciq_clip(fmt.bits, prior, aciq_spread(x, prior))
    if method == "octav":
        return sample_octav(fmt.bits, x, **options)
    if method == "kl":
        return kl_threshold(np.abs(x), kl_levels(fmt), **options)
    raise ValueError(f"unknown range method {method!r}; expected one of {', '.join(METHODS)}")
