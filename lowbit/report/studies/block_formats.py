"""The accuracy studies: format atlas, FP8 vs INT8, block formats, range setting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from ..formats import get_format, list_formats
from .context import FAMILY_COLOURS, MARKERS, Context, family_of, fmt_num
from .pdf import Document
from .tables import format_number, format_record


def _grid(fig, rect, nrows, ncols, left=0.55, right=0.1, top=0.25, bottom=0.5, **kw):
    """A GridSpec inside ``rect`` (figure fractions) with margins in inches for labels."""
    from .pdf import PAGE_H, PAGE_W

    x, y, w, h = rect
    return fig.add_gridspec(
        nrows,
        ncols,
        left=x + left / PAGE_W,
        right=x + w - right / PAGE_W,
        bottom=y + bottom / PAGE_H,
        top=y + h - top / PAGE_H,
        **kw,
    )


# -- format atlas -------------------------------------------------------------------------
def atlas(doc: Document, ctx: Context) -> None:
    cfg = ctx.recipe["atlas"]
    names = list_formats() if cfg["formats"] == "all" else cfg["formats"]
    recs = []
    for n in names:
        fmt = get_format(n)
        r = format_record(fmt)
        r["bits_per_element"] = float(fmt.bits_per_element)
        recs.append(r)
    raw = pd.DataFrame(recs)
    fp8 = raw[raw.name.str.startswith("fp8")]
    widest = raw.loc[raw.dynamic_range_db.idxmax()]
    doc.heading("Format atlas")
    doc.paragraph(
        f"The {len(names)} formats of this report ({'every registered format' if cfg['formats'] == 'all' else 'the recipe list'}), "
        "with the facts a designer looks up: storage bits, bits per element including amortised "
        "scale bits, the largest finite value, the smallest normal and subnormal values and the "
        "dynamic range 20·log10(max / smallest positive). The FP8 variants span "
        f"{fp8.dynamic_range_db.min():.1f}–{fp8.dynamic_range_db.max():.1f} dB; the widest range "
        f"is {widest['name']}'s {widest.dynamic_range_db:.1f} dB. Block formats report the range "
        "reachable through their shared scales."
    )
    ctx.findings.append(
        (
            "Format atlas",
            f"{len(names)} formats; the FP8 variants span {fp8.dynamic_range_db.min():.1f}–"
            f"{fp8.dynamic_range_db.max():.1f} dB of dynamic range."
            if len(fp8)
            else f"{len(names)} formats.",
        )
    )
    plot = cfg["plot"]
    height = 0.9 + 0.2 * len(plot)

    def draw(fig, rect):
        gs = _grid(fig, rect, 1, 1, left=1.15, right=0.15, top=0.1, bottom=0.45)
        ax = fig.add_subplot(gs[0, 0])
        for i, n in enumerate(plot):
            fmt = get_format(n)
            y = len(plot) - 1 - i
            colour = FAMILY_COLOURS[family_of(n)]
            lo, hi = float(fmt.smallest_subnormal), float(fmt.max)
            if fmt.bits <= 8 and n in list_formats():
                from ..analysis import format_grid

                g = format_grid(fmt)
                g = g[g > 0]
                ax.plot(np.log2(g), np.full(g.size, y), "|", color=colour, ms=5, mew=0.6)
                lo = float(g.min())
            ax.plot([math.log2(lo), math.log2(hi)], [y, y], "-", color=colour, lw=0.8, alpha=0.6)
            ax.plot(math.log2(float(fmt.smallest_normal)), y, "o", color=colour, ms=2.5)
        ax.margins(x=0.03)
        ax.set_yticks(range(len(plot)))
        ax.set_yticklabels(list(reversed(plot)), fontsize=6.5)
        ax.set_ylim(-0.7, len(plot) - 0.3)
        ax.set_xlabel("log2 |value|  (positive finite values; dot: smallest normal)")
        ax.grid(axis="y", alpha=0.0)

    doc.figure(
        draw,
        height,
        "Positive finite values of selected formats on a log2 axis: one tick per value for "
        "formats of at most 8 bits, the line spans smallest subnormal to max; the dot marks the "
        "smallest normal value. Colours: integer (blue), minifloat (red). Formats drawn: "
        + ", ".join(plot)
        + ".",
        "format values on a log axis",
        [
            "for n in " + repr(plot) + ":",
            "    g = lowbit.analysis.format_grid(n); g[g > 0]; get_format(n).smallest_normal, .max",
        ],
    )
    table = pd.DataFrame(
        {
            "format": raw.name,
            "family": raw.family,
            "bits": raw.bits.astype(str),
            "bits/elem.": [f"{v:g}" for v in raw.bits_per_element],
            "max": [format_number(v) for v in raw["max"]],
            "min normal": [format_number(v) for v in raw.smallest_normal],
            "min subnormal": [
                "—" if s == n else format_number(s)
                for s, n in zip(raw.smallest_subnormal, raw.smallest_normal, strict=True)
            ],
            "range (dB)": [f"{v:.1f}" for v in raw.dynamic_range_db],
            "specials": raw.specials,
        }
    )
    label = doc.table(
        table,
        f"The {len(names)} formats in registration order. 2^k marks exact powers of two; "
        "'—': no subnormals (integers: the grid step is 1). Bits/element includes the "
        "amortised scale bits of block and two-level formats.",
        "format atlas table",
        ["lowbit formats --csv formats.csv", "lowbit.report.format_record(name) for each name"],
    )
    ctx.save_csv(label, raw)


# -- FP8 vs INT8 --------------------------------------------------------------------------
def fp8_vs_int8(doc: Document, ctx: Context) -> None:
    from ..analysis import Gaussian, OutlierMixture, bits_from_mse
    from ..analysis.lloyd_max import lloyd_max
    from ..analysis.sweep import parse_distribution, sweep

    cfg = ctx.recipe["fp8_vs_int8"]
    fmts, specs, method = cfg["formats"], cfg["distributions"], cfg["range"]
    dists = [parse_distribution(s) for s in specs]
    df = sweep(fmts, dists, ranges=[method])
    bits = df.bits_of_accuracy.to_numpy().reshape(len(fmts), len(dists))
    levels = 2 ** max(get_format(f).bits for f in fmts)
    lm = []
    for d in dists:
        res = lloyd_max(d, levels, max_iterations=cfg["lloyd_max_iterations"])
        lm.append(bits_from_mse(res.mse, d.var()))
    best = [fmts[int(np.argmax(bits[:, j]))] for j in range(len(dists))]

    doc.heading("FP8 versus INT8")
    doc.paragraph(
        "Bits of accuracy log2(σ / RMSE) of 8-bit formats, each with its MSE-optimal "
        f"per-tensor scale (range method '{method}'), computed exactly by integrating the "
        "error over each format's grid under the pdf (no sampling). The dashed line is the "
        f"{levels}-level Lloyd–Max quantizer, the best any {levels}-level grid can do. Best per "
        "distribution: "
        + "; ".join(
            f"{s}: {b} ({bits[fmts.index(b), j]:.2f} bits, Lloyd–Max {lm[j]:.2f})"
            for j, (s, b) in enumerate(zip(specs, best, strict=True))
        )
        + "."
    )

    ctx.findings.append(
        (
            "FP8 versus INT8",
            "best 8-bit format: "
            + "; ".join(
                f"{b} on {s} ({bits[fmts.index(b), j]:.2f} bits of accuracy; Lloyd–Max {lm[j]:.2f})"
                for j, (s, b) in enumerate(zip(specs, best, strict=True))
            )
            + ".",
        )
    )

    def draw_bars(fig, rect):
        gs = _grid(fig, rect, 1, 1, left=0.55, right=1.5, top=0.1, bottom=0.4)
        ax = fig.add_subplot(gs[0, 0])
        w = 0.8 / len(fmts)
        cmap = [FAMILY_COLOURS["int"]] + [
            c for c in ("#fcae91", "#fb6a4a", "#de2d26", "#a50f15", "#67000d")
        ]
        for i, f in enumerate(fmts):
            colour = cmap[i] if i < len(cmap) else None
            xs = np.arange(len(dists)) + (i - (len(fmts) - 1) / 2) * w
            ax.bar(xs, bits[i], w * 0.95, label=f, color=colour)
        for j in range(len(dists)):
            ax.plot([j - 0.45, j + 0.45], [lm[j], lm[j]], "k--", lw=1.0)
        ax.plot([], [], "k--", lw=1.0, label=f"Lloyd–Max ({levels} levels)")
        ax.set_xticks(range(len(dists)))
        ax.set_xticklabels(specs)
        ax.set_ylabel("bits of accuracy  log2(σ/RMSE)")
        ax.set_ylim(0, max(max(lm), bits.max()) + 0.8)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    repro = [
        f"lowbit.analysis.sweep({fmts!r}, {specs!r}, ranges=[{method!r}])  # exact",
        f"lowbit.analysis.lloyd_max(dist, {levels}, max_iterations={cfg['lloyd_max_iterations']})",
    ]
    doc.figure(
        draw_bars,
        2.6,
        f"Bits of accuracy of {', '.join(fmts)} on {', '.join(specs)} (unit scale; the "
        f"per-tensor scale is MSE-optimal, method '{method}'); dashed: Lloyd–Max with {levels} "
        f"levels ({cfg['lloyd_max_iterations']} iterations at most).",
        "FP8 vs INT8 bits of accuracy",
        repro,
    )
    tab = pd.DataFrame({"format": fmts})
    for j, s in enumerate(specs):
        tab[f"{s} (bits)"] = [f"{v:.2f}" for v in bits[:, j]]
    tab.loc[len(tab)] = [f"Lloyd–Max {levels}"] + [f"{v:.2f}" for v in lm]
    raw = df[["format", "distribution", "params", "clip", "mse", "sqnr_db", "bits_of_accuracy"]]
    label = doc.table(
        tab,
        "Bits of accuracy (the numbers of the figure above); the Lloyd–Max row is the "
        "optimum for that many levels.",
        "FP8 vs INT8 table",
        repro,
    )
    ctx.save_csv(label, raw)

    # outliers: Gaussian body plus a fraction of values from a wider Gaussian
    scales, frac = cfg["outlier_scales"], cfg["outlier_fraction"]
    mixes = [OutlierMixture(Gaussian(1.0), s, frac) for s in scales]
    dfo = sweep(fmts, mixes, ranges=[method])
    sq = dfo.sqnr_db.to_numpy().reshape(len(fmts), len(scales))
    winners = [fmts[int(np.argmax(sq[:, j]))] for j in range(len(scales))]
    changes = [
        (scales[j], winners[j])
        for j in range(len(scales))
        if j == 0 or winners[j] != winners[j - 1]
    ]

    def draw_out(fig, rect):
        gs = _grid(fig, rect, 1, 1, left=0.55, right=1.5, top=0.1, bottom=0.45)
        ax = fig.add_subplot(gs[0, 0])
        cmap = [FAMILY_COLOURS["int"], "#fcae91", "#fb6a4a", "#de2d26", "#a50f15", "#67000d"]
        for i, f in enumerate(fmts):
            ax.plot(scales, sq[i], marker=MARKERS[i % len(MARKERS)], label=f, color=cmap[i % 6])
        for j, s in enumerate(scales):
            ax.plot(s, sq[:, j].max(), "o", ms=8, mfc="none", mec="k", mew=0.6)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("outlier scale s (outliers ~ N(0, s²))")
        ax.set_ylabel("SQNR (dB)")
        ax.plot([], [], "o", ms=8, mfc="none", mec="k", mew=0.6, label="best at this s")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

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
        draw_out,
        2.5,
        f"SQNR of the same formats on (1 − {frac:g})·N(0, 1) + {frac:g}·N(0, s²) against the "
        f"outlier scale s, MSE-optimal per-tensor scale (method '{method}'), exact expected "
        "MSE; circles mark the best format at each s.",
        "FP8 vs INT8 under outliers",
        repro_o,
    )
    ctx.save_csv(f"Figure {doc.n_figures}", dfo[["format", "params", "clip", "mse", "sqnr_db"]])


# -- block formats ------------------------------------------------------------------------
TENSOR_TEXT = {
    "gaussian": "Gaussian N(0, 1)",
    "laplace": "Laplace (b = 1)",
    "heavy_tailed": "heavy-tailed, activation-like",
}


def tensor_text(name: str) -> str:
    """How a caption names tensor ``name``: synthetic ones by their law, file tensors by
    their ``FILE:NAME``."""
    return TENSOR_TEXT.get(name, name)


def _tensor_sources(tensors: list[str], rows: int, cols: int) -> str:
    """Where the study's tensors come from, for its caption."""
    synthetic = [t for t in tensors if t in TENSOR_TEXT]
    files = [t for t in tensors if t not in TENSOR_TEXT]
    parts = [f"{rows}×{cols} seeded synthetic tensors"] if synthetic else []
    if files:
        parts.append(
            f"{len(files)} tensor(s) read from files (a weight (out, in, k…) as (out, in·k…))"
        )
    return " and ".join(parts)


