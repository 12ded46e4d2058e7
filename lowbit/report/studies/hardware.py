"""Hardware cost on like-for-like units: every format priced on one unit (equal lanes, equal
accumulator, equal K), gates per MAC by component, critical path and area at one clock,
weight-only and mixed deployments, multi-format datapaths, the van Baalen et al. 2023 Fig. 3
reproduction, and whole units synthesised with Yosys beside the model."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator, NullLocator

from ..context import Context
from ..layout import grid, stacked_barh
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


#: what each cost table of lowbit.report.recipe.cost_tables is, for captions
COST_TABLE_TEXT = {
    "van_baalen_2023": "the App. B primitive costs of van Baalen et al. 2023, which reproduce "
    "their Fig. 3",
    "synth_calibrated": "fitted to whole MAC units synthesised with Yosys and checked against "
    "them, lowbit.hwmodel.SYNTH_CALIBRATED",
}


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
    from ..recipe import cost_tables

    costs = _costs(cfg)
    tables = cost_tables()
    rows = []
    for acc in cfg["accumulators"]:
        comp = compare_units(cfg["formats"], acc, cfg["lanes"], cfg["terms"], costs=costs)
        macs = list(comp.rows.values())
        # every table's totals on the same units, so the page can say where they disagree
        other = {
            name: [m.total for m in compare_units(cfg["formats"], acc, cfg["lanes"],
                                                  cfg["terms"], costs=t).rows.values()]
            for name, t in tables.items()
        }  # fmt: skip
        ok = [m for m in macs if m.feasible]
        depth = cfg["stage_depth"] or None
        piped = dict(zip(map(id, ok), equal_clock(ok, depth), strict=True)) if ok else {}
        for i, (f, mac) in enumerate(zip(cfg["formats"], macs, strict=True)):
            p = piped.get(id(mac))
            rows.append(
                dict(
                    format=f,
                    accumulator=acc,
                    lanes=cfg["lanes"],
                    cost_table=cfg["cost_table"],
                    **mac_row(mac, costs),
                    **{f"gates_{name}": v[i] for name, v in other.items()},
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


def table_disagreements(raw: pd.DataFrame) -> pd.DataFrame:
    """Pairs of feasible formats at one accumulator of a :func:`like_for_like` frame that the
    cost tables (its ``gates_<table>`` columns) order differently: ``accumulator``,
    ``cheaper`` and ``dearer`` under the frame's own table, and ``gates_<table>`` as
    "a / b" (cheaper / dearer) per table.

    >>> cfg = dict(formats=["nvfp4", "int4_g128", "int8"], accumulators=["fp32"], lanes=32,
    ...            terms=4096, stage_depth=0, cost_table="synth_calibrated")
    >>> d = table_disagreements(like_for_like(cfg))
    >>> d[["accumulator", "cheaper", "dearer"]].values.tolist()
    [['fp32', 'nvfp4', 'int4_g128']]
    """
    tables = [c[len("gates_") :] for c in raw.columns if c.startswith("gates_")]
    tables = [t for t in tables if t not in COMPONENTS]
    rows = []
    for acc, g in raw[raw.feasible].groupby("accumulator", sort=False):
        g = g.sort_values("gates", kind="stable")
        for i, j in itertools.combinations(range(len(g)), 2):
            a, b = g.iloc[i], g.iloc[j]
            signs = {np.sign(a[f"gates_{t}"] - b[f"gates_{t}"]) for t in tables}
            if len(signs) > 1:
                rows.append(
                    dict(
                        accumulator=acc,
                        cheaper=a.format,
                        dearer=b.format,
                        **{f"gates_{t}": f"{a[f'gates_{t}']:.0f} / {b[f'gates_{t}']:.0f}"
                           for t in tables},
                    )
                )  # fmt: skip
    return pd.DataFrame(rows, columns=["accumulator", "cheaper", "dearer",
                                       *(f"gates_{t}" for t in tables)])  # fmt: skip


def synth_lanes(fmt: str, lanes: int) -> int:
    """Lanes of a synthesised unit: a block format's block size (its unit), else ``lanes``.

    >>> synth_lanes("mxfp4", 1), synth_lanes("nvfp4", 1), synth_lanes("int8", 4)
    (32, 16, 4)
    """
    from ...formats import get_format
    from ...hwmodel.block import block_spec

    spec = block_spec(get_format(fmt))
    return spec.k if spec else lanes


def synth_configs(cfg: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """The (weight, activation, accumulator, lanes) units of ``cfg["synth_units"]``: "all"
    is ``lowbit.hwmodel.synth.all_configs()`` (the issue-13 grid and the report's block
    units); [format, accumulator] entries take ``synth_lanes`` (a block format its block
    size), [format, accumulator, lanes] entries their own lanes.

    >>> synth_configs(dict(synth_units=[["int8", "fixed"], ["mxfp4", "fp32"],
    ...                                 ["int8", "fp32", 32]], synth_lanes=1))
    [('int8', 'int8', 'fixed', 1), ('mxfp4', 'mxfp4', 'fp32', 32), ('int8', 'int8', 'fp32', 32)]
    >>> len(synth_configs(dict(synth_units="all", synth_lanes=1)))
    71
    """
    from ...hwmodel import synth

    if cfg["synth_units"] == "all":
        return [tuple(c) for c in synth.all_configs()]
    return [
        (u[0], u[0], u[1], u[2] if len(u) == 3 else synth_lanes(u[0], cfg["synth_lanes"]))
        for u in cfg["synth_units"]
    ]


def synth_table(cfg: dict[str, Any]) -> pd.DataFrame | None:
    """Model beside synthesis for :func:`synth_configs`: ``lowbit.hwmodel.synth.
    synthesis_table`` with every cost table of the recipe (columns ``gates_<table>``,
    ``ratio_<table>`` = model/synthesis, ``registers_<table>``, ``depth_<table>``) and a
    ``source`` column. ``yosys = "data"`` reads the committed Yosys results (no synthesis
    runs; units not in the data are left out, listed in ``attrs["missing"]``); ``"live"``
    synthesises those units (when a Yosys runs here); ``"off"``: None.

    >>> df = synth_table(dict(yosys="data", synth_units=[["int8", "fixed"], ["int8", "bf16"]],
    ...                       synth_lanes=1))
    >>> df.source.tolist(), df.attrs["missing"], df.attrs["yosys"]
    (['data'], [('int8', 'int8', 'bf16', 1)], 'Yosys 0.70')
    >>> synth_table(dict(yosys="off")) is None
    True
    """
    from ...hwmodel import synth
    from ...hwmodel.synth.table import DATA, stale_rows
    from ..recipe import cost_tables

    if cfg["yosys"] == "off":
        return None
    configs = synth_configs(cfg)
    data = synth.load_data()
    stale = set(stale_rows())
    fresh = {tuple(r["config"]) for r in data["rows"]} - {
        tuple(r["config"]) for r in data["rows"] if "|".join(map(str, r["config"])) in stale
    }
    live = cfg["yosys"] == "live" and synth.yosys_available()
    df = synth.synthesis_table(configs, tables=cost_tables(), live=live)
    if df.empty:
        df = pd.DataFrame(columns=["weight", "activation", "accumulator", "lanes"])
    keys = list(zip(df.weight, df.activation, df.accumulator, df.lanes, strict=True))
    df["source"] = ["data" if k in fresh else "live" for k in keys]
    df.attrs["missing"] = [c for c in configs if c not in set(keys)]
    df.attrs["yosys"] = data["yosys"].split(" (")[0] or "none"
    df.attrs["terms"] = data["terms"]
    df.attrs["data"] = DATA.relative_to(DATA.parents[3]).as_posix()
    df.attrs["live_yosys"] = synth.yosys_version().split(" (")[0] if live else ""
    return df


def agreement(sy: pd.DataFrame, tol: float = 0.15) -> dict[str, dict[str, Any]]:
    """Per cost table of a :func:`synth_table` (its ``ratio_<table>`` columns): model/synthesis
    ``lo``–``hi``, the units outside ±``tol`` (``outside``: (unit, ratio − 1)), depth
    model/synthesis ``depth_lo``–``depth_hi``, the INT8-vs-FP8 comparisons at equal
    accumulator and lanes it orders as synthesis (``int8_fp8``: agreed, total, the ones it
    does not as (fp8, accumulator, lanes, synthesis FP8/INT8)), and ``flips``: every pair of
    units at one accumulator and lane count it orders unlike synthesis
    (``lowbit.hwmodel.synth.table.order_flips``).

    >>> sy = synth_table(dict(yosys="data", synth_units=[["int8", "fixed"],
    ...                       ["fp8_e4m3fnuz", "fixed"]], synth_lanes=1))
    >>> a = agreement(sy)["synth_calibrated"]
    >>> a["int8_fp8"][:2], a["outside"]
    ((1, 1), [])
    """
    from ...hwmodel.synth.table import order_flips

    tables = [c[len("ratio_") :] for c in sy.columns if c.startswith("ratio_")]
    out = {}
    for t in tables:
        r, d = sy[f"ratio_{t}"], sy[f"depth_{t}"] / sy.depth_synth
        bad = sy[(r - 1).abs() > tol]
        cmp = _int8_vs_fp8(sy, t)
        out[t] = dict(
            lo=float(r.min()),
            hi=float(r.max()),
            outside=[(_unit(u), float(u[f"ratio_{t}"] - 1)) for _, u in bad.iterrows()],
            depth_lo=float(d.min()),
            depth_hi=float(d.max()),
            int8_fp8=(sum(c[-1] for c in cmp), len(cmp), [c[:4] for c in cmp if not c[-1]]),
            flips=order_flips(sy, t),
        )
    return out


def _int8_vs_fp8(sy: pd.DataFrame, t: str) -> list[tuple]:
    # (fp8, accumulator, lanes, synthesis FP8/INT8, table orders the pair as synthesis)
    out = []
    for (acc, lanes), g in sy.groupby(["accumulator", "lanes"], sort=False):
        i8 = g[g.weight == "int8"]
        for _, f8 in g[g.weight.str.startswith("fp8_")].iterrows():
            if i8.empty:
                continue
            q = f8.gates_synth / i8.gates_synth.iloc[0]
            qm = f8[f"gates_{t}"] / i8[f"gates_{t}"].iloc[0]
            out.append((f8.weight, acc, int(lanes), float(q), bool((qm > 1) == (q > 1))))
    return out


def _acc_short(acc: str) -> str:
    return "fixed" if acc == "fixed" else acc.upper()


def _lanes(n: int) -> str:
    return f"{n} lane{'s' if n > 1 else ''}"


def _unit(u: Any) -> str:
    pair = u.weight if u.weight == u.activation else f"{u.weight} × {u.activation}"
    return f"{pair} → {_acc_short(u.accumulator)}, {_lanes(u.lanes)}"


def synth_statement(sy: pd.DataFrame, tol: float = 0.15) -> list[str]:
    """What :func:`agreement` finds, for the page: synthesis's own FP8-E4M3/INT8 ratios, then
    one sentence per cost table.

    >>> sy = synth_table(dict(yosys="data", synth_units=[["int8", "fixed"],
    ...                       ["fp8_e4m3fnuz", "fixed"]], synth_lanes=1))
    >>> print(synth_statement(sy)[0])
    Synthesis: fp8_e4m3fnuz/INT8 gates = 1.18 (fixed) at 1 lane.
    """
    out = []
    tables = agreement(sy, tol)
    e4 = [c for c in _int8_vs_fp8(sy, next(iter(tables))) if "e4m3" in c[0]] if tables else []
    if e4:
        by_lanes: dict[int, list[str]] = {}
        for _, acc, n, q, _ok in e4:
            by_lanes.setdefault(n, []).append(f"{q:.2f} ({_acc_short(acc)})")
        out.append(
            f"Synthesis: {e4[0][0]}/INT8 gates = "
            + "; ".join(f"{', '.join(v)} at {_lanes(n)}" for n, v in by_lanes.items())
            + "."
        )
    for t, a in tables.items():
        n, (ok, tot, miss) = len(sy), a["int8_fp8"]
        bad = a["outside"]
        said = (
            " (outside: " + ", ".join(f"{u} {e:+.1%}" for u, e in bad) + ")"
            if 0 < len(bad) <= 4
            else ""
        )
        cmp = (
            f"orders INT8 vs FP8 as synthesis in {ok} of {tot} comparisons at equal accumulator "
            "and lanes"
            + (
                " (not: "
                + "; ".join(f"{f}, {_acc_short(acc)}, {_lanes(ln)}: synthesis FP8/INT8 {q:.2f}"
                            for f, acc, ln, q in miss)
                + ")"
                if miss
                else ""
            )
            if tot
            else "has no INT8-vs-FP8 pair here"
        )  # fmt: skip
        fl = a["flips"]
        gap = max((abs(r - 1) for *_, r in fl), default=0.0)
        out.append(
            f"{t}: model/synthesis {a['lo']:.2f}–{a['hi']:.2f}, {n - len(bad)} of {n} units "
            f"within ±{tol:.0%}{said}; depth {a['depth_lo']:.2f}–{a['depth_hi']:.2f}× "
            f"synthesis; {cmp}; {len(fl)} pair{'s' if len(fl) != 1 else ''} of units at one "
            "accumulator and lane count ordered unlike synthesis"
            + (f" (synthesis has each pair within {gap:.0%})" if fl else "")
            + "."
        )
    return out


def compute(ctx: Context) -> pd.DataFrame:
    """:func:`like_for_like` of the recipe's [hardware]; ``attrs`` hold the other tables as
    plain records: ``deployments``, ``multi_format``, ``van_baalen``, and ``synth`` (with its
    ``synth_meta``: data file, Yosys version, units left out) unless ``yosys = "off"``."""
    cfg = ctx.recipe["hardware"]
    raw = like_for_like(cfg)
    raw.attrs["deployments"] = deployment_table(cfg).to_dict("records")
    raw.attrs["multi_format"] = multi_format_table(cfg).to_dict("records")
    raw.attrs["van_baalen"] = van_baalen_table(cfg).to_dict("records")
    syn = synth_table(cfg)
    if syn is not None:
        raw.attrs["synth"] = syn.to_dict("records")
        raw.attrs["synth_meta"] = dict(syn.attrs)
    return raw


def ranked(raw: pd.DataFrame, acc: str) -> pd.DataFrame:
    """Feasible rows of one accumulator, cheapest first (infeasible ones are never ranked)."""
    sub = raw[(raw.accumulator == acc) & raw.feasible]
    return sub.sort_values("gates", kind="stable")


def finding(raw: pd.DataFrame, tol: float = 0.15) -> str:
    """The title page's key result: the like-for-like ranking at the last accumulator with a
    feasible row (and its cost table), the block-scale overhead pairs, how many configurations
    are infeasible, and how many synthesised units that table prices within ±``tol``."""
    accs = [a for a in dict.fromkeys(raw.accumulator) if raw[(raw.accumulator == a)].feasible.any()]
    acc = "fp32" if "fp32" in accs else accs[-1]
    rk = ranked(raw, acc)
    g = rk.set_index("format").gates
    lanes = int(raw.lanes.iloc[0])
    table = raw.cost_table.iloc[0]
    pairs = [(b, s) for b, s in (("mxint8", "int8"), ("mxfp8_e4m3", "fp8_e4m3fn"),
                                 ("mxfp4", "fp4_e2m1fn")) if b in g and s in g]  # fmt: skip
    ratios = [g[b] / g[s] for b, s in pairs]
    bad = int((~raw.feasible).sum())
    sy = pd.DataFrame(raw.attrs.get("synth", []))
    near = (
        f"; the {table} model is within ±{tol:.0%} of synthesis on "
        f"{int(((sy[f'ratio_{table}'] - 1).abs() <= tol).sum())} of {len(sy)} units"
        if len(sy)
        else ""
    )
    return (
        f"equal {lanes}-lane units, {_acc_label(acc)} accumulators: {rk.iloc[0].format} "
        f"{rk.iloc[0].gates:.0f} to {rk.iloc[-1].format} {rk.iloc[-1].gates:.0f} gates/MAC "
        f"({table} cost table)"
        + (
            f"; a block scale costs ×{min(ratios):.2f}–{max(ratios):.2f} "
            f"({', '.join(f'{b}/{s}' for b, s in pairs)})"
            if pairs
            else ""
        )
        + f"; {bad} of {len(raw)} configurations infeasible, not ranked"
        + near
        + "."
    )


def disagreement_text(raw: pd.DataFrame) -> str:
    """Where the cost tables order the like-for-like formats differently, and which one the
    figure uses (:func:`table_disagreements`)."""
    d = table_disagreements(raw)
    table = raw.cost_table.iloc[0]
    tables = [c[len("gates_") :] for c in d.columns if c.startswith("gates_")]
    if d.empty:
        return (
            f"The cost tables ({', '.join(tables)}) order every pair of feasible formats at "
            f"each accumulator the same way; the figure uses {table}."
        )
    said = "; ".join(
        f"{r.cheaper} vs {r.dearer} with {_acc_label(r.accumulator)} ("
        + ", ".join(f"{t} {r[f'gates_{t}']}" for t in tables)
        + ")"
        for _, r in d.iterrows()
    )
    return (
        f"The cost tables order {len(d)} pair{'s' if len(d) > 1 else ''} of feasible formats "
        f"differently (gates/MAC of each, in that order): {said}. The figure and its table use "
        f"{table}."
    )


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: like-for-like figure and table, deployments, multi-format datapaths,
    the van Baalen reproduction and the model beside synthesis."""
    cfg = ctx.recipe["hardware"]
    fmts, accs, lanes, k = cfg["formats"], cfg["accumulators"], cfg["lanes"], cfg["terms"]
    table = cfg["cost_table"]
    doc.heading("Hardware cost")
    all_bad = [a for a in accs if not raw[raw.accumulator == a].feasible.any()]
    shown = [a for a in accs if a not in all_bad]
    doc.paragraph(
        f"Every format (weights = activations) is priced on the same unit: a {lanes}-lane "
        f"dot-product unit (exact adder tree, the block scale applied once per block) with the "
        f"same accumulator, K = {k:,} products per output, in 2-input gate equivalents of the "
        f"{table} cost table ({COST_TABLE_TEXT.get(table, 'recipe cost_table')}). A block "
        "format's own block size stays its scale "
        "granularity; a scalar format uses the same lanes without a scale, so the gap between "
        "them is the format, not the unit. Configurations that cannot compute K products "
        "(lowbit.hwmodel.unit.feasibility: an exact register over the E8M0 scale range, an "
        "accumulator that overflows at K) are marked infeasible and never ranked or drawn. "
        + disagreement_text(raw)
    )
    ctx.findings.append(("Hardware cost", finding(raw)))
    repro = [
        f"lowbit.hwmodel.compare_units({fmts!r}, acc, lanes={lanes}, terms={k}, "
        f"costs=<{table}>) for acc in {accs!r}",
        "components: lowbit.hwmodel.array.mac_components(mac)",
        f"lowbit hw -w F -a F --acc ACC --lanes {lanes}",
    ]
    if shown:
        doc.figure(
            lambda fig, rect: _draw(fig, rect, raw, fmts, shown),
            1.2 + 0.15 * len(fmts),
            f"Gates per MAC by component on equal {lanes}-lane units, K = {k:,}, "
            f"{table} cost table; one panel per accumulator. Infeasible "
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
    _render_deployments(doc, ctx, raw, cfg)
    _render_multi(doc, ctx, raw, cfg)
    _render_van_baalen(doc, ctx, raw, cfg)
    _render_synth(doc, ctx, raw, cfg)


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
        f"Gates per MAC and critical path (gate levels) on equal {cfg['lanes']}-lane units, "
        f"{cfg['cost_table']} cost table; "
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
        f"accumulator, K = {cfg['terms']:,}, {cfg['cost_table']} cost table: int4_g128 is "
        "INT4 with an FP16 scale per 128 "
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
        f"Multi-format datapaths, gates per MAC ({cfg['lanes']} lanes, FP32 accumulator, "
        f"{cfg['cost_table']} cost table): one "
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
        + f". The like-for-like figure, its table, the deployments and the multi-format units "
        f"use {cfg['cost_table']} (recipe key cost_table); the model beside synthesis shows "
        "every table.",
        "van Baalen Fig. 3",
        ["lowbit.hwmodel.mac_cost(f, f, acc, 4096, costs=lowbit.hwmodel.VAN_BAALEN_2023)"],
    )
    ctx.save_csv(label, vb)


