"""Accumulators: the error a finite accumulator adds to a GEMM of scaled, quantized operands,
against K, for float registers in three orders, fixed-point registers with the binary point
chosen from the output range, and narrow accumulation with periodic FP32 promotion.

Operands are quantized by :func:`lowbit.evaluation.quantize_operand` (real scales: INT8 per
token × per channel, FP8 per tensor, MX/NVFP4 blocks along K) and multiplied bit-exactly by
:func:`lowbit.evaluation.accumulate.accumulate`; the error is that of the accumulator alone,
‖Y − Y_exact‖_F / ‖Y_exact‖_F against the exact accumulation of the same quantized operands,
a mean over seeds with its Student-t interval (:func:`lowbit.analysis.stats.mean_ci`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...analysis.specs import parse_distribution
from ...analysis.stats import mean_ci
from ..context import Context, fmt_num
from ..layout import MARKERS, grid
from ..pdf import Document

#: infeasible points (overflow or non-finite output in some seed) are drawn at this error
CEILING = 10.0
#: line style per order; colours and markers are keyed by accumulator name (_style)
ORDER_STYLE = {"sequential": "-", "blocks": "--", "pairwise": ":"}
ORDER_TEXT = {"sequential": "sequential", "blocks": "blocks of lanes", "pairwise": "pairwise"}
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#ff7f0e", "#e377c2", "#17becf"]


def _missing() -> str | None:
    """Why the simulator cannot run here (None when it can)."""
    try:
        from ...hwmodel import macsim

        if not macsim.available():
            raise ImportError(macsim.MISSING_MESSAGE)
    except ImportError as exc:
        return str(exc)
    return None


def _probe() -> None:
    """One small GEMM through the simulator, checked against its exact value, before the
    study runs: a stale or broken extension fails here (and the study is omitted)."""
    from ...formats import get_format
    from ...hwmodel import macsim

    i8 = get_format("int8")
    a = np.ascontiguousarray(i8.encode(np.arange(-16.0, 16.0).reshape(1, 32)))
    c, _ = macsim.gemm(a, np.ascontiguousarray(a.T), i8, i8, accumulator="fp32", order="blocks")
    if c.tolist() != [[2736.0]]:  # Σ_{i=−16}^{15} i² = 1496 + 1240
        raise RuntimeError(f"the simulator returned {c.tolist()} for [[2736.0]]")


def schemes(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every accumulation scheme of the recipe: ``name`` (what the figure and tables call
    it), ``key`` (the accumulator it is coloured by), ``accumulator``, ``order``,
    ``interval`` (FP32 promotion) and ``placement`` (fixed point: "range" or "lsb").

    >>> [s["name"] for s in schemes(dict(accumulators=["fp16"], orders=["sequential"],
    ...     fixed_widths=[24], promote=["fp22"], interval=128))]
    ['fp16 sequential', 'fixed:24 F by range', 'fixed:24 F at LSB', 'fp22→fp32 every 128']
    """
    out = []
    for acc in cfg["accumulators"]:
        for order in cfg["orders"]:
            out.append(dict(name=f"{acc} {order}", key=acc, accumulator=acc, order=order,
                            interval=None, placement=""))  # fmt: skip
    for w in cfg["fixed_widths"]:
        for placement, text in (("range", "F by range"), ("lsb", "F at LSB")):
            out.append(dict(name=f"fixed:{w} {text}", key=f"fixed:{w}", accumulator=w,
                            order="blocks", interval=None, placement=placement))  # fmt: skip
    for low in cfg["promote"]:
        out.append(dict(name=f"{low}→fp32 every {cfg['interval']}", key=f"{low}→fp32",
                        accumulator=low, order="blocks", interval=cfg["interval"],
                        placement=""))  # fmt: skip
    return out


