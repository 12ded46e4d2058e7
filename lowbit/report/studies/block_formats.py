"""Block formats: QSNR against bits per element of block, two-level and per-tensor formats
on seeded synthetic (or file) tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...formats import get_format
from ..context import TENSOR_TEXT, Context, tensor_text
from ..layout import FAMILY_COLOURS, MARKERS, family_of, grid
from ..pdf import Document

#: bits-per-element budgets of the text and key result: ≤ 4.5, ≤ 6.5, ≤ 9 bits
CUTS = (4.6, 6.6, 9.1)


def compute(ctx: Context) -> pd.DataFrame:
    """One row per format: ``bits_per_element`` and ``qsnr_db_<tensor>`` for each tensor
    (:meth:`Context.qsnr`: own scales or one absmax scale; ``lowbit.analysis.metrics.sqnr_db``)."""
    cfg = ctx.recipe["block_formats"]
    fmts = cfg["formats"]
    raw = pd.DataFrame(
        {"format": fmts, "bits_per_element": [float(get_format(f).bits_per_element) for f in fmts]}
    )
    for t in cfg["tensors"]:
        raw[f"qsnr_db_{t}"] = [ctx.qsnr(f, t) for f in fmts]
    return raw


def best_by_budget(raw: pd.DataFrame, tensor: str) -> dict[float, tuple[str, float]]:
    """Per budget cut c of :data:`CUTS`: the format of most QSNR on ``tensor`` among those of
    c − 2.5 < bits per element ≤ c, with its QSNR (first in recipe order on ties)."""
    q, bpe = raw[f"qsnr_db_{tensor}"].to_numpy(), raw.bits_per_element.to_numpy()
    out = {}
    for cut in CUTS:
        ok = [i for i in range(len(raw)) if bpe[i] <= cut and bpe[i] > cut - 2.5]
        if ok:
            i = max(ok, key=lambda i: q[i])
            out[cut] = (raw.format[i], q[i])
    return out


def finding(raw: pd.DataFrame, tensor: str) -> str:
    """The title page's key result: the best format per budget on ``tensor``."""
    best = best_by_budget(raw, tensor)
    return (
        f"on the {tensor_text(tensor)} tensor the best format per budget is "
        + "; ".join(f"{best[c][0]} at ≤{c - 0.1:g} bits ({best[c][1]:.1f} dB)" for c in best)
        + "."
    )


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


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: text, the QSNR figure (one panel per tensor) and its table."""
    cfg = ctx.recipe["block_formats"]
    fmts, tensors = cfg["formats"], cfg["tensors"]
    rows, cols = cfg["shape"]
    q = raw[[f"qsnr_db_{t}" for t in tensors]].to_numpy()
    bpe = raw.bits_per_element.tolist()
    doc.heading("Block formats")
    scalars = [f for f in fmts if not get_format(f).has_block_scales]
    ht = tensors[-1]
    best = best_by_budget(raw, ht)
    doc.paragraph(
        "Quantization SNR of block and two-level formats and per-tensor scalar baselines on "
        + _tensor_sources(tensors, rows, cols)
        + "; blocks run along the last axis (the reduction axis of a GEMM). "
        f"Scalar formats ({', '.join(scalars) or 'none here'}) use "
        "one per-tensor scale s = max|x| / max. Best per budget on the "
        f"{tensor_text(ht)} tensor: "
        + "; ".join(f"≤{c - 0.1:g} bits: {best[c][0]} ({best[c][1]:.1f} dB)" for c in best)
        + "."
    )
    ctx.findings.append(("Block formats", finding(raw, ht)))
    if "heavy_tailed" in tensors:
        doc.paragraph(
            "The heavy-tailed tensor imitates LLM activations: Student-t (ν = 4) values, a "
            "log-normal scale per feature (σ = 0.5) and "
            f"{cfg['outlier_features']} outlier features {cfg['outlier_scale']:g}× larger. A "
            "per-tensor scale is set by the outliers, so per-tensor INT8 collapses there while "
            "fine-grained scales follow the local magnitude."
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
        lambda fig, rect: _draw(fig, rect, fmts, tensors, bpe, q),
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
    label = doc.table(
        tab,
        "QSNR in dB of each format on each tensor (the figure's numbers).",
        "block table",
        repro,
    )
    ctx.save_csv(label, raw)


def _draw(
    fig: Any,
    rect: tuple[float, float, float, float],
    fmts: list[str],
    tensors: list[str],
    bpe: list[float],
    q: np.ndarray,
) -> None:
    gs = grid(fig, rect, 1, len(tensors), left=0.5, right=0.05, top=0.25, bottom=1.05,
              wspace=0.12)  # fmt: skip
    axes: list[Any] = []
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


def _scaling(name: str) -> str:
    """How a format scales its values, in a few words (from the format object)."""
    fmt = get_format(name)
    if not fmt.has_block_scales:
        return "per tensor (absmax)"
    d = fmt.describe()
    if fmt.family == "vs_quant":
        return f"vector {fmt.block_size}, {fmt.scale_bits}-bit scale + γ/row"
    if fmt.family == "group_scaled":
        return f"group {fmt.block_size}, {fmt.scale_format.name} scale"
    size = d.get("block_size", "?")
    if d.get("micro_bits"):
        return f"block {size}, {d['micro_bits']}-bit µexp per {d['sub_block_size']}"
    return f"block {size}, {d.get('scale', 'shared exponent')}"