def block_formats(doc: Document, ctx: Context) -> None:
    cfg = ctx.recipe["block_formats"]
    fmts, tensors = cfg["formats"], cfg["tensors"]
    rows, cols = cfg["shape"]
    q = np.array([[ctx.qsnr(f, t) for t in tensors] for f in fmts])
    bpe = [float(get_format(f).bits_per_element) for f in fmts]
    doc.heading("Block formats")
    from . import SCALED

    scalars = [f for f in fmts if not isinstance(get_format(f), SCALED)]
    best_by = {}
    for j, t in enumerate(tensors):
        for cut in (4.6, 6.6, 9.1):
            ok = [i for i in range(len(fmts)) if bpe[i] <= cut and bpe[i] > cut - 2.5]
            if ok:
                i = max(ok, key=lambda i: q[i, j])
                best_by[(t, cut)] = (fmts[i], q[i, j])
    ht = tensors[-1]
    doc.paragraph(
        "Quantization SNR of block and two-level formats and per-tensor scalar baselines on "
        + _tensor_sources(tensors, rows, cols)
        + "; blocks run along the last axis (the reduction axis of a GEMM). "
        f"Scalar formats ({', '.join(scalars) or 'none here'}) use "
        "one per-tensor scale s = max|x| / max. Best per budget on the "
        f"{tensor_text(ht)} tensor: "
        + "; ".join(
            f"≤{cut - 0.1:g} bits: {best_by[(ht, cut)][0]} ({best_by[(ht, cut)][1]:.1f} dB)"
            for cut in (4.6, 6.6, 9.1)
            if (ht, cut) in best_by
        )
        + "."
    )
    ctx.findings.append(
        (
            "Block formats",
            f"on the {tensor_text(ht)} tensor the best format per budget is "
            + "; ".join(
                f"{best_by[(ht, cut)][0]} at ≤{cut - 0.1:g} bits ({best_by[(ht, cut)][1]:.1f} dB)"
                for cut in (4.6, 6.6, 9.1)
                if (ht, cut) in best_by
            )
            + ".",
        )
    )
    if "heavy_tailed" in tensors:
        doc.paragraph(
            "The heavy-tailed tensor imitates LLM activations: Student-t (ν = 4) values, a "
            "log-normal scale per feature (σ = 0.5) and "
            f"{cfg['outlier_features']} outlier features {cfg['outlier_scale']:g}× larger. A "
            "per-tensor scale is set by the outliers, so per-tensor INT8 collapses there while "
            "fine-grained scales follow the local magnitude."
        )

    def draw(fig, rect):
        n = len(tensors)
        gs = _grid(fig, rect, 1, n, left=0.5, right=0.05, top=0.25, bottom=1.05, wspace=0.12)
        axes = []
        lo, hi = np.nanmin(q) - 2, np.nanmax(q) + 2
        for j, t in enumerate(tensors):
            ax = fig.add_subplot(gs[0, j], sharey=axes[0] if axes else None)
            axes.append(ax)
            for i, f in enumerate(fmts):
                ax.plot(
                    bpe[i],
                    q[i, j],
                    MARKERS[i % len(MARKERS)],
                    color=FAMILY_COLOURS[family_of(f)],
                    ms=5,
                    mfc="none" if i % 2 else None,
                    label=f,
                )
            ax.set_title(tensor_text(t))
            ax.set_xlabel("bits per element")
            ax.set_ylim(lo, hi)
            ax.set_xlim(3.5, 9.5)
            if j:
                ax.tick_params(labelleft=False)
        axes[0].set_ylabel("QSNR (dB)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="lower center",
            ncol=6,
            frameon=False,
            bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
            bbox_transform=fig.transFigure,
        )

    repro = [
        f"x = Context(recipe).tensor(t) for t in {tensors!r}: {rows}×{cols} float32, drawn with "
        f"default_rng(SeedSequence([{ctx.seed}, 7, index of t in (gaussian, laplace, "
        "heavy_tailed)]))",
        "block formats: fmt.quantize(x)  # blocks along the last axis",
        "scalar formats: s = max|x|/fmt.max; s * fmt.quantize(x/s, overflow='saturate')",
        "QSNR = 10·log10(Σx² / Σ(x − q)²)",
    ]
    doc.figure(
        draw,
        3.4,
        "QSNR against bits per element (scale bits included). Colours by family: MX (green), "
        "MX9/6/4 and BFP (purple), NVFP4 (orange), VS-Quant (brown), grouped INT4 (pink), "
        "per-tensor integer (blue) and FP8 (red). Seed "
        f"{ctx.seed}; {rows}×{cols} values per tensor.",
        "block formats QSNR",
        repro,
    )
    tab = pd.DataFrame(
        {
            "format": fmts,
            "bits/elem.": [f"{b:g}" for b in bpe],
            "scaling": [_scaling(f) for f in fmts],
        }
    )
    for j, t in enumerate(tensors):
        tab[f"{t} (dB)"] = [f"{v:.2f}" for v in q[:, j]]
    raw = pd.DataFrame({"format": fmts, "bits_per_element": bpe})
    for j, t in enumerate(tensors):
        raw[f"qsnr_db_{t}"] = q[:, j]
    label = doc.table(
        tab,
        "QSNR in dB of each format on each tensor (the figure's numbers).",
        "block table",
        repro,
    )
    ctx.save_csv(label, raw)


