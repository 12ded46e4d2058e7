"""Hardware cost: gates per MAC by group, the Yosys cross-check of the multipliers, and
energy per MAC and per GEMM on an array."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..context import Context
from ..layout import grid
from ..pdf import Document

GROUPS = ("mpy", "block", "alignadd", "normacc", "output")
GROUP_COLOURS = {
    "mpy": "#4c72b0",
    "block": "#8172b3",
    "alignadd": "#dd8452",
    "normacc": "#55a868",
    "output": "#c44e52",
}
ACC_TEXT = {"fixed": "fixed point (exact)", "fp16": "FP16", "bf16": "BF16", "fp32": "FP32"}
#: the MACs the text compares with INT8 into an exact fixed-point accumulator
RELATIVE_TO_INT8 = (
    ("fp8_e4m3fnuz", "fp16"),
    ("fp8_e4m3fnuz", "fp32"),
    ("mxfp4", "fp32"),
    ("vsq_int4", "fixed"),
)


def mac_table(cfg: dict[str, Any]) -> pd.DataFrame:
    """One row per (format, accumulator) of a [hardware]-like table: gates per MAC by group,
    the accumulator's width, area and energy (``lowbit.hwmodel.array_cost``)."""
    from ...hwmodel import Technology, array_cost

    rows = []
    for f in cfg["formats"]:
        for acc in cfg["accumulators"]:
            res = array_cost(
                f,
                f,
                acc,
                gemm=tuple(cfg["gemm"]),
                array=tuple(cfg["array"]),
                technology=Technology(cfg["node_nm"]),
            )
            mac = res.mac
            br = mac.breakdown()
            rows.append(
                dict(
                    format=f,
                    accumulator=acc,
                    gates=mac.total,
                    **{g: float(br.get(g, 0.0)) for g in GROUPS},
                    acc_width=mac.accumulator_width,
                    area_mm2=res.area_um2 / 1e6,
                    pj_per_mac_datapath=res.energy_pj["mac"] / res.macs,
                    pj_per_mac=res.energy_pj["total"] / res.macs,
                    gemm_uj=res.energy_pj["total"] / 1e6,
                    gemm_mac_uj=res.energy_pj["mac"] / 1e6,
                    gemm_pipeline_uj=res.energy_pj["pipeline"] / 1e6,
                    gemm_sram_uj=res.energy_pj["sram"] / 1e6,
                    gemm_dram_uj=res.energy_pj["dram"] / 1e6,
                    cycles=res.cycles,
                )
            )
    return pd.DataFrame(rows)


def compute(ctx: Context) -> pd.DataFrame:
    """:func:`mac_table` of the recipe's [hardware]; with ``yosys = "auto"`` and Yosys on
    PATH, ``df.attrs["yosys"]`` holds the rows of ``compare_multipliers()`` and
    ``df.attrs["yosys_version"]`` its version line."""
    from ...hwmodel.synth import compare_multipliers, yosys_available

    cfg = ctx.recipe["hardware"]
    raw = mac_table(cfg)
    if cfg["yosys"] == "auto" and yosys_available():
        import subprocess

        ver = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
        raw.attrs["yosys"] = list(compare_multipliers())  # plain rows: attrs are copied
        raw.attrs["yosys_version"] = ver
    return raw


def relative_to_int8(raw: pd.DataFrame) -> list[str]:
    """Gates of :data:`RELATIVE_TO_INT8`'s MACs over INT8 → fixed point, as text."""
    g = raw.set_index(["format", "accumulator"]).gates
    if ("int8", "fixed") not in g.index:
        return []
    base = g[("int8", "fixed")]
    return [
        f"{key[0]} → {ACC_TEXT[key[1]]} {g[key] / base:.2f}×"
        for key in RELATIVE_TO_INT8
        if key in g.index
    ]