def _draw_operands(ctx: Context, cfg: dict, seed: int, kmax: int) -> tuple[np.ndarray, ...]:
    """X (m × kmax) and W (kmax × n) of one seed; K < kmax takes the first K columns/rows
    (the same draw for every pair and scheme: paired comparisons).  Seed −1: calibration."""
    dist = parse_distribution(cfg["distribution"])
    draws = []
    for stream, shape in ((0, (cfg["m"], kmax)), (1, (kmax, cfg["n"]))):
        rng = ctx.rng(13, seed + 1, stream)  # salt 13: this study; seed + 1 ≥ 0
        draws.append(np.asarray(dist.rvs(size=shape, random_state=rng), dtype=np.float64))
    return tuple(draws)


def _run_one(qa, qb, s: dict, frac: int | None, y_exact: np.ndarray, cfg: dict) -> dict:
    from ...evaluation import error_metrics
    from ...evaluation.accumulate import accumulate, fixed_register

    acc = s["accumulator"]
    if s["placement"]:
        acc = fixed_register(int(acc), frac if s["placement"] == "range" else None)
    try:
        y, st = accumulate(qa, qb, acc, s["order"], cfg["lanes"], s["interval"],
                           cfg["outer_scales"])  # fmt: skip
    except ValueError as exc:  # a register the products do not fit (LSB placement, MX scales)
        return dict(error=str(exc))
    bad = int(np.count_nonzero(~np.isfinite(y)))
    feasible = not bad and not st.overflow
    m = error_metrics(y, y_exact)
    return dict(
        rel_error=m["rel_fro"] if feasible else math.nan,
        feasible=feasible,
        overflow=int(st.overflow),
        nonfinite=bad,
        partly_lost=st.swamping / st.steps if st.steps else 0.0,
        wholly_lost=st.absorbed / st.steps if st.steps else 0.0,
        steps=int(st.steps),
        max_abs=float(st.max_abs),
        error="",
    )


def _pair_rows(ctx: Context, cfg: dict, pair: dict, draws: dict, calib) -> list[dict]:
    from ...evaluation import quantize_operand
    from ...evaluation.accumulate import choose_frac, partial_sum_bound
    from ...evaluation.gemm import _simulate

    rows = []
    for k in sorted(cfg["k"]):
        cx = quantize_operand(calib[0][:, :k], pair["x"], "activation")
        cw = quantize_operand(calib[1][:k], pair["w"], "weight")
        bound = partial_sum_bound(cx, cw, "blocks", cfg["lanes"], cfg["outer_scales"])
        fracs = {w: choose_frac(w, bound, cfg["headroom_bits"]) for w in cfg["fixed_widths"]}
        for seed, (x, w) in draws.items():
            qa = quantize_operand(x[:, :k], pair["x"], "activation")
            qb = quantize_operand(w[:k], pair["w"], "weight")
            y_exact, _ = _simulate(qa, qb, "exact", order="sequential",
                                   outer_scales=cfg["outer_scales"])  # fmt: skip
            for s in schemes(cfg):
                frac = fracs.get(int(s["accumulator"])) if s["placement"] == "range" else None
                row = dict(pair=pair["label"], short=pair["short"], x_spec=pair["x"],
                           w_spec=pair["w"], k=k,
                           seed=seed, scheme=s["name"], key=s["key"], order=s["order"],
                           interval=s["interval"], placement=s["placement"], frac=frac,
                           bound=bound)  # fmt: skip
                rows.append(row | _run_one(qa, qb, s, frac, y_exact, cfg))
    return rows


