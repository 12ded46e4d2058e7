"""What ``lowbit report`` leaves on disk: the PDF and its CSV folder replaced together and only
when complete, no CSVs of an earlier recipe, no temporary files, the host name only on request."""

from __future__ import annotations

import os
import platform
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lowbit.cli import main
from lowbit.report.build import build_report, machine

from ..cli.test_main import assert_one_line_error, run

TWO_STUDIES = """studies = ["atlas", "range_setting"]
[atlas]
formats = ["int8", "fp8_e4m3fn"]
plot = ["int8"]
[range_setting]
bits = [3]
methods = ["minmax", "mse"]
calibration_samples = 4096
"""
ONE_STUDY = 'studies = ["atlas"]\n[atlas]\nformats = ["int8", "fp4_e2m1fn"]\nplot = ["int8"]\n'


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (hidden ones included) → its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def built(tmp_path):
    """A report of TWO_STUDIES at out/rep.pdf, its CSVs in out/rep-data/."""
    recipe = tmp_path / "two.toml"
    recipe.write_text(TWO_STUDIES, encoding="utf-8")
    out = tmp_path / "out" / "rep.pdf"
    res = build_report(recipe, out)
    assert sorted(p.name for p in res.data_files) == ["table-1.csv", "table-2.csv"]
    return recipe, out, snapshot(tmp_path / "out")


def test_a_smaller_recipe_leaves_no_stale_csvs(capsys, built, tmp_path):
    _, out, _ = built
    small = tmp_path / "one.toml"
    small.write_text(ONE_STUDY, encoding="utf-8")
    assert main(["report", str(small), "-o", str(out), "-q"]) == 0
    assert "(1 CSV files)" in capsys.readouterr().out
    data = out.parent / "rep-data"
    assert sorted(os.listdir(data)) == ["table-1.csv"]  # table-2.csv of two.toml is gone
    assert "fp4_e2m1fn" in (data / "table-1.csv").read_text(encoding="utf-8")
    assert sorted(os.listdir(out.parent)) == ["rep-data", "rep.pdf"]


def test_a_failed_pdf_write_keeps_the_old_pdf_and_its_csvs(capsys, built, monkeypatch):
    recipe, out, before = built
    from lowbit.report import pdf

    real = pdf.PdfPages.savefig
    calls = []

    def full_disk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first page is on disk, then the disk is full
            raise OSError(27, "File too large")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pdf.PdfPages, "savefig", full_disk)
    status, stdout, err = run(capsys, "report", str(recipe), "-o", str(out), "--seed", "5", "-q")
    assert_one_line_error(status, stdout, err, f"writing {out} failed (File too large)")
    assert snapshot(out.parent) == before  # same files, same bytes, no temporary ones


def test_ctrl_c_during_a_build_keeps_the_old_pdf_and_its_csvs(capsys, built, monkeypatch):
    recipe, out, before = built
    from lowbit.report.studies import range_setting

    def interrupted(ctx):  # the atlas study has written its CSV by now
        assert [p.name for p in ctx.written] == ["table-1.csv"]
        raise KeyboardInterrupt

    monkeypatch.setattr(range_setting, "compute", interrupted)
    status, stdout, err = run(capsys, "report", str(recipe), "-o", str(out), "--seed", "7")
    assert status == 130 and stdout == ""
    assert err.endswith("\nlowbit: interrupted\n") and "Traceback" not in err
    assert snapshot(out.parent) == before


def test_outputs_get_the_usual_permissions(tmp_path):
    recipe = tmp_path / "one.toml"
    recipe.write_text(ONE_STUDY, encoding="utf-8")
    old = os.umask(0o022)
    try:
        res = build_report(recipe, tmp_path / "out" / "r.pdf")
    finally:
        os.umask(old)
    assert stat.S_IMODE(res.path.stat().st_mode) == 0o644  # not mkstemp's private 0600
    assert stat.S_IMODE(res.data_files[0].parent.stat().st_mode) == 0o755


def test_report_refuses_stdout_and_its_own_recipe(capsys, tmp_path):
    recipe = tmp_path / "r.pdf"  # a recipe with an odd name, named as the output too
    recipe.write_text(ONE_STUDY, encoding="utf-8")
    assert_one_line_error(
        *run(capsys, "report", str(recipe), "-o", str(recipe)), "is the input file"
    )
    assert recipe.read_text(encoding="utf-8") == ONE_STUDY
    assert_one_line_error(*run(capsys, "report", str(recipe), "-o", "-"), "standard output")
    assert_one_line_error(*run(capsys, "report", "--tables", "-o", "-"), "directory")
    assert sorted(os.listdir(tmp_path)) == ["r.pdf"]


def test_tables_failure_keeps_the_previous_files(capsys, tmp_path, monkeypatch):
    import csv

    out = tmp_path / "rep"
    assert main(["report", "--tables", "-o", str(out), "--samples", "2000"]) == 0
    before = snapshot(out)
    assert sorted(before) == [
        "format-accuracy.csv", "format-accuracy.md", "formats.csv", "formats.md",
    ]  # fmt: skip
    real = csv.DictWriter.writerow
    rows = []

    def fail_late(self, row):
        rows.append(row)
        if len(rows) == 5:
            raise OSError(28, "No space left on device")
        return real(self, row)

    monkeypatch.setattr(csv.DictWriter, "writerow", fail_late)
    status, stdout, err = run(capsys, "report", "--tables", "-o", str(out), "--samples", "3000")
    assert status == 2 and err.splitlines()[-1] == (
        f"lowbit: error: [Errno 28] writing {out / 'formats.csv'} failed "
        "(No space left on device); nothing was replaced"
    )
    assert snapshot(out) == before


def test_the_host_name_is_printed_only_on_request(capsys, tmp_path):
    host = platform.node()
    assert host not in machine().split(" · ") and "cores" in machine()
    assert machine(host_name=True).split(" · ")[0] == host
    if not shutil.which("pdftotext"):
        return
    recipe = tmp_path / "one.toml"
    recipe.write_text(ONE_STUDY, encoding="utf-8")

    def title_page(*flag):
        pdf = tmp_path / f"r{len(flag)}.pdf"
        assert main(["report", str(recipe), "-o", str(pdf), "-q", *flag]) == 0
        text = subprocess.run(
            ["pdftotext", "-l", "1", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout
        return " ".join(text.split())

    without, with_host = title_page(), title_page("--host-name")
    capsys.readouterr()
    assert "cores" in without and f"{host} ·" not in without
    assert f"{host} ·" in with_host
