"""Format-design sensitivities: how a block format's QSNR moves with its scale rule, block
size, scale format and microexponent bits, and where INT elements beat FP elements at fine
granularity — :mod:`lowbit.analysis.design` on seeded tensors, every number a mean over
seeds with a 95 % interval and every difference paired over the seeds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...analysis import design as D
from ...analysis.stats import compare, mean_ci
from ..context import Context, tensor_text
from ..layout import MARKERS, grid
from ..pdf import Document

#: the sweeps of the study, in the order of the DataFrame's ``sweep`` column
SWEEPS = ("scale_rule", "block_size", "scale_format", "micro_bits", "crossover")
#: the baseline variant of each sweep (the difference of the others is taken against it)
REFERENCE = {"scale_rule": "floor", "scale_format": "e8m0 floor", "micro_bits": 0}


def reference(sweep: str, group: str) -> Any:
    """The variant the others of ``group`` are compared with: the OCP floor rule (NVFP4:
    its round-to-nearest block scale, "subnormal"), an E8M0 floor scale, no micro bits."""
    if sweep == "scale_rule" and group.startswith("nvfp4"):
        return "subnormal"
    return REFERENCE[sweep]


LINES = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]


def _seeds(ctx: Context, cfg: dict[str, Any]) -> list[int]:
    return [ctx.seed + i for i in range(cfg["seeds"])]


def compute(ctx: Context) -> pd.DataFrame:
    """Per-seed QSNR rows of every sweep (``per_seed=True`` of :mod:`lowbit.analysis.design`),
    tagged by ``sweep`` and ``group`` (the line a variant belongs to) and ``x`` (its value on
    the swept axis); the crossover's INT and FP rows carry ``pair``."""
    cfg = ctx.recipe["design"]
    kw = dict(
        tensors=cfg["tensors"], seeds=_seeds(ctx, cfg), shape=tuple(cfg["shape"]), per_seed=True
    )
    parts = []
    r = D.scale_rule_sweep(cfg["rule_elements"], **kw)
    r["group"] = [f"MX {e}" if c == "MXFormat" else "nvfp4 (E4M3 scale)"
                  for c, e in zip(r.format_class, r.element, strict=True)]  # fmt: skip
    r["x"] = r.scale_rule
    parts.append(r.assign(sweep="scale_rule"))
    b = D.block_size_sweep(cfg["block_formats"], cfg["block_sizes"], **kw)
    parts.append(b.assign(sweep="block_size", group=b.base, x=b.block_size))
    f = D.scale_format_sweep(cfg["scale_elements"], cfg["scale_block_sizes"], **kw)
    f["group"] = [f"{e} b{k}" for e, k in zip(f.element, f.block_size, strict=True)]
    f["x"] = [_scale_text(v) for v in f.variant]
    parts.append(f.assign(sweep="scale_format"))
    m = D.micro_bits_sweep(cfg["mantissa_bits"], cfg["micro_bits"], **kw)
    m["group"] = [f"{e} elements" for e in m.element]
    parts.append(m.assign(sweep="micro_bits", x=m.micro_bits))
    kw.pop("per_seed")
    c = D.int_vs_fp_crossover(D.CROSSOVER_PAIRS, cfg["block_sizes"], **kw)
    c["pair"] = [f"{a}/{b}" for a, b in zip(c.int_format, c.fp_format, strict=True)]
    parts.append(c.assign(sweep="crossover", x=c.block_size))
    return pd.concat(parts, ignore_index=True)


def _scale_text(variant: str) -> str:
    """The scale format of a scale_format_sweep variant in a few letters ("+t": with a
    per-tensor FP32 scale).

    >>> _scale_text("fp4_e2m1fn_b16_e4m3_fp32"), _scale_text("fp4_e2m1fn_b32_e8m0_rceil")
    ('e4m3+t', 'e8m0 rceil')
    """
    tail = variant.split("_b", 1)[1].split("_", 1)[1]
    return tail.replace("_fp32", "+t").replace("_", " ")


