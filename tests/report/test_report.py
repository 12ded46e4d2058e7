"""The PDF report read as a reader would: every page rendered with poppler's pdftoppm, the text
read back with pdftotext, figures checked for ink, every word inside the page.

Builds the packaged smoke recipe (lowbit/report/recipes/smoke.toml) once (every study, small sizes). poppler-utils is installed by
.ci/run; the render checks skip only where it is missing.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lowbit.report.build import build_report
from lowbit.report.context import Context
from lowbit.report.quantize import quantize_tensor
from lowbit.report.recipe import STUDIES, load_recipe
from lowbit.report.studies.accuracy_vs_cost import pareto_front

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "lowbit" / "report" / "recipes" / "smoke.toml"
POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) not installed"
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "smoke.pdf"
    lines = []
    res = build_report(SMOKE, out, progress=lines.append)
    return res, lines


@pytest.fixture(scope="module")
def pngs(smoke, tmp_path_factory):
    if not POPPLER:
        pytest.skip("poppler-utils not installed")
    res, _ = smoke
    d = tmp_path_factory.mktemp("png")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(res.path), str(d / "p")], check=True)
    return sorted(d.glob("p-*.png"))


def _text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_build_runs_every_study_and_lays_out_cleanly(smoke):
    res, lines = smoke
    recipe = load_recipe(SMOKE)
    assert recipe.studies == list(STUDIES)
    assert res.problems == []  # no text leaves its page, no axes leave their rectangle
    assert [t for t, _ in res.contents] == [
        "Format atlas", "FP8 versus INT8", "Block formats", "Outlier mitigations",
        "Format-design sensitivities", "Range setting", "Hardware cost", "Energy",
        "Accuracy versus cost", "Accumulators", "Real network",
    ]  # fmt: skip
    # every study starts a page; title page, then the key results, reproduction page last
    pages = [p for _, p in res.contents]
    assert pages[0] == 3 and pages == sorted(set(pages)) and res.pages > pages[-1]
    # one progress line before and after each study
    assert len(lines) == 2 * len(STUDIES) and lines[-1].startswith(
        f"[{len(STUDIES)}/{len(STUDIES)}] Real network: "
    )
    assert res.figures >= len(STUDIES) and res.tables >= len(STUDIES) - 1
    assert len(res.items) == res.figures + res.tables
    assert all(2 < it.page < res.pages for it in res.items)


@needs_poppler
def test_every_page_renders_and_every_figure_has_ink(smoke, pngs):
    from matplotlib.image import imread

    res, _ = smoke
    assert len(pngs) == res.pages
    images = [imread(png)[..., :3] for png in pngs]
    for i, img in enumerate(images, 1):
        ink = float(np.mean(img.min(axis=2) < 0.8))  # share of non-white pixels
        assert ink > 0.005, f"page {i} is (nearly) blank"
    figures = [it for it in res.items if it.label.startswith("Figure")]
    assert len(figures) == res.figures
    for it in figures:
        img = images[it.page - 1]
        h, w, _ = img.shape
        left, bottom, width, height = it.rect
        region = img[
            int((1 - bottom - height) * h) : int((1 - bottom) * h),
            int(left * w) : int((left + width) * w),
        ]
        assert region.size and float(region.std()) > 0.05, f"{it.label} is flat"
        assert float(np.mean(region.min(axis=2) < 0.8)) > 0.02, f"{it.label} has no ink"
        # plotted data is coloured: clearly saturated pixels
        colour = float(np.mean(region.max(axis=2) - region.min(axis=2) > 0.25))
        assert colour > 0.001, f"{it.label}: no coloured data"


@needs_poppler
def test_text_is_extractable_and_carries_the_numbers(smoke):
    res, _ = smoke
    text = _text(res.path)
    for title, _ in res.contents:
        assert title in text
    for n in range(1, res.figures + 1):
        assert f"Figure {n}." in text
    for n in range(1, res.tables + 1):
        assert f"Table {n}." in text
    assert "Reproducing this report" in text and "lowbit.hwmodel.mac_cost" in text
    # page 2 holds the key results: one computed sentence per study
    assert [study for study, _ in res.findings] == [t for t, _ in res.contents]
    first_page, second_page = text.split("\f")[:2]
    assert "Contents" in first_page and "Key results" in first_page
    assert second_page.lstrip().startswith("Key results")
    for study, sentence in res.findings:
        assert f"{study}: {sentence.split()[0]}" in second_page
    assert "reports/smoke.toml" in text or "smoke.toml" in text
    # a number from the block-format table (a mean over seeds) equals a direct computation
    from lowbit.report.studies.block_formats import seeded_tensor

    recipe = load_recipe(SMOKE)
    ctx = Context(recipe)
    qsnrs = []
    for seed in range(recipe.seed, recipe.seed + recipe["block_formats"]["seeds"]):
        x = seeded_tensor(ctx, "gaussian", seed)
        q = quantize_tensor("mxfp4", x)
        x64 = x.astype(np.float64)
        qsnrs.append(10 * math.log10(np.sum(x64**2) / np.sum((x64 - q) ** 2)))
    rows = [line for line in text.splitlines() if line.strip().startswith("mxfp4 ")]
    assert any(f" {np.mean(qsnrs):.1f} ± " in f"{row} " for row in rows), rows
    # the CSV written next to the PDF holds each seed's number at full precision
    data = res.path.parent / "smoke-data"
    block = pd.read_csv(next(data.glob("table-4*.csv")))
    got = block[block.spec == "mxfp4"].sort_values("seed").qsnr_db_gaussian
    assert got.tolist() == pytest.approx(qsnrs)


@needs_poppler
def test_no_word_leaves_the_page(smoke):
    res, _ = smoke
    html = subprocess.run(
        ["pdftotext", "-bbox", str(res.path), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S)
    assert len(pages) == res.pages
    margin = 18.0  # points: a quarter inch
    words = 0
    for i, (w, h, body) in enumerate(pages, 1):
        w, h = float(w), float(h)
        assert (round(w), round(h)) == (595, 842)  # A4
        for x0, y0, x1, y1, word in re.findall(
            r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', body
        ):
            words += 1
            assert float(x0) >= margin and float(x1) <= w - margin, f"page {i}: {word!r}"
            assert float(y0) >= margin and float(y1) <= h - margin, f"page {i}: {word!r}"
    assert words > 1000


def test_accumulator_study_states_why_it_is_missing(tmp_path, monkeypatch):
    from lowbit.hwmodel import macsim

    def missing():
        raise ImportError("lowbit.hwmodel._macsim is not built")

    monkeypatch.setattr(macsim, "_load_lib", missing)
    toml = tmp_path / "acc.toml"
    toml.write_text('studies = ["accumulators"]\n', encoding="utf-8")
    res = build_report(toml, tmp_path / "acc.pdf")
    assert res.notes == ["accumulators: omitted (C simulator not built)"]
    assert res.figures == 0 and res.problems == []
    if POPPLER:
        assert "This study is omitted" in _text(res.path)


def test_accumulator_study_survives_a_failing_simulator(tmp_path, monkeypatch):
    from lowbit.hwmodel import macsim

    def broken(*args, **kwargs):
        raise KeyError("bk_limbs")

    monkeypatch.setattr(macsim, "gemm", broken)
    toml = tmp_path / "acc.toml"
    toml.write_text('studies = ["accumulators"]\n', encoding="utf-8")
    res = build_report(toml, tmp_path / "acc.pdf")
    assert res.notes == ["accumulators: omitted (simulator failed: KeyError: 'bk_limbs')"]
    assert res.figures == 0 and res.problems == []


def test_pareto_front():
    cost = np.array([5.0, 1.0, 2.0, 2.0, 3.0, 4.0])
    gain = np.array([9.0, 1.0, 3.0, 2.0, 2.5, 6.0])
    assert pareto_front(cost, gain).tolist() == [1, 2, 5, 0]
