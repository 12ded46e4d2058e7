"""Stochastic rounding: reproducible, only ever the two neighbours, unbiased inside the range."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit

NAMES = [
    "fp8_e4m3fn",
    "fp8_e5m2",
    "fp4_e2m1fn",
    "fp6_e3m2fn",
    "bf16",
    "int4",
    "e8m0",
    "fp8_e2m5fnuz",
]


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_and_neighbours_only(name):
    fmt = lowbit.get_format(name)
    rng = np.random.default_rng(5)
    x = rng.uniform(0.01, fmt.max * 0.9, 50_000) * rng.choice([-1, 1], 50_000)
    if name == "e8m0":
        x = np.abs(x)
    a = fmt.quantize(x, rounding="stochastic", seed=7)
    b = fmt.quantize(x, rounding="stochastic", seed=7)
    c = fmt.quantize(x, rounding="stochastic", seed=np.random.default_rng(7))
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not np.array_equal(a, fmt.quantize(x, rounding="stochastic", seed=8))
    lo = fmt.quantize(x, rounding="down")
    hi = fmt.quantize(x, rounding="up")
    assert np.all((a == lo) | (a == hi))


@pytest.mark.parametrize("name", NAMES)
def test_unbiased(name):
    """For x between neighbours lo < x < hi, E[SR(x)] = x: the sample mean of n roundings
    lies within 5 standard errors (σ = (hi - lo)·sqrt(p(1-p)))."""
    fmt = lowbit.get_format(name)
    v = fmt.values()
    v = v[(v > 0) & np.isfinite(v)]
    rng = np.random.default_rng(11)
    picks = rng.choice(len(v) - 1, 6, replace=False)
    n = 40_000
    for i in picks:
        lo, hi = v[i], v[i + 1]
        for frac in (0.1, 0.5, 0.77):
            x = lo + frac * (hi - lo)
            r = fmt.quantize(np.full(n, x), rounding="stochastic", seed=int(i))
            assert set(np.unique(r)) <= {lo, hi}
            p = frac
            se = (hi - lo) * np.sqrt(p * (1 - p) / n)
            assert abs(r.mean() - x) < 5 * se, (name, lo, hi, frac)


def test_stochastic_float32_and_float64_agree():
    fmt = lowbit.get_format("fp8_e4m3fn")
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    a = fmt.encode(x, rounding="stochastic", seed=3)
    b = fmt.encode(x.astype(np.float64), rounding="stochastic", seed=3)
    assert np.array_equal(a, b)
