"""Report recipes: the default file equals the built-in defaults, bad recipes fail with a
message naming the key and the legal choices, the CLI, and the README's summary table."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import lowbit
from lowbit.cli import main
from lowbit.report.build import summary_markdown
from lowbit.report.recipe import DEFAULTS, STUDIES, load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "lowbit" / "report" / "recipes" / "format-comparison.toml"
README = ROOT / "README.md"
BEGIN, END = "<!-- report-summary -->", "<!-- /report-summary -->"


def test_the_default_recipe_file_is_the_built_in_default():
    from_file, built_in = load_recipe(DEFAULT), load_recipe(None)
    assert from_file.sections == built_in.sections
    assert (from_file.title, from_file.subtitle, from_file.seed, from_file.studies) == (
        built_in.title,
        built_in.subtitle,
        built_in.seed,
        built_in.studies,
    )
    assert from_file.studies == list(STUDIES)


def test_missing_keys_take_the_defaults():
    r = parse_recipe({"seed": 5, "hardware": {"array": [64, 32]}})
    assert r.seed == 5 and r.studies == list(STUDIES)
    assert r["hardware"]["array"] == [64, 32]
    assert r["hardware"]["gemm"] == DEFAULTS["hardware"]["gemm"]
    assert r["atlas"] == DEFAULTS["atlas"]


@pytest.mark.parametrize(
    "doc, needles",
    [
        ({"titel": "x"}, ["unknown recipe key 'titel'", "title", "studies", "hardware"]),
        ({"studies": ["atlas", "pareto"]}, ["'studies'", "'pareto'", "accuracy_vs_cost"]),
        ({"studies": ["atlas", "atlas"]}, ["twice"]),
        ({"hardware": {"arrays": [1, 2]}}, ["[hardware] 'arrays'", "array", "gemm"]),
        ({"hardware": {"formats": ["int8", "fp8_e4m3"]}}, []),  # legal
        ({"hardware": {"formats": ["int8", "fp8e4m3"]}}, ["[hardware] 'formats'", "'fp8e4m3'"]),
        ({"block_formats": {"formats": ["mxfp5"]}}, ["unknown format 'mxfp5'", "did you mean"]),
        ({"hardware": {"accumulators": ["fp64"]}}, ["'fp64'", "fixed, fp16, bf16, fp32"]),
        ({"hardware": {"array": [128]}}, ["[hardware] 'array'", "expected 2 integers"]),
        ({"hardware": {"terms": 0}}, ["'terms'", "[1, 16777216]"]),
        ({"hardware": {"terms": True}}, ["'terms'"]),
        ({"range_setting": {"methods": ["mse", "entropy"]}}, ["'entropy'", "aciq, kl, octav"]),
        ({"range_setting": {"bits": [1]}}, ["'bits'", "[2, 16]"]),
        ({"fp8_vs_int8": {"distributions": ["cauchy"]}}, ["'distributions'", "'cauchy'"]),
        ({"fp8_vs_int8": {"outlier_fraction": 0.9}}, ["'outlier_fraction'", "(0.0, 0.5]"]),
        ({"block_formats": {"tensors": ["imagenet"]}}, ["'imagenet'", "heavy_tailed"]),
        ({"block_formats": {"formats": ["e8m0"]}}, ["'e8m0'", "scale type"]),
        ({"accuracy_vs_cost": {"tensor": "uniform"}}, ["[accuracy_vs_cost] 'tensor'"]),
        ({"atlas": "all"}, ["'atlas' must be a table"]),
        ({"seed": -1}, ["'seed'"]),
        (
            {"accumulators": {"accumulators": ["fixed:24"]}},
            ["'fixed:24'", "float accumulator of at most FP32"],
        ),
        (
            {"accumulators": {"pairs": [{"x": "int8:per_row", "w": "int8"}]}},
            ["'int8:per_row'", "granularity"],
        ),
        (
            {"accumulators": {"pairs": [{"format": "int8"}]}},
            ["'x' and 'w'"],
        ),
        ({"accumulators": {"k": [100]}}, ["multiple of 32"]),
    ],
)
def test_bad_recipes_name_the_key_and_the_choices(doc, needles):
    if not needles:
        parse_recipe(doc)
        return
    with pytest.raises(ValueError) as exc:
        parse_recipe(copy.deepcopy(doc))
    for needle in needles:
        assert needle in str(exc.value)


def test_unknown_format_message_lists_the_registered_formats():
    import lowbit

    with pytest.raises(ValueError) as exc:
        parse_recipe({"atlas": {"plot": ["int8", "nonesuch"]}})
    msg = str(exc.value)
    assert msg.startswith("built-in defaults: recipe key [atlas] 'plot': unknown format")
    assert all(name in msg for name in lowbit.list_formats())


def test_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("studies = [atlas]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
        load_recipe(bad)
    bad.write_text('[hardware]\nyosys = "always"\n', encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"bad.toml: recipe key \[hardware\] 'yosys'.*data, live, off"
    ):
        load_recipe(bad)


def test_cli_writes_the_pdf_and_reports_progress(capsys, tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(
        'studies = ["atlas"]\n[atlas]\nformats = ["int8", "fp8_e4m3fn"]\nplot = ["int8"]\n',
        encoding="utf-8",
    )
    assert main(["report", str(recipe), "-o", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    pdf = tmp_path / "out" / "tiny.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    assert out.startswith(f"wrote {pdf} (4 pages, 1 figures, 1 tables)")
    assert err.splitlines()[0] == "[1/1] Format atlas ..."
    assert err.splitlines()[1].startswith("[1/1] Format atlas: ")
    assert "warning" not in err
    assert (tmp_path / "out" / "tiny-data" / "table-1.csv").is_file()


def test_cli_bad_recipe_is_a_one_line_error(capsys, tmp_path):
    recipe = tmp_path / "bad.toml"
    recipe.write_text('[hardware]\nformats = ["int9x"]\n', encoding="utf-8")
    assert main(["report", str(recipe), "-o", str(tmp_path / "x.pdf")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("lowbit: error: ") and "unknown format 'int9x'" in err
    assert not (tmp_path / "x.pdf").exists()
    assert main(["report", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err


def test_readme_summary_is_the_generated_table():
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "README.md lacks the report-summary markers"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == summary_markdown(load_recipe(DEFAULT)).strip(), (
        "regenerate with: .venv/bin/python -c 'from lowbit.report.build import "
        "summary_markdown; print(summary_markdown())'"
    )


def test_block_study_reads_tensors_from_files(tmp_path, monkeypatch):
    """A recipe's block-format study takes FILE:NAME tensors: a conv weight (out, in, k) is
    measured as (out, in·k) with blocks along in·k, and its QSNR is the one measured
    directly; the CSV names the tensor."""
    import pandas as pd

    from lowbit.report.context import file_tensor

    monkeypatch.chdir(tmp_path)
    w = np.random.default_rng(3).standard_normal((8, 16, 4)).astype(np.float32)
    np.savez(tmp_path / "m.npz", conv=w)
    recipe = tmp_path / "t.toml"
    recipe.write_text(
        'studies = ["block_formats"]\n[block_formats]\nformats = ["mxfp4", "int8"]\n'
        'tensors = ["gaussian", "m.npz:conv"]\nshape = [8, 64]\n',
        encoding="utf-8",
    )
    assert main(["report", str(recipe), "-o", str(tmp_path / "t.pdf")]) == 0
    np.testing.assert_array_equal(file_tensor("m.npz:conv"), w.reshape(8, 64))
    df = pd.read_csv(tmp_path / "t-data" / "table-1.csv")
    df = df[df.seed == df.seed.min()].set_index("spec")  # one row per scheme and seed
    x = w.reshape(8, 64).astype(np.float64)
    q = lowbit.get_format("mxfp4").quantize(w.reshape(8, 64), axis=-1)
    want = 10 * np.log10(np.sum(x * x) / np.sum((x - q) ** 2))
    assert df.loc["mxfp4", "qsnr_db_m.npz:conv"] == pytest.approx(want, rel=1e-12)
    assert df.loc["mxfp4", "qsnr_db_m.npz:conv"] != df.loc["mxfp4", "qsnr_db_gaussian"]


@pytest.mark.parametrize(
    "tensors, needle",
    [
        (["nope.npz:w"], "neither one of gaussian"),
        (["m.npz:missing"], "name one tensor of m.npz"),
        (["m.npz"], "name one tensor of m.npz"),
    ],
)
def test_recipe_file_tensors_are_checked_before_running(tmp_path, monkeypatch, tensors, needle):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "m.npz", a=np.zeros(4), b=np.zeros(4))
    with pytest.raises(ValueError, match=needle):
        parse_recipe({"block_formats": {"tensors": tensors}})


def test_recipe_shape_is_capped():
    with pytest.raises(ValueError, match="at most 16,777,216"):
        parse_recipe({"block_formats": {"shape": [65536, 65536]}})


def test_quick_builds_the_packaged_quick_recipe(monkeypatch, tmp_path, capsys):
    import lowbit.report.build as build

    seen = {}

    class Built(Exception):
        pass

    def fake_build(recipe, out, **kw):
        seen.update(studies=recipe.studies, source=recipe.source, out=out)
        raise Built

    monkeypatch.setattr(build, "build_report", fake_build)
    with pytest.raises(Built):
        main(["report", "--quick", "-o", str(tmp_path)])
    quick = load_recipe(Path(lowbit.__file__).parent / "report" / "recipes" / "smoke.toml")
    assert seen["studies"] == quick.studies == list(STUDIES)
    assert seen["source"].endswith("smoke.toml") and seen["out"] == tmp_path / "smoke.pdf"
    assert main(["report", "x.toml", "--quick"]) != 0  # one or the other
    assert "not both" in capsys.readouterr().err
