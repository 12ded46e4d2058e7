"""Uncertainty of sampled numbers: the mean over seeds with a Student-t confidence interval,
and whether two configurations differ by more than that noise.

Every sampled quantity (an SQNR over random operands, a GEMM-output error) is a random
variable of the seed.  With n independent seeds x_1..x_n, mean x̄ and sample standard
deviation s (ddof = 1), the two-sided confidence interval at level 1 − α is
x̄ ± t_{1−α/2, n−1} · s / √n (Student 1908; any statistics text, e.g. Wasserman,
"All of Statistics", §7.3).  Two configurations measured on the same seeds are compared
on the per-seed differences (a paired t interval); on different seeds by Welch's
interval (Welch 1947: unequal variances, Welch–Satterthwaite degrees of freedom).
Two configurations are "within noise" when the interval of their difference contains 0.

>>> ci = mean_ci([10.0, 12.0, 11.0, 9.0, 13.0])
>>> round(ci.mean, 3), round(ci.half_width, 3), ci.n
(11.0, 1.963, 5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

__all__ = ["Difference", "Interval", "compare", "mean_ci", "summarize", "within_noise"]


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` seeds and its two-sided Student-t interval at ``confidence``:
    [mean − half_width, mean + half_width].  ``std``: the sample standard deviation
    (ddof = 1).  With n = 1 the interval is unbounded (``half_width`` = inf): one seed
    says nothing about the spread, so nothing ranked on it is separable."""

    mean: float
    half_width: float
    n: int
    std: float
    confidence: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.half_width:.2g} (n={self.n}, {self.confidence:.0%})"


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise TypeError(f"confidence must be a number in (0, 1), got {confidence!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence}; legal range is (0, 1)")
    return float(confidence)


def _values(name: str, values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError(f"{name}: need at least one value, got none")
    if not np.isfinite(v).all():
        raise ValueError(
            f"{name}: {int((~np.isfinite(v)).sum())} non-finite values; an infeasible "
            "configuration has no mean (drop or mark it before summarising)"
        )
    return v


def _t_interval(mean: float, sem: float, df: float, confidence: float) -> float:
    """Half-width t_{(1+c)/2, df} · sem (inf when df < 1 or sem is undefined)."""
    if not df >= 1 or not math.isfinite(sem):
        return math.inf
    return float(_st.t.ppf(0.5 + confidence / 2, df) * sem)


def mean_ci(values: Any, confidence: float = 0.95) -> Interval:
    """Mean of per-seed ``values`` with its Student-t interval (see the module docstring).

    >>> str(mean_ci([1.0, 2.0, 3.0]))
    '2 ± 2.5 (n=3, 95%)'
    """
    confidence = _check_confidence(confidence)
    v = _values("mean_ci", values)
    n = v.size
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    half = _t_interval(mean, std / math.sqrt(n), n - 1, confidence) if n > 1 else math.inf
    return Interval(mean, half, n, std, confidence)


@dataclass(frozen=True)
class Difference:
    """mean(a) − mean(b) with its interval; ``paired``: computed on per-seed differences
    (same seeds) rather than by Welch; ``p_value``: two-sided t test of no difference;
    ``within_noise``: the interval contains 0."""

    diff: float
    half_width: float
    df: float
    p_value: float
    paired: bool
    confidence: float

    @property
    def within_noise(self) -> bool:
        return bool(abs(self.diff) <= self.half_width)


def compare(a: Any, b: Any, confidence: float = 0.95, paired: bool | None = None) -> Difference:
    """The difference of two configurations' per-seed values, with its t interval.

    ``paired=None``: paired when both have the same number of values (the same seeds, in
    the same order, is the caller's contract), Welch otherwise.

    >>> d = compare([10.0, 11.0, 12.0], [10.1, 11.2, 12.0])
    >>> d.paired, round(d.diff, 3), d.within_noise
    (True, -0.1, True)
    """
    confidence = _check_confidence(confidence)
    a, b = _values("compare: a", a), _values("compare: b", b)
    if paired is None:
        paired = a.size == b.size
    if paired:
        if a.size != b.size:
            raise ValueError(f"compare: paired needs equal counts, got {a.size} and {b.size}")
        d = a - b
        n = d.size
        diff = float(d.mean())
        sem = float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        df = float(n - 1)
    else:
        diff = float(a.mean() - b.mean())
        va = a.var(ddof=1) / a.size if a.size > 1 else math.nan
        vb = b.var(ddof=1) / b.size if b.size > 1 else math.nan
        sem = math.sqrt(va + vb)
        # Welch–Satterthwaite; a zero variance on both sides leaves df undefined (nan)
        den = (va**2 / (a.size - 1) if a.size > 1 else math.nan) + (
            vb**2 / (b.size - 1) if b.size > 1 else math.nan
        )
        df = float((va + vb) ** 2 / den) if den > 0 else math.nan
    half = _t_interval(diff, sem, df, confidence)
    if sem == 0:  # identical differences on every seed: no noise at all
        half, p = 0.0, (1.0 if diff == 0 else 0.0)
    elif math.isfinite(half):
        p = float(2 * _st.t.sf(abs(diff) / sem, df))
    else:
        p = math.nan
    return Difference(diff, half, df, p, bool(paired), confidence)


def within_noise(a: Any, b: Any, confidence: float = 0.95, paired: bool | None = None) -> bool:
    """Whether two configurations' per-seed values are within noise of each other: the
    :func:`compare` interval of their difference contains 0.

    >>> within_noise([10.0, 11.0, 12.0], [15.0, 16.1, 17.0])
    False
    """
    return compare(a, b, confidence, paired).within_noise


def summarize(df: Any, value: str, by: list[str] | None = None, confidence: float = 0.95):
    """A tidy summary of a per-seed DataFrame: one row per group of ``by`` with the
    column's ``mean``, ``half_width`` (the t interval), ``std`` and ``n``.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"cfg": ["a", "a", "b", "b"], "snr": [1.0, 3.0, 5.0, 5.0]})
    >>> summarize(t, "snr", ["cfg"])[["cfg", "mean", "n"]].values.tolist()
    [['a', 2.0, 2], ['b', 5.0, 2]]
    """
    import pandas as pd

    if value not in df.columns:
        raise ValueError(f"summarize: no column {value!r}; columns are {list(df.columns)}")
    groups = [((), df)] if not by else df.groupby(list(by), sort=True, dropna=False)
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        ci = mean_ci(g[value].to_numpy(), confidence)
        rows.append(
            dict(zip(by or [], key, strict=True))
            | {"mean": ci.mean, "half_width": ci.half_width, "std": ci.std, "n": ci.n}
        )
    return pd.DataFrame(rows)
