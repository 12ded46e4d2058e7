"""Accuracy versus cost: the GEMM-output SQNR of each (operands, accumulator) configuration
through the bit-exact simulator, against its gates per MAC on an equal-lane unit and its
energy per MAC, with the seeds' intervals, the cost model's error band, and the Pareto
fronts of the feasible configurations only.

Accuracy: X (activations, M×K) and W (weights, K×N) drawn per seed, quantized by
:func:`lowbit.evaluation.quantize_operand` (scalar formats per token × per output channel,
the W8A8 standard of LLM.int8() and SmoothQuant; block formats with their blocks along K),
multiplied by :func:`lowbit.evaluation.gemm_error` with the unit's accumulator in blocks of
its lanes, SQNR against the float64 product.  Cost: :func:`lowbit.hwmodel.mac_cost` on one
unit of ``lanes`` lanes (like-for-like) and :func:`lowbit.hwmodel.array_cost` (outputs in
BF16, measured activity).  A configuration the model flags (``MacCost.feasible``) or whose
simulation overflows or gives a non-finite output in any seed is infeasible: listed, never
on a front.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

from ..context import Context, heavy_tailed, tensor_text
from ..layout import FAMILY_COLOURS, FAMILY_TEXT, MARKERS, family_of, grid
from ..pdf import Document
from .hardware import ACC_TEXT

#: the two fronts: by gates per MAC and by energy per MAC (column of the DataFrame)
COSTS = ("gates", "pj_per_mac")
#: the cost band stated when no measured model-vs-synthesis spread is available
DEFAULT_BAND = 0.20
#: the title page names the cheapest front point at or above this GEMM-output SQNR (dB)
TARGET_DB = 30.0
#: datapath energy components (the gate model's error applies to them, not to memory)
DATAPATH = ("multiplier", "reduction", "accumulator", "registers")
#: recipe cost table → its column tag in lowbit.hwmodel.synth.table.synthesis_table
_SYNTH_TAG = {"van_baalen_2023": "vb", "synth_calibrated": "cal"}


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


# -- configurations ------------------------------------------------------------------------
def _output_scales(x_spec: Any, w_spec: Any) -> tuple[str, ...]:
    """The per-output scales the unit applies after accumulation (priced by the model)."""
    out = []
    if w_spec.granularity == "per_channel":
        out.append("channel")
    if x_spec.granularity == "per_token":
        out.append("token")
    return tuple(out)


def configurations(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every (operands, accumulator) configuration of an [accuracy_vs_cost] table: each of
    ``formats`` × itself (scalar formats per token × per channel, block formats with their
    own blocks) and each of ``pairs`` (mixed deployments), × ``accumulators``.

    >>> [c["label"] for c in configurations(dict(formats=["int8", "mxfp4"],
    ...     pairs=[dict(x="fp16", w="int4_g128")], accumulators=["fp32"]))]
    ['int8', 'mxfp4', 'int4_g128×fp16']
    """
    from ...evaluation import parse_spec

    ops = []
    for f in cfg["formats"]:
        block = parse_spec(f).is_block
        x = f if block else f"{f}:per_token"
        w = f if block else f"{f}:per_channel"
        ops.append((f, x, w))
    for p in cfg.get("pairs", []):
        xs, ws = parse_spec(p["x"]), parse_spec(p["w"])
        ops.append((f"{ws.format.name}×{xs.format.name}", p["x"], p["w"]))
    out, seen = [], set()
    for label, x, w in ops:
        xs, ws = parse_spec(x), parse_spec(w)
        key = (xs.describe(), ws.describe())
        if key in seen:  # a pair equal to a format row (W8A8 is the int8 row)
            continue
        seen.add(key)
        for acc in cfg["accumulators"]:
            out.append(
                dict(
                    label=label,
                    x_spec=xs.describe(),
                    w_spec=ws.describe(),
                    weight=ws.format.name,
                    activation=xs.format.name,
                    family=family_of(ws.format.name),
                    output_scales=_output_scales(xs, ws),
                    accumulator=acc,
                )
            )
    return out


