"""Outlier mitigations as baselines: SmoothQuant and Hadamard rotations (full and blockwise)
applied to both operands of a GEMM with channel-outlier activations, fitted on calibration
tokens and measured on other tokens through the bit-exact simulator, with the online
transform's hardware cost per MAC next to the SQNR it buys."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...analysis.stats import compare, mean_ci
from ...analysis.transforms import parse_transform
from ...evaluation import parse_spec, quantized_gemm
from ...hwmodel.transform_cost import transform_cost
from ...hwmodel.unit import mac_cost_of, make_unit
from ..context import Context, heavy_tailed
from ..layout import grid
from ..pdf import Document
from ..recipe import weight_spec
from .block_formats import label

#: colours of the transforms in the figure, in recipe order
COLOURS = ["#7f7f7f", "#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]


def operands(ctx: Context, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(calibration activations, measured activations, weight K × N) for ``seed``: one
    heavy-tailed draw of calibration + measured tokens over the same features (so the
    outlier channels are the same ones), split by rows, and a Gaussian weight."""
    cfg, bf = ctx.recipe["baselines"], ctx.recipe["block_formats"]
    k, m, c = cfg["features"], cfg["tokens"], cfg["calibration_tokens"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    n_out = max(1, round(bf["outlier_features"] * k / bf["shape"][1]))
    x = heavy_tailed(rng, c + m, k, n_out, bf["outlier_scale"])
    w = np.random.default_rng(np.random.SeedSequence([seed, 12])).standard_normal(
        (k, cfg["outputs"])
    )
    return x[:c], x[c:], w


def compute(ctx: Context) -> pd.DataFrame:
    """One row per (format, transform, seed): the GEMM-output ``sqnr_db`` of the measured
    tokens (:func:`lowbit.evaluation.quantized_gemm` on the transformed operands, whose exact
    product equals the original), ``feasible``, and per transform its online cost
    ``transform_gates_per_mac`` (:func:`lowbit.hwmodel.transform_cost.transform_cost`) and
    the format's ``mac_gates`` on an equal-lane unit (``make_unit(..., lanes=lanes)``)."""
    cfg = ctx.recipe["baselines"]
    costs = {
        t: transform_cost(
            t, cfg["cost_activation"], n=cfg["cost_outputs"], k=cfg["features"]
        ).per_mac
        for t in cfg["transforms"]
    }
    macs = {f: _mac_gates(f, cfg) for f in cfg["formats"]}
    rows = []
    for seed in [ctx.seed + i for i in range(cfg["seeds"])]:
        xc, x, w = operands(ctx, seed)
        for t in cfg["transforms"]:
            xt, wt = parse_transform(t).fit(xc, w).apply(x, w)
            for f in cfg["formats"]:
                r = quantized_gemm(
                    xt, wt, f, weight_spec(f), accumulator=cfg["accumulator"],
                    order="blocks", lanes=cfg["lanes"],
                )  # fmt: skip
                rows.append(
                    dict(format=f, label=label(f), transform=t, seed=seed,
                         sqnr_db=r.metrics["sqnr_db"], feasible=r.feasible, reason=r.reason,
                         transform_gates_per_mac=costs[t], mac_gates=macs[f])
                )  # fmt: skip
    return pd.DataFrame(rows)


def _mac_gates(spec: str, cfg: dict[str, Any]) -> float:
    """Gates per MAC of the format pair on a unit of ``lanes`` lanes with an FP32
    accumulator (per-token × per-channel scales in the epilogue where the spec has them)."""
    s = parse_spec(spec)
    scales = ("channel", "token") if s.granularity == "per_token" else ()
    unit = make_unit(s.format, s.format, "fp32", lanes=cfg["lanes"], output_scales=scales)
    return float(mac_cost_of(unit).total)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (format, transform), recipe order: mean SQNR and 95 % half-width over the
    seeds (NaN where a seed is infeasible), the gain over "none" on the same seeds (paired)
    with its half-width and ``within_noise``, and the costs."""
    out = []
    for (f, t), g in df.groupby(["format", "transform"], sort=False):
        g = g.sort_values("seed")
        ok = bool(g.feasible.all()) and np.isfinite(g.sqnr_db).all()
        ci = mean_ci(g.sqnr_db) if ok else None
        base = df[(df.format == f) & (df["transform"] == df["transform"].iloc[0])].sort_values(
            "seed"
        )
        d = (
            compare(g.sqnr_db.to_numpy(), base.sqnr_db.to_numpy())
            if ok and base.feasible.all()
            else None
        )
        out.append(
            dict(format=f, label=g.label.iloc[0], transform=t, n=len(g),
                 sqnr_db=ci.mean if ci else math.nan, sqnr_db_ci=ci.half_width if ci else math.nan,
                 gain_db=d.diff if d else math.nan, gain_db_ci=d.half_width if d else math.nan,
                 within_noise=d.within_noise if d else False,
                 transform_gates_per_mac=g.transform_gates_per_mac.iloc[0],
                 mac_gates=g.mac_gates.iloc[0])
        )  # fmt: skip
    return pd.DataFrame(out)


def best(df: pd.DataFrame, fmt: str) -> dict[str, Any]:
    """The transform of the highest mean SQNR for ``fmt`` (first in recipe order on ties)."""
    s = summary(df)
    s = s[(s.format == fmt) & s.sqnr_db.notna()]
    return s.loc[s.sqnr_db.idxmax()].to_dict()


def finding(df: pd.DataFrame) -> str:
    """The title page's key result: the first format's GEMM-output SQNR without a transform
    and with its best one (means ± 95 % intervals) and that transform's online cost."""
    s = summary(df)
    f, first = df.format.iloc[0], df["transform"].iloc[0]
    b = best(df, f)
    base = s[(s.format == f) & (s["transform"] == first)].iloc[0]
    return (
        f"{b['label']} {base.sqnr_db:.1f} ± {base.sqnr_db_ci:.1f} → {b['sqnr_db']:.1f} ± "
        f"{b['sqnr_db_ci']:.1f} dB ({b['transform']}, {b['transform_gates_per_mac']:.2f} "
        f"gates/MAC, {df.seed.nunique()} seeds)."
    )


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: text, the SQNR figure (formats × transforms with intervals) and the
    table of gains and costs."""
    cfg = ctx.recipe["baselines"]
    s = summary(df)
    n, seeds = df.seed.nunique(), sorted(df.seed.unique())
    fmts, trs = list(dict.fromkeys(df.format)), list(cfg["transforms"])
    doc.heading("Outlier mitigations")
    doc.paragraph(
        "The baselines a deployment would try before changing formats: SmoothQuant (Xiao et "
        "al. 2023: per-input-channel scales s_j = max|x_j|^α / max|w_j|^(1−α) move activation "
        "range into the weights), a Hadamard rotation of the whole K or of blocks of 128 "
        "(QuaRot, Ashkboos et al. 2024), and both. Each acts on both operands (x' = x·T, "
        "w' = T⁻¹·w), so the exact product is unchanged; SmoothQuant's scales are fitted on "
        f"{cfg['calibration_tokens']} calibration tokens and the error is measured on "
        f"{cfg['tokens']} other tokens of the same channel-outlier activation (heavy-tailed, "
        f"K = {cfg['features']}) times a Gaussian weight with {cfg['outputs']} outputs. Scalar "
        "formats use one scale per tensor or per token (activation) × per output channel "
        "(weight); block formats their own blocks along K. " + _best_text(df)
    )
    ctx.findings.append(("Outlier mitigations", finding(df)))
    repro = [
        f"xc, x, w = operands(ctx, seed) for seed in {seeds}  # heavy_tailed rows split",
        "xt, wt = parse_transform(t).fit(xc, w).apply(x, w)",
        f"quantized_gemm(xt, wt, f, weight_spec(f), accumulator={cfg['accumulator']!r}, "
        f"order='blocks', lanes={cfg['lanes']})",
        f"transform_cost(t, {cfg['cost_activation']!r}, n={cfg['cost_outputs']}, "
        f"k={cfg['features']}).per_mac",
        f"mac_cost_of(make_unit(f, f, 'fp32', lanes={cfg['lanes']})).total",
    ]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, s, fmts, trs),
        2.5,
        f"GEMM-output SQNR (dB) of each format with each transform, mean ± 95 % interval over "
        f"{n} seeds ({', '.join(map(str, seeds))}). Activations {cfg['tokens']}×"
        f"{cfg['features']} heavy-tailed with channel outliers, weights Gaussian "
        f"{cfg['features']}×{cfg['outputs']}; blocks and per-token/per-channel scales along "
        f"K; {cfg['accumulator'].upper()} accumulator, order blocks of {cfg['lanes']}; "
        "transforms fitted on other tokens.",
        "outlier mitigations SQNR",
        repro,
    )
    tab = _table(s, fmts, trs)
    label_ = doc.table(
        tab,
        "GEMM-output SQNR without a transform and the gain of each transform over it (dB, "
        "paired over the seeds, 95 % interval; '≈0' when within noise); MAC gates: the "
        f"format pair on a {cfg['lanes']}-lane unit with an FP32 accumulator; last row: the "
        "online transform's gates per MAC (a "
        f"{cfg['features']}-input, {cfg['cost_outputs']}-output layer, "
        f"{cfg['cost_activation'].upper()} activations; weights are transformed offline; "
        "SmoothQuant folds into the previous layer).",
        "outlier mitigation gains",
        repro,
    )
    ctx.save_csv(label_, df)


def _best_text(df: pd.DataFrame) -> str:
    s = summary(df)
    first = df["transform"].iloc[0]
    fmts = list(dict.fromkeys(df.format))
    bests = {f: best(df, f) for f in fmts}
    parts = []
    for f in fmts:
        b = bests[f]
        base = s[(s.format == f) & (s["transform"] == first)].iloc[0]
        parts.append(f"{b['label']} {base.sqnr_db:.1f} → {b['sqnr_db']:.1f} dB")
    names = set(b["transform"] for b in bests.values())
    which = (
        f"{names.pop()} is the best transform for every format"
        if len(names) == 1
        else "the best transform differs by format ("
        + ", ".join(f"{bests[f]['label']}: {bests[f]['transform']}" for f in fmts)
        + ")"
    )
    text = f"In GEMM-output SQNR, {which}: " + "; ".join(parts) + "."
    costly = s[s.transform_gates_per_mac > 0]
    if len(costly):
        r = costly.loc[costly.transform_gates_per_mac.idxmax()]
        share = 100 * r.transform_gates_per_mac / s.mac_gates
        text += (
            f" The dearest online transform, {r['transform']}, costs "
            f"{r.transform_gates_per_mac:.2f} gates per MAC: {share.min():.1f}–"
            f"{share.max():.1f} % of the formats' MACs."
        )
    return text


def _table(s: pd.DataFrame, fmts: list[str], trs: list[str]) -> pd.DataFrame:
    """Rows: formats (SQNR without a transform, its MAC's gates, the gain of each
    transform); last row: each transform's online gates per MAC."""
    rows = []
    for f in fmts:
        g = s[s.format == f].set_index("transform")
        base = g.loc[trs[0]]
        row = {
            "format": base.label,
            "MAC gates": f"{base.mac_gates:.0f}",
            f"{trs[0]} (dB)": f"{base.sqnr_db:.1f} ± {base.sqnr_db_ci:.1f}",
        }
        for t in trs[1:]:
            r = g.loc[t]
            row[t] = (
                "infeasible" if not math.isfinite(r.gain_db)
                else "≈0" if r.within_noise else f"{r.gain_db:+.1f} ± {r.gain_db_ci:.1f}"
            )  # fmt: skip
        rows.append(row)
    cost = {"format": "online gates/MAC", "MAC gates": "", f"{trs[0]} (dB)": ""}
    for t in trs[1:]:
        cost[t] = f"{s[s['transform'] == t].transform_gates_per_mac.iloc[0]:.2f}"
    rows.append(cost)
    out = pd.DataFrame(rows)
    out.columns = [c.replace("+", " +\n") if "+" in c else c for c in out.columns]
    return out


def _draw(fig: Any, rect, s: pd.DataFrame, fmts: list[str], trs: list[str]) -> None:
    gs = grid(fig, rect, 1, 1, left=0.5, right=1.95, top=0.1, bottom=0.5)
    ax = fig.add_subplot(gs[0, 0])
    w = 0.8 / len(trs)
    for j, t in enumerate(trs):
        g = s[s["transform"] == t].set_index("format").loc[fmts]
        xs = np.arange(len(fmts)) + (j - (len(trs) - 1) / 2) * w
        ax.bar(xs, g.sqnr_db, w * 0.92, color=COLOURS[j % len(COLOURS)], label=t)
        ax.errorbar(xs, g.sqnr_db, yerr=g.sqnr_db_ci, fmt="none", ecolor="k", lw=0.6, capsize=1)
    ax.set_xticks(range(len(fmts)))
    names = [s[s.format == f].label.iloc[0].replace(" ", "\n", 1) for f in fmts]
    ax.set_xticklabels(names, fontsize=6.5)
    ax.set_ylabel("GEMM-output SQNR (dB)")
    ax.grid(axis="y", lw=0.3, alpha=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=6.5)


def page_summary(recipe: Any) -> str:
    """What the page shows, one line for the README's report summary."""
    cfg = recipe["baselines"]
    return (
        f"GEMM-output SQNR of {len(cfg['formats'])} formats × transforms "
        f"{', '.join(cfg['transforms'])} on channel-outlier activations, {cfg['seeds']} seeds "
        "with 95 % intervals; online transform gates per MAC"
    )
