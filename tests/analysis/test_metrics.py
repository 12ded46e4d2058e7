"""Metrics: values by hand, vectorised over an axis, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lowbit.analysis import bits_from_mse, bits_of_accuracy, cosine, kl_divergence, mse, sqnr_db


def test_values_by_hand():
    x, q = np.array([3.0, -4.0]), np.array([3.0, -3.0])
    assert mse(x, q) == 0.5
    assert sqnr_db(x, q) == pytest.approx(10 * math.log10(25.0))
    assert bits_of_accuracy(x, q) == pytest.approx(0.5 * math.log2(np.var(x) / 0.5))
    assert cosine(x, q) == pytest.approx(21 / (5 * math.sqrt(18)))
    assert bits_from_mse(4.0**-5, 1.0) == 5.0
    assert sqnr_db(x, x) == math.inf


def test_vectorised_over_axis():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    q = np.array([[1.0, 2.5], [3.0, 4.0]])
    np.testing.assert_allclose(mse(x, q, axis=1), [0.125, 0.5])
    np.testing.assert_allclose(cosine(x, x, axis=0), [1.0, 1.0])


def test_kl_divergence_of_histograms():
    assert kl_divergence([1, 1], [1, 3]) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert kl_divergence([2, 0, 2], [1, 5, 1]) == pytest.approx(math.log(3.5))
    assert kl_divergence([1, 1], [1, 0]) == math.inf
    assert kl_divergence([5, 5], [1, 1]) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="shapes differ"):
        mse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        sqnr_db([], [])
    with pytest.raises(ValueError, match="non-negative"):
        kl_divergence([1, -1], [1, 1])
