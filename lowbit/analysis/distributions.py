"""Distributions for error analysis, following the scipy.stats protocol.

Every distribution has ``pdf``, ``cdf``, ``sf``, ``ppf``, ``rvs(size, random_state)``, ``mean``,
``var`` and ``std``; any frozen scipy.stats continuous distribution is accepted wherever one of
these is (:func:`as_distribution`).  Those with a closed form also give
``partial_moments(a, b)`` = (∫p, ∫x·p, ∫x²·p) over [a, b], which :mod:`expected` turns into an
exact expected MSE; the others fall back to adaptive quadrature.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import integrate, optimize, special, stats

# load_tensor's old home was this module: it stays importable from here
from .tensors import as_array, is_array_like, load_tensor, parse_tensor_spec  # noqa: F401


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31))
    return np.random.default_rng(random_state)


def _positive(name: str, value: Any) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


class Distribution:
    """Base class: subclasses give ``pdf``, ``cdf``, ``ppf``, ``_sample`` and ``params``."""

    name = "distribution"
    #: Atoms (location, mass) on top of the density (only :class:`Clipped` has any).
    atoms: tuple[tuple[float, float], ...] = ()

    @property
    def params(self) -> dict[str, float]:
        return {}

    def sf(self, x):
        return 1.0 - self.cdf(x)

    def rvs(self, size=None, random_state=None) -> np.ndarray:
        """Random samples, as ``scipy.stats``: ``size`` a shape, ``random_state`` a seed."""
        rng = _rng(random_state)
        n = 1 if size is None else int(np.prod(size))
        out = np.asarray(self._sample(n, rng), dtype=np.float64)
        return out[0] if size is None else out.reshape(size)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.ppf(rng.random(n))

    def partial_moments(self, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(∫p, ∫x·p, ∫x²·p) over [a, b] (atoms included), or None without a closed form."""
        return None

    def moment2(self) -> float:
        """E[X²]."""
        return self.var() + self.mean() ** 2

    def std(self) -> float:
        return math.sqrt(self.var())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class _Scaled(Distribution):
    """A zero-centred standard shape times ``scale``: closed forms come from the shape's."""

    scale = 1.0

    def pdf(self, x):
        return self._pdf(np.asarray(x, dtype=np.float64) / self.scale) / self.scale

    def cdf(self, x):
        return self._cdf(np.asarray(x, dtype=np.float64) / self.scale)

    def sf(self, x):
        return self._cdf(-np.asarray(x, dtype=np.float64) / self.scale)  # symmetric shapes

    def ppf(self, q):
        return self._ppf(np.asarray(q, dtype=np.float64)) * self.scale

    def mean(self) -> float:
        return 0.0

    def partial_moments(self, a, b):
        s = self.scale
        m0, m1, m2 = self._moments(np.asarray(a, np.float64) / s, np.asarray(b, np.float64) / s)
        return m0, s * m1, s * s * m2

    def _mass(self, a, b):
        # P(a < X < b) without cancellation in the upper tail: use the survival function there
        return np.where(a > 0, self._cdf(-a) - self._cdf(-b), self._cdf(b) - self._cdf(a))


def _square(v: float) -> float:
    """v², inf where it overflows float64 (a Python float's ** raises OverflowError)."""
    return v * v if abs(v) < 1e154 else math.inf


