"""The expected MSE of a format under a distribution, exactly (docs/background.md §5; Kuzmin et al. 2022).

The scaled grid is split at the midpoints of neighbouring values; each cell (m_{i−1}, m_i]
rounds to its value q_i (round to nearest, saturating overflow: the outer cells reach ±∞,
which is the clipping error).  E[(X − Q(X))²] = Σ_i ∫_cell (x − q_i)² p(x) dx, in closed form
from the partial moments where the distribution has them, else by adaptive quadrature.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import integrate

from ..formats import get_format
from .distributions import Distribution, Empirical, as_distribution

_GRIDS: dict[int, tuple[Any, np.ndarray]] = {}


def format_grid(fmt: Any) -> np.ndarray:
    """Every finite value of ``fmt`` (a name, a Format or an array of levels), ascending, unique.

    >>> format_grid("int2").tolist()
    [-2.0, -1.0, 0.0, 1.0]
    """
    if isinstance(fmt, np.ndarray):
        return check_levels(fmt)
    fmt = get_format(fmt)
    hit = _GRIDS.get(id(fmt))
    if hit is None or hit[0] is not fmt:
        if not is_scalar_format(fmt):
            raise TypeError(f"{fmt.name}: a block format has no fixed grid; use monte_carlo_mse")
        values = np.asarray(fmt.values(), dtype=np.float64)
        hit = _GRIDS[id(fmt)] = (fmt, np.unique(values[np.isfinite(values)]))
    return hit[1]


def check_levels(levels: np.ndarray) -> np.ndarray:
    """An array of quantizer levels, validated: ascending, unique, finite, at least one.

    >>> check_levels(np.array([1.0, -1.0, 1.0])).tolist()
    [-1.0, 1.0]
    """
    if levels.dtype.kind not in "fiu":
        raise TypeError(f"levels must be a numeric array, got dtype {levels.dtype}")
    if levels.size == 0:
        raise ValueError("levels: an empty array has no level to round to")
    out = np.unique(levels.astype(np.float64))
    if not np.all(np.isfinite(out)):
        raise ValueError(f"levels must be finite, got {levels.tolist()[:8]}")
    return out


def is_scalar_format(fmt: Any) -> bool:
    """True for a scalar format whose value set can be enumerated (and for an array of
    levels); False for formats with scales of their own (``Format.has_block_scales``) and
    for formats too wide to enumerate (fp32, int32: ``values()`` refuses them).

    >>> is_scalar_format("int8"), is_scalar_format(np.array([0.0, 1.0])), is_scalar_format("mxfp4")
    (True, True, False)
    """
    if isinstance(fmt, np.ndarray):
        return True
    fmt = get_format(fmt)
    if fmt.has_block_scales:
        return False
    try:
        fmt.values()
    except ValueError:  # FormatError too: values() refuses formats of more than 20 bits
        return False
    return True
    fmt = get_format(fmt)
    if getattr(fmt, "block_size", None) is not None or not hasattr(fmt, "values"):
        return False
    try:
        fmt.values()
    except ValueError:  # FormatError too: values() refuses wide or scaled formats
        return False
    return True


def uniform_grid(bits: int, clip: float = 1.0) -> np.ndarray:
    """The 2^bits-level mid-rise uniform quantizer on [−clip, clip] that ACIQ analyses.

    Levels sit at the centres of 2^bits equal bins: step Δ = 2·clip/2^bits.

    >>> uniform_grid(2).tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    n = 2**bits
    return clip * (2 * np.arange(n) - (n - 1)) / n


