"""Energy per MAC on the [hardware] array by component (multiplier, reduction, accumulator,
registers, SRAM, DRAM), outputs in a stated format, scale bits counted, measured activity,
and which rankings survive a one-at-a-time sensitivity sweep."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..context import Context
from ..layout import grid, stacked_barh
from ..pdf import Document
from .hardware import COMPONENT_COLOURS

#: energy components in report order (lowbit.hwmodel.array.COMPONENTS)
ENERGY_COMPONENTS = ("multiplier", "reduction", "accumulator", "registers", "sram", "dram")


def _technology(hw: dict[str, Any], cfg: dict[str, Any]) -> Any:
    from ...hwmodel import Technology

    return Technology(hw["node_nm"], sram=cfg["sram"], dram=cfg["dram"])


def _configs(cfg: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f, f, cfg["accumulator"]) for f in cfg["formats"]]


def energy_table(hw: dict[str, Any], cfg: dict[str, Any], seed: int) -> pd.DataFrame:
    """One row per format of ``cfg`` (an [energy] table) on the [hardware] ``hw`` array, GEMM,
    node and lanes: pJ per MAC by component (``array_cost(...).pj_per_mac()``), memory share,
    bits per element with scales, the measured activity and its 95 % interval, feasibility.

    >>> hw = dict(gemm=[64, 256, 64], array=[16, 16], node_nm=45.0, lanes=32)
    >>> cfg = dict(formats=["int8", "mxfp4"], accumulator="fp32", output_format="bf16",
    ...            sram="1mb", dram="low", activity=0.5)
    >>> df = energy_table(hw, cfg, seed=0)
    >>> df.bits_per_element.tolist(), df.output_bits.tolist(), df.activity_source.tolist()
    ([8.0, 4.25], [16, 16], ['assumed 0.5', 'assumed 0.5'])
    """
    from ...formats import get_format
    from ...hwmodel import array_cost

    rows = []
    for w, a, acc in _configs(cfg):
        res = array_cost(
            w, a, acc, gemm=tuple(hw["gemm"]), array=tuple(hw["array"]),
            technology=_technology(hw, cfg), output_format=cfg["output_format"],
            activity=cfg["activity"], seed=seed, lanes=hw["lanes"],
        )  # fmt: skip
        per = res.pj_per_mac()
        act = res.activity
        ci = act.accumulator_ci95 or (np.nan, np.nan)
        rows.append(
            dict(
                format=w,
                accumulator=acc,
                feasible=bool(res.mac.feasible) and not (act.overflow or 0),
                bits_per_element=get_format(w).bits_per_element,
                **{f"pj_{c}": per[c] for c in ENERGY_COMPONENTS},
                pj_per_mac=per["total"],
                memory_share=(per["sram"] + per["dram"]) / per["total"],
                activity_acc=act.accumulator,
                activity_acc_lo=ci[0],
                activity_acc_hi=ci[1],
                activity_operands=act.operands,
                activity_source=act.source,
                activity_shape="×".join(map(str, act.shape)) if act.shape else "",
                output_bits=res.output_bits,
                schedule=res.traffic.schedule,
            )
        )
    return pd.DataFrame(rows)


def sensitivity(hw: dict[str, Any], cfg: dict[str, Any], seed: int) -> pd.DataFrame:
    """``energy_sensitivity`` of the [energy] configurations around the baseline."""
    from ...hwmodel import energy_sensitivity

    return energy_sensitivity(
        _configs(cfg),
        gemm=tuple(hw["gemm"]),
        base_array=tuple(hw["array"]),
        technology=_technology(hw, cfg),
        base_activity=cfg["activity"],
        output_format=cfg["output_format"],
        seed=seed,
        node=cfg["sensitivity_node_nm"],
        sram=cfg["sensitivity_sram"],
        dram=cfg["sensitivity_dram"],
        activity=cfg["sensitivity_activity"],
        k=cfg["sensitivity_k"],
        array=[tuple(a) for a in cfg["sensitivity_array"]],
        lanes=hw["lanes"],
    )


def compute(ctx: Context) -> pd.DataFrame:
    """:func:`energy_table`; ``attrs["sensitivity"]`` and ``attrs["flips"]`` hold the sweep
    (``energy_sensitivity``) and its reversed orders (``ranking_flips``) as records."""
    from ...hwmodel import ranking_flips

    hw, cfg = ctx.recipe["hardware"], ctx.recipe["energy"]
    raw = energy_table(hw, cfg, ctx.seed)
    sens = sensitivity(hw, cfg, ctx.seed)
    raw.attrs["sensitivity"] = sens.to_dict("records")
    raw.attrs["flips"] = ranking_flips(sens).to_dict("records")
    return raw


def finding(raw: pd.DataFrame, flips: pd.DataFrame) -> str:
    """The title page's key result: the cheapest and dearest feasible configuration, memory's
    share, and how many pairwise orders the sweep reverses.

    >>> raw = pd.DataFrame(dict(format=["a", "b"], feasible=[True, True],
    ...     pj_per_mac=[2.0, 1.0], memory_share=[0.5, 0.75]))
    >>> flips = pd.DataFrame(dict(parameter=["node"], cheaper=["b"], dearer=["a"], flips_at=[""]))
    >>> finding(raw, flips)
    'b 1.000 to a 2.000 pJ/MAC, memory 50%–75%; 0 of 1 orders reverse in the sensitivity sweep.'
    """
    ok = raw[raw.feasible].sort_values("pj_per_mac", kind="stable")
    rev = flips[flips.flips_at != ""]
    n_pairs = len(flips[["cheaper", "dearer"]].drop_duplicates())
    return (
        f"{ok.iloc[0].format} {ok.iloc[0].pj_per_mac:.3f} to {ok.iloc[-1].format} "
        f"{ok.iloc[-1].pj_per_mac:.3f} pJ/MAC, memory {ok.memory_share.min():.0%}–"
        f"{ok.memory_share.max():.0%}; {len(rev[['cheaper', 'dearer']].drop_duplicates())} of "
        f"{n_pairs} orders reverse in the sensitivity sweep."
    )


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: the stacked components, the table, and the sensitivity sweep."""
    hw, cfg = ctx.recipe["hardware"], ctx.recipe["energy"]
    tech = _technology(hw, cfg)
    m, k, n = hw["gemm"]
    r, c = hw["array"]
    sens = pd.DataFrame(raw.attrs["sensitivity"])
    flips = pd.DataFrame(raw.attrs["flips"], columns=["parameter", "cheaper", "dearer", "flips_at"])
    act = raw.iloc[0]
    measured = cfg["activity"] == "measured"
    act_text = (
        f"switching activity measured by the MAC simulator on a seeded {act.activity_shape} "
        f"GEMM of N(0, 1) operands (seed {ctx.seed}; accumulator and operand streams apart)"
        if measured
        else f"switching activity {cfg['activity']:g} (stated, not measured)"
    )
    doc.heading("Energy")
    doc.paragraph(
        f"Energy of a {m}×{k}×{n} GEMM on a {r}×{c} output-stationary array at "
        f"{hw['node_nm']:g} nm, every format on the same {hw['lanes']}-lane unit with "
        f"{cfg['accumulator'].upper()} accumulators (lowbit.hwmodel.array_cost). Gate counts: "
        "the van_baalen_2023 cost table, the one Technology's energy per gate is derived from "
        "(Horowitz's 8-bit multiplier over that table's count of it). Energy table: "
        f"{tech.table.name} ({tech.table.source}). Memory hierarchy: DRAM → one "
        f"{cfg['sram'].upper()} on-chip buffer ({tech.table.sram_pj_per_64b[tech.sram_bytes]:g} "
        f"pJ per 64-bit access) → the array; DRAM {cfg['dram']} "
        f"({tech.table.dram_pj_per_64b[cfg['dram']]:g} pJ per 64 bits); panels of the operand "
        "that fits stay resident in the buffer, the other is re-fetched. Outputs are written in "
        f"{cfg['output_format']} ({int(act.output_bits)} bits), not at the accumulator's "
        "width; operand traffic counts bits per element with the block scales; "
        f"{act_text}; flip-flops pay clock energy every cycle; no leakage. docs/hwmodel.md "
        "states every assumption."
    )
    ctx.findings.append(("Energy", finding(raw, flips)))
    repro = [
        f"lowbit.hwmodel.array_cost(f, f, {cfg['accumulator']!r}, gemm=({m}, {k}, {n}), "
        f"array=({r}, {c}), technology=Technology({hw['node_nm']:g}, sram={cfg['sram']!r}, "
        f"dram={cfg['dram']!r}), output_format={cfg['output_format']!r}, "
        f"activity={cfg['activity']!r}, seed={ctx.seed}, lanes={hw['lanes']}).pj_per_mac()",
        f"  for f in {cfg['formats']!r}",
    ]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, raw),
        1.2 + 0.17 * len(raw),
        f"Energy per MAC by component ({cfg['accumulator'].upper()} accumulators, "
        f"{hw['lanes']} lanes, {cfg['output_format']} outputs, {cfg['sram'].upper()} buffer, "
        f"DRAM {cfg['dram']}, {hw['node_nm']:g} nm). Infeasible configurations are written "
        "out, not drawn.",
        "energy by component",
        repro,
    )
    tab = pd.DataFrame(
        {
            "format": raw.format,
            "bits/\nelem": [f"{v:g}" for v in raw.bits_per_element],
            **{c: [f"{v:.3f}" for v in raw[f"pj_{c}"]] for c in ENERGY_COMPONENTS},
            "total": [
                f"{v:.3f}" + ("" if ok else " ✗")
                for v, ok in zip(raw.pj_per_mac, raw.feasible, strict=True)
            ],
            "memory": [f"{v:.0%}" for v in raw.memory_share],
            "activity acc (95 % CI)\n/ operands": [
                f"{a:.3f} ({lo:.3f}–{hi:.3f}) / {o:.3f}"
                for a, lo, hi, o in zip(
                    raw.activity_acc,
                    raw.activity_acc_lo,
                    raw.activity_acc_hi,
                    raw.activity_operands,
                    strict=True,
                )  # fmt: skip
            ],
        }
    )
    label = doc.table(
        tab,
        "pJ per MAC by component; 'memory' = (SRAM + DRAM) / total; ✗ = infeasible (not "
        "ranked). Buffer schedule: "
        + "; ".join(
            f"{', '.join(g.format)}: {sched}" for sched, g in raw.groupby("schedule", sort=False)
        )
        + ".",
        "energy table",
        repro,
    )
    ctx.save_csv(label, raw)
    _render_sensitivity(doc, ctx, raw, sens, flips)