def summary(df: pd.DataFrame, sweep: str) -> pd.DataFrame:
    """One row per (tensor, group, x) of ``sweep``: mean QSNR and 95 % half-width over
    seeds; for the sweeps with a :data:`REFERENCE`, the paired difference from it."""
    d = df[df.sweep == sweep]
    out = []
    for (t, g, x), v in d.groupby(["tensor", "group", "x"], sort=False):
        v = v.sort_values("seed")
        ci = mean_ci(v.qsnr_db) if np.isfinite(v.qsnr_db).all() else None
        row = dict(tensor=t, group=g, x=x, bits_per_element=v.bits_per_element.iloc[0],
                   qsnr_db=ci.mean if ci else math.nan, ci=ci.half_width if ci else math.nan)  # fmt: skip
        if sweep in REFERENCE:
            ref = d[(d.tensor == t) & (d.group == g) & (d.x == reference(sweep, g))].sort_values(
                "seed"
            )
            dd = compare(v.qsnr_db.to_numpy(), ref.qsnr_db.to_numpy()) if ci and len(ref) else None
            row |= dict(diff_db=dd.diff if dd else math.nan, diff_ci=dd.half_width if dd else math.nan,
                        within_noise=dd.within_noise if dd else False)  # fmt: skip
        out.append(row)
    return pd.DataFrame(out)


def crossover(df: pd.DataFrame) -> pd.DataFrame:
    """INT − FP QSNR per (pair, block size, tensor) as
    :func:`lowbit.analysis.design.int_vs_fp_crossover` gives it (paired over the seeds):
    ``diff_db`` (mean), ``diff_ci`` (95 % half-width) and ``winner``."""
    d = df[df.sweep == "crossover"]
    return pd.DataFrame(
        dict(pair=d.pair, block_size=d.block_size.astype(int), tensor=d.tensor,
             diff_db=d.diff_db_mean, diff_ci=(d.diff_db_ci_high - d.diff_db_ci_low) / 2,
             winner=d.winner)
    ).reset_index(drop=True)  # fmt: skip


def rule_cost(df: pd.DataFrame, element: str = "fp8_e4m3fn", tensor: str = "gaussian") -> dict:
    """The OCP floor rule against the best other rule for MX ``element`` on ``tensor``:
    (best rule, floor − best in dB, its half-width, within noise)."""
    s = summary(df, "scale_rule")
    s = s[(s.tensor == tensor) & (s.group == f"MX {element}")]
    other = s[s.x != "floor"].sort_values("qsnr_db", ascending=False, kind="stable").iloc[0]
    return dict(
        rule=other.x, diff=-other.diff_db, ci=other.diff_ci, within_noise=other.within_noise
    )


def seeds_of(df: pd.DataFrame) -> list[int]:
    """The seeds of the per-seed rows (the crossover rows summarise them)."""
    return sorted(int(v) for v in df[df.sweep != "crossover"].seed.unique())