def cell_mse(dist: Distribution, lo: np.ndarray, hi: np.ndarray, q: np.ndarray) -> np.ndarray:
    """∫_lo^hi (x − q)² p(x) dx per cell (atoms included), vectorised over cells."""
    if hasattr(dist, "cell_mse"):
        return dist.cell_mse(lo, hi, q)
    moments = dist.partial_moments(lo, hi)
    if moments is not None:
        m0, m1, m2 = moments
        # M2 − 2qM1 + q²M0 with q = 0 cells exact; tiny negative round-off clipped to 0.
        # q·(q·M0), not q²·M0: a cell of no mass far out (huge scale) must give 0, not inf·0.
        # An infinite M2 (a tail of infinite variance) makes the cell's error infinite.
        with np.errstate(invalid="ignore", over="ignore"):
            out = np.maximum(m2 - 2 * q * m1 + q * (q * m0), 0.0)
        return np.where(np.isposinf(m2), np.inf, out)
    out = _quadrature(dist, np.asarray(lo, np.float64), np.asarray(hi, np.float64), q)
    for x, mass in dist.atoms:
        i = min(np.searchsorted(hi, x, side="left"), q.size - 1)
        out[i] += mass * (x - q[i]) ** 2
    return out


_GL_LO, _GL_HI = np.polynomial.legendre.leggauss(10), np.polynomial.legendre.leggauss(20)


_KNOTS = np.array([1e-6, 1e-3, 0.02, 0.16, 0.5, 0.84, 0.98, 1 - 1e-3, 1 - 1e-6])


def _gauss_legendre(dist, a, b, q, rule) -> tuple[np.ndarray, np.ndarray]:
    """(∫(x − q)²p, ∫p) per cell by one Gauss–Legendre rule."""
    nodes, weights = rule
    half, mid = 0.5 * (b - a), 0.5 * (b + a)
    x = mid[:, None] + half[:, None] * nodes[None, :]
    p = np.asarray(dist.pdf(x), dtype=np.float64)
    return half * (((x - q[:, None]) ** 2 * p) @ weights), half * (p @ weights)


def _quad_cell(dist, a: float, b: float, c: float, knots: np.ndarray) -> float:
    # split at the distribution's quantiles inside the cell, so that quad cannot step over
    # the bulk of the mass in a wide cell
    edges = [a, *knots[(knots > a) & (knots < b)], b]
    return sum(
        integrate.quad(
            lambda x: (x - c) ** 2 * float(dist.pdf(x)), lo, hi, limit=200, epsabs=1e-15
        )[0]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    )


def _quadrature(dist, lo, hi, q) -> np.ndarray:
    """∫(x − q)²p per cell: 10- and 20-point Gauss–Legendre on every finite cell at once,
    kept where the two agree and the 20-point mass matches cdf(b) − cdf(a); the other cells
    (a kink, an edge of the support, a cell wider than the bulk) and the two infinite tails
    go to adaptive quadrature (scipy.integrate.quad), split at the distribution's quantiles."""
    out = np.zeros(q.shape)
    finite = np.isfinite(lo) & np.isfinite(hi)
    redo = np.flatnonzero(~finite)
    if finite.any():
        a, b, c = lo[finite], hi[finite], q[finite]
        coarse, _ = _gauss_legendre(dist, a, b, c, _GL_LO)
        fine, mass = _gauss_legendre(dist, a, b, c, _GL_HI)
        want = np.asarray(dist.cdf(b), np.float64) - np.asarray(dist.cdf(a), np.float64)
        out[finite] = fine
        tol = 1e-10 * max(float(np.sum(np.abs(fine))), 1e-300)
        bad = (np.abs(fine - coarse) > tol) | (np.abs(mass - want) > 1e-9 * np.abs(want) + 1e-14)
        redo = np.concatenate((np.flatnonzero(finite)[bad], redo))
    if redo.size:
        knots = np.asarray(dist.ppf(_KNOTS), dtype=np.float64)
        knots = knots[np.isfinite(knots)]
        for i in redo:
            out[i] = _quad_cell(dist, lo[i], hi[i], q[i], knots)
    return out


