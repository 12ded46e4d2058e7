"""Accuracy versus cost: the QSNR of each (format, accumulator) MAC against its gates and
its energy per MAC, and the Pareto fronts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from ..context import Context, tensor_text
from ..layout import FAMILY_COLOURS, FAMILY_TEXT, MARKERS, family_of, grid
from ..pdf import Document
from .hardware import ACC_TEXT, mac_table

#: the two fronts: by gates per MAC and by energy per MAC (column of the DataFrame)
COSTS = ("gates", "pj_per_mac")


def pareto_front(cost: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats (cost ≤ and gain ≥, one strictly), by cost.

    >>> pareto_front(np.array([1.0, 2.0, 3.0, 2.5]), np.array([1.0, 3.0, 2.0, 4.0])).tolist()
    [0, 1, 3]
    """
    order = np.lexsort((-gain, cost))
    front, best = [], -np.inf
    for i in order:
        if gain[i] > best:
            front.append(int(i))
            best = gain[i]
    return np.array(front, dtype=int)


def _hardware(ctx: Context) -> dict[str, Any]:
    # the [hardware] array and GEMM, with this study's formats and accumulators
    cfg = ctx.recipe["accuracy_vs_cost"]
    hw = dict(ctx.recipe["hardware"])
    hw.update(formats=cfg["formats"], accumulators=cfg["accumulators"])
    return hw


def compute(ctx: Context) -> pd.DataFrame:
    """:func:`~lowbit.report.studies.hardware.mac_table` of the study's MACs plus
    ``qsnr_db``, the format's QSNR on the recipe's tensor (:meth:`Context.qsnr`)."""
    raw = mac_table(_hardware(ctx))
    tensor = ctx.recipe["accuracy_vs_cost"]["tensor"]
    raw["qsnr_db"] = [ctx.qsnr(f, tensor) for f in raw.format]
    return raw