def finding(df: pd.DataFrame) -> str:
    """The title page's key result: what the OCP floor scale rule costs the first MX
    element on the Gaussian tensor against its best other rule (paired 95 % interval)."""
    tensor = "gaussian" if "gaussian" in set(df.tensor) else df.tensor.iloc[0]
    mx = df[(df.sweep == "scale_rule") & (df.format_class == "MXFormat")]
    el = mx.element.iloc[0]
    c = rule_cost(df, el, tensor)
    noise = " (within noise)" if c["within_noise"] else ""
    return (
        f"OCP floor rule on MX {el}: {c['diff']:+.2f} ± {c['ci']:.2f} dB vs {c['rule']}{noise} "
        f"({tensor}, {len(seeds_of(df))} seeds)."
    )


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: text, two figures (scale rule / scale format / micro bits; block size
    and INT-vs-FP crossover) and a table of the differences that are not within noise."""
    cfg = ctx.recipe["design"]
    rows, cols = cfg["shape"]
    seeds = seeds_of(df)
    n = len(seeds)
    tensors = list(cfg["tensors"])
    doc.heading("Format-design sensitivities")
    doc.paragraph(
        "One design axis at a time, the others held: the scale rule of OCP MX (floor, the "
        "spec's rule, ⌊log2 amax⌋ − e_max, saturates block maxima in [max, 2^(e_max+1))·X; "
        "ceil, even (amax rounded to the element's mantissa first) and rceil never or less "
        "often clip), NVFP4's block-scale rounding, the block size, the scale format (E8M0 vs "
        "E4M3 vs UE5M3, with or without a per-tensor FP32 scale), microexponent bits per pair "
        "of a shared-exponent block of 16 (MX9/6/4 use 1), and INT against FP elements of the "
        "same bits and scale scheme (MXINT4/MXFP4, MXINT8/MXFP8, NVINT4/NVFP4). Element "
        f"QSNR of {', '.join(tensor_text(t) for t in tensors)} tensors ({rows}×{cols}, blocks "
        f"along the {cols} features = K), mean over {n} seeds; every difference is paired "
        "over the same tensors, with its 95 % t interval. " + _noise_text(df)
    )
    ctx.findings.append(("Format-design sensitivities", finding(df)))
    repro = [
        f"kw = dict(tensors={tensors!r}, seeds={seeds}, shape=({rows}, {cols}), per_seed=True)",
        f"lowbit.analysis.design.scale_rule_sweep({cfg['rule_elements']!r}, **kw)",
        f"lowbit.analysis.design.block_size_sweep({cfg['block_formats']!r}, "
        f"{cfg['block_sizes']!r}, **kw)",
        f"scale_format_sweep({cfg['scale_elements']!r}, {cfg['scale_block_sizes']!r}, **kw); "
        f"micro_bits_sweep({cfg['mantissa_bits']!r}, {cfg['micro_bits']!r}, **kw)",
        "differences: lowbit.analysis.stats.compare (paired t interval)",
    ]
    common = (
        f"Element QSNR, blocks along the last axis (K) of {rows}×{cols} tensors; mean over "
        f"{n} seeds ({', '.join(map(str, seeds))}), error bars 95 % intervals of the paired "
        "difference."
    )
    doc.figure(
        lambda fig, rect: _draw_axes(fig, rect, df, tensors),
        2.0 * len(tensors) / 2 + 1.45,
        "Left: QSNR change from the OCP floor rule (MX, block 32) or NVFP4's "
        "round-to-nearest block scale ('subnormal') to the other rules. Middle: change from "
        "an E8M0 floor scale to other scale formats (FP4 elements; rceil: E8M0 with the rceil rule; "
        "'+t': with NVFP4's FP32 per-tensor scale; E4M3 and UE5M3 scales round to nearest). Right: change from 0 microexponent bits (BFP) to 1 or 2 per pair "
        "(block 16; each micro bit costs 0.5 bit per element). " + common,
        "design sensitivities: rule, scale format, micro bits",
        repro,
    )
    doc.figure(
        lambda fig, rect: _draw_blocks(fig, rect, df, tensors),
        2.9,
        "Left panels: QSNR against block size (8–128) per format family on each tensor. "
        "Right: INT − FP QSNR of the same-bits pairs against block size, per tensor (filled: "
        "Gaussian, open: heavy-tailed); above 0 the INT element wins; bars crossing 0 are "
        "within noise. " + common,
        "design sensitivities: block size and INT vs FP",
        repro,
    )
    x = crossover(df)
    tab = x.assign(
        tensor=[tensor_text(t) for t in x.tensor],
        diff=[f"{a:+.2f} ± {b:.2f}" for a, b in zip(x.diff_db, x.diff_ci, strict=True)],
    )[["pair", "tensor", "block_size", "diff", "winner"]]
    tab = tab.pivot_table(index=["pair", "tensor"], columns="block_size", values="diff",
                          aggfunc="first", sort=False).reset_index()  # fmt: skip
    tab.columns = ["INT/FP pair", "tensor"] + [f"block {k}" for k in tab.columns[2:]]
    label = doc.table(
        tab,
        f"INT − FP element QSNR in dB (paired over {n} seeds, 95 % interval) per block size; "
        "a positive difference whose interval excludes 0 is an INT win.",
        "INT vs FP crossover",
        repro,
    )
    ctx.save_csv(label, df)


def _listing(items: list[str], most: int = 4) -> str:
    """The items in parentheses when there are a few; nothing for none or too many."""
    return f" ({', '.join(items)})" if 0 < len(items) <= most else ""


def _noise_text(df: pd.DataFrame) -> str:
    s = summary(df, "scale_rule")
    s = s[[x != reference("scale_rule", g) for x, g in zip(s.x, s.group, strict=True)]]
    noise = s[s.within_noise]
    sb = summary(df, "block_size")
    parts = []
    for el in dict.fromkeys(s.group):
        for t in dict.fromkeys(s.tensor):
            r = s[(s.group == el) & (s.tensor == t)]
            if not r.empty:
                best = r.loc[r.diff_db.idxmax()]
                parts.append(
                    f"{el} on {tensor_text(t)}: {best.x} "
                    f"{best.diff_db:+.2f} ± {best.diff_ci:.2f} dB"
                )
    x = crossover(df)
    nx = x[x.winner == "within noise"]
    text = "Best rule against the default (floor; NVFP4: nearest): " + "; ".join(parts) + ". "
    text += (
        f"{len(noise)} of {len(s)} rule changes are within noise"
        + _listing([f"{r.group} {r.x} on {tensor_text(r.tensor)}" for r in noise.itertuples()])
        + f"; {len(nx)} of {len(x)} INT-vs-FP comparisons are within noise"
        + _listing(
            [f"{r.pair} b{r.block_size} on {tensor_text(r.tensor)}" for r in nx.itertuples()]
        )
        + ". "
    )
    g = sb[sb.tensor == sb.tensor.iloc[0]]
    spread = ", ".join(
        f"{fam} {v.qsnr_db.max() - v.qsnr_db.min():.1f} dB"
        for fam, v in g.groupby("group", sort=False)
    )
    return text + f"Block size 8 → 128 spans on {tensor_text(g.tensor.iloc[0])}: {spread}."


def _draw_axes(fig: Any, rect, df: pd.DataFrame, tensors: list[str]) -> None:
    gs = grid(fig, rect, len(tensors), 3, left=0.55, right=0.2, top=0.2, bottom=0.95,
              wspace=0.35, hspace=0.75)  # fmt: skip
    for i, t in enumerate(tensors):
        for j, sweep in enumerate(("scale_rule", "scale_format", "micro_bits")):
            ax = fig.add_subplot(gs[i, j])
            s = summary(df, sweep)
            s = s[s.tensor == t]
            s = s[[x != reference(sweep, g) for x, g in zip(s.x, s.group, strict=True)]]
            xs_all = list(dict.fromkeys(s.x))
            groups = list(dict.fromkeys(s.group))
            w = 0.8 / max(len(groups), 1)
            for gi, g in enumerate(groups):
                v = s[s.group == g]
                xs = np.array([xs_all.index(x) for x in v.x]) + (gi - (len(groups) - 1) / 2) * w
                ax.errorbar(xs, v.diff_db, yerr=v.diff_ci, fmt=MARKERS[gi], color=LINES[gi],
                            ms=3, capsize=2, lw=0.8, label=g)  # fmt: skip
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xticks(range(len(xs_all)))
            ticks = [str(x).replace("e8m0 ", "").replace("+t", "\n+t") for x in xs_all]
            ax.set_xticklabels(ticks, fontsize=5.5)
            ax.tick_params(axis="y", labelsize=6)
            ax.set_title(f"{sweep.replace('_', ' ')} · {tensor_text(t)}", fontsize=6.5)
            if j == 0:
                ax.set_ylabel("Δ QSNR (dB)", fontsize=6.5)
            if i == len(tensors) - 1:
                ax.legend(fontsize=5.5, frameon=False, loc="upper center",
                          bbox_to_anchor=(0.5, -0.32), ncol=1)  # fmt: skip
            if sweep == "micro_bits" and i == len(tensors) - 1:
                ax.set_xlabel("micro bits per pair", fontsize=6)


def _draw_blocks(fig: Any, rect, df: pd.DataFrame, tensors: list[str]) -> None:
    gs = grid(
        fig, rect, 1, len(tensors) + 1, left=0.5, right=0.1, top=0.2, bottom=1.05, wspace=0.35
    )
    s = summary(df, "block_size")
    for j, t in enumerate(tensors):
        ax = fig.add_subplot(gs[0, j])
        for gi, (g, v) in enumerate(s[s.tensor == t].groupby("group", sort=False)):
            ax.errorbar(v.x, v.qsnr_db, yerr=v.ci, marker=MARKERS[gi], color=LINES[gi], ms=3,
                        capsize=2, lw=0.8, label=g)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("block size")
        ax.set_title(tensor_text(t), fontsize=6.5)
        if j == 0:
            ax.set_ylabel("QSNR (dB)")
            ax.legend(fontsize=5.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.3),
                      ncol=2)  # fmt: skip
    ax = fig.add_subplot(gs[0, len(tensors)])
    x = crossover(df)
    for gi, (p, v) in enumerate(x.groupby("pair", sort=False)):
        for ti, (_t, vt) in enumerate(v.groupby("tensor", sort=False)):
            ax.errorbar(vt.block_size * (1 + 0.06 * ti), vt.diff_db, yerr=vt.diff_ci,
                        marker=MARKERS[gi], color=LINES[gi], mfc=None if ti == 0 else "none",
                        ms=3, capsize=2, lw=0.8, label=p.replace("/", " − ") if ti == 0 else None)  # fmt: skip
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("block size")
    ax.set_ylabel("INT − FP (dB)")
    ax.set_title("INT vs FP elements", fontsize=6.5)
    ax.legend(fontsize=5.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=1)


def page_summary(recipe: Any) -> str:
    """What the page shows, one line for the README's report summary."""
    cfg = recipe["design"]
    return (
        "QSNR sensitivity to scale rule, scale format, micro bits and block size "
        f"({min(cfg['block_sizes'])}–{max(cfg['block_sizes'])}); INT vs FP elements per block "
        f"size; {cfg['seeds']} seeds, paired 95 % intervals"
    )
