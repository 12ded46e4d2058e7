"""FP8 versus INT8: the exact SQNR of 8-bit formats against the Lloyd–Max optimum, their
SQNR as an outlier component grows (on the whole signal and on the Gaussian body alone),
and per-tensor against per-channel scales on a weight whose channels differ in scale."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...formats import get_format
from ..context import Context
from ..layout import FAMILY_COLOURS, MARKERS, grid
from ..pdf import Document

#: the study's rows: exact sweep results, the Lloyd–Max optimum, the outlier sweep, the
#: sampled per-tensor / per-channel comparison (one row per format, granularity and seed)
PARTS = ("distribution", "lloyd_max", "outliers", "channels")
_TABLE_CSV = ["format", "distribution", "params", "clip", "mse", "sqnr_db", "bits_of_accuracy"]
_FIGURE_CSV = ["format", "params", "clip", "scale", "mse", "sqnr_db", "body_sqnr_db"]
#: dB per bit of accuracy: 20·log10(2)
DB_PER_BIT = 20 * np.log10(2.0)


def levels(fmts: list[str]) -> int:
    """Levels of the Lloyd–Max quantizer the formats are compared with: 2^(widest bits)."""
    return 2 ** max(get_format(f).bits for f in fmts)


def compute(ctx: Context) -> pd.DataFrame:
    """Rows by ``part``: "distribution" (``lowbit.analysis.sweep`` of each format on each
    distribution, format-major), "lloyd_max" (``bits_of_accuracy`` of the Lloyd–Max
    quantizer per distribution) and "outliers" (the sweep on each outlier mixture, with its
    ``outlier_scale``)."""
    from ...analysis import Gaussian, OutlierMixture, bits_from_mse, expected_mse
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
    # the error on the body alone, at the scale chosen for the whole mixture (exact)
    body = Gaussian(1.0)
    dfo["body_sqnr_db"] = [
        10 * np.log10(body.var() / expected_mse(f, body, sc))
        for f, sc in zip(dfo.format, dfo.scale, strict=True)
    ]
    return pd.concat([df, pd.DataFrame(lm), dfo, channels(ctx)], ignore_index=True)


def channel_weight(ctx: Context, seed: int) -> np.ndarray:
    """A weight (out × in) whose output channel c is N(0, σ_c²), σ_c = exp(N(0, s²)) with s
    the recipe's ``channel_sigma``: channels of different scales, as in trained layers."""
    cfg = ctx.recipe["fp8_vs_int8"]
    rows, cols = cfg["channels"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 13]))
    sigma = np.exp(rng.normal(0.0, cfg["channel_sigma"], size=(rows, 1)))
    return rng.standard_normal((rows, cols)) * sigma


def channels(ctx: Context) -> pd.DataFrame:
    """Rows of part "channels": per seed, each format's SQNR (dB) on :func:`channel_weight`
    with one MSE-optimal scale per tensor and one per output channel (fp32 scales,
    :func:`lowbit.evaluation.quantize_operand`; K = the input features)."""
    from ...analysis.metrics import sqnr_db
    from ...evaluation import quantize_operand

    cfg = ctx.recipe["fp8_vs_int8"]
    rows = []
    for seed in [ctx.seed + i for i in range(cfg["seeds"])]:
        w = channel_weight(ctx, seed)
        for f in cfg["formats"]:
            for gran in ("per_tensor", "per_channel"):
                q = quantize_operand(w.T, f"{f}:{gran}:{cfg['range']}", "weight").values.T
                rows.append(
                    dict(part="channels", format=f, granularity=gran, seed=seed,
                         sqnr_db=float(sqnr_db(w, q)))
                )  # fmt: skip
    return pd.DataFrame(rows)