def _render_synth(doc: Document, ctx: Context, raw: pd.DataFrame, cfg: dict) -> None:
    if "synth" not in raw.attrs:
        doc.paragraph(
            'Model beside synthesis omitted (recipe [hardware] yosys = "off"); "data" '
            "reads the committed Yosys results of lowbit/hwmodel/data/synthesis.json."
        )
        return
    sy = pd.DataFrame(raw.attrs["synth"])
    meta = raw.attrs["synth_meta"]
    missing = [tuple(c) for c in meta["missing"]]
    left = (
        f" Left out, not in the data ({len(missing)}): "
        + ", ".join(f"{w} → {a} ({n} lane{'s' if n > 1 else ''})" for w, _, a, n in missing)
        + ' (yosys = "live" synthesises them when a Yosys runs).'
        if missing
        else ""
    )
    if sy.empty:
        doc.paragraph("Model beside synthesis: no unit of the recipe is in the data." + left)
        return
    doc.heading("Model beside synthesis", level=2)
    tables = [c[len("ratio_") :] for c in sy.columns if c.startswith("ratio_")]
    live = int((sy.source == "live").sum())
    src = (
        f"{meta['yosys']} results committed in {meta['data']} (K = {meta['terms']:,}), read "
        "without running Yosys; python bench/bench_hw.py --synthesis regenerates them"
        + (f"; {live} unit{'s' if live > 1 else ''} synthesised live by {meta['live_yosys']}"
           if live else "")
    )  # fmt: skip
    doc.paragraph(
        f"{len(sy)} whole MAC units (multipliers, alignment, adder tree, accumulator with "
        "normalisation and rounding, scale path), each format × itself, synthesised to 2-input "
        "cells weighted as the model's primitives (XOR/XNOR 3, other cells 1, inverters 0; "
        f"registers apart), beside the model with both cost tables: {src}. The like-for-like "
        f"figures above use {cfg['cost_table']}." + left
    )
    doc.bullets(synth_statement(sy))
    doc.figure(
        lambda fig, rect: _draw_synth(fig, rect, sy, tables, cfg["cost_table"]),
        2.5,
        "Model / synthesis per unit for "
        + " and ".join(tables)
        + ": combinational gates (left, against the synthesised gates per MAC) and "
        "critical-path depth in 2-input gate levels (right); shaded: ±15 %. Marker: lanes; "
        f"filled: {cfg['cost_table']}, the table of the like-for-like figure. "
        f"Synthesis: {src}.",
        "model vs synthesis",
        [
            "lowbit.hwmodel.synth.synthesis_table(configs, tables=lowbit.report.recipe."
            f"cost_tables(), live={cfg['yosys'] == 'live'})",
            "python bench/bench_hw.py --synthesis",
        ],
    )
    ctx.save_csv(f"Figure {doc.n_figures}", sy)
    short = {"van_baalen_2023": "vB", "synth_calibrated": "cal"}
    tab = pd.DataFrame(
        {
            "unit": [
                w if w == a else f"{w} × {a}" for w, a in zip(sy.weight, sy.activation, strict=True)
            ],
            "acc": sy.accumulator.map(_acc_short),
            "lanes": [f"{v}" for v in sy.lanes],
            "gates\nsynth": [f"{v:,.0f}" for v in sy.gates_synth],
            **{
                k: v
                for t in tables
                for k, v in (
                    (f"gates\n{short.get(t, t)}", [f"{x:,.0f}" for x in sy[f"gates_{t}"]]),
                    (f"{short.get(t, t)} /\nsynth", [f"{x:.2f}" for x in sy[f"ratio_{t}"]]),
                )
            },
            "regs\nsynth": [f"{v}" for v in sy.registers_synth],
            "depth\nsynth": [
                f"{d}" + (" (h)" if h else "")
                for d, h in zip(sy.depth_synth, sy.hierarchical, strict=True)
            ],
            **{f"depth\n{short.get(t, t)}": [f"{v}" for v in sy[f"depth_{t}"]] for t in tables},
        }
    )
    regs_equal = all((sy[f"registers_{t}"] == sy.registers_synth).all() for t in tables)
    label = doc.table(
        tab,
        "Model beside synthesis per unit (combinational gates per unit, registers in bits, "
        "depth in 2-input gate levels): "
        + ", ".join(f"{short.get(t, t)} = {t}" for t in tables)
        + f" cost table. Synthesis: {src}. (h): synthesised as lane + rest modules, depth an "
        "upper bound. "
        + (
            "The model's register bits equal synthesis on every unit."
            if regs_equal
            else "Register bits of the model differ from synthesis on some units (CSV)."
        ),
        "model vs synthesis table",
        right=[False, False] + [True] * (len(tab.columns) - 2),
        repro=["lowbit.hwmodel.synth.synthesis_table(live=False)", "lowbit hw -w F -a F --acc ACC "
         "--lanes N --synth"],
    )  # fmt: skip
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
        stacked_barh(ax, y, [sub[f"gates_{c}"].to_numpy() for c in COMPONENTS],
                     [COMPONENT_COLOURS[c] for c in COMPONENTS], ok)  # fmt: skip
        for yi, good, g in zip(y, ok, sub.gates, strict=True):
            if good:
                ax.text(g + xmax * 0.01, yi, f"{g:.0f}", va="center", fontsize=5.5)
            else:
                ax.text(xmax * 0.02, yi, "infeasible", va="center", fontsize=5.5,
                        color="#777777", style="italic")  # fmt: skip
        ax.set_title(f"{_acc_label(acc)} accumulator")
        ax.set_xlim(0, xmax)
        # ticks inside the limits only: one past them is laid out (off the page) all the same
        ax.set_xticks([t for t in MaxNLocator(4).tick_values(0, xmax) if t <= xmax])
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


