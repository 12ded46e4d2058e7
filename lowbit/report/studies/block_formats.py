"""Block formats: element QSNR of weight-like and activation-like tensors, each with its
blocks along its own K, and the GEMM-output SQNR of activation × weight through the
bit-exact simulator, against scalar baselines (per-token × per-channel, per-tensor absmax
and MSE-clipped), every number a mean over seeds with a 95 % interval."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...analysis.metrics import sqnr_db
from ...analysis.stats import compare, mean_ci
from ...evaluation import parse_spec, quantize_operand, quantized_gemm
from ...evaluation.operands import scale_bits_per_element
from ..context import Context, synthetic_tensor, tensor_text
from ..layout import FAMILY_COLOURS, family_of, grid
from ..pdf import Document
from ..recipe import TENSORS, weight_spec

#: bits-per-element budgets of the text and key result: ≤ 4.5, ≤ 6.5, ≤ 9 bits
CUTS = (4.6, 6.6, 9.1)
#: the per-seed metrics of a scheme: element QSNR per tensor (``qsnr_db_<tensor>``) and
#: the GEMM-output SQNR
GEMM = "gemm_sqnr_db"


def seeded_tensor(ctx: Context, name: str, seed: int, shape: tuple[int, int] | None = None):
    """Tensor ``name`` drawn for ``seed`` exactly as :meth:`Context.tensor` draws it for the
    recipe's seed (so seed = recipe seed gives the same array); a file tensor is the same on
    every seed.  ``shape``: rows × features (default: [block_formats] shape)."""
    if name not in TENSORS:
        return ctx.tensor(name)
    return synthetic_tensor(ctx.recipe["block_formats"], name, seed, shape)


def role_of(name: str) -> str:
    """How a tensor is quantized: heavy_tailed is an activation (tokens × features: per-token
    scales), the others weights (out × in: per-output-channel scales)."""
    return "activation" if name == "heavy_tailed" else "weight"


def element_qsnr(x: np.ndarray, spec: str, role: str) -> float:
    """QSNR (dB) of one tensor (rows × K, blocks and scales along K) quantized by ``spec``
    as a GEMM operand of ``role`` (:func:`lowbit.evaluation.quantize_operand`)."""
    x64 = np.asarray(x, dtype=np.float64)
    if role == "weight":  # an (out, in) weight is W = xᵀ (K × N): blocks along K = in
        q = quantize_operand(x64.T, weight_spec(spec), "weight").values.T
    else:
        q = quantize_operand(x64, spec, "activation").values
    return float(sqnr_db(x64, q))


def schemes(cfg: dict[str, Any]) -> list[str]:
    """The activation specs of the study: the formats (their own scales; a scalar format one
    absmax scale per tensor), then the baselines."""
    return list(cfg["formats"]) + [b for b in cfg["baselines"] if b not in cfg["formats"]]


def label(spec: str) -> str:
    """A short name of an activation spec for figures: "int8 tok×ch", "int8 tensor mse".

    >>> label("int8:per_token"), label("int8:per_tensor:mse"), label("mxfp4")
    ('int8 tok×ch', 'int8 tensor mse', 'mxfp4')
    """
    s = parse_spec(spec)
    if s.is_block:
        return s.format.name
    gran = {"per_token": "tok×ch", "per_tensor": "tensor"}.get(s.granularity, s.describe())
    rng = "" if s.range == "minmax" else f" {s.range}"
    return f"{s.format.name} {gran}{rng}"


def _gemm_operands(ctx: Context, seed: int) -> tuple[np.ndarray, np.ndarray]:
    cfg = ctx.recipe["block_formats"]
    x = seeded_tensor(ctx, cfg["activation"], seed)
    w = seeded_tensor(ctx, cfg["weight"], seed)
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"[block_formats] activation {cfg['activation']} has K = {x.shape[1]} features, "
            f"weight {cfg['weight']} K = {w.shape[1]} inputs; they must match"
        )
    return x, np.ascontiguousarray(w[: cfg["gemm_outputs"]].T)


def seeds_of(ctx: Context, cfg: dict[str, Any], names: list[str]) -> list[int]:
    """The seeds: recipe seed, +1, … (``seeds`` of them); one when every tensor is a file."""
    if all(n not in TENSORS for n in names):
        return [ctx.seed]
    return [ctx.seed + i for i in range(cfg["seeds"])]


def compute(ctx: Context) -> pd.DataFrame:
    """One row per (scheme, seed): ``spec`` (the activation's), ``w_spec``,
    ``bits_per_element`` (scale bits included), ``qsnr_db_<tensor>`` for each tensor of
    ``tensors`` (:func:`element_qsnr`), ``gemm_sqnr_db`` (activation × weight, both
    quantized, simulated with the recipe's accumulator in blocks of ``lanes``;
    :func:`lowbit.evaluation.quantized_gemm`), ``gemm_feasible`` and ``gemm_reason``."""
    cfg = ctx.recipe["block_formats"]
    names = list(cfg["tensors"])
    rows, bits = [], {}
    for seed in seeds_of(ctx, cfg, names + [cfg["activation"], cfg["weight"]]):
        tensors = {t: seeded_tensor(ctx, t, seed) for t in names}
        x, w = _gemm_operands(ctx, seed)
        for spec in schemes(cfg):
            r = quantized_gemm(
                x, w, spec, weight_spec(spec), accumulator=cfg["accumulator"],
                order="blocks", lanes=cfg["lanes"],
            )  # fmt: skip
            row = dict(spec=spec, w_spec=weight_spec(spec), label=label(spec), seed=seed)
            if spec not in bits:  # the same on every seed: scales per element of the shape
                bits[spec] = scale_bits_per_element(quantize_operand(x, spec, "activation"))
            row["bits_per_element"] = bits[spec]
            for t, arr in tensors.items():
                row[f"qsnr_db_{t}"] = element_qsnr(arr, spec, role_of(t))
            row |= {
                GEMM: r.metrics["sqnr_db"],
                "gemm_feasible": r.feasible,
                "gemm_reason": r.reason,
            }
            rows.append(row)
    return pd.DataFrame(rows)


def summary(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per scheme (recipe order): ``bits_per_element`` and for each metric its mean
    over seeds and the half-width of its 95 % t interval (``<metric>_ci``, inf for one
    seed); NaN where a seed is infeasible or non-finite (never ranked)."""
    out = []
    for spec, g in df.groupby("spec", sort=False):
        row = dict(spec=spec, label=g.label.iloc[0], bits_per_element=g.bits_per_element.iloc[0])
        row["n"] = len(g)
        for m in metrics:
            v = g[m].to_numpy(dtype=np.float64)
            ok = np.isfinite(v).all() and (m != GEMM or g.gemm_feasible.all())
            ci = mean_ci(v) if ok else None
            row[m], row[f"{m}_ci"] = (ci.mean, ci.half_width) if ci else (math.nan, math.nan)
        out.append(row)
    return pd.DataFrame(out)


def best_by_budget(df: pd.DataFrame, metric: str = GEMM) -> dict[float, dict[str, Any]]:
    """Per budget cut c of :data:`CUTS`: the scheme of the highest mean ``metric`` among
    those of c − 2.5 < bits per element ≤ c (first in recipe order on ties), its mean and
    interval, and the runner-up with the paired difference (``within_noise``: its interval
    holds 0, :func:`lowbit.analysis.stats.compare`)."""
    s = summary(df, [metric])
    out = {}
    for cut in CUTS:
        ok = s[(s.bits_per_element <= cut) & (s.bits_per_element > cut - 2.5) & s[metric].notna()]
        if ok.empty:
            continue
        ranked = ok.sort_values(metric, ascending=False, kind="stable")
        top = ranked.iloc[0]
        entry = dict(spec=top.spec, label=top.label, mean=top[metric], ci=top[f"{metric}_ci"])
        if len(ranked) > 1:
            nxt = ranked.iloc[1]
            a = df[df.spec == top.spec].sort_values("seed")[metric]
            b = df[df.spec == nxt.spec].sort_values("seed")[metric]
            d = compare(a.to_numpy(), b.to_numpy()) if len(a) > 1 else None
            entry |= dict(
                runner_up=nxt.label,
                diff=(d.diff if d else math.nan),
                diff_ci=(d.half_width if d else math.inf),
                within_noise=(d.within_noise if d else True),
            )
        out[cut] = entry
    return out


def _pm(mean: float, hw: float) -> str:
    return f"{mean:.1f} ± {hw:.1f}" if math.isfinite(hw) else f"{mean:.1f}"


def _budget_text(best: dict[float, dict[str, Any]]) -> str:
    parts = []
    for c, b in best.items():
        s = f"≤{c - 0.1:g} bits: {b['label']} ({_pm(b['mean'], b['ci'])} dB"
        if "runner_up" in b:
            s += (
                f"; {b['runner_up']} within noise" if b["within_noise"]
                else f"; {_pm(b['diff'], b['diff_ci'])} dB above {b['runner_up']}"
            )  # fmt: skip
        parts.append(s + ")")
    return "; ".join(parts)


def finding(df: pd.DataFrame, cfg: dict[str, Any]) -> str:
    """The title page's key result: the best scheme of the smallest budget by GEMM-output
    SQNR and per-tensor INT8's element QSNR on the activation-like tensor (means ± 95 %
    intervals over the seeds)."""
    best = best_by_budget(df)
    text = f"GEMM SQNR, {df.seed.nunique()} seeds"
    if best:
        b = best[min(best)]
        text += f": {b['label']} {_pm(b['mean'], b['ci'])} dB (≤{min(best) - 0.1:g} b)"
    act = f"qsnr_db_{cfg['activation']}"
    if "int8:per_tensor" in set(df.spec) and act in df:
        v = df[df.spec == "int8:per_tensor"].sort_values("seed")[act].to_numpy()
        ci = mean_ci(v) if len(v) > 1 else None
        text += f"; per-tensor INT8 act. {_pm(ci.mean, ci.half_width) if ci else v[0]} dB"
    return text + "."


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: text, the three-panel figure (weight QSNR, activation QSNR, GEMM SQNR)
    and the table of means and intervals."""
    cfg = ctx.recipe["block_formats"]
    names = list(cfg["tensors"])
    metrics = [f"qsnr_db_{t}" for t in names] + [GEMM]
    s = summary(df, metrics).sort_values("bits_per_element", kind="stable").reset_index(drop=True)
    rows, cols = cfg["shape"]
    n = df.seed.nunique()
    seeds = sorted(df.seed.unique())
    doc.heading("Block formats")
    ws = ", ".join(t for t in names if role_of(t) == "weight") or "none"
    acts = ", ".join(t for t in names if role_of(t) == "activation") or "none"
    doc.paragraph(
        "Block and two-level formats against the scalar baselines the field uses: W8A8 "
        "('tok×ch': a scale per token of the activation × per output channel of the weight), "
        "per-tensor absmax and MSE-clipped scales. Weight-like tensors "
        f"({ws}: out × in) and activation-like ones ({acts}: tokens × features) are studied "
        "apart, blocks along K (the input features). The accuracy axis is the GEMM-output SQNR: "
        f"{tensor_text(cfg['activation'])} activations ({rows}×{cols}) × the first "
        f"{cfg['gemm_outputs']} output channels of the {tensor_text(cfg['weight'])} weight, "
        "both quantized, multiplied in the bit-exact simulator with an "
        f"{cfg['accumulator'].upper()} accumulator, {cfg['lanes']} products summed exactly per "
        "accumulation (a dot-product unit of that many lanes), against the float64 product. "
        f"Every number is a mean over {n} seeds with its 95 % t interval. Best per budget by "
        f"GEMM-output SQNR: {_budget_text(best_by_budget(df))}."
    )
    ctx.findings.append(("Block formats", finding(df, cfg)))
    if cfg["activation"] == "heavy_tailed":
        act = f"qsnr_db_{cfg['activation']}"
        if "int8:per_tensor" in set(df.spec) and act in df:
            v = df[df.spec == "int8:per_tensor"].sort_values("seed")[act].to_numpy()
            ci = mean_ci(v)
            doc.paragraph(
                "The heavy-tailed tensor imitates LLM activations: Student-t (ν = 4) values, a "
                f"log-normal scale per feature (σ = 0.5) and {cfg['outlier_features']} outlier "
                f"features {cfg['outlier_scale']:g}× larger. A per-tensor scale is set by the "
                f"outliers: per-tensor INT8 gives {ci.mean:.1f} ± {ci.half_width:.1f} dB element "
                f"QSNR over seeds {seeds[0]}–{seeds[-1]} (single seeds {v.min():.1f} to "
                f"{v.max():.1f} dB, seed {seeds[0]}: {v[0]:.1f} dB): one seed is not a result."
            )
    repro = [
        f"x = seeded_tensor(ctx, t, seed) for t in {names!r}, seed in {seeds}  # "
        f"SeedSequence([seed, 7, index of t in {list(TENSORS)}])",
        "element QSNR: quantize_operand(x, spec, 'activation') or (xᵀ, weight_spec(spec), "
        "'weight'); 10·log10(Σx² / Σ(x − q)²)",
        f"quantized_gemm(x_act, w[:{cfg['gemm_outputs']}].T, spec, weight_spec(spec), "
        f"accumulator={cfg['accumulator']!r}, order='blocks', lanes={cfg['lanes']})",
        "mean ± 95 % interval: lowbit.analysis.stats.mean_ci; best vs runner-up: stats.compare",
    ]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, s, metrics, names),
        0.5 + 0.135 * len(s),
        f"Element QSNR of each tensor and GEMM-output SQNR (dB, right panel) per scheme, mean "
        f"± 95 % interval over {n} seeds ({', '.join(map(str, seeds))}); rows by bits per "
        "element. Blocks along K; scalars per tensor, or per token (activation) × per output "
        f"channel (weight) ('tok×ch'). GEMM: {cfg['accumulator'].upper()} accumulator, order "
        f"blocks of {cfg['lanes']}; both operands in the row's format. Colours by family.",
        "block formats QSNR and GEMM SQNR",
        repro,
    )
    tab = pd.DataFrame({"scheme": s.label, "bits/elem.": [f"{b:.3g}" for b in s.bits_per_element]})
    tab["scales (axis K)"] = [_scaling(x) for x in s.spec]
    for m, head in zip(metrics, [f"{t} (dB)" for t in names] + ["GEMM (dB)"], strict=True):
        tab[head] = [
            _pm(a, b) if math.isfinite(a) else "infeasible"
            for a, b in zip(s[m], s[f"{m}_ci"], strict=True)
        ]
    label_ = doc.table(
        tab,
        f"Element QSNR and GEMM-output SQNR in dB, mean ± 95 % interval over {n} seeds (the "
        "figure's numbers); scale bits counted in bits per element.",
        "block table",
        repro,
    )
    ctx.save_csv(label_, df)


def _draw(fig: Any, rect, s: pd.DataFrame, metrics: list[str], names: list[str]) -> None:
    gs = grid(fig, rect, 1, len(metrics), left=1.15, right=0.05, top=0.2, bottom=0.4, wspace=0.08)
    y = np.arange(len(s))
    for j, m in enumerate(metrics):
        ax = fig.add_subplot(gs[0, j])
        for i, spec in enumerate(s.spec):
            colour = FAMILY_COLOURS[family_of(parse_spec(spec).format.name)]
            hw = s[f"{m}_ci"].iloc[i]
            ax.errorbar(
                s[m].iloc[i], y[i], xerr=hw if math.isfinite(hw) else None, fmt="o",
                color=colour, ms=3.5, capsize=2, lw=0.8,
            )  # fmt: skip
        ax.set_yticks(y)
        ax.set_yticklabels(list(s.label) if j == 0 else [])
        ax.set_ylim(len(s) - 0.5, -0.5)
        ax.grid(axis="x", lw=0.3, alpha=0.5)
        ax.set_title(
            "GEMM output" if m == GEMM else f"{tensor_text(m[8:])} ({role_of(m[8:])})",
            fontsize=7,
        )
        ax.set_xlabel("SQNR (dB)" if m == GEMM else "QSNR (dB)")


def _scaling(spec: str) -> str:
    """How a scheme scales its values along K, in a few words (from the format object)."""
    s = parse_spec(spec)
    fmt = s.format
    if not s.is_block:
        gran = {"per_token": "tok × ch", "per_tensor": "tensor"}.get(s.granularity, s.granularity)
        return f"{gran}, {s.range}"
    d = fmt.describe()
    if fmt.family == "vs_quant":
        return f"vector {fmt.block_size}, {fmt.scale_bits}-bit + row scale"
    if fmt.family == "group_scaled":
        return f"group {fmt.block_size}, {fmt.scale_format.name} scale"
    size = d.get("block_size", "?")
    if d.get("micro_bits"):
        return f"block {size}, {d['micro_bits']}-bit µexp per {d['sub_block_size']}"
    return f"block {size}, {d.get('scale', 'shared exponent')}".replace("fp8_e4m3fn", "E4M3")