# -- cost ----------------------------------------------------------------------------------
def cost_band(cost_table: str) -> tuple[float, float, str]:
    """The model's relative cost error band (lo, hi factors) and what it rests on: the
    spread of model/synthesis gate ratios over the synthesised units
    (``lowbit.hwmodel.synth.table.synthesis_table``, committed data) normalised by their
    median — a unit the model prices at G synthesises, on that scale, to between
    G·median/max and G·median/min — or a stated ±20 % where no such table exists.

    >>> cost_band("no_such_table")
    (0.8, 1.2, 'stated ±20 %')
    """
    tag = _SYNTH_TAG.get(cost_table)
    try:
        from ...hwmodel.synth.table import synthesis_table

        t = synthesis_table(live=False) if tag else None
    except (ImportError, OSError, ValueError):
        t = None
    col = f"ratio_{tag}"
    if t is None or col not in getattr(t, "columns", ()) or len(t) < 2:
        return 1 - DEFAULT_BAND, 1 + DEFAULT_BAND, f"stated ±{DEFAULT_BAND:.0%}".replace("%", " %")
    r = t[col].to_numpy(dtype=float)
    med = float(np.median(r))
    return (
        med / float(r.max()),
        med / float(r.min()),
        f"model/synthesis spread over {len(r)} synthesised units ({cost_table})",
    )


def cost_rows(cfg: dict[str, Any], hw: dict[str, Any], en: dict[str, Any], seed: int) -> list:
    """Gates per MAC (``mac_cost`` on ``hw["lanes"]`` lanes, K = ``hw["terms"]``, the recipe's
    cost table) and energy per MAC (``array_cost`` on the [hardware] array and GEMM, outputs
    in the [energy] output format, its activity, SRAM and DRAM) of each configuration."""
    from ...hwmodel import Technology, array_cost, mac_cost
    from ..recipe import cost_tables

    costs = cost_tables()[hw["cost_table"]]
    tech = Technology(hw["node_nm"], sram=en["sram"], dram=en["dram"])
    rows = []
    for c in configurations(cfg):
        kw = dict(lanes=hw["lanes"], costs=costs, output_scales=c["output_scales"])
        mac = mac_cost(c["weight"], c["activation"], c["accumulator"], hw["terms"], **kw)
        res = array_cost(
            c["weight"], c["activation"], c["accumulator"], gemm=tuple(hw["gemm"]),
            array=tuple(hw["array"]), technology=tech, output_format=en["output_format"],
            activity=en["activity"], seed=seed, **kw,
        )  # fmt: skip
        per = res.pj_per_mac()
        rows.append(
            dict(
                c,
                output_scales="×".join(c["output_scales"]) or "-",
                gates=mac.total,
                pj_per_mac=per["total"],
                pj_datapath=sum(per[k] for k in DATAPATH),
                model_feasible=bool(mac.feasible),
                model_reason="; ".join(mac.warnings) if not mac.feasible else "",
            )
        )
    return rows