def compute(ctx: Context) -> pd.DataFrame:
    """One row per (operand pair, K, seed, scheme): the accumulator's relative error
    ``rel_error`` (NaN when infeasible), ``feasible``, ``overflow`` steps, ``nonfinite``
    outputs, ``partly_lost`` / ``wholly_lost`` (shares of accumulator additions that lost part
    / all of the addend), ``max_abs``, the fixed-point ``frac`` chosen from the calibrated
    partial-sum ``bound``, and ``error`` (why a scheme could not run, "" when it ran).
    Without a working simulator the frame is empty and ``df.attrs["omitted"]`` holds (the
    paragraph that says why, the build note)."""
    why = _missing()
    if why is not None:
        return _omitted(
            "This study is omitted: the C MAC simulator (lowbit.hwmodel._macsim) is not built "
            f"in this installation ({why}). Reinstall lowbit with a C compiler available "
            "(pip install -e .) to include it.",
            "accumulators: omitted (C simulator not built)",
        )
    cfg = ctx.recipe["accumulators"]
    kmax = max(cfg["k"])
    try:
        _probe()
        draws = {s: _draw_operands(ctx, cfg, s, kmax) for s in range(cfg["seeds"])}
        calib = _draw_operands(ctx, cfg, -1, kmax)
        rows = []
        for pair in pairs(cfg):
            rows += _pair_rows(ctx, cfg, pair, draws, calib)
    except Exception as exc:  # a stale or broken build must not sink the whole report
        return _omitted(
            "This study is omitted: the C MAC simulator failed on its first GEMM "
            f"({type(exc).__name__}: {exc}). The extension may be out of date with its Python "
            "front; reinstall lowbit (pip install -e .) to rebuild it.",
            f"accumulators: omitted (simulator failed: {type(exc).__name__}: {exc})",
        )
    return pd.DataFrame(rows)


_GRAN = {"per_tensor": "t", "per_token": "tok", "per_channel": "ch", "none": "unscaled"}


def pairs(cfg: dict) -> list[dict[str, str]]:
    """The recipe's operand pairs with a ``label`` ("int8:per_token × int8:per_channel")
    and a ``short`` one for table columns ("int8 tok×ch"; a block format by its name).

    >>> pairs(dict(pairs=[dict(x="int8:per_token", w="int8:per_channel")]))[0]["short"]
    'int8 tok×ch'
    """
    from ...evaluation import parse_spec

    out = []
    for p in cfg["pairs"]:
        sx, sw = parse_spec(p["x"]), parse_spec(p["w"])
        names = dict.fromkeys((sx.format.name, sw.format.name))
        grans = [_GRAN.get(g, g if g != "per_group" else f"g{s.group}")
                 for s, g in ((sx, sx.granularity), (sw, sw.granularity))]  # fmt: skip
        short = "×".join(names)
        if grans != ["block", "block"]:
            short += " " + "×".join(grans)
        out.append(dict(p, label=f"{p['x']} × {p['w']}", short=short))
    return out


def _omitted(paragraph: str, note: str) -> pd.DataFrame:
    df = pd.DataFrame()
    df.attrs["omitted"] = (paragraph, note)
    return df


