"""FP8 versus INT8: exact bits of accuracy of 8-bit formats against the Lloyd–Max optimum,
and their SQNR as an outlier component grows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...formats import get_format
from ..context import Context
from ..layout import FAMILY_COLOURS, MARKERS, grid
from ..pdf import Document

#: the study's rows: exact sweep results, the Lloyd–Max optimum, the outlier sweep
PARTS = ("distribution", "lloyd_max", "outliers")
_TABLE_CSV = ["format", "distribution", "params", "clip", "mse", "sqnr_db", "bits_of_accuracy"]
_FIGURE_CSV = ["format", "params", "clip", "mse", "sqnr_db"]


def levels(fmts: list[str]) -> int:
    """Levels of the Lloyd–Max quantizer the formats are compared with: 2^(widest bits)."""
    return 2 ** max(get_format(f).bits for f in fmts)


def compute(ctx: Context) -> pd.DataFrame:
    """Rows by ``part``: "distribution" (``lowbit.analysis.sweep`` of each format on each
    distribution, format-major), "lloyd_max" (``bits_of_accuracy`` of the Lloyd–Max
    quantizer per distribution) and "outliers" (the sweep on each outlier mixture, with its
    ``outlier_scale``)."""
    from ...analysis import Gaussian, OutlierMixture, bits_from_mse
    from ...analysis.lloyd_max import lloyd_max
    from ...analysis.sweep import parse_distribution, sweep

    cfg = ctx.recipe["fp8_vs_int8"]
    fmts, specs, method = cfg["formats"], cfg["distributions"], cfg["range"]
    dists = [parse_distribution(s) for s in specs]
    df = sweep(fmts, dists, ranges=[method]).assign(part="distribution")
    lm = []
    for spec, d in zip(specs, dists, strict=True):
        res = lloyd_max(d, levels(fmts), max_iterations=cfg["lloyd_max_iterations"])
        bits = bits_from_mse(res.mse, d.var())
        lm.append(dict(part="lloyd_max", distribution=spec, mse=res.mse, bits_of_accuracy=bits))
    scales, frac = cfg["outlier_scales"], cfg["outlier_fraction"]
    mixes = [OutlierMixture(Gaussian(1.0), s, frac) for s in scales]
    dfo = sweep(fmts, mixes, ranges=[method]).assign(part="outliers")
    dfo["outlier_scale"] = np.tile(scales, len(fmts))  # the sweep is format-major
    return pd.concat([df, pd.DataFrame(lm), dfo], ignore_index=True)


def _bits(df: pd.DataFrame, fmts: list[str], n: int) -> np.ndarray:
    return df[df.part == "distribution"].bits_of_accuracy.to_numpy().reshape(len(fmts), n)


def best_per_distribution(df: pd.DataFrame, fmts: list[str], specs: list[str]) -> list[str]:
    """The format with the most bits of accuracy on each distribution (first on ties)."""
    bits = _bits(df, fmts, len(specs))
    return [fmts[int(np.argmax(bits[:, j]))] for j in range(len(specs))]


def finding(df: pd.DataFrame, fmts: list[str], specs: list[str]) -> str:
    """The title page's key result: the best 8-bit format per distribution."""
    bits = _bits(df, fmts, len(specs))
    lm = df[df.part == "lloyd_max"].bits_of_accuracy.to_numpy()
    best = best_per_distribution(df, fmts, specs)
    return (
        "best 8-bit format: "
        + "; ".join(
            f"{b} on {s} ({bits[fmts.index(b), j]:.2f} bits of accuracy; Lloyd–Max {lm[j]:.2f})"
            for j, (s, b) in enumerate(zip(specs, best, strict=True))
        )
        + "."
    )


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: the bits-of-accuracy figure and table, then the outlier figure."""
    cfg = ctx.recipe["fp8_vs_int8"]
    fmts, specs, method = cfg["formats"], cfg["distributions"], cfg["range"]
    bits = _bits(df, fmts, len(specs))
    lm = df[df.part == "lloyd_max"].bits_of_accuracy.to_numpy()
    best = best_per_distribution(df, fmts, specs)
    n_levels = levels(fmts)
    doc.heading("FP8 versus INT8")
    doc.paragraph(
        "Bits of accuracy log2(σ / RMSE) of 8-bit formats, each with its MSE-optimal "
        f"per-tensor scale (range method '{method}'), computed exactly by integrating the "
        "error over each format's grid under the pdf (no sampling). The dashed line is the "
        f"{n_levels}-level Lloyd–Max quantizer, the best any {n_levels}-level grid can do. Best "
        "per distribution: "
        + "; ".join(
            f"{s}: {b} ({bits[fmts.index(b), j]:.2f} bits, Lloyd–Max {lm[j]:.2f})"
            for j, (s, b) in enumerate(zip(specs, best, strict=True))
        )
        + "."
    )
    ctx.findings.append(("FP8 versus INT8", finding(df, fmts, specs)))
    repro = [
        f"lowbit.analysis.sweep({fmts!r}, {specs!r}, ranges=[{method!r}])  # exact",
        f"lowbit.analysis.lloyd_max(dist, {n_levels}, max_iterations={cfg['lloyd_max_iterations']})",
    ]
    doc.figure(
        lambda fig, rect: _draw_bars(fig, rect, fmts, specs, bits, lm, n_levels),
        2.6,
        f"Bits of accuracy of {', '.join(fmts)} on {', '.join(specs)} (unit scale; the "
        f"per-tensor scale is MSE-optimal, method '{method}'); dashed: Lloyd–Max with {n_levels} "
        f"levels ({cfg['lloyd_max_iterations']} iterations at most).",
        "FP8 vs INT8 bits of accuracy",
        repro,
    )
    tab = pd.DataFrame({"format": fmts})
    for j, s in enumerate(specs):
        tab[f"{s} (bits)"] = [f"{v:.2f}" for v in bits[:, j]]
    tab.loc[len(tab)] = [f"Lloyd–Max {n_levels}"] + [f"{v:.2f}" for v in lm]
    label = doc.table(
        tab,
        "Bits of accuracy (the numbers of the figure above); the Lloyd–Max row is the "
        "optimum for that many levels.",
        "FP8 vs INT8 table",
        repro,
    )
    ctx.save_csv(label, df[df.part == "distribution"][_TABLE_CSV].reset_index(drop=True))
    _render_outliers(doc, ctx, df[df.part == "outliers"].reset_index(drop=True))


def _render_outliers(doc: Document, ctx: Context, dfo: pd.DataFrame) -> None:
    # outliers: Gaussian body plus a fraction of values from a wider Gaussian
    cfg = ctx.recipe["fp8_vs_int8"]
    fmts, method = cfg["formats"], cfg["range"]
    scales, frac = cfg["outlier_scales"], cfg["outlier_fraction"]
    sq = dfo.sqnr_db.to_numpy().reshape(len(fmts), len(scales))
    winners = [fmts[int(np.argmax(sq[:, j]))] for j in range(len(scales))]
    changes = [
        (scales[j], winners[j])
        for j in range(len(scales))
        if j == 0 or winners[j] != winners[j - 1]
    ]
    repro_o = [
        f"mixes = [OutlierMixture(Gaussian(1.0), s, {frac}) for s in {scales!r}]",
        f"lowbit.analysis.sweep({fmts!r}, mixes, ranges=[{method!r}])  # exact",
    ]
    doc.paragraph(
        f"Outliers: a Gaussian body N(0, 1) mixed with a fraction {frac:g} of values from "
        "N(0, s²). As s grows the MSE-optimal scale must cover the outliers and the body loses "
        "resolution; formats with more exponent bits lose less. Best format as s grows: "
        + ", ".join(f"{w} from s = {s:g}" for s, w in changes)
        + "."
    )
    doc.figure(
        lambda fig, rect: _draw_outliers(fig, rect, fmts, scales, sq),
        2.5,
        f"SQNR of the same formats on (1 − {frac:g})·N(0, 1) + {frac:g}·N(0, s²) against the "
        f"outlier scale s, MSE-optimal per-tensor scale (method '{method}'), exact expected "
        "MSE; circles mark the best format at each s.",
        "FP8 vs INT8 under outliers",
        repro_o,
    )
    ctx.save_csv(f"Figure {doc.n_figures}", dfo[_FIGURE_CSV])


def _draw_bars(
    fig: Any,
    rect: tuple[float, float, float, float],
    fmts: list[str],
    specs: list[str],
    bits: np.ndarray,
    lm: np.ndarray,
    n_levels: int,
) -> None:
    gs = grid(fig, rect, 1, 1, left=0.55, right=1.5, top=0.1, bottom=0.4)
    ax = fig.add_subplot(gs[0, 0])
    w = 0.8 / len(fmts)
    cmap = [FAMILY_COLOURS["integer"], "#fcae91", "#fb6a4a", "#de2d26", "#a50f15", "#67000d"]
    for i, f in enumerate(fmts):
        colour = cmap[i] if i < len(cmap) else None
        xs = np.arange(len(specs)) + (i - (len(fmts) - 1) / 2) * w
        ax.bar(xs, bits[i], w * 0.95, label=f, color=colour)
    for j in range(len(specs)):
        ax.plot([j - 0.45, j + 0.45], [lm[j], lm[j]], "k--", lw=1.0)
    ax.plot([], [], "k--", lw=1.0, label=f"Lloyd–Max ({n_levels} levels)")
    ax.set_xticks(range(len(specs)))
    ax.set_xticklabels(specs)
    ax.set_ylabel("bits of accuracy  log2(σ/RMSE)")
    ax.set_ylim(0, max(max(lm), bits.max()) + 0.8)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _draw_outliers(
    fig: Any,
    rect: tuple[float, float, float, float],
    fmts: list[str],
    scales: list[float],
    sq: np.ndarray,
) -> None:
    gs = grid(fig, rect, 1, 1, left=0.55, right=1.5, top=0.1, bottom=0.45)
    ax = fig.add_subplot(gs[0, 0])
    cmap = [FAMILY_COLOURS["integer"], "#fcae91", "#fb6a4a", "#de2d26", "#a50f15", "#67000d"]
    for i, f in enumerate(fmts):
        ax.plot(scales, sq[i], marker=MARKERS[i % len(MARKERS)], label=f, color=cmap[i % 6])
    for j, s in enumerate(scales):
        ax.plot(s, sq[:, j].max(), "o", ms=8, mfc="none", mec="k", mew=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("outlier scale s (outliers ~ N(0, s²))")
    ax.set_ylabel("SQNR (dB)")
    ax.plot([], [], "o", ms=8, mfc="none", mec="k", mew=0.6, label="best at this s")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
