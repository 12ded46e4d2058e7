"""lowbit.formats.calibration: the sample-based range setters the formats' own scales use
(and lowbit.analysis.ranges re-exports), checked against closed forms and against the
analysis entry points on the same samples."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit
from lowbit.formats import calibration as C


def _laplace(n=20_000, seed=5) -> np.ndarray:
    return np.random.default_rng(seed).laplace(size=n)


def test_samples_are_sorted_float64_and_checked():
    assert C.samples_of(np.array([[3, 1], [2, 0]], np.int8)).tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="empty"):
        C.samples_of([])
    with pytest.raises(ValueError, match="1 non-finite"):
        C.samples_of([1.0, np.inf])


def test_aciq_laplace_closed_form():
    """α = b·W(3·4^M) (Banner et al. 2019): 2.83b, 3.89b, 5.03b for M = 2, 3, 4."""
    got = [C.aciq_clip(m, "laplace", 1.0) for m in (2, 3, 4)]
    assert [round(a, 3) for a in got] == [2.831, 3.897, 5.029]
    x = C.samples_of(_laplace())
    b = float(np.mean(np.abs(x - x.mean())))
    assert C.sample_clip(lowbit.get_format("int4"), x, "aciq", prior="laplace") == pytest.approx(
        5.029 * b, rel=1e-3
    )
    with pytest.raises(ValueError, match="aciq: spread 0 is zero"):
        C.aciq_clip(4, "laplace", 0.0)


def test_octav_is_a_fixed_point():
    x = C.samples_of(_laplace())
    s = C.sample_octav(4, x)
    a = np.abs(x)
    tail, p_out = float(np.sum(a[a > s]) / a.size), float(np.mean(a > s))
    assert s == pytest.approx(tail / (4.0**-4 / 3 * (1 - p_out) + p_out), rel=1e-12)


def test_the_analysis_entry_points_give_the_same_clips_on_samples():
    from lowbit.analysis import ranges

    x = _laplace(5000)
    fmt = lowbit.get_format("int8_narrow")
    s = C.samples_of(x)
    assert ranges.clip_for(fmt, x, "aciq", prior="laplace") == C.sample_clip(
        fmt, s, "aciq", prior="laplace"
    )
    assert ranges.clip_for(fmt, x, "octav") == C.sample_clip(fmt, s, "octav")
    assert ranges.clip_for(fmt, x, "kl") == C.sample_clip(fmt, s, "kl")
    assert ranges.clip_for(fmt, x, "percentile", p=99.0) == C.sample_percentile(s, 99.0)
    assert ranges.minmax(x) == C.sample_minmax(s) == float(np.max(np.abs(x)))


def test_kl_refuses_fewer_bins_than_levels():
    with pytest.raises(ValueError, match=r"kl_clip: bins must be an integer >= 128"):
        C.kl_threshold(np.ones(10), 128, 64)
    assert C.kl_threshold(np.zeros(10), 128) == 0.0


def test_mse_rows_keeps_the_first_best_fraction_per_row():
    g = np.array([[0.0, 0.5, 1.0], [0.0, 0.0, 0.0]])

    def clip(g, c):
        return np.clip(g, -c[:, None], c[:, None])

    best = C.mse_rows(g, np.array([1.0, 1.0]), clip)
    assert best.tolist() == g.tolist()
    assert C.MSE_FRACTIONS.size == 100 and C.MSE_FRACTIONS[0] == 0.01 and C.MSE_FRACTIONS[-1] == 1


def test_quantizer_sample_ranges_use_calibration_per_slice():
    x = np.random.default_rng(2).laplace(size=(3, 256))
    fmt = lowbit.get_format("int4")
    for r in ("aciq", "kl", "octav"):
        qz = lowbit.Quantizer(fmt, "per_channel", axis=0, range=r)
        opts = {"prior": "laplace"} if r == "aciq" else {}
        for i in range(3):
            clip = C.sample_clip(fmt, C.samples_of(x[i]), r, **opts)
            s = clip / fmt.max
            s = float(np.float32(s))  # FP32 scale
            want = fmt.quantize(x[i] / s, overflow="saturate") * s
            assert np.array_equal(qz.quantize(x)[i], want), r