def expected_mse(fmt: Any, dist: Any, scale: float = 1.0) -> float:
    """E[(X − scale·Q(X/scale))²] for X ~ ``dist``, exact (round to nearest, saturate).

    ``fmt`` is a format (or its name, or an array of levels); ``dist`` anything
    :func:`as_distribution` takes.  An :class:`Empirical` distribution gives its sample MSE.

    >>> from lowbit.analysis import Uniform
    >>> round(expected_mse("int8", Uniform(-100, 100)) * 12, 12)  # step 1: Δ²/12
    1.0
    """
    scale = _check_scale(scale)
    dist = as_distribution(dist)
    if not is_scalar_format(fmt):
        return monte_carlo_mse(fmt, dist, scale).mse
    grid = scale * format_grid(fmt)
    if not np.all(np.isfinite(grid)):
        raise ValueError(f"scale={scale:g} times the format's largest value overflows float64")
    mids = 0.5 * (grid[1:] + grid[:-1])
    if isinstance(dist, Empirical):
        x = dist.samples
        if isinstance(fmt, np.ndarray):
            q = grid[np.searchsorted(mids, x, side="left")]
        else:  # the format's own rounding (ties to even)
            q = scale * get_format(fmt).quantize(x / scale, overflow="saturate")
        return float(np.mean((x - q) ** 2))
    lo = np.concatenate(([-math.inf], mids))
    hi = np.concatenate((mids, [math.inf]))
    return float(np.sum(cell_mse(dist, lo, hi, grid)))


def _check_scale(scale: Any) -> float:
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    return scale


def check_seed(seed: Any, who: str) -> int | None:
    """A seed numpy's default_rng takes: None or an integer in [0, 2^63)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"{who}: seed must be None or an integer in [0, 2^63), got {seed!r}")
    return int(seed)


class MonteCarloMSE(NamedTuple):
    """A Monte Carlo MSE with its confidence interval (normal approximation)."""

    mse: float
    ci_low: float
    ci_high: float
    samples: int


def monte_carlo_mse(
    fmt: Any,
    dist: Any,
    scale: float = 1.0,
    samples: int = 1 << 20,
    seed: int = 0,
    confidence: float = 0.95,
    chunk: int = 1 << 20,
) -> MonteCarloMSE:
    """E[(X − scale·Q(X/scale))²] by Monte Carlo, with a ``confidence`` interval.

    Works for every format, block formats included (i.i.d. samples fill consecutive blocks;
    ``samples`` is rounded up to whole blocks).  Samples are streamed in ``chunk``-sized pieces.

    >>> from lowbit.analysis import Uniform
    >>> r = monte_carlo_mse("int8", Uniform(-100, 100), samples=200_000)
    >>> r.ci_low < 1 / 12 < r.ci_high
    True
    """
    from scipy import stats

    scale = _check_scale(scale)
    dist = as_distribution(dist)
    fmt = get_format(fmt)
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"monte_carlo_mse: confidence must be in (0, 1), got {confidence!r}")
    seed = check_seed(seed, "monte_carlo_mse")
    for label, v in (("samples", samples), ("chunk", chunk)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"monte_carlo_mse: {label} must be a positive integer, got {v!r}")
    chunk = max(chunk, 1)
    block = int(getattr(fmt, "block_size", None) or 1)
    chunk = max(block, chunk // block * block)
    total = -(-int(samples) // block) * block
    if total < 2:
        raise ValueError(f"monte_carlo_mse needs at least 2 samples, got {samples!r}")
    rng = np.random.default_rng(seed)
    n, s1, s2 = 0, 0.0, 0.0
    while n < total:
        x = dist.rvs(size=min(chunk, total - n), random_state=rng)
        if block > 1:
            q = scale * np.asarray(fmt.quantize(x / scale), dtype=np.float64)
        else:
            q = scale * fmt.quantize(x / scale, overflow="saturate")
        e = (x - q) ** 2
        n, s1, s2 = n + e.size, s1 + float(e.sum()), s2 + float(np.sum(e * e))
    mean = s1 / n
    stderr = math.sqrt(max(s2 / n - mean * mean, 0.0) / (n - 1))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return MonteCarloMSE(mean, mean - z * stderr, mean + z * stderr, n)