def _scaling(name: str) -> str:
    """How a format scales its values, in a few words (from the format object)."""
    from . import SCALED

    fmt = get_format(name)
    if not isinstance(fmt, SCALED):
        return "per tensor (absmax)"
    d = fmt.describe()
    if getattr(fmt, "vector_size", None):
        return f"vector {fmt.vector_size}, {fmt.scale_bits}-bit scale + γ/row"
    if getattr(fmt, "group_size", None):
        return f"group {fmt.group_size}, {fmt.scale_format.name} scale"
    size = d.get("block_size", "?")
    if d.get("micro_bits"):
        return f"block {size}, {d['micro_bits']}-bit µexp per {d['sub_block_size']}"
    return f"block {size}, {d.get('scale', 'shared exponent')}"


# -- range setting ------------------------------------------------------------------------
METHOD_TEXT = {
    "minmax": "min-max",
    "percentile": "percentile",
    "mse": "MSE search",
    "aciq": "ACIQ",
    "kl": "KL (TensorRT)",
    "octav": "OCTAV",
}


def range_setting(doc: Document, ctx: Context) -> None:
    from ..analysis import expected_mse
    from ..analysis.ranges import clip_for, mse_clip
    from ..analysis.sweep import parse_distribution

    cfg = ctx.recipe["range_setting"]
    spec, bitss, methods = cfg["distribution"], cfg["bits"], cfg["methods"]
    dist = parse_distribution(spec)
    sigma = dist.std()
    x = dist.rvs(size=cfg["calibration_samples"], random_state=ctx.rng(11))
    prior = dist.name if dist.name in ("laplace", "gaussian") else "laplace"
    rows, curves = [], {}
    for b in bitss:
        name = f"int{b}_narrow"
        fmt = get_format(name)
        top = float(fmt.max)
        c_opt, e_opt = mse_clip(name, dist)
        grid = np.geomspace(c_opt / 4, max(c_opt * 4, float(np.max(np.abs(x))) * 1.2), 80)
        curves[b] = (grid, np.array([expected_mse(name, dist, c / top) for c in grid]))
        for m in methods:
            opts = {"p": cfg["percentile"]} if m == "percentile" else {}
            if m == "aciq":
                opts = {"prior": prior}
            clip = clip_for(name, x, m, **opts)
            e = expected_mse(name, dist, clip / top)
            rows.append(
                dict(bits=b, format=name, method=m, clip=clip, mse=e, mse_opt=e_opt, clip_opt=c_opt)
            )
    raw = pd.DataFrame(rows)
    raw["excess_db"] = 10 * np.log10(raw.mse / raw.mse_opt)
    doc.heading("Range setting")
    worst = raw.loc[raw.excess_db.idxmax()]
    best_avg = raw.groupby("method").excess_db.mean().sort_values()
    doc.paragraph(
        f"Symmetric integer quantizers (int{{b}}_narrow, 2^b − 1 levels) on {spec}. Each "
        f"method sets its clip from the same {cfg['calibration_samples']:,} seeded samples "
        "(as a calibration set would); the MSE of that clip is then computed exactly under the "
        "pdf, and compared with the exact MSE-optimal clip. Mean excess over the optimum across "
        "bit widths: "
        + ", ".join(f"{METHOD_TEXT[m]} {v:.2f} dB" for m, v in best_avg.items())
        + f". Worst case: {METHOD_TEXT[worst.method]} at {worst.bits} bits, "
        f"{worst.excess_db:.1f} dB above the optimum."
    )
    top2 = list(best_avg.items())[:2]
    ctx.findings.append(
        (
            "Range setting",
            f"on {spec}, {METHOD_TEXT[top2[0][0]]} comes closest to the MSE-optimal clip (mean "
            f"excess {top2[0][1]:.2f} dB over {len(bitss)} bit widths)"
            + (f", then {METHOD_TEXT[top2[1][0]]} ({top2[1][1]:.2f} dB)" if len(top2) > 1 else "")
            + f"; the worst is {METHOD_TEXT[worst.method]} at {worst.bits} bits "
            f"(+{worst.excess_db:.1f} dB).",
        )
    )
    colours = dict(
        zip(
            methods,
            ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"],
            strict=False,
        )
    )

    def draw(fig, rect):
        n = len(bitss)
        ncols = min(4, n + 1)
        nrows = math.ceil((n + 1) / ncols)
        gs = _grid(fig, rect, nrows, ncols, left=0.75, right=0.1, top=0.25, bottom=0.45,
                   hspace=0.5, wspace=0.45)  # fmt: skip
        for k, b in enumerate(bitss):
            ax = fig.add_subplot(gs[k // ncols, k % ncols])
            g, e = curves[b]
            ax.plot(g / sigma, e, "k-", lw=0.9)
            sub = raw[raw.bits == b]
            for _, r in sub.iterrows():
                ax.plot(r["clip"] / sigma, r["mse"], MARKERS[methods.index(r["method"])],
                        color=colours[r["method"]], ms=4.5, mfc="none", mew=1.0)  # fmt: skip
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_minor_formatter(NullFormatter())
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
            ax.set_title(f"{b} bits")
            if k % ncols == 0:
                ax.set_ylabel("MSE")
            if k // ncols == nrows - 1 or k + ncols > n - 1:
                ax.set_xlabel("clip / σ")
            ax.tick_params(labelsize=6)
        ax = fig.add_subplot(gs[n // ncols, n % ncols])
        ax.axis("off")
        ax.plot([], [], "k-", label="exact MSE(clip)")
        for m in methods:
            ax.plot(
                [],
                [],
                MARKERS[methods.index(m)],
                color=colours[m],
                mfc="none",
                label=METHOD_TEXT[m],
            )
        ax.legend(loc="center", frameon=False, fontsize=7)

    repro = [
        f"x = parse_distribution({spec!r}).rvs(size={cfg['calibration_samples']}, "
        f"random_state=default_rng(SeedSequence([{ctx.seed}, 11])))",
        "clip = lowbit.analysis.ranges.clip_for(f'int{b}_narrow', x, method)  # percentile p="
        f"{cfg['percentile']:g}, aciq prior={prior!r}",
        "mse = lowbit.analysis.expected_mse(fmt, dist, clip / fmt.max); optimum: ranges.mse_clip(fmt, dist)",
    ]
    doc.figure(
        draw,
        2.0 + 1.6 * math.ceil((len(bitss) + 1) / min(4, len(bitss) + 1)),
        f"Exact MSE against the clip (in units of σ = {sigma:.3g}) for int{{b}}_narrow on "
        f"{spec}, b = {', '.join(map(str, bitss))}; markers: the clip each method picks from "
        f"{cfg['calibration_samples']:,} samples (seed {ctx.seed}), at its exact MSE.",
        "range setting MSE vs clip",
        repro,
    )
    piv = raw.pivot(index="bits", columns="method", values="excess_db")[methods]
    tab = pd.DataFrame({"bits": [str(b) for b in piv.index]})
    tab["optimal clip/σ"] = [f"{c / sigma:.2f}" for c in raw.groupby("bits").clip_opt.first()]
    tab["optimal MSE"] = [fmt_num(v) for v in raw.groupby("bits").mse_opt.first()]
    for m in methods:
        tab[f"{METHOD_TEXT[m]} (dB)"] = [f"{v:.2f}" for v in piv[m]]
    label = doc.table(
        tab,
        "MSE of each method's clip above the exact optimum, 10·log10(MSE / MSE_opt) in dB "
        "(0 = optimal), with the optimal clip and its MSE.",
        "range setting table",
        repro,
    )
    ctx.save_csv(label, raw)
