"""Range setting, and the reproductions of docs/background.md §5 (ACIQ clips; FP8 vs INT8 ranking)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lowbit.analysis import Gaussian, Laplace, StudentT, Uniform, expected_mse, optimal_clip
from lowbit.analysis.expected import uniform_grid
from lowbit.analysis.metrics import bits_from_mse
from lowbit.analysis.ranges import (
    EmaMinMax,
    aciq,
    aciq_mse,
    clip_for,
    golden_section,
    kl_clip,
    minmax,
    mse_clip,
    octav,
    percentile,
)

ACIQ_PAPER = {2: 2.83, 3: 3.89, 4: 5.03}  # Banner et al. 2019: optimal Laplace clip / b


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_aciq_laplace_clip_reproduces_the_paper(bits):
    for b in (1.0, 0.37):
        assert aciq(bits, Laplace(b)) / b == pytest.approx(ACIQ_PAPER[bits], abs=0.01)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_golden_section_on_the_aciq_model_finds_the_same_clip(bits):
    alpha, _ = golden_section(lambda a: aciq_mse(a, bits, "laplace", 1.0), 0.5, 20.0)
    assert alpha == pytest.approx(ACIQ_PAPER[bits], abs=0.01)
    assert alpha == pytest.approx(aciq(bits, Laplace(1.0)), rel=1e-8)


def test_exact_mse_of_the_uniform_quantizer_puts_the_clip_lower_than_aciq():
    # ACIQ's model takes the in-range noise as Δ²/12 over all of the mass.  The exact MSE of
    # the 2^M-level mid-rise quantizer on Laplace(1) is minimised at a smaller clip; the two
    # meet as M grows.  This is what lowbit computes, not the paper's figure.
    exact = {m: mse_clip(uniform_grid(m), Laplace(1.0))[0] for m in (2, 3, 4, 8)}
    assert exact[2] == pytest.approx(2.307, abs=0.002)
    assert exact[3] == pytest.approx(3.618, abs=0.002)
    assert exact[4] == pytest.approx(4.890, abs=0.002)
    assert exact[8] == pytest.approx(aciq(8, Laplace(1.0)), abs=0.01)


def test_aciq_gaussian_and_samples():
    assert aciq(8, Gaussian(1.0)) == pytest.approx(3.924, abs=0.001)
    assert aciq(4, Gaussian(2.0)) == pytest.approx(2 * 2.559, abs=0.002)
    x = Laplace(1.0).rvs(size=100_000, random_state=0)
    assert aciq(4, x, prior="laplace") == pytest.approx(5.03, abs=0.05)
    with pytest.raises(ValueError, match="prior"):
        aciq(4, StudentT(3))


def test_octav_converges_to_its_fixed_point():
    s = octav(4, Laplace(1.0))
    m_out = 2 * 0.5 * np.exp(-s)  # P(|X| > s)
    tail = 2 * 0.5 * np.exp(-s) * (s + 1)  # E[|X| 1{|X|>s}]
    assert s == pytest.approx(tail / (4.0**-4 / 3 * (1 - m_out) + m_out), rel=1e-12)
    assert s == pytest.approx(5.034, abs=0.001)
    x = Laplace(1.0).rvs(size=200_000, random_state=1)
    assert octav(4, x) == pytest.approx(s, rel=0.03)


def test_simple_statistics():
    assert minmax(np.array([-3.0, 2.0])) == 3.0
    assert minmax(Uniform(-1.0, 2.0)) == 2.0
    with pytest.raises(ValueError, match="unbounded"):
        minmax(Gaussian())
    assert percentile(Gaussian(2.0), 99.0) == pytest.approx(2 * stats.norm.ppf(0.995), rel=1e-10)
    assert percentile(np.arange(101.0), 50) == 50.0
    ema = EmaMinMax(0.9).update([-1.0, 1.0]).update([-11.0, 2.0])
    assert (ema.min, ema.max, ema.clip) == pytest.approx((-2.0, 1.1, 2.0))


def test_kl_clip_on_a_gaussian_sits_between_3_and_5_sigma():
    clip = kl_clip("int8_narrow", Gaussian(1.0), samples=200_000)
    assert 3.0 < clip < 5.0


def test_mse_search_on_samples_matches_the_analytic_optimum():
    x = Gaussian(1.0).rvs(size=100_000, random_state=2)
    clip, _ = mse_clip("int4", x, candidates=200)
    exact, _ = mse_clip("int4", Gaussian(1.0))
    assert clip == pytest.approx(exact, rel=0.05)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown range method 'maxabs'"):
        clip_for("int8", Gaussian(), "maxabs")


def test_optimal_clip_returns_the_mse_at_that_clip():
    clip, err = optimal_clip("int8_narrow", Laplace(1.0), method="aciq")
    assert err == expected_mse("int8_narrow", Laplace(1.0), clip / 127)


# -- van Baalen et al. 2023 (FP8 vs INT8), MSE-optimal per-tensor scale ----------------------
FP8_STUDY = ["int8_narrow", "fp8_e2m5fnuz", "fp8_e3m4fnuz", "fp8_e4m3fnuz", "fp8_e5m2fnuz"]


def _bits(dist):
    return {f: bits_from_mse(optimal_clip(f, dist)[1], dist.var()) for f in FP8_STUDY}


def test_int8_is_best_on_uniform():
    bits = _bits(Uniform(-1.0, 1.0))
    assert max(bits, key=bits.get) == "int8_narrow"
    assert bits["int8_narrow"] == pytest.approx(7.99, abs=0.01)


def test_e2_is_best_on_gaussian_with_int8_second_and_e5_near_4_bits():
    bits = _bits(Gaussian(1.0))
    ranking = sorted(bits, key=bits.get, reverse=True)
    assert ranking[:2] == ["fp8_e2m5fnuz", "int8_narrow"]
    assert bits["fp8_e2m5fnuz"] == pytest.approx(7.09, abs=0.01)
    assert bits["int8_narrow"] == pytest.approx(6.73, abs=0.01)
    assert 4.0 <= bits["fp8_e5m2fnuz"] <= 5.0
    assert bits["fp8_e5m2fnuz"] == pytest.approx(4.25, abs=0.01)


def test_e4_is_best_on_student_t3_with_about_5_bits():
    bits = _bits(StudentT(3.0))
    assert max(bits, key=bits.get) == "fp8_e4m3fnuz"
    assert bits["fp8_e4m3fnuz"] == pytest.approx(5.16, abs=0.01)
    assert bits["int8_narrow"] == pytest.approx(2.88, abs=0.01)
