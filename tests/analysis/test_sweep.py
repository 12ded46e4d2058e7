"""Sweeps: the tidy DataFrame, errors in rows, sampled streaming, executors agree, the CLI."""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
import pytest

from lowbit.analysis import Gaussian, sweep
from lowbit.analysis.sweep import COLUMNS, parse_distribution
from lowbit.cli.sweep import add_parser, run

FORMATS = ["int8_narrow", "fp8_e4m3fnuz"]


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["seconds"])


def test_analytic_sweep_is_tidy_and_records_errors():
    df = sweep(FORMATS, ["gaussian", "student_t:3"], ranges=["mse", "minmax"])
    assert list(df.columns) == COLUMNS
    assert len(df) == 2 * 2 * 2
    ok = df[df.error == ""]
    assert set(ok.range) == {"mse"} and len(ok) == 4
    row = ok[(ok.format == "int8_narrow") & (ok.distribution == "gaussian")].iloc[0]
    assert row.bits_of_accuracy == pytest.approx(6.73, abs=0.01)
    assert row["scale"] == pytest.approx(row["clip"] / 127)
    assert row.sqnr_db == pytest.approx(10 * np.log10(1 / row.mse))
    assert row.method == "analytic"
    assert df[df.range == "minmax"].error.str.contains("unbounded").all()
    with pytest.raises(ValueError, match="unknown format 'int99'; did you mean"):  # up front
        sweep(FORMATS + ["int99"], ["gaussian"])


def test_sampled_sweep_streams_and_agrees_with_analytic(monkeypatch):
    sw = sys.modules["lowbit.analysis.sweep"]  # the module (the package exports the function)

    monkeypatch.setattr(sw, "CHUNK", 50_000)  # force several chunks
    df = sweep(["int8_narrow"], [Gaussian(1.0)], ranges=["mse"], samples=300_000, seed=3)
    row = df.iloc[0]
    assert row.error == "" and row.method == "sampled" and row.samples == 300_000
    assert row.bits_of_accuracy == pytest.approx(6.73, abs=0.05)
    again = sweep(["int8_narrow"], [Gaussian(1.0)], ranges=["mse"], samples=300_000, seed=3)
    pd.testing.assert_frame_equal(_stable(df), _stable(again))


def test_processes_give_the_serial_frame():
    kw = dict(formats=FORMATS, distributions=["laplace"], ranges=["mse", "percentile"],
              samples=20_000, seed=1)  # fmt: skip
    serial = sweep(executor="serial", **kw)
    pooled = sweep(executor="processes", workers=2, **kw)
    pd.testing.assert_frame_equal(_stable(serial), _stable(pooled))


def test_dask_gives_the_serial_frame():
    pytest.importorskip("dask.distributed")
    kw = dict(formats=FORMATS, distributions=["gaussian"], ranges=["mse", "octav"],
              samples=20_000, seed=5)  # fmt: skip
    serial = sweep(executor="serial", **kw)
    dask = sweep(executor="dask", **kw)
    pd.testing.assert_frame_equal(_stable(serial), _stable(dask))