def fronts(raw: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row positions of the Pareto front of QSNR against each cost of :data:`COSTS`."""
    return {key: pareto_front(raw[key].to_numpy(), raw.qsnr_db.to_numpy()) for key in COSTS}


def finding(raw: pd.DataFrame) -> str:
    """The title page's key result: the front by gates, cheapest first."""
    fg = raw.iloc[fronts(raw)["gates"]]
    return (
        "Pareto front of QSNR vs gates/MAC: "
        + " → ".join(
            f"{x.format}/{x.accumulator} ({x.gates:.0f} gates, {x.qsnr_db:.1f} dB)"
            for x in fg.itertuples()
        )
        + "."
    )


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: text, the two fronts side by side and the table of front points."""
    cfg = ctx.recipe["accuracy_vs_cost"]
    hw = _hardware(ctx)
    tensor = cfg["tensor"]
    m, k, n = hw["gemm"]
    r, c = hw["array"]
    front = fronts(raw)
    doc.heading("Accuracy versus cost")
    fg = raw.iloc[front["gates"]]
    # front points are numbered in order of gates; the table names them
    number: dict[int, int] = {}
    for key in COSTS:
        for i in raw.iloc[front[key]].sort_values(key).index:
            number.setdefault(i, len(number) + 1)
    doc.paragraph(
        f"Each point is one (format, accumulator) MAC: its QSNR on the {tensor_text(tensor)} "
        f"tensor of Section 3 against its gates per MAC and its energy per MAC in the "
        f"{m}×{k}×{n} GEMM on the {r}×{c} array. The Pareto front (no other point is both "
        "cheaper and more accurate) by gates: "
        + " → ".join(f"{x.format}/{x.accumulator}" for x in fg.itertuples())
        + "."
    )
    ctx.findings.append(("Accuracy versus cost", finding(raw)))
    repro = [
        f"formats {cfg['formats']!r} × accumulators {cfg['accumulators']!r}",
        f"gates: lowbit.hwmodel.mac_cost(f, f, acc, terms={k}).total",
        f"pJ/MAC: array_cost(f, f, acc, gemm=({m}, {k}, {n}), array=({r}, {c})).energy_pj"
        "['total'] / macs",
        f"QSNR: the {tensor} tensor of the block-format study",
        "front: lowbit.report.studies.accuracy_vs_cost.pareto_front(cost, qsnr)",
    ]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, raw, cfg["accumulators"], front, number),
        3.9,
        f"QSNR on the {tensor_text(tensor)} tensor ({'×'.join(map(str, ctx.recipe['block_formats']['shape']))}, seed "
        f"{ctx.seed}) against gates per MAC (left) and energy per MAC (right; {hw['node_nm']:g} nm, "
        f"{r}×{c} array, {m}×{k}×{n} GEMM). Marker: accumulator; colour: format family; the "
        "black staircase is the Pareto front; its points are numbered as in the table below.",
        "Pareto front",
        repro,
    )
    idx = sorted(set(front["gates"]) | set(front["pj_per_mac"]), key=lambda i: number[i])
    fr = raw.iloc[idx]
    tab = pd.DataFrame(
        {
            "#": [str(number[i]) for i in fr.index],
            "format": fr.format,
            "accumulator": fr.accumulator,
            "gates/MAC": [f"{v:,.0f}" for v in fr.gates],
            "pJ/MAC": [f"{v:.3f}" for v in fr.pj_per_mac],
            "QSNR (dB)": [f"{v:.2f}" for v in fr.qsnr_db],
            "front": [
                " + ".join(
                    w
                    for w, k in (("gates", "gates"), ("energy", "pj_per_mac"))
                    if i in set(front[k].tolist())
                )
                for i in fr.index
            ],
        }
    )
    label = doc.table(
        tab,
        "The Pareto-optimal MACs (numbered as in the figure): on the front by gates per MAC, "
        "by energy per MAC, or both.",
        "Pareto table",
        repro,
    )
    ctx.save_csv(label, raw)


#: legend names of the format families
def _draw(
    fig: Any,
    rect: tuple[float, float, float, float],
    raw: pd.DataFrame,
    accs: list[str],
    front: dict[str, np.ndarray],
    number: dict[int, int],
) -> None:
    from matplotlib.lines import Line2D

    gs = grid(fig, rect, 1, 2, left=0.5, right=0.05, top=0.25, bottom=0.95, wspace=0.18)
    keys = [("gates", "gates per MAC"), ("pj_per_mac", "energy per MAC (pJ, incl. memory)")]
    acc_marker = {a: MARKERS[i] for i, a in enumerate(accs)}
    for j, (key, xlabel) in enumerate(keys):
        ax = fig.add_subplot(gs[0, j])
        for fam in dict.fromkeys(family_of(f) for f in raw.format):
            for acc in accs:
                sub = raw[(raw.format.map(family_of) == fam) & (raw.accumulator == acc)]
                ax.plot(sub[key], sub.qsnr_db, acc_marker[acc], color=FAMILY_COLOURS[fam],
                        mfc="none", ms=4.5, alpha=0.8)  # fmt: skip
        fr = raw.iloc[front[key]]
        ax.plot(fr[key], fr.qsnr_db, "k-", lw=0.8, drawstyle="steps-post", zorder=0)
        for i, x in enumerate(fr.sort_values(key).itertuples()):
            ax.annotate(
                str(number[x.Index]),
                (getattr(x, key), x.qsnr_db),
                xytext=(-8, 2) if i % 2 == 0 else (4, -8),  # alternate: neighbours differ
                textcoords="offset points",
                fontsize=6.5,
                weight="bold",
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        if j == 0:
            ax.set_ylabel("QSNR (dB)")
        ax.margins(x=0.15)
    handles = [Line2D([], [], ls="", marker=acc_marker[a], color="k", mfc="none",
                      label=f"{ACC_TEXT[a]} acc.") for a in accs]  # fmt: skip
    handles += [Line2D([], [], ls="", marker="s", color=FAMILY_COLOURS[f], label=FAMILY_TEXT[f])
                for f in dict.fromkeys(family_of(x) for x in raw.format)]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)),
               frameon=False, bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
               bbox_transform=fig.transFigure)  # fmt: skip