def _render_sensitivity(
    doc: Document, ctx: Context, raw: pd.DataFrame, sens: pd.DataFrame, flips: pd.DataFrame
) -> None:
    points = list(dict.fromkeys(zip(sens.parameter, sens.value, strict=True)))
    tab = pd.DataFrame({"configuration": list(dict.fromkeys(sens.config))})
    for p, v in points:
        sub = sens[(sens.parameter == p) & (sens.value == v)].set_index("config")
        head = "baseline" if p == "baseline" else f"{p}\n{v}"
        tab[head] = [
            f"{sub.pj_per_mac[c]:.3f}" + ("" if sub.feasible[c] else " ✗")
            for c in tab.configuration
        ]
    rev = flips[flips.flips_at != ""]
    survive = flips[flips.flips_at == ""][["cheaper", "dearer"]].drop_duplicates()
    survive = survive[
        ~survive.apply(tuple, axis=1).isin(set(rev[["cheaper", "dearer"]].apply(tuple, axis=1)))
    ]
    text = (
        "; ".join(
            f"{x.cheaper} < {x.dearer} reverses at {x.parameter} {x.flips_at}"
            for x in rev.itertuples()
        )
        if len(rev)
        else "no pairwise order reverses under any single change"
    )
    label = doc.table(
        tab,
        "Sensitivity of pJ per MAC: one parameter changed at a time around the baseline "
        "(node in nm; SRAM buffer level; DRAM case; a stated activity in place of the measured "
        "one; K of the GEMM; array size). Orders that reverse: "
        + text
        + f". {len(survive)} pairwise orders survive every change.",
        "energy sensitivity",
        ["lowbit.hwmodel.energy_sensitivity(configs, ...); lowbit.hwmodel.ranking_flips(df)"],
    )
    ctx.save_csv(label, sens)


