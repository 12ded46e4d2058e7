"""Format atlas: the facts a designer looks up for each format, and their values on a log2
axis."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...formats import get_format, list_formats
from ..context import Context
from ..layout import FAMILY_COLOURS, family_of, grid
from ..pdf import Document
from ..tables import format_number, format_record


def _names(ctx: Context) -> list[str]:
    cfg = ctx.recipe["atlas"]
    return list_formats() if cfg["formats"] == "all" else cfg["formats"]


def compute(ctx: Context) -> pd.DataFrame:
    """One row per format: :func:`lowbit.report.format_record` plus bits per element."""
    recs = []
    for n in _names(ctx):
        fmt = get_format(n)
        r = format_record(fmt)
        r["bits_per_element"] = float(fmt.bits_per_element)
        recs.append(r)
    return pd.DataFrame(recs)


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The atlas section: a paragraph, the log2 value figure and the table."""
    cfg = ctx.recipe["atlas"]
    names = _names(ctx)
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
    ctx.findings.append(("Format atlas", finding(raw)))
    plot = cfg["plot"]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, plot),
        0.9 + 0.2 * len(plot),
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
    label = doc.table(
        _table(raw),
        f"The {len(names)} formats in registration order. 2^k marks exact powers of two; "
        "'—': no subnormals (integers: the grid step is 1). Bits/element includes the "
        "amortised scale bits of block and two-level formats.",
        "format atlas table",
        ["lowbit formats --csv formats.csv", "lowbit.report.format_record(name) for each name"],
    )
    ctx.save_csv(label, raw)


def finding(raw: pd.DataFrame) -> str:
    """The title page's key result: the FP8 variants' span of dynamic range."""
    fp8 = raw[raw.name.str.startswith("fp8")]
    if not len(fp8):
        return f"{len(raw)} formats."
    return (
        f"{len(raw)} formats; the FP8 variants span {fp8.dynamic_range_db.min():.1f}–"
        f"{fp8.dynamic_range_db.max():.1f} dB of dynamic range."
    )


def _draw(fig: Any, rect: tuple[float, float, float, float], plot: list[str]) -> None:
    from ...analysis import format_grid

    gs = grid(fig, rect, 1, 1, left=1.15, right=0.15, top=0.1, bottom=0.45)
    ax = fig.add_subplot(gs[0, 0])
    for i, n in enumerate(plot):
        fmt = get_format(n)
        y = len(plot) - 1 - i
        colour = FAMILY_COLOURS[family_of(n)]
        lo, hi = float(fmt.smallest_subnormal), float(fmt.max)
        if fmt.bits <= 8 and n in list_formats():
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


def _table(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
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
