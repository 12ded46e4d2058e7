"""lowbit.analysis.stats against scipy.stats (t quantiles, t tests) and by coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from lowbit.analysis.stats import compare, mean_ci, summarize, within_noise


@pytest.mark.parametrize("n", [2, 3, 5, 8, 30])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_mean_ci_matches_scipy_t_interval(n, confidence):
    v = np.random.default_rng(n).normal(3.0, 2.0, n)
    ci = mean_ci(v, confidence)
    lo, hi = st.t.interval(confidence, n - 1, loc=v.mean(), scale=st.sem(v))
    assert ci.n == n and ci.mean == pytest.approx(v.mean(), rel=1e-15)
    assert ci.low == pytest.approx(lo, rel=1e-12) and ci.high == pytest.approx(hi, rel=1e-12)
    assert ci.std == pytest.approx(np.std(v, ddof=1), rel=1e-14)


def test_mean_ci_hand_value():
    # s = sqrt(2.5), sem = s / sqrt(5), t_{0.975, 4} = 2.7764451051977987 (tables)
    ci = mean_ci([10.0, 12.0, 11.0, 9.0, 13.0])
    assert ci.half_width == pytest.approx(2.7764451051977987 * math.sqrt(2.5 / 5), rel=1e-12)


def test_one_seed_has_an_unbounded_interval():
    ci = mean_ci([4.0])
    assert ci.mean == 4.0 and ci.half_width == math.inf and ci.n == 1


def test_coverage_is_the_confidence():
    # 4000 intervals of n = 5 normal draws: the true mean is covered 95 % of the time
    rng = np.random.default_rng(0)
    draws = rng.normal(1.0, 3.0, (4000, 5))
    hits = sum(c.low <= 1.0 <= c.high for c in map(mean_ci, draws))
    # binomial sd at p = 0.95, 4000 trials: 0.0034; ±4 sd
    assert abs(hits / 4000 - 0.95) < 0.014


def test_paired_compare_matches_ttest_rel():
    rng = np.random.default_rng(1)
    a = rng.normal(20.0, 2.0, 8)
    b = a - 0.3 + rng.normal(0, 0.2, 8)
    d = compare(a, b)
    ref = st.ttest_rel(a, b)
    lo, hi = ref.confidence_interval(0.95)
    assert d.paired and d.df == 7
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert d.diff - d.half_width == pytest.approx(lo, rel=1e-12)
    assert d.diff + d.half_width == pytest.approx(hi, rel=1e-12)


def test_welch_compare_matches_ttest_ind():
    rng = np.random.default_rng(2)
    a, b = rng.normal(10.0, 1.0, 6), rng.normal(11.0, 3.0, 9)
    d = compare(a, b)
    ref = st.ttest_ind(a, b, equal_var=False)
    lo, hi = ref.confidence_interval(0.95)
    assert not d.paired
    assert d.df == pytest.approx(ref.df, rel=1e-12)
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert (d.diff - d.half_width, d.diff + d.half_width) == pytest.approx((lo, hi), rel=1e-12)


def test_within_noise():
    base = np.array([10.0, 10.5, 9.5, 10.2])
    assert within_noise(base, base + np.array([0.3, -0.3, 0.2, -0.1]))
    assert not within_noise(base, base + 1.0 + np.array([0.01, -0.01, 0.0, 0.02]))
    # the same constant difference on every seed is no noise at all
    d = compare(base, base + 0.1)
    assert d.half_width == 0.0 and not d.within_noise
    assert within_noise([5.0], [7.0])  # one seed each: nothing is separable


def test_summarize_groups():
    t = pd.DataFrame({"cfg": list("aaabbb"), "v": [1.0, 2.0, 4.0, 5.0, 5.0, 8.0]})
    s = summarize(t, "v", ["cfg"])
    for cfg, vals in (("a", [1.0, 2.0, 4.0]), ("b", [5.0, 5.0, 8.0])):
        row = s[s["cfg"] == cfg].iloc[0]
        ci = mean_ci(vals)
        assert (row["mean"], row["half_width"], row["n"]) == (ci.mean, ci.half_width, 3)


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: mean_ci([]), ValueError),
        (lambda: mean_ci([1.0, math.nan]), ValueError),
        (lambda: mean_ci([1.0, 2.0], confidence=1.0), ValueError),
        (lambda: mean_ci([1.0, 2.0], confidence="high"), TypeError),
        (lambda: compare([1.0, 2.0], [1.0], paired=True), ValueError),
        (lambda: summarize(pd.DataFrame({"a": [1.0]}), "b"), ValueError),
    ],
)
def test_bad_input(call, err):
    with pytest.raises(err):
        call()