def test_bad_arguments():
    with pytest.raises(ValueError, match="executor"):
        sweep(FORMATS, ["gaussian"], executor="spark")
    with pytest.raises(ValueError, match="samples"):
        sweep(FORMATS, ["gaussian"], samples=0)
    with pytest.raises(ValueError, match="unknown distribution"):
        parse_distribution("cauchy")
    with pytest.raises(ValueError, match="needs ν"):
        parse_distribution("student_t")
    assert parse_distribution("laplace:0.5").b == 0.5


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_writes_the_tidy_file(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / f"out{suffix}"
    args = parser.parse_args(
        ["sweep", "--formats", "int8_narrow,fp8_e4m3fnuz", "--dist", "gaussian,laplace,student_t:3",
         "--range", "mse", "-o", str(out)]
    )  # fmt: skip
    assert args.run(args) == 0
    df = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(df) == 6 and list(df.columns) == COLUMNS
    assert run is args.run


def test_docs_worked_comparison_runs():
    import doctest
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"
    result = doctest.testfile(
        str(doc), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted >= 4


def test_block_formats_in_a_sweep_report_monte_carlo_with_an_interval():
    import lowbit

    if "mxfp4" not in lowbit.list_formats():
        pytest.skip("no block formats registered")
    sys.modules["lowbit.analysis.sweep"].MC_SAMPLES  # noqa: B018  (exists)
    df = sweep(["mxfp4"], ["gaussian"], ranges=["mse"])
    row = df.iloc[0]
    assert row.error == "" and row.method == "monte_carlo" and row.range == "block"
    assert 0 < row.mse_ci95 < 0.02 * row.mse
    assert row.bits_of_accuracy == pytest.approx(3.12, abs=0.02)


def test_progress_line_is_drawn_only_when_asked(capsys, monkeypatch):
    sw = sys.modules["lowbit.analysis.sweep"]
    monkeypatch.setattr(sw.time, "perf_counter", iter(range(0, 1000, 2)).__next__)
    sweep(["int4"], ["uniform"], ranges=["minmax", "percentile"], progress=True)
    assert capsys.readouterr().err.endswith("sweep: 2/2\n")
    sweep(["int4"], ["uniform"], ranges=["minmax"], progress=False)
    assert capsys.readouterr().err == ""


def test_dask_connects_to_an_existing_cluster_by_address():
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(formats=["int4"], distributions=["uniform", "laplace"], ranges=["mse"])
    with distributed.LocalCluster(processes=False, n_workers=1, dashboard_address=None) as cluster:
        remote = sweep(executor="dask", address=cluster.scheduler_address, **kw)
    pd.testing.assert_frame_equal(_stable(sweep(**kw)), _stable(remote))


def test_a_real_tensor_sweeps_as_its_empirical_distribution():
    from lowbit.analysis import Empirical

    x = np.random.default_rng(9).standard_t(4, 5000)
    df = sweep(["int8_narrow"], [Empirical(x)], ranges=["mse", "minmax"])
    assert (df.error == "").all() and list(df.distribution) == ["empirical"] * 2
    mse_row, minmax_row = df.iloc[0], df.iloc[1]
    assert minmax_row["clip"] == np.max(np.abs(x))
    assert mse_row.mse <= minmax_row.mse


def test_per_channel_and_per_group_beat_per_tensor_on_heteroscedastic_channels():
    from lowbit import Quantizer
    from lowbit.analysis import Empirical

    rng = np.random.default_rng(11)
    w = rng.standard_normal((64, 256)) * np.logspace(-2, 0, 64)[:, None]  # σ from 0.01 to 1
    df = sweep(["int4"], [Empirical(w)], ranges=["minmax", "mse"], samples=w.size, seed=0,
               granularities=["per_tensor", "per_channel", "per_group"])  # fmt: skip
    assert (df.error == "").all() and list(df.columns) == COLUMNS
    assert list(df.granularity) == ["per_tensor", "per_channel", "per_group"] * 2
    mse = df.set_index(["range", "granularity"]).mse
    for r in ("minmax", "mse"):
        assert mse[r, "per_channel"] < 0.5 * mse[r, "per_tensor"]
        assert mse[r, "per_group"] <= mse[r, "per_channel"]  # 128-groups refine the channels
    # the Empirical tensor is used in its own layout: per-channel rows are Quantizer's exactly
    q = Quantizer("int4", "per_channel", axis=0).quantize(w)
    assert mse["minmax", "per_channel"] == pytest.approx(np.mean((q - w) ** 2), rel=1e-12)
    assert mse["minmax", "per_channel"] == pytest.approx(0.001874, rel=1e-3)
    assert mse["minmax", "per_tensor"] == pytest.approx(0.0112, rel=0.05)  # resampled
    assert mse["mse", "per_channel"] == pytest.approx(0.001247, rel=1e-3)
    assert np.isnan(df[df.granularity != "per_tensor"]["clip"]).all()


def test_granularity_errors_are_rows():
    df = sweep(["int4", "mxfp4"], ["gaussian"], ranges=["mse"],
               granularities=["per_channel", "per_tensor"])  # fmt: skip
    err = df.set_index(["format", "granularity"]).error
    assert "needs a sampled sweep" in err["int4", "per_channel"]
    assert err["int4", "per_tensor"] == ""
    assert "needs a sampled sweep" in err["mxfp4", "per_channel"]
    with pytest.raises(ValueError, match="unknown granularity 'per_row'; did you mean per_group"):
        sweep(["int4"], ["gaussian"], granularities=["per_tensor", "per_row"])
    s = sweep(["int4"], ["gaussian"], granularities=["per_group"], samples=10_000, channels=8,
              block_size=32)  # fmt: skip
    assert s.error[0] == "" and s.samples[0] == 10_000 // 8 * 8
    tiny = sweep(["int4"], ["gaussian"], granularities=["per_channel"], samples=10)
    assert "fewer than channels" in tiny.error[0]


def test_granular_sampled_sweep_streams_and_matches_across_executors(monkeypatch):
    sw = sys.modules["lowbit.analysis.sweep"]
    kw = dict(formats=["int8_narrow"], distributions=["laplace"], ranges=["minmax", "octav"],
              granularities=["per_channel", "per_group"], samples=64 * 2000, seed=2)  # fmt: skip
    whole = sweep(**kw)
    monkeypatch.setattr(sw, "CHUNK", 5000)  # two channels per chunk: same rows, same values
    pd.testing.assert_frame_equal(_stable(whole), _stable(sweep(**kw)))
    monkeypatch.undo()
    pd.testing.assert_frame_equal(
        _stable(whole), _stable(sweep(executor="processes", workers=2, **kw))
    )
