"""Real network: the standard plans (W8A8, W4A16, W4A8, MXFP8, MXFP4, NVFP4, FP8), each with
and without a transform, applied to a real model layer by layer (`lowbit.nn`): per-layer
output SQNR, task accuracy over seeds with 95 % intervals, and cost per MAC on equal-lane
units (`lowbit.hwmodel.mac_cost` with ``lanes=32`` and the plan's accumulator, FP32)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...analysis.stats import mean_ci
from ...hwmodel import mac_cost
from ...nn.evaluate import evaluate
from ...nn.plan import STANDARD_PLANS, standard_plan
from ..context import Context
from ..layout import grid
from ..pdf import Document

LANES = 32
MODEL_TEXT = {"digits": "digits MLP (64-64-32-10, trained on scikit-learn's digits)",
              "ppocr-rec": "PP-OCRv4 text recogniser"}  # fmt: skip


def _plans(cfg: dict) -> list:
    transforms = ["none"] + ([cfg["transform"]] if cfg["transform"] != "none" else [])
    return [standard_plan(n, t) for n in cfg["plans"] for t in transforms]


def _cost(name: str, accumulator: str = "fp32", costs=None) -> tuple[float, int]:
    w, a = STANDARD_PLANS[name]
    kw = {} if costs is None else {"costs": costs}
    m = mac_cost(w.split(":")[0], a.split(":")[0], accumulator, lanes=LANES, **kw)
    return float(m.total), int(m.lanes)


def _costs(ctx: Context):
    # the gate-cost table of the hardware pages ([hardware] cost_table), so costs agree
    from ..recipe import cost_tables

    return cost_tables()[ctx.recipe["hardware"]["cost_table"]]


def compute(ctx: Context) -> pd.DataFrame:
    """Every number of the study as a tidy table (`lowbit.nn.evaluate.Results.tidy`: table,
    plan, seed, layer, quantity, value) plus one ``cost`` row per plan (``gates_per_mac``,
    and ``lanes`` of the unit priced) and the columns ``base`` (the standard plan) and
    ``transform``."""
    cfg = ctx.recipe["real_network"]
    plans = _plans(cfg)
    res = evaluate(cfg["model"], plans, seeds=cfg["seeds"], calibration=cfg["calibration"],
                   n=cfg["inputs"] or None)  # fmt: skip
    df = res.tidy()
    rows = []
    for p in plans:
        base = p.name.split("+")[0]
        gates, lanes = _cost(base, p.default.accumulator, _costs(ctx))
        rows += [dict(table="cost", plan=p.name, quantity="gates_per_mac", value=gates),
                 dict(table="cost", plan=p.name, quantity="lanes", value=float(lanes))]  # fmt: skip
    df = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    df["base"] = df.plan.str.split("+").str[0]
    df["transform"] = df.plan.str.partition("+")[2].replace("", "none")
    df["model"] = cfg["model"]
    return df


def _e2e(df: pd.DataFrame, quantity: str) -> pd.DataFrame:
    e = df[(df.table == "end_to_end") & (df.quantity == quantity)]
    return e.pivot_table("value", "plan", "seed", sort=False)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per plan: accuracy mean and 95 % half width over seeds, top-1 agreement, KL, gates."""
    acc = _e2e(df, "metric")
    cost = df[df.table == "cost"].pivot_table("value", "plan", "quantity", sort=False)
    rows = []
    for plan in acc.index:
        ci = mean_ci(acc.loc[plan].dropna().to_numpy())
        rows.append(dict(plan=plan, acc=ci.mean, acc_hw=ci.half_width, n=ci.n,
                         agree=_e2e(df, "top1_agreement").loc[plan].mean(),
                         kl=_e2e(df, "logit_kl").loc[plan].mean(),
                         gates=cost.loc[plan, "gates_per_mac"],
                         lanes=int(cost.loc[plan, "lanes"])))  # fmt: skip
    return pd.DataFrame(rows)


def float_accuracy(df: pd.DataFrame):
    """The float model's accuracy over the seeds (`lowbit.analysis.stats.Interval`)."""
    f = _e2e(df, "float_metric")
    return mean_ci(f.iloc[0].to_numpy())