# -- accuracy ------------------------------------------------------------------------------
def operand_sources(ctx: Context, tensor: str) -> tuple[Any, Any]:
    """(X source, W source) for :func:`lowbit.evaluation.gemm_error`: W a weight-like
    N(0, 1); X the same Gaussian, or the block-format study's activation-like heavy-tailed
    tensor (its outlier features along K, where per-token scales cannot reach them)."""
    bf = ctx.recipe["block_formats"]

    def gaussian(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return rng.standard_normal(shape)

    def laplace(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return rng.laplace(size=shape)

    def activations(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return heavy_tailed(rng, *shape, bf["outlier_features"], bf["outlier_scale"])

    x = {"gaussian": gaussian, "laplace": laplace, "heavy_tailed": activations}[tensor]
    return x, gaussian


def _seeds(ctx: Context, cfg: dict[str, Any]) -> list[int]:
    return list(range(ctx.seed, ctx.seed + cfg["seeds"]))


def accuracy(ctx: Context, rows: list[dict[str, Any]], tensor: str) -> list[dict[str, Any]]:
    """GEMM-output SQNR over the seeds of each model-feasible configuration on ``tensor``
    (``gemm_error``: blocks of the unit's lanes, the recipe's outer-scale placement); the
    model-infeasible ones are not simulated (their reason is the model's)."""
    from ...evaluation import gemm_error

    cfg, hw = ctx.recipe["accuracy_vs_cost"], ctx.recipe["hardware"]
    x, w = operand_sources(ctx, tensor)
    out = []
    for r in rows:
        row = dict(r, tensor=tensor, seeds=cfg["seeds"], sqnr_seeds=())
        if not r["model_feasible"]:
            row |= dict(feasible=False, reason=f"model: {r['model_reason']}", sqnr_db=math.nan,
                        sqnr_db_ci=math.nan, nonfinite_frac=math.nan)  # fmt: skip
            out.append(row)
            continue
        t = gemm_error(
            x, w, r["x_spec"], r["w_spec"], tuple(cfg["shape"]), _seeds(ctx, cfg),
            accumulator=r["accumulator"], order="blocks", lanes=hw["lanes"],
            outer_scales=cfg["outer_scales"],
        )  # fmt: skip
        bad = t.rows[~t.rows.feasible]
        mean, half = t.value("sqnr_db")
        row |= dict(
            feasible=t.feasible,
            reason=""
            if t.feasible
            else f"simulation: {bad.reason.iloc[0]} (seed {bad.seed.iloc[0]})",
            sqnr_db=mean,
            sqnr_db_ci=half,
            nonfinite_frac=float(t.rows.nonfinite_frac.max()),
            sqnr_seeds=tuple(float(v) for v in t.rows.sqnr_db) if t.feasible else (),
        )
        out.append(row)
    return out


def compute(ctx: Context) -> pd.DataFrame:
    """One row per (configuration, tensor): specs, accumulator, ``gates``, ``pj_per_mac``
    and their band (``gates_lo``/``gates_hi``, ``pj_lo``/``pj_hi``), ``sqnr_db`` ±
    ``sqnr_db_ci`` (mean and 95 % t half-width over the seeds, per-seed values in
    ``sqnr_seeds``), ``feasible`` and ``reason``; ``front_gates`` / ``front_pj`` (front
    membership, feasible rows only) and ``inseparable_gates`` / ``inseparable_pj`` (the
    front points it cannot be told apart from).  ``attrs["band"]`` says what the cost band rests on."""
    cfg, hw, en = (ctx.recipe[k] for k in ("accuracy_vs_cost", "hardware", "energy"))
    costs = cost_rows(cfg, hw, en, ctx.seed)
    rows = [r for t in cfg["tensors"] for r in accuracy(ctx, costs, t)]
    raw = pd.DataFrame(rows)
    lo, hi, source = cost_band(hw["cost_table"])
    raw["gates_lo"], raw["gates_hi"] = raw.gates * lo, raw.gates * hi
    mem = raw.pj_per_mac - raw.pj_datapath
    raw["pj_lo"], raw["pj_hi"] = mem + raw.pj_datapath * lo, mem + raw.pj_datapath * hi
    raw.attrs["band"] = dict(lo=lo, hi=hi, source=source)
    return mark_fronts(raw)


# -- fronts --------------------------------------------------------------------------------
def front_of(raw: pd.DataFrame, tensor: str, key: str) -> list[int]:
    """Index labels of the Pareto front of SQNR against ``key`` (a column of :data:`COSTS`)
    on ``tensor``, among the feasible rows only (an infeasible row is never on a front)."""
    sub = raw[(raw.tensor == tensor) & raw.feasible]
    pos = pareto_front(sub[key].to_numpy(dtype=float), sub.sqnr_db.to_numpy(dtype=float))
    return [sub.index[i] for i in pos]


def separable(a: pd.Series, b: pd.Series, key: str) -> bool:
    """Whether two feasible points can be told apart: their cost bands (``<key>`` lo/hi)
    do not overlap, or their SQNRs differ beyond noise (paired seeds,
    :func:`lowbit.analysis.stats.within_noise`)."""
    from ...analysis.stats import within_noise

    lo, hi = ("gates_lo", "gates_hi") if key == "gates" else ("pj_lo", "pj_hi")
    overlap = a[lo] <= b[hi] and b[lo] <= a[hi]
    return not (overlap and within_noise(list(a.sqnr_seeds), list(b.sqnr_seeds)))


def mark_fronts(raw: pd.DataFrame) -> pd.DataFrame:
    """Add ``front_gates`` and ``front_pj`` (front membership) and, for a front point,
    ``inseparable_gates`` / ``inseparable_pj``: the names (:func:`name`, "; "-joined) of
    the other points of the same front it is not :func:`separable` from."""
    raw = raw.copy()
    for t in dict.fromkeys(raw.tensor):
        for key, tag in (("gates", "gates"), ("pj_per_mac", "pj")):
            if f"front_{tag}" not in raw:
                raw[f"front_{tag}"], raw[f"inseparable_{tag}"] = False, ""
            fr = front_of(raw, t, key)
            raw.loc[fr, f"front_{tag}"] = True
            for i in fr:
                near = [j for j in fr if j != i and not separable(raw.loc[i], raw.loc[j], key)]
                raw.at[i, f"inseparable_{tag}"] = "; ".join(name(raw.loc[j]) for j in near)
    return raw


def name(r: pd.Series) -> str:
    """How the page names a configuration: operands → accumulator."""
    return f"{r.label}→{r.accumulator}"


def finding(raw: pd.DataFrame, target_db: float = TARGET_DB) -> str:
    """The title page's key result, one line: the gates front of the last tensor (the
    activation-like one in the default recipe) from its cheapest to its most accurate point
    and the cheapest front point reaching ``target_db``, each with its SQNR interval; how
    many front points are not separable; how many configurations are infeasible."""
    t = list(dict.fromkeys(raw.tensor))[-1]
    fr = raw.loc[front_of(raw, t, "gates")]
    sub = raw[raw.tensor == t]
    mixed = int((fr.inseparable_gates != "").sum())

    def pt(r: pd.Series) -> str:
        return f"{name(r)} ({r.gates:.0f} gates, {r.sqnr_db:.1f} ± {r.sqnr_db_ci:.1f} dB)"

    hit = fr[fr.sqnr_db >= target_db]
    reach = f"; cheapest ≥ {target_db:g} dB: {pt(hit.iloc[0])}" if len(hit) else ""
    return (
        f"GEMM-output SQNR vs gates/MAC, {tensor_text(t)} X: {len(fr)}-point front from "
        f"{pt(fr.iloc[0])} to {pt(fr.iloc[-1])}{reach}; {mixed} not separable; "
        f"{int((~sub.feasible).sum())} of {len(sub)} configurations infeasible (never ranked)."
    )


# -- the page ------------------------------------------------------------------------------
def _numbers(raw: pd.DataFrame) -> dict[Any, int]:
    """Front points numbered per tensor, by gates then energy front, cheapest first."""
    number: dict[Any, int] = {}
    for t in dict.fromkeys(raw.tensor):
        n = 0
        for key in COSTS:
            for i in raw.loc[front_of(raw, t, key)].sort_values(key).index:
                if i not in number:
                    n += 1
                    number[i] = n
    return number


def _near_text(x: pd.Series, raw: pd.DataFrame, number: dict[Any, int]) -> str:
    """The front points (by number) a point is not separable from, per front."""
    sub = raw[raw.tensor == x.tensor]
    num = {name(r): number.get(i) for i, r in sub.iterrows()}
    parts = []
    for tag, text in (("gates", "gates"), ("pj", "energy")):
        near = [f"{num[v]}" for v in x[f"inseparable_{tag}"].split("; ") if v]
        if near:
            parts.append(f"{', '.join(near)} ({text})")
    return "; ".join(parts) or "-"


def _infeasible_text(raw: pd.DataFrame) -> str:
    """The infeasible configurations, grouped by why: the model's flag per accumulator, then
    each failed simulation."""
    bad = raw[~raw.feasible]
    model = bad[bad.reason.str.startswith("model")].drop_duplicates(["label", "accumulator"])
    sim = bad[bad.reason.str.startswith("simulation")]
    why = {"fp16": "the FP16 register can overflow", "fixed": "the exact register spans the "
           "E8M0 scale range"}  # fmt: skip
    parts = [
        f"{ACC_TEXT.get(acc, acc)} accumulator, flagged by the cost model "
        f"({why.get(acc, 'see the CSV')}): {', '.join(g.label)}"
        for acc, g in model.groupby("accumulator", sort=False)
    ]
    parts += [f"{name(r)} on the {tensor_text(r.tensor)} X: {r.reason}" for _, r in sim.iterrows()]
    n_sim = int(raw.sqnr_seeds.map(len).gt(0).sum() + len(sim))
    parts.append(
        f"of the {n_sim} simulated (model-feasible) rows, {len(sim)} overflowed or gave a "
        "non-finite output"
    )
    return "; ".join(parts)


def render(doc: Document, ctx: Context, raw: pd.DataFrame) -> None:
    """The section: text, the fronts (one row of panels per tensor: gates, energy) with
    bands and intervals, the front table and the infeasible configurations."""
    cfg, hw, en = (ctx.recipe[k] for k in ("accuracy_vs_cost", "hardware", "energy"))
    m, k, n = cfg["shape"]
    gm, gk, gn = hw["gemm"]
    r, c = hw["array"]
    band = raw.attrs["band"]
    seeds = _seeds(ctx, cfg)
    number = _numbers(raw)
    n_bad = int((~raw.feasible).sum())
    doc.heading("Accuracy versus cost")
    doc.paragraph(
        f"Each point is one configuration on the same {hw['lanes']}-lane unit: its GEMM-output "
        f"SQNR (X {m}×{k} activations, W {k}×{n} weights, both quantized, multiplied bit-exactly "
        f"with the unit's accumulator in blocks of {hw['lanes']} products, against the float64 "
        f"product; mean ± 95 % t interval over {len(seeds)} seeds) against its gates per MAC and "
        f"its energy per MAC. Scalar formats: weights per output channel × activations per token "
        f"(absmax, FP32 scales; the power-of-two part of those scales "
        f"{'folded into the products' if cfg['outer_scales'] == 'fold_pow2' else 'applied after accumulation'}; "
        "int8 is W8A8 per channel × per token); block formats: their own scales, blocks along K. "
        f"Formats (each × itself): {', '.join(cfg['formats'])}; deployments: "
        + (", ".join(f"W {p['w']} × X {p['x']}" for p in cfg["pairs"]) or "none")
        + f"; accumulators: {', '.join(cfg['accumulators'])} (fixed = exact). "
        "A configuration the cost model flags, "
        "or whose simulation overflows or gives a non-finite output in any seed, is infeasible "
        f"and never on a front ({n_bad} of {len(raw)} rows). Front points whose cost bands overlap "
        "and whose SQNRs are within noise (paired t test over the seeds) are marked not separable."
    )
    ctx.findings.append(("Accuracy versus cost", finding(raw)))
    repro = [
        "configs: lowbit.report.studies.accuracy_vs_cost.configurations(recipe[accuracy_vs_cost])",
        f"SQNR: lowbit.evaluation.gemm_error(x, w, x_spec, w_spec, shape=({m}, {k}, {n}), "
        f"seeds=range({seeds[0]}, {seeds[-1] + 1}), accumulator=acc, order='blocks', "
        f"lanes={hw['lanes']}, outer_scales='{cfg['outer_scales']}')",
        f"gates: lowbit.hwmodel.mac_cost(w, a, acc, {hw['terms']}, lanes={hw['lanes']}, "
        f"costs={hw['cost_table']}, output_scales=...)",
        f"pJ/MAC: array_cost(w, a, acc, gemm=({gm}, {gk}, {gn}), array=({r}, {c}), "
        f"output_format='{en['output_format']}', activity='{en['activity']}')",
        "front: accuracy_vs_cost.front_of(df, tensor, cost); separable(): stats.within_noise",
    ]
    tensors = list(dict.fromkeys(raw.tensor))
    doc.figure(
        lambda fig, rect: _draw(fig, rect, raw, cfg["accumulators"], number),
        2.3 * len(tensors) + 0.5,
        f"GEMM-output SQNR against gates per MAC (left; {hw['lanes']}-lane unit, K = {hw['terms']}, "
        f"cost table {hw['cost_table']}) and energy per MAC (right; {hw['node_nm']:g} nm, {r}×{c} "
        f"array, {gm}×{gk}×{gn} GEMM, outputs in {en['output_format'].upper()}, block-scale bits "
        f"counted, the scalar formats' FP32 per-channel/per-token scales not, SRAM {en['sram']}, DRAM {en['dram']}, activity {en['activity']}); rows: X "
        + " / ".join(tensor_text(t) for t in tensors)
        + f", W N(0, 1); scalar formats W per output channel × X per token (absmax, FP32 "
        f"scales), block formats blocks along K; {m}×{k}×{n} per seed, accumulator in order "
        f"'blocks' ({hw['lanes']} products summed exactly per addition). Vertical bars: 95 % interval over seeds {seeds[0]}–{seeds[-1]}; "
        f"horizontal bars: the cost model's error band ({band['source']}: ×{band['lo']:.2f}–"
        f"{band['hi']:.2f} on gates and on the datapath part of the energy; memory energy "
        "is not banded). Marker: accumulator; colour: format family; black staircase and "
        "numbers: the Pareto front of the feasible points (numbers as in the table).",
        "Pareto front",
        repro,
    )
    fr = raw[raw.front_gates | raw.front_pj]
    fr = fr.loc[sorted(fr.index, key=lambda i: (tensors.index(raw.at[i, "tensor"]), number[i]))]
    tab = pd.DataFrame(
        {
            "X": [("heavy-t." if t == "heavy_tailed" else t) for t in fr.tensor],
            "#": [str(number[i]) for i in fr.index],
            "configuration": [name(x) for _, x in fr.iterrows()],
            "gates/MAC": [f"{x.gates:,.0f} ({x.gates_lo:,.0f}–{x.gates_hi:,.0f})" for _, x in fr.iterrows()],
            "pJ/MAC": [f"{x.pj_per_mac:.3f} ({x.pj_lo:.3f}–{x.pj_hi:.3f})" for _, x in fr.iterrows()],
            "SQNR (dB)": [f"{x.sqnr_db:.2f} ± {x.sqnr_db_ci:.2f}" for _, x in fr.iterrows()],
            "front": [{(True, True): "both", (True, False): "gates", (False, True): "energy"}[
                (bool(x.front_gates), bool(x.front_pj))] for _, x in fr.iterrows()],
            "not separable from": [_near_text(x, raw, number) for _, x in fr.iterrows()],
        }
    )  # fmt: skip
    label = doc.table(
        tab,
        "The Pareto-optimal feasible configurations (numbered per X as in the figure): cost with "
        "the model's band, SQNR with its 95 % interval; front: on the gates front, the energy "
        "front or both; 'not separable from': the numbers of the points of the same front "
        "whose cost band overlaps and whose SQNR is within noise.",
        "Pareto table",
        repro,
    )
    doc.paragraph("Infeasible, never ranked: " + _infeasible_text(raw) + ".")
    ctx.save_csv(label, raw.drop(columns=["sqnr_seeds"]).assign(
        sqnr_seeds=[" ".join(f"{v:.4f}" for v in s) for s in raw.sqnr_seeds]))  # fmt: skip


def _draw(
    fig: Any,
    rect: tuple[float, float, float, float],
    raw: pd.DataFrame,
    accs: list[str],
    number: dict[Any, int],
) -> None:
    from matplotlib.lines import Line2D

    tensors = list(dict.fromkeys(raw.tensor))
    gs = grid(fig, rect, len(tensors), 2, left=0.6, right=0.2, top=0.2, bottom=1.0,
              wspace=0.18, hspace=0.45)  # fmt: skip
    keys = [("gates", "gates per MAC", "gates_lo", "gates_hi"),
            ("pj_per_mac", "energy per MAC (pJ, incl. memory)", "pj_lo", "pj_hi")]  # fmt: skip
    acc_marker = {a: MARKERS[i] for i, a in enumerate(accs)}
    for row, t in enumerate(tensors):
        sub = raw[(raw.tensor == t) & raw.feasible]
        for j, (key, xlabel, lo, hi) in enumerate(keys):
            ax = fig.add_subplot(gs[row, j])
            front = sub.loc[front_of(raw, t, key)]
            for _, p in sub.iterrows():
                on = bool(p.name in front.index)
                ax.errorbar(
                    p[key], p.sqnr_db, yerr=p.sqnr_db_ci,
                    xerr=[[p[key] - p[lo]], [p[hi] - p[key]]],
                    fmt=acc_marker[p.accumulator], color=FAMILY_COLOURS[p.family],
                    mfc="none", ms=4.5 if on else 3.5, lw=0.6, capsize=0,
                    alpha=0.95 if on else 0.35,
                )  # fmt: skip
            ax.plot(front[key], front.sqnr_db, "k-", lw=0.8, drawstyle="steps-post", zorder=0)
            for i, (idx, p) in enumerate(front.sort_values(key).iterrows()):
                ax.annotate(
                    f"{number[idx]} {p.label}",
                    (p[key], p.sqnr_db),
                    xytext=(-4, 4) if i % 2 == 0 else (4, -9),  # alternate: neighbours differ
                    textcoords="offset points",
                    fontsize=5.5,
                    weight="bold",
                    ha="right" if i % 2 == 0 else "left",
                )
            ax.set_xscale("log")
            ax.margins(x=0.12, y=0.1)
            _log_ticks(ax)
            ax.set_xlabel(xlabel, fontsize=7)
            ax.set_title(f"X {tensor_text(t)}", fontsize=7)
            if j == 0:
                ax.set_ylabel("GEMM-output SQNR (dB)", fontsize=7)
    handles = [Line2D([], [], ls="", marker=acc_marker[a], color="k", mfc="none",
                      label=f"{ACC_TEXT.get(a, a)} acc.") for a in accs]  # fmt: skip
    handles += [Line2D([], [], ls="", marker="s", color=FAMILY_COLOURS[f], label=FAMILY_TEXT[f])
                for f in dict.fromkeys(raw.family)]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=6,
               frameon=False, bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
               bbox_transform=fig.transFigure)  # fmt: skip


def _log_ticks(ax: Any) -> None:
    """1-2-5 ticks inside the axis' view only (no labels outside the axes)."""
    lo, hi = ax.get_xlim()
    ticks = [m * 10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
             for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]  # fmt: skip
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