def channel_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per format: mean SQNR per tensor and per channel with 95 % intervals over seeds and
    the paired gain of per-channel scales."""
    from ...analysis.stats import compare, mean_ci

    d = df[df.part == "channels"]
    out = []
    for f, g in d.groupby("format", sort=False):
        a = g[g.granularity == "per_tensor"].sort_values("seed").sqnr_db.to_numpy()
        b = g[g.granularity == "per_channel"].sort_values("seed").sqnr_db.to_numpy()
        ca, cb, dd = mean_ci(a), mean_ci(b), compare(b, a)
        out.append(
            dict(format=f, tensor=ca.mean, tensor_ci=ca.half_width, channel=cb.mean,
                 channel_ci=cb.half_width, gain=dd.diff, gain_ci=dd.half_width,
                 within_noise=dd.within_noise, n=len(a))
        )  # fmt: skip
    return pd.DataFrame(out)


def _db(df: pd.DataFrame, fmts: list[str], n: int) -> np.ndarray:
    """SQNR (dB) of the exact sweep, formats × distributions."""
    return df[df.part == "distribution"].sqnr_db.to_numpy().reshape(len(fmts), n)


def _lm_db(df: pd.DataFrame) -> np.ndarray:
    """The Lloyd–Max optimum in dB (its bits of accuracy × 20·log10 2)."""
    return df[df.part == "lloyd_max"].bits_of_accuracy.to_numpy() * DB_PER_BIT


def best_per_distribution(df: pd.DataFrame, fmts: list[str], specs: list[str]) -> list[str]:
    """The format of the highest SQNR on each distribution (first on ties)."""
    db = _db(df, fmts, len(specs))
    return [fmts[int(np.argmax(db[:, j]))] for j in range(len(specs))]


def finding(df: pd.DataFrame, fmts: list[str], specs: list[str]) -> str:
    """The title page's key result: the best 8-bit format on the last distribution (exact:
    no sampling, no interval) and the paired gain of per-channel scales for the first
    format (mean ± 95 % interval over the seeds)."""
    db = _db(df, fmts, len(specs))
    best = best_per_distribution(df, fmts, specs)
    j = len(specs) - 1
    text = f"best on {specs[j]}: {best[j]} {db[fmts.index(best[j]), j]:.1f} dB (exact)"
    c = channel_summary(df)
    c = c[c.format == fmts[0]]
    if len(c):
        text += "; per-channel gain " + ", ".join(
            f"{r.format} {r.gain:+.1f} ± {r.gain_ci:.1f} dB" for r in c.itertuples()
        )
    return text + "."


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: the SQNR figure and table, the outlier figure (whole signal and body),
    and the per-tensor vs per-channel table."""
    cfg = ctx.recipe["fp8_vs_int8"]
    fmts, specs, method = cfg["formats"], cfg["distributions"], cfg["range"]
    db, lm = _db(df, fmts, len(specs)), _lm_db(df)
    best = best_per_distribution(df, fmts, specs)
    n_levels = levels(fmts)
    doc.heading("FP8 versus INT8")
    doc.paragraph(
        "SQNR 10·log10(σ² / MSE) in dB of 8-bit formats (one unit throughout; bits of accuracy "
        f"= dB / {DB_PER_BIT:.2f}), each with its MSE-optimal per-tensor scale (range method "
        f"'{method}'), computed exactly by integrating the error over each format's grid under "
        "the pdf (no sampling). Distributions have unit scale parameter (Student-t: σ = "
        "√(ν/(ν − 2)); the SQNR is against that σ). FP8 variants are the OCP E4M3FN and E5M2 "
        "and the IEEE-like E3M4 used in the rest of the report; E2M5 exists here only as fnuz "
        "(no −0, bias one more), shown because it is the mantissa-heavy end of the family. The "
        f"dashed line is the {n_levels}-level Lloyd–Max quantizer, the best any "
        f"{n_levels}-level grid can do. Best per distribution: "
        + "; ".join(
            f"{s}: {b} ({db[fmts.index(b), j]:.1f} dB, Lloyd–Max {lm[j]:.1f})"
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
        lambda fig, rect: _draw_bars(fig, rect, fmts, specs, db, lm, n_levels),
        2.4,
        f"Exact SQNR (dB) of {', '.join(fmts)} on {', '.join(specs)} (per-tensor scale, "
        f"MSE-optimal, method '{method}'; no sampling, no seeds); dashed: Lloyd–Max with "
        f"{n_levels} levels ({cfg['lloyd_max_iterations']} iterations at most).",
        "FP8 vs INT8 SQNR",
        repro,
    )
    tab = pd.DataFrame({"format": fmts})
    for j, sp in enumerate(specs):
        tab[f"{sp} (dB)"] = [f"{v:.2f}" for v in db[:, j]]
    tab.loc[len(tab)] = [f"Lloyd–Max {n_levels}"] + [f"{v:.2f}" for v in lm]
    label = doc.table(
        tab,
        "Exact SQNR in dB (the numbers of the figure above); the Lloyd–Max row is the "
        "optimum for that many levels.",
        "FP8 vs INT8 table",
        repro,
    )
    ctx.save_csv(label, df[df.part == "distribution"][_TABLE_CSV].reset_index(drop=True))
    _render_outliers(doc, ctx, df[df.part == "outliers"].reset_index(drop=True))
    _render_channels(doc, ctx, df)


def _render_outliers(doc: Document, ctx: Context, dfo: pd.DataFrame) -> None:
    # outliers: Gaussian body plus a fraction of values from a wider Gaussian
    cfg = ctx.recipe["fp8_vs_int8"]
    fmts, method = cfg["formats"], cfg["range"]
    scales, frac = cfg["outlier_scales"], cfg["outlier_fraction"]
    sq = dfo.sqnr_db.to_numpy().reshape(len(fmts), len(scales))
    body = dfo.body_sqnr_db.to_numpy().reshape(len(fmts), len(scales))
    winners = [fmts[int(np.argmax(body[:, j]))] for j in range(len(scales))]
    changes = [
        (scales[j], winners[j])
        for j in range(len(scales))
        if j == 0 or winners[j] != winners[j - 1]
    ]
    share = frac * scales[-1] ** 2 / (1 - frac + frac * scales[-1] ** 2)
    repro_o = [
        f"mixes = [OutlierMixture(Gaussian(1.0), s, {frac}) for s in {scales!r}]",
        f"lowbit.analysis.sweep({fmts!r}, mixes, ranges=[{method!r}])  # exact",
        "body: 10·log10(1 / expected_mse(fmt, Gaussian(1.0), scale))  # the mixture's scale",
    ]
    doc.paragraph(
        f"Outliers: a Gaussian body N(0, 1) mixed with a fraction {frac:g} of values from "
        "N(0, s²), iid (not the channel-structured outliers of LLM activations: those are the "
        "block-format and outlier-mitigation pages). As s grows the MSE-optimal scale must "
        f"cover the outliers; at s = {scales[-1]:g} they carry {100 * share:.1f} % of the "
        "power, so the SQNR against the total power (left) is the outliers' SQNR. The right "
        "panel takes the error on the body alone at the same scale: that is where the body "
        "loses resolution, and formats with more exponent bits lose less. Best format on the "
        "body as s grows: " + ", ".join(f"{w} from s = {s:g}" for s, w in changes) + "."
    )
    doc.figure(
        lambda fig, rect: _draw_outliers(fig, rect, fmts, scales, sq, body),
        2.4,
        f"SQNR (dB) of the same formats on (1 − {frac:g})·N(0, 1) + {frac:g}·N(0, s²) against "
        f"the outlier scale s, one MSE-optimal per-tensor scale for the mixture (method "
        f"'{method}'), exact expected MSE (no seeds). Left: against the total power; right: "
        "the body's SQNR (error on the N(0, 1) part only); circles mark the best format.",
        "FP8 vs INT8 under outliers",
        repro_o,
    )
    ctx.save_csv(f"Figure {doc.n_figures}", dfo[_FIGURE_CSV])


def _render_channels(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    cfg = ctx.recipe["fp8_vs_int8"]
    c = channel_summary(df)
    if c.empty:
        return
    rows, cols = cfg["channels"]
    n = int(c.n.iloc[0])
    top = c.loc[c.gain.idxmax()]
    tab = pd.DataFrame(
        {
            "format": c.format,
            "per tensor (dB)": [f"{a:.2f} ± {b:.2f}" for a, b in zip(c.tensor, c.tensor_ci, strict=True)],
            "per channel (dB)": [f"{a:.2f} ± {b:.2f}" for a, b in zip(c.channel, c.channel_ci, strict=True)],
            "gain (dB)": [
                "within noise" if w else f"{a:+.2f} ± {b:.2f}"
                for a, b, w in zip(c.gain, c.gain_ci, c.within_noise, strict=True)
            ],
        }
    )  # fmt: skip
    doc.table(
        tab,
        f"Per-tensor against per-output-channel scales (both MSE-optimal, '{cfg['range']}', "
        f"fp32 scales) on a {rows}×{cols} weight whose channels are N(0, σ_c²), σ_c log-normal "
        f"(σ = {cfg['channel_sigma']:g}); SQNR mean ± 95 % interval over {n} seeds, gain "
        f"paired over the seeds. Largest gain: {top.format} ({top.gain:+.2f} dB); a format "
        "with few exponent bits has a nearly uniform grid, so a channel far below the "
        "tensor's range keeps few of its levels.",
        "FP8 vs INT8 per channel",
        [
            "w = channel_weight(ctx, seed)  # SeedSequence([seed, 13])",
            f"quantize_operand(w.T, f'{{fmt}}:{{per_tensor|per_channel}}:{cfg['range']}', "
            "'weight').values.T",
        ],
    )
    ctx.save_csv(f"Table {doc.n_tables}", df[df.part == "channels"].dropna(axis=1, how="all"))


_CMAP = [FAMILY_COLOURS["integer"], "#fcae91", "#fb6a4a", "#de2d26", "#a50f15", "#67000d"]


def _draw_bars(
    fig: Any,
    rect: tuple[float, float, float, float],
    fmts: list[str],
    specs: list[str],
    db: np.ndarray,
    lm: np.ndarray,
    n_levels: int,
) -> None:
    gs = grid(fig, rect, 1, 1, left=0.55, right=1.5, top=0.1, bottom=0.4)
    ax = fig.add_subplot(gs[0, 0])
    w = 0.8 / len(fmts)
    for i, f in enumerate(fmts):
        xs = np.arange(len(specs)) + (i - (len(fmts) - 1) / 2) * w
        ax.bar(xs, db[i], w * 0.95, label=f, color=_CMAP[i % len(_CMAP)])
    for j in range(len(specs)):
        ax.plot([j - 0.45, j + 0.45], [lm[j], lm[j]], "k--", lw=1.0)
    ax.plot([], [], "k--", lw=1.0, label=f"Lloyd–Max ({n_levels} levels)")
    ax.set_xticks(range(len(specs)))
    ax.set_xticklabels(specs)
    ax.set_ylabel("SQNR (dB)")
    ax.set_ylim(0, max(max(lm), db.max()) + 5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _draw_outliers(
    fig: Any,
    rect: tuple[float, float, float, float],
    fmts: list[str],
    scales: list[float],
    sq: np.ndarray,
    body: np.ndarray,
) -> None:
    gs = grid(fig, rect, 1, 2, left=0.55, right=1.5, top=0.2, bottom=0.45, wspace=0.25)
    for k, (vals, title) in enumerate(((sq, "against total power"), (body, "body only"))):
        ax = fig.add_subplot(gs[0, k])
        for i, f in enumerate(fmts):
            ax.plot(scales, vals[i], marker=MARKERS[i % len(MARKERS)], label=f,
                    color=_CMAP[i % len(_CMAP)], ms=3.5)  # fmt: skip
        for j, s in enumerate(scales):
            ax.plot(s, vals[:, j].max(), "o", ms=7, mfc="none", mec="k", mew=0.6)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("outlier scale s")
        ax.set_title(title, fontsize=7)
        if k == 0:
            ax.set_ylabel("SQNR (dB)")
    ax.plot([], [], "o", ms=7, mfc="none", mec="k", mew=0.6, label="best at this s")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
