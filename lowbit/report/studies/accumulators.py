"""The hardware studies: MAC gate counts and energy, accuracy vs cost, accumulator error."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

from ..formats import FloatFormat, get_format
from .context import FAMILY_COLOURS, MARKERS, Context, family_of, fmt_num
from .pdf import Document
from .study_accuracy import _grid, tensor_text

GROUPS = ("mpy", "block", "alignadd", "normacc", "output")
GROUP_COLOURS = {
    "mpy": "#4c72b0",
    "block": "#8172b3",
    "alignadd": "#dd8452",
    "normacc": "#55a868",
    "output": "#c44e52",
}
ACC_TEXT = {"fixed": "fixed point (exact)", "fp16": "FP16", "bf16": "BF16", "fp32": "FP32"}


def _mac_table(cfg) -> pd.DataFrame:
    from ..hwmodel import Technology, array_cost

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


def hardware(doc: Document, ctx: Context) -> None:
    from ..hwmodel.synth import compare_multipliers, yosys_available

    cfg = ctx.recipe["hardware"]
    fmts, accs = cfg["formats"], cfg["accumulators"]
    raw = _mac_table(cfg)
    m, k, n = cfg["gemm"]
    r, c = cfg["array"]
    doc.heading("Hardware cost")
    g = raw.set_index(["format", "accumulator"]).gates
    facts = []
    if ("int8", "fixed") in g.index:
        base = g[("int8", "fixed")]
        for key in (
            ("fp8_e4m3fnuz", "fp16"),
            ("fp8_e4m3fnuz", "fp32"),
            ("mxfp4", "fp32"),
            ("vsq_int4", "fixed"),
        ):
            if key in g.index:
                facts.append(f"{key[0]} → {ACC_TEXT[key[1]]} {g[key] / base:.2f}×")
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

    cheapest = raw.loc[raw.gates.idxmin()]
    ctx.findings.append(
        (
            "Hardware cost",
            (
                f"relative to INT8 → fixed point ({g[('int8', 'fixed')]:.0f} gates/MAC): "
                + ", ".join(facts)
                + "; "
                if facts
                else ""
            )
            + f"cheapest MAC: {cheapest.format} → {ACC_TEXT[cheapest.accumulator]} "
            f"({cheapest.gates:.0f} gates/MAC).",
        )
    )

    def draw(fig, rect):
        gs = _grid(fig, rect, 1, len(accs), left=0.95, right=0.15, top=0.25, bottom=0.75,
                   wspace=0.15)  # fmt: skip
        xmax = raw.gates.max() * 1.05
        axes = []
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
            __import__("matplotlib.patches").patches.Patch(color=GROUP_COLOURS[gr], label=gr)
            for gr in GROUPS
            if raw[gr].any()
        ]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
                   bbox_transform=fig.transFigure)  # fmt: skip

    repro = [
        f"lowbit.hwmodel.mac_cost(f, f, acc, terms={cfg['terms']}).breakdown()",
        f"  for f in {fmts!r}",
        f"  for acc in {accs!r}",
        f"lowbit hw --weights F --activations F --acc ACC --gemm {m}x{k}x{n} --array {r}x{c}",
    ]
    doc.figure(
        draw,
        1.3 + 0.16 * len(fmts),
        "Gates per MAC, stacked by group, for each format (weights = activations) and "
        f"accumulator; K = {cfg['terms']:,}. 'fixed' is the exact (Kulisch) width for K "
        "products; for MX and MX9/6/4 that spans the whole E8M0 scale range (≈530–590 bits), "
        "which is why it costs more than FP32 there.",
        "gates per MAC",
        repro,
    )
    ctx.save_csv(f"Figure {doc.n_figures}", raw)

    # Yosys cross-check of the multipliers
    if cfg["yosys"] == "auto" and yosys_available():
        import subprocess

        ver = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
        rows = compare_multipliers()
        ys = pd.DataFrame(rows)
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
            f"The model's multiplier (mpy, NaN logic excluded) against {ver} run now on the "
            "same Verilog (synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT), "
            "XOR/XNOR weighted 3, other 2-input cells 1, inverters 0. Mean model/Yosys "
            f"{ys.ratio.mean():.2f} (range {ys.ratio.min():.2f}–{ys.ratio.max():.2f}).",
            "model vs Yosys",
            ["lowbit.hwmodel.synth.compare_multipliers()", ".venv/bin/python bench/bench_hw.py"],
        )
        ctx.save_csv(label, ys)
    else:
        why = "switched off in the recipe" if cfg["yosys"] == "off" else "yosys is not on PATH"
        doc.paragraph(
            f"Yosys cross-check omitted ({why}). Install the Debian package 'yosys' to have the "
            "report synthesise the multipliers and compare; docs/hwmodel.md holds the last "
            "comparison run by bench/bench_hw.py."
        )

    # energy per MAC and per GEMM
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


# -- accuracy vs cost ---------------------------------------------------------------------
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


def accuracy_vs_cost(doc: Document, ctx: Context) -> None:
    cfg = ctx.recipe["accuracy_vs_cost"]
    hw = dict(ctx.recipe["hardware"])
    hw.update(formats=cfg["formats"], accumulators=cfg["accumulators"])
    raw = _mac_table(hw)
    tensor = cfg["tensor"]
    raw["qsnr_db"] = [ctx.qsnr(f, tensor) for f in raw.format]
    m, k, n = hw["gemm"]
    r, c = hw["array"]
    fronts = {}
    for key in ("gates", "pj_per_mac"):
        fronts[key] = pareto_front(raw[key].to_numpy(), raw.qsnr_db.to_numpy())
    doc.heading("Accuracy versus cost")
    fg = raw.iloc[fronts["gates"]]
    # front points are numbered in order of gates; the table names them
    number = {}
    for key in ("gates", "pj_per_mac"):
        for i in raw.iloc[fronts[key]].sort_values(key).index:
            number.setdefault(i, len(number) + 1)
    doc.paragraph(
        f"Each point is one (format, accumulator) MAC: its QSNR on the {tensor_text(tensor)} "
        f"tensor of Section 3 against its gates per MAC and its energy per MAC in the "
        f"{m}×{k}×{n} GEMM on the {r}×{c} array. The Pareto front (no other point is both "
        "cheaper and more accurate) by gates: "
        + " → ".join(f"{x.format}/{x.accumulator}" for x in fg.itertuples())
        + "."
    )

    ctx.findings.append(
        (
            "Accuracy versus cost",
            "Pareto front of QSNR vs gates/MAC: "
            + " → ".join(
                f"{x.format}/{x.accumulator} ({x.gates:.0f} gates, {x.qsnr_db:.1f} dB)"
                for x in fg.itertuples()
            )
            + ".",
        )
    )

    def draw(fig, rect):
        gs = _grid(fig, rect, 1, 2, left=0.5, right=0.05, top=0.25, bottom=0.95, wspace=0.18)
        keys = [("gates", "gates per MAC"), ("pj_per_mac", "energy per MAC (pJ, incl. memory)")]
        acc_marker = {a: MARKERS[i] for i, a in enumerate(cfg["accumulators"])}
        for j, (key, xlabel) in enumerate(keys):
            ax = fig.add_subplot(gs[0, j])
            for fam in dict.fromkeys(family_of(f) for f in raw.format):
                for acc in cfg["accumulators"]:
                    sub = raw[(raw.format.map(family_of) == fam) & (raw.accumulator == acc)]
                    ax.plot(sub[key], sub.qsnr_db, acc_marker[acc], color=FAMILY_COLOURS[fam],
                            mfc="none", ms=4.5, alpha=0.8)  # fmt: skip
            fr = raw.iloc[fronts[key]]
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
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker=acc_marker[a], color="k", mfc="none",
                          label=f"{ACC_TEXT[a]} acc.") for a in cfg["accumulators"]]  # fmt: skip
        names = {"int": "integer", "fp": "minifloat", "mx": "OCP MX", "sharedexp": "MX9/6/4, BFP",
                 "nvfp4": "NVFP4", "vsq": "VS-Quant", "group": "grouped INT"}  # fmt: skip
        handles += [Line2D([], [], ls="", marker="s", color=FAMILY_COLOURS[f], label=names[f])
                    for f in dict.fromkeys(family_of(x) for x in raw.format)]  # fmt: skip
        fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)),
                   frameon=False, bbox_to_anchor=(rect[0] + rect[2] / 2, rect[1]),
                   bbox_transform=fig.transFigure)  # fmt: skip

    repro = [
        f"formats {cfg['formats']!r} × accumulators {cfg['accumulators']!r}",
        f"gates: lowbit.hwmodel.mac_cost(f, f, acc, terms={k}).total",
        f"pJ/MAC: array_cost(f, f, acc, gemm=({m}, {k}, {n}), array=({r}, {c})).energy_pj"
        "['total'] / macs",
        f"QSNR: the {tensor} tensor of the block-format study",
        "front: lowbit.report.study_hardware.pareto_front(cost, qsnr)",
    ]
    doc.figure(
        draw,
        3.9,
        f"QSNR on the {tensor_text(tensor)} tensor ({'×'.join(map(str, ctx.recipe['block_formats']['shape']))}, seed "
        f"{ctx.seed}) against gates per MAC (left) and energy per MAC (right; {hw['node_nm']:g} nm, "
        f"{r}×{c} array, {m}×{k}×{n} GEMM). Marker: accumulator; colour: format family; the "
        "black staircase is the Pareto front; its points are numbered as in the table below.",
        "Pareto front",
        repro,
    )
    idx = sorted(set(fronts["gates"]) | set(fronts["pj_per_mac"]), key=lambda i: number[i])
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
                    if i in set(fronts[k].tolist())
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


# -- accumulators -------------------------------------------------------------------------
def _operands(fmt, x: np.ndarray) -> np.ndarray:
    """Codes of x: float formats encode x as it is; integers q = round(x · max / max|x|)."""
    if isinstance(fmt, FloatFormat):
        return np.ascontiguousarray(fmt.encode(x, overflow="saturate"))
    s = float(np.max(np.abs(x))) / float(fmt.max)
    return np.ascontiguousarray(fmt.encode(x / s, overflow="saturate"))


def accumulators(doc: Document, ctx: Context) -> None:
    doc.heading("Accumulators")
    try:
        from ..hwmodel import macsim
        from ..hwmodel.macsim import FixedAcc, gemm, value_table

        macsim._load_lib()
    except ImportError as exc:
        doc.paragraph(
            "This study is omitted: the C MAC simulator (lowbit.hwmodel._macsim) is not built "
            f"in this installation ({exc}). Reinstall lowbit with a C compiler available "
            "(pip install -e .) to include it."
        )
        ctx.notes.append("accumulators: omitted (C simulator not built)")
        return
    cfg = ctx.recipe["accumulators"]
    ks, m, n = sorted(cfg["k"]), cfg["m"], cfg["n"]
    kmax = ks[-1]
    try:
        rows = _simulate(ctx, cfg, ks, m, n, gemm, FixedAcc, value_table)
    except Exception as exc:  # a stale or broken build must not sink the whole report
        doc.paragraph(
            "This study is omitted: the C MAC simulator failed on its first GEMM "
            f"({type(exc).__name__}: {exc}). The extension may be out of date with its Python "
            "front; reinstall lowbit (pip install -e .) to rebuild it."
        )
        ctx.notes.append(f"accumulators: omitted (simulator failed: {type(exc).__name__}: {exc})")
        return
    raw = pd.DataFrame(rows)
    failed = raw[raw.error != ""]
    ok = raw[raw.error == ""].copy()
    ok["swamping_pct"] = 100 * ok.swamping / ok.macs
    ok["overflow_pct"] = 100 * ok.overflow / ok.macs
    floor, ceiling = 1e-17, 10.0
    last = ok[ok.k == kmax]
    worst = last.loc[last.rel_error.idxmax()] if len(last) else None
    doc.paragraph(
        f"C = A·B computed bit-exactly by the C simulator (lowbit.hwmodel.macsim.gemm), "
        f"M = {m}, N = {n}, K up to {kmax:,}: each product is exact and each addition rounds "
        "(FP16/BF16/FP32, round to nearest even), saturates or wraps (fixed point) in the "
        "accumulator's own arithmetic, sequentially along K. The error is "
        "‖C − C_exact‖_F / ‖C_exact‖_F against the exact (Kulisch) result. A and B hold seeded "
        "N(0, 1) values: float formats encode them as they are, integer formats as "
        "round(x · max / max|x|). 'fixed:W' is a W-bit register with just enough fraction bits "
        "for every product to be exact (2 × the format's finest bit)."
        + (
            f" Worst at K = {kmax:,}: {worst.format} into {worst.accumulator}, relative error "
            f"{fmt_num(worst.rel_error)} with {worst.swamping_pct:.0f}% of steps swamped and "
            f"{int(worst.overflow):,} overflows."
            if worst is not None
            else ""
        )
    )
    pairs = list(dict.fromkeys(ok.format))
    if len(last):
        per = []
        for f in pairs:
            sub = last[last.format == f]
            exact = sub[sub.rel_error == 0].accumulator.tolist()
            inexact = sub[sub.rel_error != 0].sort_values("rel_error")
            per.append(
                f"{f}: "
                + ", ".join(f"{x.accumulator} {fmt_num(x.rel_error)}" for x in inexact.itertuples())
                + (f"; exact: {', '.join(exact)}" if exact else "")
            )
        ctx.findings.append(
            ("Accumulators", f"relative GEMM error at K = {kmax:,}: " + " | ".join(per) + ".")
        )

    def draw(fig, rect):
        gs = _grid(fig, rect, 2, len(pairs), left=0.6, right=1.15, top=0.25, bottom=0.45,
                   hspace=0.35, wspace=0.25)  # fmt: skip
        for j, f in enumerate(pairs):
            ax = fig.add_subplot(gs[0, j])
            ax2 = fig.add_subplot(gs[1, j], sharex=ax)
            sub = ok[ok.format == f]
            for i, acc in enumerate(dict.fromkeys(sub.accumulator)):
                s = sub[sub.accumulator == acc].sort_values("k")
                mk = MARKERS[i % len(MARKERS)]
                err = np.clip(
                    np.nan_to_num(s.rel_error, nan=ceiling, posinf=ceiling), floor, ceiling
                )
                ax.plot(s.k, err, marker=mk, label=acc)
                ax2.plot(s.k, s.swamping_pct, marker=mk, label=acc)
                over = (s.overflow > 0).to_numpy()
                ax.plot(s.k[over], err[over], "x", color="k", ms=6)
            ax.axhline(floor, color="0.6", lw=0.6, ls=":")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{f} × {f}")
            ax.set_ylabel("relative error")
            ax2.set_ylabel("swamped steps (%)")
            ax2.set_xlabel("K (products per output)")
            ax.tick_params(labelbottom=False)
            if j == len(pairs) - 1:
                ax.plot([], [], "x", color="k", label="overflow")
                ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)

    repro = [
        "a = fmt.encode(x) (float) or fmt.encode(x / (max|x|/fmt.max)) (int), x ~ N(0,1): "
        f"rng = default_rng(SeedSequence([{ctx.seed}, 13, pair index])); "
        f"A = rng.standard_normal(({m}, {kmax})), then B = rng.standard_normal(({kmax}, {n}))",
        f"lowbit.hwmodel.macsim.gemm(a[:, :K], b[:K], fmt, fmt, accumulator=acc)  K in {ks}",
        "reference: accumulator='exact'; fixed:W -> FixedAcc(W, frac, 'saturate'|'wrap')",
    ] + [f"pair {p['format']}: {p['accumulators']}" for p in cfg["pairs"]]
    doc.figure(
        draw,
        4.4,
        f"Top: relative Frobenius error of C (M = {m}, N = {n}) against K; errors of 0 (exact) "
        f"are drawn on the dotted line at {floor:g}, infinite ones (Inf in the result) at "
        f"{ceiling:g}; × marks a run with accumulator overflow "
        "(saturation, wrap or Inf). Bottom: share of MAC steps whose exact sum the accumulator "
        f"could not hold (swamping). Seed {ctx.seed}.",
        "accumulator error vs K",
        repro,
    )
    tab = pd.DataFrame(
        {
            "operands": last.format,
            "accumulator": last.accumulator,
            "rel. error": [fmt_num(v) for v in last.rel_error],
            "overflow steps": [f"{int(v):,}" for v in last.overflow],
            "swamped (%)": [f"{v:.1f}" for v in last.swamping_pct],
            "absorbed (%)": [
                f"{100 * a / t:.2f}" for a, t in zip(last.absorbed, last.macs, strict=True)
            ],
            "max |acc|": [fmt_num(v) for v in last.max_abs],
        }
    )
    label = doc.table(
        tab,
        f"At K = {kmax:,} ({m * n * kmax:,} MACs per run): relative error, MAC steps that "
        "overflowed, that lost part of the product (swamped) or all of it (absorbed), and the "
        "largest accumulator magnitude reached.",
        "accumulator table",
        repro,
    )
    ctx.save_csv(label, raw)
    if len(failed):
        doc.paragraph(
            "Not run: "
            + "; ".join(
                f"{x.format} into {x.accumulator}: {x.error}"
                for x in failed.drop_duplicates(["format", "accumulator"]).itertuples()
            )
        )


def _simulate(ctx, cfg, ks, m, n, gemm, FixedAcc, value_table) -> list[dict]:
    """Every (pair, K, accumulator) GEMM against the exact one; one row each."""
    kmax = ks[-1]
    rows = []
    for p_i, pair in enumerate(cfg["pairs"]):
        fmt = get_format(pair["format"])
        rng = ctx.rng(13, p_i)
        a = _operands(fmt, rng.standard_normal((m, kmax)))
        b = _operands(fmt, rng.standard_normal((kmax, n)))
        frac = -2 * value_table(fmt).low  # every product exact on the fixed-point grid
        for kk in ks:
            ak, bk = np.ascontiguousarray(a[:, :kk]), np.ascontiguousarray(b[:kk, :])
            exact, _ = gemm(ak, bk, fmt, fmt, accumulator="exact")
            norm = float(np.linalg.norm(exact))
            for acc in pair["accumulators"]:
                if acc.startswith("fixed"):
                    parts = acc.split(":")
                    mode = parts[2] if len(parts) == 3 else "saturate"
                    acc_obj = FixedAcc(int(parts[1]), frac, mode)
                else:
                    acc_obj = acc
                try:
                    out, st = gemm(ak, bk, fmt, fmt, accumulator=acc_obj)
                except ValueError as exc:  # e.g. a register too narrow for the products
                    rows.append(dict(format=fmt.name, accumulator=acc, k=kk, error=str(exc)))
                    continue
                err = float(np.linalg.norm(out - exact)) / norm if norm else math.nan
                rows.append(
                    dict(
                        format=fmt.name,
                        accumulator=acc,
                        frac_bits=frac if acc.startswith("fixed") else None,
                        k=kk,
                        rel_error=err,
                        overflow=st["overflow"],
                        swamping=st["swamping"],
                        absorbed=st["absorbed"],
                        max_abs=st["max_abs"],
                        macs=st["macs"],
                        error="",
                    )
                )
    return rows