def finding(raw: pd.DataFrame) -> str:
    """The title page's key result: gates relative to INT8, and the cheapest MAC."""
    facts = relative_to_int8(raw)
    g = raw.set_index(["format", "accumulator"]).gates
    cheapest = raw.loc[raw.gates.idxmin()]
    return (
        (
            f"relative to INT8 → fixed point ({g[('int8', 'fixed')]:.0f} gates/MAC): "
            + ", ".join(facts)
            + "; "
            if facts
            else ""
        )
        + f"cheapest MAC: {cheapest.format} → {ACC_TEXT[cheapest.accumulator]} "
        f"({cheapest.gates:.0f} gates/MAC)."
    )


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: gates by group, the Yosys table (or why not), energy and its table."""
    cfg = ctx.recipe["hardware"]
    fmts, accs = cfg["formats"], cfg["accumulators"]
    m, k, n = cfg["gemm"]
    r, c = cfg["array"]
    doc.heading("Hardware cost")
    facts = relative_to_int8(raw)
    g = raw.set_index(["format", "accumulator"]).gates
    doc.paragraph(
        "Gate counts of one MAC unit in 2-input gate equivalents (van Baalen et al. 2023, "
        "App. B: AND2 = OR2 = 1, XOR2 = MUX2 = HA = 3, FA = 7, FF = 6), weights and "
        f"activations in the same format, {cfg['terms']:,} products per output. Block formats "
        "are priced as a block dot-product unit, reported per MAC (per-block logic divided by "
        "the block size). Groups: mpy (multiplier), block (adder tree and scale logic), "
        "alignadd (alignment and addition), normacc (normalisation, rounding, accumulator "
        "register), output (per-output scale multiply)."
        + (
            f" Relative to INT8 with an exact fixed-point accumulator ({g[('int8', 'fixed')]:.0f} "
            "gates): " + ", ".join(facts) + "."
            if facts
            else ""
        )
    )
    ctx.findings.append(("Hardware cost", finding(raw)))
    repro = [
        f"lowbit.hwmodel.mac_cost(f, f, acc, terms={cfg['terms']}).breakdown()",
        f"  for f in {fmts!r}",
        f"  for acc in {accs!r}",
        f"lowbit hw --weights F --activations F --acc ACC --gemm {m}x{k}x{n} --array {r}x{c}",
    ]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, raw, fmts, accs),
        1.3 + 0.16 * len(fmts),
        "Gates per MAC, stacked by group, for each format (weights = activations) and "
        f"accumulator; K = {cfg['terms']:,}. 'fixed' is the exact (Kulisch) width for K "
        "products; for MX and MX9/6/4 that spans the whole E8M0 scale range (≈530–590 bits), "
        "which is why it costs more than FP32 there.",
        "gates per MAC",
        repro,
    )
    ctx.save_csv(f"Figure {doc.n_figures}", raw)
    _render_yosys(doc, ctx, raw)
    _render_energy(doc, ctx, raw)


def _render_yosys(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    # the Yosys cross-check of the multipliers
    cfg = ctx.recipe["hardware"]
    if "yosys" not in raw.attrs:
        why = "switched off in the recipe" if cfg["yosys"] == "off" else "yosys is not on PATH"
        doc.paragraph(
            f"Yosys cross-check omitted ({why}). Install the Debian package 'yosys' to have the "
            "report synthesise the multipliers and compare; docs/hwmodel.md holds the last "
            "comparison run by bench/bench_hw.py."
        )
        return
    ys = pd.DataFrame(raw.attrs["yosys"])
    tab = pd.DataFrame(
        {
            "multiplier": ys.format,
            "model (gates)": [f"{v:.0f}" for v in ys.model],
            "Yosys (gates)": [f"{v:.0f}" for v in ys.yosys],
            "model / Yosys": [f"{v:.2f}" for v in ys.ratio],
        }
    )
    label = doc.table(
        tab,
        f"The model's multiplier (mpy, NaN logic excluded) against {raw.attrs['yosys_version']} "
        "run now on the same Verilog (synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,"
        "ORNOT), XOR/XNOR weighted 3, other 2-input cells 1, inverters 0. Mean model/Yosys "
        f"{ys.ratio.mean():.2f} (range {ys.ratio.min():.2f}–{ys.ratio.max():.2f}).",
        "model vs Yosys",
        ["lowbit.hwmodel.synth.compare_multipliers()", ".venv/bin/python bench/bench_hw.py"],
    )
    ctx.save_csv(label, ys)


def _render_energy(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    # energy per MAC and per GEMM
    cfg = ctx.recipe["hardware"]
    fmts, accs = cfg["formats"], cfg["accumulators"]
    m, k, n = cfg["gemm"]
    r, c = cfg["array"]
    best = raw.loc[raw.pj_per_mac.idxmin()]
    doc.paragraph(
        f"Energy of a {m}×{k}×{n} GEMM on a {r}×{c} output-stationary array at "
        f"{cfg['node_nm']:g} nm (Horowitz 2014 energies scaled by the gate count; SRAM 10 pJ "
        "per 64-bit read, DRAM 1.3 nJ per 64 bits; lowbit.hwmodel.array_cost). The lowest "
        f"energy per MAC is {best.format} with a {ACC_TEXT[best.accumulator]} accumulator, "
        f"{best.pj_per_mac:.3f} pJ/MAC including memory."
    )
    tab = pd.DataFrame({"format": fmts})
    piv_g = raw.pivot(index="format", columns="accumulator", values="gates").loc[fmts]
    piv_e = raw.pivot(index="format", columns="accumulator", values="pj_per_mac").loc[fmts]
    piv_u = raw.pivot(index="format", columns="accumulator", values="gemm_uj").loc[fmts]
    for acc in accs:
        tab[f"gates/MAC\n{acc}"] = [f"{v:,.0f}" for v in piv_g[acc]]
    for acc in accs:
        tab[f"pJ/MAC\n{acc}"] = [f"{v:.3f}" for v in piv_e[acc]]
    for acc in accs:
        tab[f"GEMM mJ\n{acc}"] = [f"{v / 1e3:,.1f}" for v in piv_u[acc]]
    label = doc.table(
        tab,
        f"Gates per MAC, energy per MAC (datapath + pipeline registers + SRAM + DRAM) and "
        f"energy of the whole {m}×{k}×{n} GEMM on the {r}×{c} array, per accumulator.",
        "energy table",
        [
            f"lowbit.hwmodel.array_cost(f, f, acc, gemm=({m}, {k}, {n}), array=({r}, {c}), "
            f"technology=Technology({cfg['node_nm']:g}))"
        ],  # fmt: skip
    )
    ctx.save_csv(label, raw)


def _draw(
    fig: Any,
    rect: tuple[float, float, float, float],
    raw: pd.DataFrame,
    fmts: list[str],
    accs: list[str],
) -> None:
    import matplotlib.patches

    gs = grid(fig, rect, 1, len(accs), left=0.95, right=0.15, top=0.25, bottom=0.75,
              wspace=0.15)  # fmt: skip
    xmax = raw.gates.max() * 1.05
    axes: list[Any] = []
    for j, acc in enumerate(accs):
        ax = fig.add_subplot(gs[0, j], sharey=axes[0] if axes else None)
        axes.append(ax)
        sub = raw[raw.accumulator == acc].set_index("format").loc[fmts]
        y = np.arange(len(fmts))[::-1]
        left = np.zeros(len(fmts))
        for grp in GROUPS:
            vals = sub[grp].to_numpy()
            if not vals.any():
                continue
            ax.barh(y, vals, left=left, color=GROUP_COLOURS[grp], height=0.75,
                    label=grp if j == 0 else None)  # fmt: skip
            left += vals
        ax.set_title(f"{ACC_TEXT[acc]} accumulator")
        ax.set_xlim(0, xmax)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_xlabel("gates per MAC")
        ax.grid(axis="y", alpha=0)
        if j == 0:
            ax.set_yticks(y)
            ax.set_yticklabels(fmts, fontsize=6.5)
        else:
            ax.tick_params(labelleft=False)
    handles = [
        matplotlib.patches.Patch(color=GROUP_COLOURS[gr], label=gr)
        for gr in GROUPS
        if raw[gr].any()
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
               bbox_transform=fig.transFigure)  # fmt: skip