def _xf(x, f):
    """x·f(x), taken as 0 at ±inf (every density here decays faster than 1/x)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(x), x * f, 0.0)


class Gaussian(_Scaled):
    """N(0, sigma²).

    >>> round(float(Gaussian(2.0).cdf(2.0)), 4)
    0.8413
    """

    name = "gaussian"

    def __init__(self, sigma: float = 1.0):
        self.scale = self.sigma = _positive("Gaussian sigma", sigma)

    @property
    def params(self):
        return {"sigma": self.sigma}

    _pdf = staticmethod(lambda z: np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    _cdf = staticmethod(special.ndtr)
    _ppf = staticmethod(special.ndtri)

    def var(self) -> float:
        return _square(self.sigma)

    def _sample(self, n, rng):
        return rng.standard_normal(n) * self.sigma

    def _moments(self, a, b):
        fa, fb = self._pdf(a), self._pdf(b)
        m0 = self._mass(a, b)
        # ∫x φ = -φ ;  ∫x² φ = Φ - x φ
        return m0, fa - fb, m0 + _xf(a, fa) - _xf(b, fb)


class Laplace(_Scaled):
    """Laplace(0, b): density exp(-|x|/b) / 2b.

    >>> Laplace(1.5).var()
    4.5
    """

    name = "laplace"

    def __init__(self, b: float = 1.0):
        self.scale = self.b = _positive("Laplace b", b)

    @property
    def params(self):
        return {"b": self.b}

    @staticmethod
    def _pdf(z):
        return 0.5 * np.exp(-np.abs(z))

    @staticmethod
    def _cdf(z):
        return np.where(z < 0, 0.5 * np.exp(-np.abs(z)), 1.0 - 0.5 * np.exp(-np.abs(z)))

    @staticmethod
    def _ppf(q):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(q < 0.5, np.log(2 * q), -np.log(2 * (1 - q)))

    def var(self) -> float:
        return 2 * _square(self.b)

    def _sample(self, n, rng):
        return rng.laplace(0.0, self.b, n)

    @staticmethod
    def _moments(a, b):
        # Antiderivatives on x ≥ 0 (F⁺) and x ≤ 0 (F⁻) of e^{-|x|}/2 times 1, x, x²:
        # F⁺ = -e^{-x}/2·(1, x+1, x²+2x+2),   F⁻ = e^{x}/2·(1, x-1, x²-2x+2).
        # where e^{-|x|} underflows to 0 the terms are 0 (x² may overflow: 0·inf = NaN)
        def pos(x):
            e = 0.5 * np.exp(-x)
            gone = e == 0
            return (
                -e,
                np.where(gone, 0, -e * (x + 1)),
                np.where(gone, 0, -e * (x * x + 2 * x + 2)),
            )

        def neg(x):
            e = 0.5 * np.exp(x)
            gone = e == 0
            return (
                e,
                np.where(gone, 0, e * (x - 1)),
                np.where(gone, 0, e * (x * x - 2 * x + 2)),
            )

        a, b = np.broadcast_arrays(a, b)
        with np.errstate(invalid="ignore", over="ignore"):
            lo_n, hi_n = np.minimum(a, 0.0), np.minimum(b, 0.0)
            lo_p, hi_p = np.maximum(a, 0.0), np.maximum(b, 0.0)
            out = []
            for un, ln, up, lp in zip(neg(hi_n), neg(lo_n), pos(hi_p), pos(lo_p), strict=True):
                out.append((un - ln) + (up - lp))
        return tuple(out)


class StudentT(_Scaled):
    """Student-t with ``nu`` degrees of freedom times ``scale`` (variance scale²·ν/(ν−2)).

    >>> StudentT(3).var()
    3.0
    """

    name = "student_t"

    def __init__(self, nu: float, scale: float = 1.0):
        self.nu = _positive("StudentT nu", nu)
        self.scale = _positive("StudentT scale", scale)

    @property
    def params(self):
        return {"nu": self.nu, "scale": self.scale}

    def _pdf(self, z):
        nu = self.nu
        log_c = (
            special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(nu * math.pi)
        )
        return np.exp(log_c - (nu + 1) / 2 * np.log1p(np.square(z) / nu))

    def _cdf(self, z):
        return special.stdtr(self.nu, z)

    def _ppf(self, q):
        return special.stdtrit(self.nu, q)

    def var(self) -> float:
        return _square(self.scale) * self.nu / (self.nu - 2) if self.nu > 2 else math.inf

    def _sample(self, n, rng):
        return rng.standard_t(self.nu, n) * self.scale

    def _moments(self, a, b):
        nu = self.nu
        m0 = self._mass(a, b)

        def g1(x):  # ∫ x p = -(ν + x²)/(ν − 1) · p  (ν > 1; it → 0 at ±inf)
            with np.errstate(invalid="ignore", over="ignore"):
                return np.where(np.isfinite(x), -(nu + x * x) / (nu - 1) * self._pdf(x), 0.0)

        if nu <= 2:
            return (m0, *self._heavy_moments(a, b, g1))

        # x² = ν(1 + x²/ν) − ν, and (1 + x²/ν)^{-(ν-1)/2} is the t_{ν-2} density of x·r:
        # ∫x² p = ν(ν−1)/(ν−2) · F_{ν−2}(x r) − ν F_ν(x),  r = √((ν−2)/ν)
        r = math.sqrt((nu - 2) / nu)
        ar, br = a * r, b * r
        m0_2 = np.where(
            ar > 0,
            special.stdtr(nu - 2, -ar) - special.stdtr(nu - 2, -br),
            special.stdtr(nu - 2, br) - special.stdtr(nu - 2, ar),
        )
        return m0, g1(b) - g1(a), nu * (nu - 1) / (nu - 2) * m0_2 - nu * m0

    def _heavy_moments(self, a, b, g1):
        """(∫x·p, ∫x²·p) for ν ≤ 2: ∫x²p diverges on an infinite interval (so does ∫x·p
        for ν ≤ 1: the tail of x·p is then ±inf); finite intervals by quadrature."""
        shape = np.broadcast_shapes(np.shape(a), np.shape(b))
        a = np.broadcast_to(np.asarray(a, np.float64), shape).reshape(-1)
        b = np.broadcast_to(np.asarray(b, np.float64), shape).reshape(-1)
        finite = np.isfinite(a) & np.isfinite(b)
        m1, m2 = np.zeros(a.shape), np.where(finite | (a >= b), 0.0, np.inf)
        if self.nu > 1:
            m1 = np.where(a < b, g1(b) - g1(a), 0.0)
        else:  # the mean diverges: +inf from an upper tail, -inf from a lower one
            m1 = np.where(a >= b, 0.0, np.where(np.isinf(b), np.inf, 0.0))
            m1 = m1 + np.where((a < b) & np.isinf(a), -np.inf, 0.0)
        for i in np.flatnonzero(finite):
            m2[i] = _quad(lambda x: x * x * self._pdf(x), a[i], b[i])
            if self.nu <= 1:
                m1[i] = _quad(lambda x: x * self._pdf(x), a[i], b[i])
        return m1.reshape(shape), m2.reshape(shape)


def _quad(f, lo, hi) -> float:
    if lo >= hi:
        return 0.0
    return integrate.quad(f, lo, hi, limit=200)[0]


class Uniform(Distribution):
    """Uniform on [a, b].

    >>> Uniform(-1, 1).var()
    0.3333333333333333
    """

    name = "uniform"

    def __init__(self, a: float = -1.0, b: float = 1.0):
        self.a, self.b = float(a), float(b)
        if not (math.isfinite(self.a) and math.isfinite(self.b) and self.a < self.b):
            raise ValueError(f"Uniform needs finite a < b, got a={a!r}, b={b!r}")
        if not math.isfinite(self.b - self.a):
            raise ValueError(f"Uniform: b − a overflows float64 (a={a!r}, b={b!r})")

    @property
    def params(self):
        return {"a": self.a, "b": self.b}

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.where((x >= self.a) & (x <= self.b), 1.0 / (self.b - self.a), 0.0)

    def cdf(self, x):
        return np.clip((np.asarray(x, dtype=np.float64) - self.a) / (self.b - self.a), 0, 1)

    def ppf(self, q):
        return self.a + np.asarray(q, dtype=np.float64) * (self.b - self.a)

    def mean(self) -> float:
        return (self.a + self.b) / 2

    def var(self) -> float:
        return (self.b - self.a) ** 2 / 12

    def _sample(self, n, rng):
        return rng.uniform(self.a, self.b, n)

    def partial_moments(self, a, b):
        lo = np.clip(np.asarray(a, np.float64), self.a, self.b)
        hi = np.clip(np.asarray(b, np.float64), self.a, self.b)
        w = self.b - self.a
        return (hi - lo) / w, (hi**2 - lo**2) / (2 * w), (hi**3 - lo**3) / (3 * w)

    def cell_mse(self, a, b, q):
        """∫_a^b (x − q)² p(x) dx, exact without cancellation."""
        lo = np.clip(np.asarray(a, np.float64), self.a, self.b)
        hi = np.clip(np.asarray(b, np.float64), self.a, self.b)
        return ((hi - q) ** 3 - (lo - q) ** 3) / (3 * (self.b - self.a))


class OutlierMixture(Distribution):
    """(1 − fraction)·base + fraction·(base × outlier_scale): a body with a wide component.

    >>> OutlierMixture(Gaussian(1.0), 10.0, 0.01).var()
    1.99
    """

    name = "outlier_mixture"

    def __init__(self, base: Any, outlier_scale: float, fraction: float):
        self.base = as_distribution(base)
        self.outlier_scale = _positive("OutlierMixture outlier_scale", outlier_scale)
        f = float(fraction)
        if not 0 <= f <= 1:
            raise ValueError(f"OutlierMixture fraction must be in [0, 1], got {fraction!r}")
        self.fraction = f

    @property
    def params(self):
        return {**self.base.params, "outlier_scale": self.outlier_scale, "fraction": self.fraction}

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        s, f = self.outlier_scale, self.fraction
        return (1 - f) * self.base.pdf(x) + f * self.base.pdf(x / s) / s

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        f = self.fraction
        return (1 - f) * self.base.cdf(x) + f * self.base.cdf(x / self.outlier_scale)

    def ppf(self, q):
        def one(p):
            if p <= 0 or p >= 1:
                return -math.inf if p <= 0 else math.inf
            lo = min(self.base.ppf(p), self.base.ppf(p) * self.outlier_scale)
            hi = max(self.base.ppf(p), self.base.ppf(p) * self.outlier_scale)
            if lo == hi:
                return float(lo)
            return optimize.brentq(lambda x: float(self.cdf(x)) - p, lo, hi, xtol=1e-14)

        q = np.asarray(q, dtype=np.float64)
        return np.vectorize(one, otypes=[np.float64])(q) if q.ndim else np.float64(one(float(q)))

    def mean(self) -> float:
        return self.base.mean() * (1 - self.fraction + self.fraction * self.outlier_scale)

    def var(self) -> float:
        s, f = self.outlier_scale, self.fraction
        return (1 - f) * self.base.moment2() + f * s * s * self.base.moment2() - self.mean() ** 2

    def _sample(self, n, rng):
        x = np.asarray(self.base.rvs(size=n, random_state=rng), dtype=np.float64)
        return np.where(rng.random(n) < self.fraction, x * self.outlier_scale, x)

    def partial_moments(self, a, b):
        s, f = self.outlier_scale, self.fraction
        body = self.base.partial_moments(a, b)
        wide = self.base.partial_moments(np.asarray(a) / s, np.asarray(b) / s)
        if body is None or wide is None:
            return None
        return tuple(
            (1 - f) * m + f * s**k * w for k, (m, w) in enumerate(zip(body, wide, strict=True))
        )


class Clipped(Distribution):
    """``dist`` clipped to [lo, hi]: np.clip of its samples, so atoms sit at lo and hi.

    >>> c = Clipped(Gaussian(1.0), -1.0, 1.0)
    >>> [round(m, 4) for _, m in c.atoms]
    [0.1587, 0.1587]
    """

    name = "clipped"

    def __init__(self, dist: Any, lo: float, hi: float):
        self.base = as_distribution(dist)
        self.lo, self.hi = float(lo), float(hi)
        if not self.lo < self.hi or math.isnan(self.lo) or math.isnan(self.hi):
            raise ValueError(f"Clipped needs lo < hi, got lo={lo!r}, hi={hi!r}")
        self.atoms = tuple(
            (x, float(m))
            for x, m in ((self.lo, self.base.cdf(self.lo)), (self.hi, self.base.sf(self.hi)))
            if m > 0 and math.isfinite(x)
        )

    @property
    def params(self):
        return {**self.base.params, "lo": self.lo, "hi": self.hi}

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.where((x > self.lo) & (x < self.hi), self.base.pdf(x), 0.0)

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(x < self.lo, 0.0, np.where(x >= self.hi, 1.0, self.base.cdf(x)))

    def ppf(self, q):
        return np.clip(self.base.ppf(q), self.lo, self.hi)

    def _sample(self, n, rng):
        return np.clip(self.base.rvs(size=n, random_state=rng), self.lo, self.hi)

    def _moment(self, k: int) -> float:
        inner = self.partial_moments(-math.inf, math.inf)
        if inner is not None:
            return float(inner[k])
        body = _quad(lambda x: x**k * float(self.base.pdf(x)), self.lo, self.hi)
        return body + sum(x**k * m for x, m in self.atoms)

    def mean(self) -> float:
        return self._moment(1)

    def var(self) -> float:
        return self._moment(2) - self._moment(1) ** 2

    def partial_moments(self, a, b):
        a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
        body = self.base.partial_moments(np.clip(a, self.lo, self.hi), np.clip(b, self.lo, self.hi))
        if body is None:
            return None
        body = [np.array(m, dtype=np.float64) for m in body]
        for x, mass in self.atoms:  # an atom belongs to the cell (a, b] it falls in
            inside = (a < x) & (x <= b) if x > self.lo else (a <= x) & (x < b)
            for k in range(3):
                body[k] = body[k] + np.where(inside, mass * x**k, 0.0)
        return tuple(body)


class Empirical(Distribution):
    """The distribution of a real tensor's values (its empirical distribution).

    ``values`` is a numpy array, a list, or anything with ``__array__`` or ``__dlpack__``
    (torch, jax).  The tensor's shape is kept (``shape``) and ``axis`` names the axis that
    block formats form their blocks along (default the last), as they do on the real tensor.

    >>> e = Empirical([1.0, -2.0, 3.0, 0.5])
    >>> float(e.cdf(1.0)), e.mean()
    (0.75, 0.625)
    """

    name = "empirical"

    def __init__(self, values: Any, label: str = "array", axis: int = -1):
        x = as_array(values)
        if x.dtype.kind not in "fiub":
            raise ValueError(f"Empirical needs a numeric array, got dtype {x.dtype}")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Empirical: axis must be an integer, got {axis!r}")
        if x.ndim and not -x.ndim <= axis < x.ndim:
            raise ValueError(f"Empirical: axis {axis} is out of range for shape {x.shape}")
        self.shape, self.axis = tuple(x.shape) or (1,), int(axis)
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size == 0:
            raise ValueError("Empirical needs at least one value, got an empty array")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"Empirical: {np.count_nonzero(~np.isfinite(x))} non-finite values")
        self.values = x  # the values in the tensor's own (row-major) order
        self.samples = np.sort(x)
        self.label = label

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, name: str | None = None, axis: int = -1, *, key=None
    ) -> Empirical:
        """A tensor of a .safetensors, .npz or .npy file (see :func:`load_tensor`; ``key`` is
        the older spelling of ``name``), labelled ``FILE:NAME``."""
        name = name if name is not None else key
        x = load_tensor(path, name)
        return cls(x, label=f"{Path(path).name}{':' + name if name else ''}", axis=axis)

    def tensor(self) -> np.ndarray:
        """The values in the tensor's own shape (float64)."""
        return self.values.reshape(self.shape)

    @property
    def params(self):
        return {"n": float(self.samples.size)}

    def pdf(self, x):
        dens, edges = np.histogram(self.samples, bins="fd", density=True)
        i = np.searchsorted(edges, np.asarray(x, dtype=np.float64), side="right") - 1
        ok = (i >= 0) & (i < dens.size)
        return np.where(ok, dens[np.clip(i, 0, dens.size - 1)], 0.0)

    def cdf(self, x):
        n = self.samples.size
        return np.searchsorted(self.samples, np.asarray(x, np.float64), side="right") / n

    def ppf(self, q):
        return np.quantile(self.samples, q, method="inverted_cdf")

    def mean(self) -> float:
        return float(self.samples.mean())

    def var(self) -> float:
        return float(self.samples.var())

    def moment2(self) -> float:
        return float(np.mean(self.samples**2))

    def _sample(self, n, rng):
        return rng.choice(self.samples, n, replace=True)


