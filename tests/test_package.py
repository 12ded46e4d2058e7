"""The package around the code: license, metadata, one version, ``python -m lowbit``, what
the sdist carries, and a pytest configuration that runs only the paths it is given."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import lowbit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_file_and_spdx_metadata():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression (PEP 639)
    assert project["license-files"] == ["LICENSE"]
    # PEP 639 metadata needs setuptools 77
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_dependencies_and_extras():
    project = PYPROJECT["project"]
    assert "tomli>=1.1; python_version < '3.11'" in project["dependencies"]
    extras = project["optional-dependencies"]
    assert any(req.startswith("pyarrow>=") for req in extras["parquet"])
    assert extras["all"] == ["lowbit[dask,parquet,io]"]


def test_one_version_from_the_package_metadata():
    assert lowbit.__version__ == importlib.metadata.version("lowbit")
    assert lowbit.__version__ == PYPROJECT["project"]["version"]
    init = (ROOT / "lowbit" / "__init__.py").read_text(encoding="utf-8")
    assert PYPROJECT["project"]["version"] not in init  # not written down a second time


def test_python_dash_m_lowbit():
    proc = subprocess.run(
        [sys.executable, "-m", "lowbit", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests",
        timeout=120,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"lowbit {lowbit.__version__}\n", "")
    proc = subprocess.run(
        [sys.executable, "-m", "lowbit", "info", "nonesuch"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.startswith("lowbit: error: unknown format")


def test_the_sdist_carries_docs_recipes_tests_and_benchmarks(monkeypatch):
    """MANIFEST.in, evaluated as setuptools does, selects every file that `make test` and
    `make report` need in an unpacked sdist."""
    distutils_filelist = pytest.importorskip("setuptools._distutils.filelist")
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout (an unpacked sdist)")
    monkeypatch.chdir(ROOT)  # MANIFEST.in's patterns are relative to the project root
    files = distutils_filelist.FileList()
    files.findall()
    for line in (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            files.process_template_line(line)
    selected = set(files.files)
    needed = [
        f
        for f in tracked.stdout.splitlines()
        if f.startswith(("tests/", "docs/", "bench/", "csrc/"))
        or (f.startswith("reports/") and f.endswith(".toml"))
        or f in ("LICENSE", "README.md", "BENCHMARKS.md", "Makefile")
    ]
    assert len(needed) > 40
    assert sorted(set(needed) - selected) == []


def test_pytest_paths_are_testpaths_not_addopts():
    """`pytest tests/test_cli.py` must collect that file only; `pytest` alone collects the
    doctests of lowbit/ and README.md as well as tests/."""
    opts = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert opts["testpaths"] == ["lowbit", "tests", "README.md"]
    assert opts["addopts"].split() == ["-q", "--doctest-modules", "--doctest-glob='*.md'"]