def _draw_synth(
    fig: Any, rect: tuple[float, float, float, float], sy: pd.DataFrame, tables: list[str],
    main: str,
) -> None:  # fmt: skip
    gs = grid(fig, rect, 1, 2, left=0.55, right=0.1, top=0.1, bottom=0.75, wspace=0.3)
    colours = {"van_baalen_2023": "#dd8452", "synth_calibrated": "#4c72b0"}
    markers = {1: "o", 16: "^", 32: "s"}
    panels = (
        (sy.gates_synth / sy.lanes, "ratio_{}", "synthesised gates per MAC", True),
        (sy.depth_synth, "depth_{}", "synthesised depth (gate levels)", False),
    )
    for j, (x, col, xlabel, logx) in enumerate(panels):
        ax = fig.add_subplot(gs[0, j])
        ax.axhspan(0.85, 1.15, color="#999999", alpha=0.15, lw=0)
        ax.axhline(1.0, color="#555555", lw=0.6)
        for t in tables:
            y = sy[col.format(t)] / (1 if j == 0 else sy.depth_synth)
            for n, g in sy.groupby("lanes"):
                ax.scatter(x[g.index], y[g.index], s=9, marker=markers.get(int(n), "D"),
                           facecolor=colours.get(t, "#55a868") if t == main else "none",
                           edgecolor=colours.get(t, "#55a868"), lw=0.7)  # fmt: skip
        if j == 0:  # name the units the figure's own table prices outside the band
            out = sy[(sy[f"ratio_{main}"] - 1).abs() > 0.15] if f"ratio_{main}" in sy else sy[:0]
            for i in out.index[:4]:
                ax.annotate(f"{sy.weight[i]} → {_acc_short(sy.accumulator[i])}, "
                            f"{_lanes(sy.lanes[i])}", (x[i], sy[f"ratio_{main}"][i]),
                            fontsize=5.5, xytext=(-4, 2), textcoords="offset points",
                            ha="right")  # fmt: skip
        if logx:  # ticks only inside the data: a log axis' outside labels leave the page
            ax.set_xscale("log")
            ticks = [v for v in (10, 30, 100, 300, 1000, 3000, 10000) if x.min() <= v <= x.max()]
            ax.set_xticks(ticks, [f"{v:,}" for v in ticks])
            ax.xaxis.set_minor_locator(NullLocator())
        else:
            lo, hi = ax.get_xlim()
            ax.set_xticks([t for t in ax.get_xticks() if lo <= t <= hi])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("model / synthesis" + (" (gates)" if j == 0 else " (depth)"))
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="o", markersize=4, markeredgecolor=colours.get(t, "#55a868"),
               markerfacecolor=colours.get(t, "#55a868") if t == main else "none", label=t)
        for t in tables
    ] + [
        Line2D([], [], ls="", marker=markers.get(int(n), "D"), markersize=4, color="#555555",
               markerfacecolor="none", label=f"{n} lane{'s' if n > 1 else ''}")
        for n in sorted(set(sy.lanes))
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
               bbox_transform=fig.transFigure)  # fmt: skip


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