class ScipyDistribution(Distribution):
    """A frozen scipy.stats continuous distribution (no closed forms: quadrature)."""

    def __init__(self, frozen: Any):
        self.frozen = frozen
        self.name = getattr(getattr(frozen, "dist", None), "name", "scipy")

    @property
    def params(self):
        kw = dict(getattr(self.frozen, "kwds", {}))
        shapes = (getattr(self.frozen.dist, "shapes", None) or "").replace(" ", "").split(",")
        args = getattr(self.frozen, "args", ())
        named = {
            k: v for k, v in zip([s for s in shapes if s] + ["loc", "scale"], args, strict=False)
        }
        return {k: float(v) for k, v in {**named, **kw}.items()}

    def pdf(self, x):
        return self.frozen.pdf(x)

    def cdf(self, x):
        return self.frozen.cdf(x)

    def sf(self, x):
        return self.frozen.sf(x)

    def ppf(self, q):
        return self.frozen.ppf(q)

    def mean(self) -> float:
        return float(self.frozen.mean())

    def var(self) -> float:
        return float(self.frozen.var())

    def _sample(self, n, rng):
        return self.frozen.rvs(size=n, random_state=rng)


def as_distribution(obj: Any) -> Distribution:
    """A :class:`Distribution` from one, a frozen scipy.stats distribution, or an array.

    scipy's centred norm, laplace, t and uniform become the closed-form classes here.

    >>> from scipy import stats
    >>> as_distribution(stats.norm(scale=2.0))
    Gaussian(sigma=2)
    """
    if isinstance(obj, Distribution):
        return obj
    if is_scipy_frozen(obj):
        if not isinstance(obj.dist, stats.rv_continuous):
            raise TypeError(
                f"only continuous scipy.stats distributions are supported, got {obj.dist.name}"
            )
        return _from_scipy(obj)
    if is_array_like(obj):  # numpy, lists, torch/jax (__array__ or DLPack)
        return Empirical(obj)
    raise TypeError(
        "expected a Distribution, a frozen scipy.stats distribution or an array "
        f"(numpy, __array__ or DLPack), got {type(obj).__name__}"
    )


