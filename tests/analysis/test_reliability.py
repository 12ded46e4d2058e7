"""Regression tests of the analysis findings of the 2026-12 reliability audit (F7, F8, F10,
F14, F22): exact results, degenerate distributions, bad arguments, dying workers, memory."""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lowbit.analysis import (
    Clipped,
    Empirical,
    Gaussian,
    Laplace,
    StudentT,
    expected_mse,
    optimal_clip,
    sweep,
)
from lowbit.analysis.expected import monte_carlo_mse
from lowbit.analysis.ranges import kl_clip, octav
from lowbit.cli.sweep import add_parser

from ._workers import DiesInWorker


# -- F7: exact results and zero tensors ------------------------------------------------------
def test_an_exact_tensor_gives_infinite_sqnr_not_zero_division():
    w = np.random.default_rng(0).integers(-127, 128, 4096).astype(np.float64)
    w[0] = 127.0
    df = sweep(["int8"], [Empirical(w)], ranges=["minmax", "mse"])
    assert (df.error == "").all()
    assert (df.mse == 0).all() and np.isposinf(df.sqnr_db).all()
    assert np.isposinf(df.bits_of_accuracy).all()


def test_a_constant_tensor_is_exact_and_a_zero_tensor_says_range_is_zero():
    df = sweep(["int8"], [Empirical(np.full(256, 0.5))], ranges=["minmax", "mse", "kl"])
    assert (df.error == "").all() and (df.mse == 0).all() and np.isposinf(df.sqnr_db).all()
    z = sweep(["int8"], [Empirical(np.zeros(256))], ranges=["mse", "minmax", "kl"])
    assert z.error.str.contains("range is zero").all()
    assert not z.error.str.contains("NaN").any()
    sampled = sweep(["int8"], [Empirical(np.zeros(64))], ranges=["percentile"], samples=100)
    assert "range is zero" in sampled.error[0]