def summary(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (pair, K, scheme): ``mean`` and ``half_width`` of the relative error over
    the seeds (NaN unless every seed is feasible: an overflow is never averaged or ranked),
    ``infeasible`` seeds, ``n``, the mean ``partly_lost``/``wholly_lost`` shares of the
    feasible seeds, ``frac`` and ``error``."""
    out = []
    keys = ["pair", "k", "scheme"]
    for (pair, k, scheme), g in df.groupby(keys, sort=False):
        ran = g[g.error == ""]
        bad = int((~ran.feasible.astype(bool)).sum()) if len(ran) else 0
        mean = half = math.nan
        if len(ran) and not bad:
            ci = mean_ci(ran.rel_error.to_numpy(), confidence)
            mean, half = ci.mean, ci.half_width
        ok = ran[ran.feasible.astype(bool)] if len(ran) else ran
        first = g.iloc[0]
        out.append(dict(
            pair=pair, k=k, scheme=scheme, key=first.key, order=first.order,
            placement=first.placement, frac=first.frac, mean=mean, half_width=half,
            n=len(g), infeasible=bad, ran=len(ran),
            partly_lost=float(ok.partly_lost.mean()) if len(ok) else math.nan,
            wholly_lost=float(ok.wholly_lost.mean()) if len(ok) else math.nan,
            error=g.error.iloc[0] if not len(ran) else "",
        ))  # fmt: skip
    return pd.DataFrame(out)


def _cell(r: dict, frac: bool = True) -> str:
    """A summary row as a table cell: mean ± half-width, overflow, or not run."""
    if r["error"]:
        return "not run"
    if r["infeasible"]:
        return f"overflow ({r['infeasible']}/{r['n']})"
    if r["mean"] == 0 and r["half_width"] == 0:
        text = "exact"
    else:
        text = f"{fmt_num(r['mean'], 2)} ± {fmt_num(r['half_width'], 1)}"
    return text + (f" (F={int(r['frac'])})" if frac and r["placement"] == "range" else "")


def finding(df: pd.DataFrame) -> str | None:
    """The title page's key result, from the first pair at the largest K: FP16 in each
    order, each promotion scheme, and the fixed-point register of the first width with F by
    range against F at the products' LSB (None when nothing ran there)."""
    if df.empty or "omitted" in df.attrs:
        return None
    s = summary(df)
    pair, kmax = df.pair.iloc[0], int(df.k.max())
    last = s[(s.pair == pair) & (s.k == kmax)].set_index("scheme")
    cell = {n: _cell(r.to_dict()) for n, r in last.iterrows()}
    fp16 = [f"{r.order} {cell[n]}" for n, r in last.iterrows() if r.key == "fp16"]
    parts = [f"FP16 {', '.join(fp16)}"] if fp16 else []
    parts += [f"{n} {cell[n]}" for n, r in last.iterrows() if "→" in r.key]
    fixed = [(n, r) for n, r in last.iterrows() if r.placement][:2]  # the first width
    if fixed:  # "fixed:24 F by range …, F at LSB …"
        texts = [f"{n} {_cell(r.to_dict())}" for n, r in fixed]
        parts.append(", ".join([texts[0]] + [t.split(" ", 1)[1] for t in texts[1:]]))
    short = dict(zip(df.pair, df.short, strict=False)).get(pair, pair)
    return (
        f"{short}, K = {kmax:,}, accumulation error (mean ± 95% CI, "
        f"{int(last.n.iloc[0])} seeds): " + "; ".join(parts) + "."
    )


def _style(keys: list[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) per accumulator name, the same in every panel."""
    return {k: (_COLOURS[i % len(_COLOURS)], MARKERS[i % len(MARKERS)]) for i, k in enumerate(keys)}


def _draw(fig: Any, rect: tuple, s: pd.DataFrame, labels: list[str], short: dict) -> None:
    shown = s[s.placement != "lsb"]
    style = _style(list(dict.fromkeys(shown.key)))
    cols = 3
    rows = -(-(len(labels) + 1) // cols)
    gs = grid(fig, rect, rows, cols, left=0.6, right=0.1, top=0.25, bottom=0.45,
              hspace=0.45, wspace=0.3)  # fmt: skip
    for j, pair in enumerate(labels):
        ax = fig.add_subplot(gs[j // cols, j % cols])
        sub = shown[shown.pair == pair]
        for name in dict.fromkeys(sub.scheme):
            g = sub[sub.scheme == name].sort_values("k")
            colour, mk = style[g.key.iloc[0]]
            ls = ORDER_STYLE[g.order.iloc[0]]
            ok = g[np.isfinite(g["mean"]) & (g["mean"] > 0)]  # 0 (exact) has no log
            ax.errorbar(ok.k, ok["mean"], yerr=ok.half_width, color=colour, marker=mk, ms=3,
                        ls=ls, lw=0.9, capsize=1.5, label=name)  # fmt: skip
            bad = g[g.infeasible > 0]
            ax.plot(bad.k, [CEILING] * len(bad), "x", color=colour, ms=5)
        ax.set_xscale("log", base=2)
        if not (sub["mean"] > 0).any() and not (sub.infeasible > 0).any():
            ax.set_ylim(1e-9, 1.0)  # every scheme exact here: an empty log axis
        ax.set_yscale("log")
        ax.set_title(short[pair], fontsize=7)
        ax.set_xlabel("K", fontsize=7)
        if j % cols == 0:
            ax.set_ylabel("relative error", fontsize=7)
        ax.tick_params(labelsize=6)
    lax = fig.add_subplot(gs[(len(labels)) // cols, len(labels) % cols])
    lax.axis("off")
    for key, (colour, mk) in style.items():
        lax.plot([], [], color=colour, marker=mk, ls="-", label=key)
    for order, ls in ORDER_STYLE.items():
        lax.plot([], [], color="0.3", ls=ls, label=ORDER_TEXT[order])
    lax.plot([], [], "x", color="0.3", label=f"overflow (drawn at {CEILING:g})")
    lax.legend(loc="center", frameon=False, fontsize=6.5)


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: text, error against K per operand pair, the tables at the largest K."""
    doc.heading("Accumulators")
    if "omitted" in df.attrs:
        paragraph, note = df.attrs["omitted"]
        doc.paragraph(paragraph)
        ctx.notes.append(note)
        return
    cfg = ctx.recipe["accumulators"]
    kmax, lanes, seeds = max(cfg["k"]), cfg["lanes"], cfg["seeds"]
    s = summary(df)
    labels = [p["label"] for p in pairs(cfg)]
    setup = (
        f"Y = X·W with X ({cfg['m']} × K, activations) and W (K × {cfg['n']}, weights) drawn "
        f"from {cfg['distribution']}, quantized with real scales along the right axes: "
        "per-token X and per-output-channel W scales, per-tensor scales, or blocks along K "
        "(MX: E8M0 per 32; NVFP4: E4M3 per 16 and an FP32 tensor scale). Scales constant "
        "along K are applied after accumulation with their power-of-two part folded into the "
        f"products first (outer_scales = {cfg['outer_scales']}), so the accumulator holds "
        "values near the real output, not raw integer codes."
    )
    doc.paragraph(
        setup + " Each scheme's error is ‖Y − Y_exact‖_F / ‖Y_exact‖_F against the exact "
        "accumulation of the same quantized operands (the quantization error is not in it), "
        f"a mean over {seeds} seeds with its 95% Student-t interval. Orders: sequential, "
        f"blocks of {lanes} products summed exactly then added with one rounding (the unit's "
        "lanes), a pairwise tree. Fixed-point registers saturate; their fraction bits F come "
        "from the output range: the largest |partial sum| (in real units) of the exact "
        f"accumulation of a separate calibration draw, with {cfg['headroom_bits']} bit(s) of "
        "headroom (lowbit.evaluation.accumulate.choose_frac, partial_sum_bound) — or, for "
        "comparison, at the products' "
        "least significant bit (the simulator's default, which leaves few integer bits). "
        f"Promotion: a narrow float accumulates {cfg['interval']} products (in blocks of "
        f"{lanes}), then the partial sum is added into an FP32 register, as DeepSeek-V3 "
        "(arXiv 2412.19437, §3.3.2) does on H800 tensor cores; fp22 (E8M13) stands for their "
        "≈14-bit accumulation. A configuration that overflows in any seed is marked, never "
        "averaged."
    )
    text = finding(df)
    if text is not None:
        ctx.findings.append(("Accumulators", text))
    repro = [
        f"x, w ~ {cfg['distribution']}: default_rng(SeedSequence([{ctx.seed}, 13, seed + 1, "
        f"0 | 1])), seed in range({seeds}); calibration seed −1; K-prefixes of "
        f"({cfg['m']}, {kmax}) and ({kmax}, {cfg['n']})",
        "qa = quantize_operand(x, x_spec, 'activation'); qb = quantize_operand(w, w_spec, "
        "'weight')",
        f"lowbit.evaluation.accumulate.accumulate(qa, qb, acc, order, lanes={lanes}, "
        f"interval=None|{cfg['interval']}, outer_scales='{cfg['outer_scales']}')",
        "F = choose_frac(W, partial_sum_bound(calibration operands), "
        f"headroom_bits={cfg['headroom_bits']})",
    ] + [f"pair: {p}" for p in labels]
    n_rows = -(-(len(labels) + 1) // 3)
    doc.figure(
        lambda fig, rect: _draw(fig, rect, s, labels, {p["label"]: p["short"] for p in pairs(cfg)}),
        2.1 * n_rows + 0.3,
        "Accumulator error against K, one panel per operand pair (X × W formats and scale "
        "granularity: t per tensor, tok per token, ch per output channel, "
        "block formats with blocks along K): colour and marker name the accumulator, the "
        "line style its order "
        f"(blocks of {lanes} lanes, sequential, pairwise; fixed point and promotion run in "
        f"blocks). Mean over {seeds} seeds, bars the 95% interval; × marks an overflow in at "
        f"least one seed; an error of exactly 0 (an exact result) is not drawn (the next table says "
        f"'exact'). Fixed point with F by range analysis; M = {cfg['m']}, N = "
        f"{cfg['n']}, outer scales {cfg['outer_scales']}, seed {ctx.seed}.",
        "accumulator error vs K",
        repro,
    )
    last = s[s.k == kmax]
    tab = last.pivot_table(index="scheme", columns="pair", values="mean", sort=False)
    cells = {(r["scheme"], r["pair"]): _cell(r, frac=False) for r in last.to_dict("records")}
    short = {p["label"]: p["short"] for p in pairs(cfg)}
    tab = pd.DataFrame({short[p]: [cells.get((sc, p), "") for sc in tab.index] for p in labels},
                       index=tab.index).reset_index()  # fmt: skip
    fracs = last[last.placement == "range"].drop_duplicates(["pair", "scheme"])
    f_text = "; ".join(f"{r.scheme.split()[0]} {short[r.pair]}: F = {int(r.frac)}"
                       for r in fracs.itertuples())  # fmt: skip
    label = doc.table(
        tab,
        f"Accumulator error at K = {kmax:,} (mean ± 95% CI over {seeds} seeds). Columns: "
        "X × W formats and scale granularity (t: per tensor, tok: per token, ch: per output "
        f"channel; block formats: blocks along K). F chosen by range analysis: {f_text}. "
        "'overflow (i/n)': "
        "the register overflowed or the output was not finite in i of n seeds (infeasible, "
        "not ranked); 'not run': the register cannot hold the products on its grid.",
        "accumulator table",
        repro,
    )
    ctx.save_csv(label, df)
    floats = last[last.scheme.isin([n for n in last.scheme if "fixed" not in n])]
    lost = {
        (r.scheme, r.pair): (
            "—"
            if not math.isfinite(r.partly_lost)
            else f"{100 * r.partly_lost:.1f} / {100 * r.wholly_lost:.2f}"
        )
        for r in floats.itertuples()
    }
    names = list(dict.fromkeys(floats.scheme))
    tab2 = pd.DataFrame({"scheme": names} | {short[p]: [lost.get((n, p), "") for n in names]
                                              for p in labels})  # fmt: skip
    doc.table(
        tab2,
        f"Rounding events at K = {kmax:,}: the share of accumulator additions (%) in which "
        "the product (or block sum) was partly lost / wholly lost, mean over the feasible "
        "seeds ('—': every seed overflowed; after a register reaches ±Inf no further step "
        "counts, so shares of overflowing runs are not shown). With blocks an addition "
        f"carries {lanes} products; promotion counts the FP32 additions too.",
        "accumulator rounding events",
        repro,
    )
