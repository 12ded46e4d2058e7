"""Accumulators: GEMM error, swamped and overflowed steps against K, for formats summed into
FP16/BF16/FP32 and fixed-point registers, bit-exactly by the C simulator."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from ...formats import FloatFormat, Format, get_format
from ..context import Context, fmt_num
from ..layout import MARKERS, grid
from ..pdf import Document
from ..quantize import absmax_scale

#: errors of 0 (exact) and ∞ are drawn at these values
FLOOR, CEILING = 1e-17, 10.0


def _operands(fmt: Format, x: np.ndarray) -> np.ndarray:
    """Codes of x: float formats encode x as it is; integers q = round(x / s), s the absmax
    scale."""
    if isinstance(fmt, FloatFormat):
        return np.ascontiguousarray(fmt.encode(x, overflow="saturate"))
    s = absmax_scale(x, fmt)
    return np.ascontiguousarray(fmt.encode(x / s, overflow="saturate"))


def compute(ctx: Context) -> pd.DataFrame:
    """One row per (pair, K, accumulator) GEMM against the exact one: ``rel_error``,
    overflow/swamping/absorbed step counts, ``max_abs``, ``macs``, and ``error`` (the
    simulator's refusal, "" when it ran); ``swamping_pct`` and ``overflow_pct`` for the rows
    that ran.  Without a working simulator the frame is empty and
    ``df.attrs["omitted"]`` holds (the paragraph that says why, the build note)."""
    try:
        from ...hwmodel import macsim
        from ...hwmodel.macsim import gemm, parse_accumulator, value_table

        if not macsim.available():
            raise ImportError(macsim.MISSING_MESSAGE)
    except ImportError as exc:
        return _omitted(
            "This study is omitted: the C MAC simulator (lowbit.hwmodel._macsim) is not built "
            f"in this installation ({exc}). Reinstall lowbit with a C compiler available "
            "(pip install -e .) to include it.",
            "accumulators: omitted (C simulator not built)",
        )
    cfg = ctx.recipe["accumulators"]
    ks, m, n = sorted(cfg["k"]), cfg["m"], cfg["n"]
    try:
        rows = _simulate(ctx, cfg, ks, m, n, gemm, parse_accumulator, value_table)
    except Exception as exc:  # a stale or broken build must not sink the whole report
        return _omitted(
            "This study is omitted: the C MAC simulator failed on its first GEMM "
            f"({type(exc).__name__}: {exc}). The extension may be out of date with its Python "
            "front; reinstall lowbit (pip install -e .) to rebuild it.",
            f"accumulators: omitted (simulator failed: {type(exc).__name__}: {exc})",
        )
    raw = pd.DataFrame(rows)
    ran = raw.error == ""
    raw.loc[ran, "swamping_pct"] = 100 * raw.swamping[ran] / raw.macs[ran]
    raw.loc[ran, "overflow_pct"] = 100 * raw.overflow[ran] / raw.macs[ran]
    return raw


def _omitted(paragraph: str, note: str) -> pd.DataFrame:
    df = pd.DataFrame()
    df.attrs["omitted"] = (paragraph, note)
    return df


def finding(ok: pd.DataFrame, kmax: int) -> str | None:
    """The title page's key result: each format's error per accumulator at the largest K
    (None when nothing ran there)."""
    last = ok[ok.k == kmax]
    if not len(last):
        return None
    per = []
    for f in dict.fromkeys(ok.format):
        sub = last[last.format == f]
        exact = sub[sub.rel_error == 0].accumulator.tolist()
        inexact = sub[sub.rel_error != 0].sort_values("rel_error")
        per.append(
            f"{f}: "
            + ", ".join(f"{x.accumulator} {fmt_num(x.rel_error)}" for x in inexact.itertuples())
            + (f"; exact: {', '.join(exact)}" if exact else "")
        )
    return f"relative GEMM error at K = {kmax:,}: " + " | ".join(per) + "."


def render(doc: Document, ctx: Context, df: pd.DataFrame) -> None:
    """The section: text, error and swamping against K, the table at the largest K."""
    doc.heading("Accumulators")
    if "omitted" in df.attrs:
        paragraph, note = df.attrs["omitted"]
        doc.paragraph(paragraph)
        ctx.notes.append(note)
        return
    cfg = ctx.recipe["accumulators"]
    ks, m, n = sorted(cfg["k"]), cfg["m"], cfg["n"]
    kmax = ks[-1]
    raw = df.drop(columns=["swamping_pct", "overflow_pct"])
    failed = df[df.error != ""]
    ok = df[df.error == ""]
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
    text = finding(ok, kmax)
    if text is not None:
        ctx.findings.append(("Accumulators", text))
    repro = [
        "a = fmt.encode(x) (float) or fmt.encode(x / (max|x|/fmt.max)) (int), x ~ N(0,1): "
        f"rng = default_rng(SeedSequence([{ctx.seed}, 13, pair index])); "
        f"A = rng.standard_normal(({m}, {kmax})), then B = rng.standard_normal(({kmax}, {n}))",
        f"lowbit.hwmodel.macsim.gemm(a[:, :K], b[:K], fmt, fmt, accumulator=acc)  K in {ks}",
        "reference: accumulator='exact'; fixed:W[:F][:wrap|saturate] -> FixedAccumulator(W, F)",
    ] + [f"pair {p['format']}: {p['accumulators']}" for p in cfg["pairs"]]
    doc.figure(
        lambda fig, rect: _draw(fig, rect, ok, pairs),
        4.4,
        f"Top: relative Frobenius error of C (M = {m}, N = {n}) against K; errors of 0 (exact) "
        f"are drawn on the dotted line at {FLOOR:g}, infinite ones (Inf in the result) at "
        f"{CEILING:g}; × marks a run with accumulator overflow "
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


def _draw(
    fig: Any, rect: tuple[float, float, float, float], ok: pd.DataFrame, pairs: list[str]
) -> None:
    floor, ceiling = FLOOR, CEILING
    gs = grid(fig, rect, 2, len(pairs), left=0.6, right=1.15, top=0.25, bottom=0.45,
               hspace=0.35, wspace=0.25)  # fmt: skip
    for j, f in enumerate(pairs):
        ax = fig.add_subplot(gs[0, j])
        ax2 = fig.add_subplot(gs[1, j], sharex=ax)
        sub = ok[ok.format == f]
        for i, acc in enumerate(dict.fromkeys(sub.accumulator)):
            s = sub[sub.accumulator == acc].sort_values("k")
            mk = MARKERS[i % len(MARKERS)]
            err = np.clip(np.nan_to_num(s.rel_error, nan=ceiling, posinf=ceiling), floor, ceiling)
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


def _simulate(
    ctx: Context,
    cfg: dict[str, Any],
    ks: list[int],
    m: int,
    n: int,
    gemm: Any,
    parse_accumulator: Any,
    value_table: Any,
) -> list[dict[str, Any]]:
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
                acc_obj = parse_accumulator(acc)
                if getattr(acc_obj, "frac", 0) is None:  # fixed point: at the products' LSB
                    acc_obj = dataclasses.replace(acc_obj, frac=frac)
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
                        frac_bits=getattr(acc_obj, "frac", None),
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