def _draw(fig: Any, rect: tuple[float, float, float, float], raw: pd.DataFrame) -> None:
    import matplotlib.patches

    gs = grid(fig, rect, 1, 1, left=1.2, right=0.5, top=0.1, bottom=0.75)
    ax = fig.add_subplot(gs[0, 0])
    y = np.arange(len(raw))[::-1]
    ok = raw.feasible.to_numpy()
    stacked_barh(ax, y, [raw[f"pj_{c}"].to_numpy() for c in ENERGY_COMPONENTS],
                 [COMPONENT_COLOURS[c] for c in ENERGY_COMPONENTS], ok, height=0.72)  # fmt: skip
    xmax = raw.pj_per_mac[raw.feasible].max() * 1.12
    for yi, good, e in zip(y, ok, raw.pj_per_mac, strict=True):
        if good:
            ax.text(e + xmax * 0.01, yi, f"{e:.3f}", va="center", fontsize=5.5)
        else:
            ax.text(xmax * 0.02, yi, "infeasible", va="center", fontsize=5.5, color="#777777")
    ax.set_xlim(0, xmax)
    ax.set_yticks(y)
    ax.set_yticklabels(raw.format, fontsize=6.5)
    ax.set_xlabel("pJ per MAC")
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.grid(axis="y", alpha=0)
    handles = [
        matplotlib.patches.Patch(color=COMPONENT_COLOURS[c], label=c) for c in ENERGY_COMPONENTS
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
               bbox_transform=fig.transFigure)  # fmt: skip
