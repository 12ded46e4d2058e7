"""Range setting: the clip each calibration method picks from samples, at its exact MSE,
against the exact MSE-optimal clip of symmetric integer quantizers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from ...formats import get_format
from ..context import Context, fmt_num
from ..layout import MARKERS, grid
from ..pdf import Document

METHOD_TEXT = {
    "minmax": "min-max",
    "percentile": "percentile",
    "mse": "MSE search",
    "aciq": "ACIQ",
    "kl": "KL (TensorRT)",
    "octav": "OCTAV",
}
#: the columns of the CSV behind the table (the "method" rows)
COLUMNS = ["bits", "format", "method", "clip", "mse", "mse_opt", "clip_opt", "excess_db"]


def _prior(name: str) -> str:
    # ACIQ's prior: the distribution's own law where ACIQ has one, Laplace otherwise
    return name if name in ("laplace", "gaussian") else "laplace"


def compute(ctx: Context) -> pd.DataFrame:
    """Rows by ``part``: "method" (one per bit width and method: the clip picked from the
    seeded samples, its exact MSE, the optimum and the excess in dB) and "curve" (the exact
    MSE on a grid of 80 clips per bit width, the figure's line)."""
    from ...analysis import expected_mse
    from ...analysis.ranges import clip_for, mse_clip
    from ...analysis.sweep import parse_distribution

    cfg = ctx.recipe["range_setting"]
    dist = parse_distribution(cfg["distribution"])
    x = dist.rvs(size=cfg["calibration_samples"], random_state=ctx.rng(11))
    prior = _prior(dist.name)
    rows, curves = [], []
    for b in cfg["bits"]:
        name = f"int{b}_narrow"
        top = float(get_format(name).max)
        c_opt, e_opt = mse_clip(name, dist)
        clips = np.geomspace(c_opt / 4, max(c_opt * 4, float(np.max(np.abs(x))) * 1.2), 80)
        for c in clips:
            curves.append(dict(part="curve", bits=b, clip=c, mse=expected_mse(name, dist, c / top)))
        for m in cfg["methods"]:
            opts = {"p": cfg["percentile"]} if m == "percentile" else {}
            if m == "aciq":
                opts = {"prior": prior}
            clip = clip_for(name, x, m, **opts)
            e = expected_mse(name, dist, clip / top)
            rows.append(
                dict(bits=b, format=name, method=m, clip=clip, mse=e, mse_opt=e_opt, clip_opt=c_opt)
            )
    raw = pd.DataFrame(rows)
    raw["excess_db"] = 10 * np.log10(raw.mse / raw.mse_opt)
    raw.insert(0, "part", "method")
    return pd.concat([raw, pd.DataFrame(curves)], ignore_index=True)


def mean_excess(df: pd.DataFrame) -> pd.Series:
    """Each method's mean excess MSE over the optimum across bit widths (dB), best first."""
    return df[df.part == "method"].groupby("method").excess_db.mean().sort_values()


def finding(df: pd.DataFrame, spec: str, n_bits: int) -> str:
    """The title page's key result: the two methods closest to the optimum, and the worst."""
    raw = df[df.part == "method"]
    worst = raw.loc[raw.excess_db.idxmax()]
    top2 = list(mean_excess(df).items())[:2]
    return (
        f"on {spec}, {METHOD_TEXT[top2[0][0]]} comes closest to the MSE-optimal clip (mean "
        f"excess {top2[0][1]:.2f} dB over {n_bits} bit widths)"
        + (f", then {METHOD_TEXT[top2[1][0]]} ({top2[1][1]:.2f} dB)" if len(top2) > 1 else "")
        + f"; the worst is {METHOD_TEXT[worst.method]} at {worst.bits} bits "
        f"(+{worst.excess_db:.1f} dB)."
    )


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: text, the MSE-vs-clip panels and the excess table."""
    from ...analysis.sweep import parse_distribution

    cfg = ctx.recipe["range_setting"]
    spec, bitss, methods = cfg["distribution"], cfg["bits"], cfg["methods"]
    dist = parse_distribution(spec)
    sigma = dist.std()
    raw = df[df.part == "method"][COLUMNS].reset_index(drop=True)
    raw["bits"] = raw.bits.astype(int)
    doc.heading("Range setting")
    worst = raw.loc[raw.excess_db.idxmax()]
    doc.paragraph(
        f"Symmetric integer quantizers (int{{b}}_narrow, 2^b − 1 levels) on {spec}. Each "
        f"method sets its clip from the same {cfg['calibration_samples']:,} seeded samples "
        "(as a calibration set would); the MSE of that clip is then computed exactly under the "
        "pdf, and compared with the exact MSE-optimal clip. Mean excess over the optimum across "
        "bit widths: "
        + ", ".join(f"{METHOD_TEXT[m]} {v:.2f} dB" for m, v in mean_excess(df).items())
        + f". Worst case: {METHOD_TEXT[worst.method]} at {worst.bits} bits, "
        f"{worst.excess_db:.1f} dB above the optimum."
    )
    ctx.findings.append(("Range setting", finding(df, spec, len(bitss))))
    repro = [
        f"x = parse_distribution({spec!r}).rvs(size={cfg['calibration_samples']}, "
        f"random_state=default_rng(SeedSequence([{ctx.seed}, 11])))",
        "clip = lowbit.analysis.ranges.clip_for(f'int{b}_narrow', x, method)  # percentile p="
        f"{cfg['percentile']:g}, aciq prior={_prior(dist.name)!r}",
        "mse = lowbit.analysis.expected_mse(fmt, dist, clip / fmt.max); optimum: ranges.mse_clip(fmt, dist)",
    ]
    curves = df[df.part == "curve"]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, bitss, methods, raw, curves, sigma),
        2.0 + 1.6 * math.ceil((len(bitss) + 1) / min(4, len(bitss) + 1)),
        f"Exact MSE against the clip (in units of σ = {sigma:.3g}) for int{{b}}_narrow on "
        f"{spec}, b = {', '.join(map(str, bitss))}; markers: the clip each method picks from "
        f"{cfg['calibration_samples']:,} samples (seed {ctx.seed}), at its exact MSE.",
        "range setting MSE vs clip",
        repro,
    )
    piv = raw.pivot(index="bits", columns="method", values="excess_db")[methods]
    tab = pd.DataFrame({"bits": [str(b) for b in piv.index]})
    tab["optimal clip/σ"] = [f"{c / sigma:.2f}" for c in raw.groupby("bits").clip_opt.first()]
    tab["optimal MSE"] = [fmt_num(v) for v in raw.groupby("bits").mse_opt.first()]
    for m in methods:
        tab[f"{METHOD_TEXT[m]} (dB)"] = [f"{v:.2f}" for v in piv[m]]
    label = doc.table(
        tab,
        "MSE of each method's clip above the exact optimum, 10·log10(MSE / MSE_opt) in dB "
        "(0 = optimal), with the optimal clip and its MSE.",
        "range setting table",
        repro,
    )
    ctx.save_csv(label, raw)


def _draw(
    fig: Any,
    rect: tuple[float, float, float, float],
    bitss: list[int],
    methods: list[str],
    raw: pd.DataFrame,
    curves: pd.DataFrame,
    sigma: float,
) -> None:
    colours = dict(
        zip(methods, ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"],
            strict=False)
    )  # fmt: skip
    n = len(bitss)
    ncols = min(4, n + 1)
    nrows = math.ceil((n + 1) / ncols)
    gs = grid(fig, rect, nrows, ncols, left=0.75, right=0.1, top=0.25, bottom=0.45,
              hspace=0.5, wspace=0.45)  # fmt: skip
    for k, b in enumerate(bitss):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        curve = curves[curves.bits == b]
        ax.plot(curve["clip"].to_numpy() / sigma, curve["mse"].to_numpy(), "k-", lw=0.9)
        for _, r in raw[raw.bits == b].iterrows():
            ax.plot(r["clip"] / sigma, r["mse"], MARKERS[methods.index(r["method"])],
                    color=colours[r["method"]], ms=4.5, mfc="none", mew=1.0)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
        ax.set_title(f"{b} bits")
        if k % ncols == 0:
            ax.set_ylabel("MSE")
        if k // ncols == nrows - 1 or k + ncols > n - 1:
            ax.set_xlabel("clip / σ")
        ax.tick_params(labelsize=6)
    ax = fig.add_subplot(gs[n // ncols, n % ncols])
    ax.axis("off")
    ax.plot([], [], "k-", label="exact MSE(clip)")
    for m in methods:
        ax.plot([], [], MARKERS[methods.index(m)], color=colours[m], mfc="none",
                label=METHOD_TEXT[m])  # fmt: skip
    ax.legend(loc="center", frameon=False, fontsize=7)