# -- F8: names checked up front; the CLI reports failed rows ----------------------------------
def _cli(argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", *argv])
    return args.run(args)


def test_sweep_checks_names_and_seed_before_running():
    with pytest.raises(ValueError, match="unknown format 'fp8_e4m4'; did you mean"):
        sweep(["int8", "fp8_e4m4"], ["gaussian"])
    with pytest.raises(ValueError, match="unknown range method 'max'; did you mean minmax"):
        sweep(["int8"], ["gaussian"], ranges=["mse", "max"])
    with pytest.raises(ValueError, match="unknown granularity 'per_row'"):
        sweep(["int8"], ["gaussian"], granularities=["per_row"], samples=100)
    for seed in (-1, "x", 1.5, True):
        with pytest.raises(ValueError, match="seed must be an integer >= 0"):
            sweep(["int8"], ["gaussian"], samples=100, seed=seed)
    for n in (0, 1.5, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="samples must be a positive integer"):
            sweep(["int8"], ["gaussian"], samples=n)


def test_cli_refuses_typos_and_empty_lists(tmp_path):
    out = tmp_path / "s.csv"
    with pytest.raises(ValueError, match="fp8_e4m4"):
        _cli(["--formats", "int8,fp8_e4m4", "--dist", "gaussian", "-o", str(out)])
    with pytest.raises(ValueError, match="unknown range method 'max'"):
        _cli(["--formats", "int8", "--dist", "gaussian", "--range", "mse,max", "-o", str(out)])
    with pytest.raises(ValueError, match="--formats names nothing"):
        _cli(["--formats", ",", "--dist", "gaussian", "-o", str(out)])
    assert not out.exists()


def test_cli_refuses_a_seed_out_of_range(tmp_path, capsys):
    from lowbit.cli import main

    out = tmp_path / "s.csv"
    for seed in ("-1", str(2**32)):
        argv = ["sweep", "--formats", "int8", "--dist", "gaussian", "--seed", seed, "-o", str(out)]
        assert main(argv) == 2
        assert "--seed: expected an integer in [0, 4294967295]" in capsys.readouterr().err
    assert not out.exists()


def test_cli_prints_failed_rows_and_exits_nonzero(tmp_path, capsys):
    out = tmp_path / "s.csv"
    rc = _cli(["--formats", "int8", "--dist", "gaussian,student_t:1", "--range", "mse",
               "-o", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "row int8 student_t mse per_tensor: ValueError" in err and "infinite variance" in err
    assert "1 of 2 rows failed" in err
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.error == "") == [True, False]
    assert _cli(["--formats", "int8", "--dist", "gaussian", "-o", str(out)]) == 0


# -- F10: a dying worker costs only its own rows --------------------------------------------
def test_a_worker_that_dies_costs_only_its_own_rows():
    dists = [Gaussian(1.0), DiesInWorker(1.0), Laplace(1.0)]
    kw = dict(formats=["int8_narrow"], distributions=dists, ranges=["mse", "minmax"],
              samples=5000, seed=4)  # fmt: skip
    pooled = sweep(executor="processes", workers=2, **kw)
    serial = sweep(executor="serial", **kw)  # DiesInWorker samples normally here
    died = pooled.distribution == "dies_in_worker"
    assert died.sum() == 2
    assert pooled[died].error.str.startswith("WorkerDied").all()
    assert np.isnan(pooled[died].mse).all()
    cols = ["format", "distribution", "range", "mse", "sqnr_db", "error"]
    pd.testing.assert_frame_equal(
        pooled[~died][cols].reset_index(drop=True), serial[~died][cols].reset_index(drop=True)
    )
    assert (pooled[~died].error == "").all()


def test_an_unpicklable_distribution_is_refused_before_the_pool_starts():
    class Local(Gaussian):  # a local class cannot be pickled
        pass

    with pytest.raises(TypeError, match="cannot be sent to a worker process"):
        sweep(["int8"], [Local(1.0)], executor="processes", workers=1)
    assert sweep(["int8"], [Local(1.0)]).error[0] == ""  # serial needs no pickling


# -- F14: degenerate and heavy-tailed inputs ------------------------------------------------
def test_no_silent_nan_from_tiny_or_huge_scales():
    assert expected_mse("int8_narrow", Laplace(1e-200), 0.05) == 0.0  # 2e-400 underflows
    assert expected_mse("int8_narrow", Laplace(1e-150), 1e-150) == pytest.approx(
        expected_mse("int8_narrow", Laplace(1.0), 1.0) * 1e-300, rel=1e-9
    )
    assert expected_mse("int8_narrow", Gaussian(1), 1e200) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match="overflows float64"):
        expected_mse("int8_narrow", Gaussian(1), 1e307)


@pytest.mark.parametrize("scale", [0, -1, float("nan")])
def test_scipy_distributions_with_bad_scale_are_refused(scale):
    with pytest.raises(ValueError, match="scipy norm: needs a finite loc and a finite scale > 0"):
        expected_mse("int8", stats.norm(loc=1, scale=scale), 0.05)


def test_block_formats_have_no_clip_to_optimise():
    with pytest.raises(ValueError, match="mxfp4: a block format sets its own scales"):
        optimal_clip("mxfp4", Gaussian(1), "mse")


def test_heavy_tails_clipped_and_refused_clearly():
    c = Clipped(StudentT(1), -5, 5)
    # Cauchy clipped to ±5: E[X²] = ∫_{-5}^{5} x²/(π(1+x²)) + 2·5²·P(X > 5)
    body = (10 - 2 * math.atan(5)) / math.pi
    atoms = 2 * 25 * (0.5 - math.atan(5) / math.pi)
    assert c.var() == pytest.approx(body + atoms, rel=1e-9)
    clip, err = optimal_clip("int8", c, "mse")
    assert 0 < clip <= 6 and 0 < err < 1e-3
    with pytest.raises(ValueError, match="infinite variance"):
        octav(4, StudentT(2))
    with pytest.raises(ValueError, match="infinite variance"):
        optimal_clip("int8", StudentT(1.5), "mse")
    # 1 < ν ≤ 2: the tail's first moment is finite and closed-form
    m0, m1, m2 = StudentT(1.5).partial_moments(2.0, math.inf)
    assert m1 == pytest.approx(stats.t(1.5).expect(lambda x: x, lb=2.0), rel=1e-6)
    assert m2 == math.inf
    with pytest.raises(ValueError, match="too wide for float64"):
        optimal_clip("int8", Gaussian(1e300), "mse")


def test_bad_options_name_the_argument():
    with pytest.raises(ValueError, match="kl_clip: bins must be an integer >= 128"):
        kl_clip("int8_narrow", Gaussian(1), bins=0)
    with pytest.raises(ValueError, match="kl_clip: samples must be a positive integer"):
        kl_clip("int8_narrow", Gaussian(1), samples=0)
    with pytest.raises(ValueError, match="levels: an empty array"):
        expected_mse(np.array([]), Gaussian(1))
    with pytest.raises(ValueError, match="levels must be finite"):
        optimal_clip(np.array([np.nan, 1.0]), Gaussian(1), "mse")
    with pytest.raises(ValueError, match="confidence must be in"):
        monte_carlo_mse("int8", Gaussian(1), samples=1000, confidence=2)
    with pytest.raises(ValueError, match="seed must be None or an integer"):
        monte_carlo_mse("int8", Gaussian(1), samples=1000, seed="x")


def test_infinite_variance_analytic_rows_say_so():
    df = sweep(["int8_narrow"], ["student_t:1", "student_t:2"], ranges=["mse", "percentile"])
    assert np.isposinf(df.mse).all() and np.isnan(df["clip"]).all()
    assert df.error.str.contains("infinite variance").all()
    sampled = sweep(["int8_narrow"], ["student_t:1"], ranges=["percentile"], samples=5000)
    assert sampled.error[0] == "" and math.isfinite(sampled.mse[0])


def test_one_string_is_one_name_not_its_letters():
    df = sweep("int8", "gaussian", ranges="mse")
    assert list(df.format) == ["int8"] and list(df.distribution) == ["gaussian"]
    assert list(sweep("int8", Gaussian(2.0)).distribution) == ["gaussian"]
    x = np.random.default_rng(1).standard_normal(500)
    assert list(sweep("int8", x).distribution) == ["empirical"]  # one tensor, not 500 rows


def test_block_formats_give_one_row_whatever_the_ranges():
    df = sweep(["int8", "mxfp4"], ["gaussian"], ranges=["mse", "minmax", "percentile"])
    assert list(df.format) == ["int8"] * 3 + ["mxfp4"]
    assert df.range.iloc[-1] == "block"


# -- F22: per-channel sampling streams in bounded chunks -------------------------------------
def test_long_channels_stream_in_chunks(monkeypatch):
    sw = sys.modules["lowbit.analysis.sweep"]
    kw = dict(formats=["int8_narrow"], distributions=["laplace"], samples=2 * 4000, seed=7,
              channels=2, block_size=100)  # fmt: skip
    whole = sweep(granularities=["per_channel", "per_group"], ranges=["minmax", "mse"], **kw)
    seen = []
    real = sw.Quantizer

    def spy(*a, **k):
        q = real(*a, **k)
        orig = q._fake

        def fake(g, r):
            seen.append(g.size)
            return orig(g, r)

        object.__setattr__(q, "_fake", fake)
        return q

    monkeypatch.setattr(sw, "Quantizer", spy)
    monkeypatch.setattr(sw, "CHUNK", 1000)  # channels of 4000 now exceed a chunk
    streamed = sweep(granularities=["per_channel", "per_group"], ranges=["minmax", "mse"], **kw)
    assert max(seen) <= 1000
    assert (streamed.error == "").all() and (streamed.samples == 8000).all()
    # per_group (whole groups per piece) and per_channel minmax/mse (two passes over the
    # same draws) give the unstreamed results
    for i in range(4):
        assert streamed.mse[i] == pytest.approx(whole.mse[i], rel=1e-12)


def test_scales_beyond_float64_squares_are_errors_not_nan():
    for d in ("gaussian:1e-300", "laplace:1e-200", "uniform:0:1e-300"):
        for samples in (None, 2000):
            df = sweep(["int8_narrow"], [d], ranges=["mse", "percentile"], samples=samples)
            assert df.error.str.contains("underflow float64").all(), (d, samples)
    big = sweep(["int8_narrow", "mxfp4"], ["gaussian:1e300"], ranges=["percentile"], samples=2000)
    assert "overflow float64" in big.error[0]
    assert big.error[1] != ""  # a block row of NaN or inf/inf is an error, never a bare NaN
    with pytest.raises(ValueError, match="range is zero"):
        optimal_clip("int8_narrow", np.zeros(100), "minmax")
    with pytest.raises(ValueError, match="square beyond float64"):
        optimal_clip("int8_narrow", np.array([1e308, -1e308, 0.0]), "mse")
    with pytest.raises(ValueError, match="aciq: spread .* too wide"):
        optimal_clip("int8_narrow", Gaussian(1e300), "aciq")
    with pytest.raises(ValueError, match="b − a overflows"):
        from lowbit.analysis import Uniform

        Uniform(-1e308, 1e308)


def test_lowbit_main_reports_bad_sweeps_as_usage_errors(tmp_path, capsys):
    from lowbit.cli import main

    out = tmp_path / "s.csv"
    assert main(["sweep", "--formats", ",", "--dist", "gaussian", "-o", str(out)]) == 2
    assert "lowbit: error: sweep: --formats names nothing" in capsys.readouterr().err
    args = ["sweep", "--formats", "int8", "--dist", "gaussian", "--granularity", "per_row"]
    assert main([*args, "--samples", "100", "-o", str(out)]) == 2
    assert "unknown granularity 'per_row'" in capsys.readouterr().err
    assert main(["sweep", "--formats", "int8", "-o", str(out)]) == 2  # neither --dist nor --tensor
    assert "--dist names nothing" in capsys.readouterr().err
    assert not out.exists()