def is_scipy_frozen(obj: Any) -> bool:
    """True for a frozen scipy.stats distribution.  A torch tensor also has a ``.dist``
    attribute (a method), so the test is the class, or ``.dist`` being a scipy distribution
    on an object that has ``rvs`` and ``ppf`` and is not an array."""
    frozen = getattr(getattr(stats, "_distn_infrastructure", None), "rv_frozen", None)
    if frozen is not None and isinstance(obj, frozen):
        return True
    return (
        isinstance(getattr(obj, "dist", None), (stats.rv_continuous, stats.rv_discrete))
        and hasattr(obj, "rvs")
        and hasattr(obj, "ppf")
        and not hasattr(obj, "__array__")
    )


def _from_scipy(frozen) -> Distribution:
    name = frozen.dist.name
    shapes, loc, scale = frozen.dist._parse_args(*frozen.args, **frozen.kwds)
    loc, scale = float(np.asarray(loc)), float(np.asarray(scale))
    # scipy itself returns NaN for every statistic of a frozen distribution with bad params
    if not (math.isfinite(scale) and scale > 0) or not math.isfinite(loc):
        raise ValueError(
            f"scipy {name}: needs a finite loc and a finite scale > 0, got loc={loc!r}, "
            f"scale={scale!r}"
        )
    if not bool(np.all(frozen.dist._argcheck(*shapes))):
        raise ValueError(f"scipy {name}: shape parameters {shapes} are outside its domain")
    if name == "uniform":
        return Uniform(loc, loc + scale)
    if loc == 0:
        if name == "norm":
            return Gaussian(scale)
        if name == "laplace":
            return Laplace(scale)
        if name == "t":
            return StudentT(shapes[0], scale)
    return ScipyDistribution(frozen)