def finding(df: pd.DataFrame) -> str:
    """The title page's key result: the cheapest plan (gates per MAC) whose mean accuracy
    is within one point of the float model's, against W8A8."""
    s = summary(df)
    fl = float_accuracy(df)
    ok = s[s.acc >= fl.mean - 0.01].sort_values(["gates", "plan"])
    model = df.model.iloc[0]
    if ok.empty:
        return f"On the {model} model no plan comes within one point of float accuracy."
    best = ok.iloc[0]
    text = (f"On the {model} model (float {fl.mean:.3f} ± {fl.half_width:.3f}), the cheapest "
            f"plan within one point of float accuracy is {best.plan}: {best.acc:.3f} ± "
            f"{best.acc_hw:.3f} at {best.gates:.0f} gates/MAC")  # fmt: skip
    w8 = s[s.plan == "W8A8"]
    if len(w8) and best.plan != "W8A8":
        text += f" (W8A8: {w8.acc.iloc[0]:.3f} at {w8.gates.iloc[0]:.0f})"
    return text + "."


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: what was run, the heat map and accuracy-vs-cost figure, the table."""
    cfg = ctx.recipe["real_network"]
    model, seeds = cfg["model"], cfg["seeds"]
    s = summary(df)
    fl = float_accuracy(df)
    metric = "top-1 accuracy" if model == "digits" else "character accuracy"
    doc.heading("Real network")
    doc.paragraph(
        f"The {MODEL_TEXT.get(model, model)} with each standard plan applied to every layer's "
        "weights and activations in the layer's GEMM form (per-channel along the outputs, "
        f"blocks along K), calibrated on {cfg['calibration']} inputs that are not evaluation "
        f"data, and evaluated over seeds {seeds} (for digits a seed is a training run with its "
        f"own held-out images). The float model reaches {metric} {fl.mean:.3f} ± "
        f"{fl.half_width:.3f} (mean ± 95 % t interval). Each plan is run as is and with the "
        f"transform '{cfg['transform']}' on every layer. Cost is gates per MAC of a "
        f"{LANES}-lane unit with an FP32 accumulator for every plan (NVFP4's unit is priced "
        f"at its block of 16 lanes), cost table {ctx.recipe['hardware']['cost_table']} as on "
        "the hardware pages; fake quantization in float64 stands for that accumulator. "
        "The pretrained PP-OCRv4 recogniser runs the same plans through 'lowbit model "
        "ppocr-rec' (minutes per plan in numpy; docs/nn.md lists its numbers)."
    )
    ctx.findings.append(("Real network", finding(df)))
    repro = [
        f"lowbit model {model} " + " ".join(f"--plan {p}" for p in s.plan[:2]) + " ... "
        f"--seeds {','.join(map(str, seeds))} --calibration {cfg['calibration']}",
        "lowbit.nn.evaluate.evaluate(model, [standard_plan(name, transform) ...], seeds)",
        f"gates: lowbit.hwmodel.mac_cost(w, a, 'fp32', lanes={LANES}, "
        f"costs=<{ctx.recipe['hardware']['cost_table']}>).total",
    ]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, df, s, fl),
        3.3,
        "Left: per-layer output SQNR (dB, float inputs to the layer, mean over seeds) by plan. "
        f"Right: {metric} (mean ± 95 % interval over {len(seeds)} seeds) against gates per MAC; "
        "filled: no transform, open: with the transform; dashed: the float model.",
        "Real network",
        repro,
    )
    tab = pd.DataFrame(
        {
            "plan": s.plan,
            "weight": [STANDARD_PLANS[p.split("+")[0]][0] for p in s.plan],
            "activation": [STANDARD_PLANS[p.split("+")[0]][1] for p in s.plan],
            "gates/MAC": [
                f"{g:.0f}" + ("" if ln == LANES else f" ({ln} lanes)")
                for g, ln in zip(s.gates, s.lanes, strict=True)
            ],  # fmt: skip
            metric: [f"{a:.3f} ± {h:.3f}" for a, h in zip(s.acc, s.acc_hw, strict=True)],
            "top-1 agreement": [f"{v:.4f}" for v in s.agree],
            "logit KL (nats)": [f"{v:.2e}" for v in s.kl],
        }
    )
    label = doc.table(
        tab,
        f"Each plan on the {model} model: {metric} with its 95 % interval over seeds {seeds}, "
        "agreement of the arg-max and KL divergence against the float model's outputs "
        "(means over seeds), gates per MAC.",
        "Real network table",
        repro,
    )
    ctx.save_csv(label, df)


def _draw(fig: Any, rect, df: pd.DataFrame, s: pd.DataFrame, fl) -> None:
    gs = grid(fig, rect, 1, 2, left=1.0, right=0.3, top=0.1, bottom=0.45, wspace=0.5)
    lay = df[(df.table == "layer") & (df.quantity == "out_sqnr_db")]
    heat = lay.groupby(["plan", "layer"], sort=False).value.mean().unstack()
    heat = heat.reindex(index=list(s.plan))
    ax = fig.add_subplot(gs[0, 0])
    v = heat.to_numpy()
    im = ax.imshow(v, aspect="auto", cmap="viridis")
    rot = 0 if heat.shape[1] <= 4 else 90
    ax.set_xticks(range(heat.shape[1]), heat.columns, rotation=rot, fontsize=5.5)
    ax.set_yticks(range(heat.shape[0]), heat.index, fontsize=5.5)
    if v.size <= 80:
        mid = np.nanmean(v)
        for (i, j), x in np.ndenumerate(v):
            ax.text(j, i, f"{x:.0f}", ha="center", va="center", fontsize=5,
                    color="k" if x > mid else "w")  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02).ax.tick_params(labelsize=6)
    ax2 = fig.add_subplot(gs[0, 1])
    for r in s.itertuples():
        open_ = "+" in r.plan
        ax2.errorbar(r.gates, r.acc, yerr=r.acc_hw, fmt="o", ms=4, capsize=2, color="C0",
                     mfc="none" if open_ else "C0")  # fmt: skip
        if not open_:
            ax2.annotate(r.plan, (r.gates, r.acc), xytext=(3, 3), textcoords="offset points",
                         fontsize=5.5)  # fmt: skip
    ax2.axhline(fl.mean, ls="--", color="k", lw=0.8)
    ax2.set_xlabel("gates per MAC (32 lanes, FP32 acc.)", fontsize=7)
    ax2.set_ylabel("accuracy", fontsize=7)
    ax2.tick_params(labelsize=6)
