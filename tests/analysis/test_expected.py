"""Exact expected MSE: closed forms vs quadrature vs Monte Carlo (within 4 standard errors)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import lowbit
from lowbit.analysis import (
    Clipped,
    Empirical,
    Gaussian,
    Laplace,
    OutlierMixture,
    StudentT,
    Uniform,
    as_distribution,
    expected_mse,
    uniform_grid,
)
from lowbit.analysis.expected import is_scalar_format, monte_carlo_mse
from lowbit.analysis.lloyd_max import lloyd_max

DISTS = [
    Gaussian(1.3),
    Laplace(0.7),
    StudentT(3, 0.5),
    StudentT(6),
    Uniform(-1.0, 2.0),
    OutlierMixture(Gaussian(1.0), 10.0, 0.01),
    Clipped(Gaussian(1.0), -1.0, 1.5),
    as_distribution(stats.logistic(scale=0.6)),  # no closed form: quadrature
]
FORMATS = [("int4", 0.4), ("fp8_e4m3fnuz", 0.01), ("fp4_e2m1fn", 0.5), ("int8_narrow", 0.02)]


@pytest.mark.parametrize("dist", DISTS, ids=repr)
@pytest.mark.parametrize(("name", "scale"), FORMATS)
def test_monte_carlo_agrees_within_its_standard_error(dist, name, scale):
    fmt = lowbit.get_format(name)
    x = dist.rvs(size=200_000, random_state=12345)
    err = (x - scale * fmt.quantize(x / scale, overflow="saturate")) ** 2
    stderr = err.std() / np.sqrt(err.size)
    assert abs(expected_mse(name, dist, scale) - err.mean()) < 4 * stderr


@pytest.mark.parametrize("dist", [Gaussian(1.3), Laplace(0.7), StudentT(4, 0.5)], ids=repr)
def test_closed_forms_equal_quadrature(dist):
    ref = {"gaussian": stats.norm(scale=1.3), "laplace": stats.laplace(scale=0.7)}.get(
        dist.name, stats.t(4, scale=0.5)
    )
    quad = lowbit.analysis.ScipyDistribution(ref)
    for name, scale in FORMATS:
        assert expected_mse(name, dist, scale) == pytest.approx(
            expected_mse(name, quad, scale), rel=1e-7
        )


def test_uniform_inside_the_range_is_step_squared_over_12():
    assert expected_mse("int8", Uniform(-100, 100)) == pytest.approx(1 / 12, rel=1e-14)
    assert expected_mse("int8", Uniform(-50, 50), scale=0.5) == pytest.approx(0.25 / 12, rel=1e-14)


def test_clipping_error_of_a_laplace_tail_is_b_squared_exp():
    # one level at 0 and ±1; beyond 1 the error is ∫(x−1)²p = b²e^{−1/b}/2·2 per side pair
    b = 0.25
    grid = np.array([-1.0, 0.0, 1.0])
    want_tail = b * b * np.exp(-1 / b)  # both tails of (x−1)² beyond 1
    inside = expected_mse(grid, Laplace(b)) - want_tail
    ref = lowbit.analysis.ScipyDistribution(stats.laplace(scale=b))
    assert expected_mse(grid, ref) == pytest.approx(inside + want_tail, rel=1e-9)


def test_empirical_gives_the_sample_mse():
    x = np.random.default_rng(0).standard_normal(1000)
    fmt = lowbit.get_format("fp8_e4m3fnuz")
    want = np.mean((x - 0.05 * fmt.quantize(x / 0.05, overflow="saturate")) ** 2)
    assert expected_mse(fmt, Empirical(x), 0.05) == pytest.approx(want, rel=1e-15)


def test_student_t_with_infinite_variance_has_infinite_mse():
    assert expected_mse("int8", StudentT(2.0), 0.1) == np.inf


def test_uniform_grid_levels():
    np.testing.assert_allclose(uniform_grid(3, 2.0), np.arange(-7, 8, 2) / 4)


def test_bad_scale_and_format():
    with pytest.raises(ValueError, match="scale"):
        expected_mse("int8", Gaussian(), scale=0.0)
    with pytest.raises(ValueError, match="unknown format"):
        expected_mse("int77", Gaussian())


def test_monte_carlo_interval_covers_the_exact_value():
    for name, dist, scale in [("int4", Gaussian(1.0), 0.4), ("fp8_e4m3fnuz", Laplace(1.0), 0.05)]:
        r = monte_carlo_mse(name, dist, scale, samples=100_000, seed=4, confidence=0.9999)
        assert r.samples == 100_000
        assert r.ci_low < expected_mse(name, dist, scale) < r.ci_high
        assert (r.ci_high - r.ci_low) / r.mse < 0.1  # 99.99% interval, 10^5 samples


def test_block_formats_use_monte_carlo():
    if "mxfp4" not in lowbit.list_formats():
        pytest.skip("no block formats registered")
    assert not is_scalar_format("mxfp4") and is_scalar_format("fp4_e2m1fn")
    r = monte_carlo_mse("mxfp4", Gaussian(1.0), samples=50_000, seed=0)
    assert r.samples == 50_016  # whole blocks of 32
    x = Gaussian(1.0).rvs(size=50_016, random_state=np.random.default_rng(0))
    want = np.mean((x - lowbit.get_format("mxfp4").quantize(x)) ** 2)
    assert r.mse == pytest.approx(want, rel=1e-12)
    assert expected_mse("mxfp4", Gaussian(1.0)) == monte_carlo_mse("mxfp4", Gaussian(1.0)).mse


def test_analytic_path_never_falls_back_to_quadrature(monkeypatch):
    # the named distributions have closed-form partial moments: expected_mse must use them
    # (this replaces a wall-clock assertion: tests never fail on speed)
    import lowbit.analysis.expected as ex

    def no_quadrature(*args, **kwargs):
        raise AssertionError("quadrature fallback used")

    monkeypatch.setattr(ex, "_quadrature", no_quadrature)
    for dist in (Gaussian(1.0), Laplace(1.0), StudentT(3.0), Uniform(-1.0, 1.0)):
        for name in ("int8_narrow", "fp8_e4m3fnuz"):
            assert 0 < expected_mse(name, dist, 0.03) < 1


def test_lloyd_max_reproduces_max_1960():
    # Max (1960), Table I: Gaussian, N = 2, 4, 8 levels
    for n, want in [(2, 0.3634), (4, 0.1175), (8, 0.03455)]:
        assert lloyd_max(Gaussian(1.0), n).mse == pytest.approx(want, abs=5e-5)
    r = lloyd_max(Uniform(-1.0, 1.0), 256)  # uniform levels are already optimal
    assert r.mse == pytest.approx((2 / 256) ** 2 / 12, rel=1e-12)
    with pytest.raises(ValueError, match="partial moments"):
        lloyd_max(as_distribution(stats.logistic()), 4)


def test_quadrature_fallback_handles_wide_cells_and_clipped_atoms():
    quad = lowbit.analysis.ScipyDistribution(stats.norm())
    for name, scale in [("int4", 1000.0), ("fp8_e5m2fnuz", 1e-6), ("int8_narrow", 0.03)]:
        assert expected_mse(name, quad, scale) == pytest.approx(
            expected_mse(name, Gaussian(1.0), scale), rel=1e-9
        )
    clipped_quad = Clipped(quad, -1.0, 1.5)
    clipped_exact = Clipped(Gaussian(1.0), -1.0, 1.5)
    for name, scale in FORMATS:
        assert expected_mse(name, clipped_quad, scale) == pytest.approx(
            expected_mse(name, clipped_exact, scale), rel=1e-9
        )
