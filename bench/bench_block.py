"""The "Block formats" group: quantize-dequantize speed of the block formats against their
peers (a numpy + ml_dtypes composition, torchao, gfloat), issue 3's targets, and QSNR.

Run by the driver: ``.venv/bin/python bench/run.py --groups block --output /tmp/b.md``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence

import numpy as np
from common import (
    PARALLEL_MIN,
    SEED,
    Context,
    Timing,
    agreement,
    fmt_ms,
    fmt_ratio,
    md_table,
    measure,
    measure_threads,
    same_bits,
)

#: Block formats timed against ``np.copyto`` and their peers (quantize-dequantize).
BLOCK_SPEED = ("mxfp8_e4m3", "mxfp4", "mx9", "mx6", "mx4", "vsq_int4", "nvfp4")
#: Every registered block format, for the QSNR table.
BLOCK_QSNR = (
    "mxfp8_e4m3",
    "mxfp8_e5m2",
    "mxfp6_e2m3",
    "mxfp6_e3m2",
    "mxfp4",
    "mxint8",
    "mx9",
    "mx6",
    "mx4",
    "bfp8_b16",
    "nvfp4",
    "vsq_int4",
    "vsq_int8",
    "int4_g128",
)
#: Scalar formats with one absmax scale per tensor, for comparison in the QSNR table.
PER_TENSOR_QSNR = ("fp8_e4m3fn", "fp8_e5m2", "int8")
QSNR_N = 1_000_000
QSNR_VSQ_SHAPE = (625, 1600)  # all QSNR_N values, K a multiple of 16 (VS-Quant's fast path)
#: VS-Quant's fast path wants a 2-D (channels, K) array with K a multiple of 16.
VSQ_K = 992
GFLOAT_BLOCK_MAX = 32_768  # gfloat.quantize_block runs a Python loop per block
# Targets of issue 3 (quantize-dequantize, one core).
TARGET_MX_COPY_1T = 4.0  # MXFP8 and MXFP4: at most this many copy times
TARGET_VS_MXFP8 = 2.0  # MX9/MX6/MX4 and VS-Quant: at most this many times MXFP8's time
#: ISCA 2023 (Rouhani et al., "With Shared Microexponents, A Little Shifting Goes a Long
#: Way"): MX9 about this many dB of QSNR above FP8 E4M3.
PAPER_MX9_VS_E4M3_DB = 16.0


def vsq_shape(n: int) -> tuple[int, int]:
    """A (channels, K) shape for the first values of an n-value array (VS-Quant input)."""
    if n >= VSQ_K:
        return n // VSQ_K, VSQ_K
    return 1, max(16, n - n % 16)


def block_input(x: np.ndarray, name: str) -> np.ndarray:
    """The array a block format is timed on: the longest prefix its fast path accepts."""
    if name.startswith("vsq"):
        rows, k = vsq_shape(x.shape[0])
        return x[: rows * k].reshape(rows, k)
    m = x.shape[0] - x.shape[0] % 32  # block 32 (MX) and 16 (MX9/6/4, NVFP4) both divide
    return x[: m or x.shape[0]]


def np_mx(xb: np.ndarray, elem: type, emax_elem: int, maxv: float) -> np.ndarray:
    """numpy + ml_dtypes composition of OCP MX (not a peer API): xb has shape (blocks, 32);
    X = 2^(floor(log2 amax) - emax_elem), clamped to [2^-127, 2^127]; elements RNE, saturated.
    """
    amax = np.abs(xb).max(axis=-1, keepdims=True)
    e = np.frexp(amax)[1].astype(np.int32) - 1 - emax_elem  # floor(log2(amax)) - emax
    e = np.where(amax == 0, -127, np.clip(e, -127, 127))
    scale = np.ldexp(np.float32(1), e)
    y = np.clip(xb / scale, -maxv, maxv)
    return y.astype(elem).astype(np.float32) * scale


def qsnr_db(x: np.ndarray, q: np.ndarray) -> float:
    """QSNR in dB through lowbit's one SQNR rule (``lowbit.analysis.metrics.sqnr_db``)."""
    from lowbit.analysis.metrics import sqnr_db

    return float(
        sqnr_db(np.asarray(x, np.float64).reshape(-1), np.asarray(q, np.float64).reshape(-1))
    )


def block_speed(ctx: Context, threads: Sequence[int]) -> tuple[list[str], dict, list[str]]:
    """Timing rows of lowbit and the peers, agreement lines, and lowbit's times by
    (format, threads) for the targets."""
    import lowbit

    R = ctx.args.repeats
    copy = ctx.copy.per_elem
    rows: list[list[str]] = []
    checks: list[str] = []
    ours: dict[tuple[str, int], Timing] = {}
    idle: dict[tuple[str, int], bool] = {}
    qd: dict[str, np.ndarray] = {}  # lowbit's quantize-dequantize of MXFP8 / MXFP4
    peer_time: dict[str, float] = {}  # torchao's time per value, for "speed vs torchao"

    def add(fmt: str, impl: str, th: int | str, t: Timing, note: str = "") -> None:
        scaled = t.n < ctx.n and not fmt.startswith("vsq") and impl != "lowbit"
        rows.append(
            [
                fmt,
                impl,
                str(th),
                fmt_ms(t.median) + (f" ({t.n:,} values)" if scaled else ""),
                f"{t.n / t.median / 1e6:,.1f}"
                if t.n / t.median >= 1e6
                else f"{t.n / t.median / 1e6:.3f}",
                fmt_ratio(t.per_elem / copy),
                note,
            ]
        )

    for name in BLOCK_SPEED:
        print(f"[block] {name}", file=sys.stderr, flush=True)
        f = lowbit.get_format(name)
        xb = block_input(ctx.x, name)
        shape = " × ".join(f"{d:,}" for d in xb.shape)
        for th in threads:
            lowbit.set_num_threads(th)
            t, wt = measure_threads(lambda f=f, xb=xb: f.quantize(xb, axis=-1), xb.size, R)
            ours[(name, th)] = t
            idle[(name, th)] = th > 1 and xb.size >= PARALLEL_MIN and wt == 0
            note = f"input shape ({shape})" if xb.ndim > 1 else ""
            if idle[(name, th)]:
                note = (note + "; " if note else "") + "**second thread never ran**"
            add(name, "lowbit", th, t, note)
        lowbit.set_num_threads(max(threads))
        if name in ("mxfp8_e4m3", "mxfp4"):
            qd[name] = f.quantize(xb, axis=-1)

    # ---- peers of MXFP8 / MXFP4 (block 32 along the last axis)
    x = block_input(ctx.x, "mxfp8_e4m3")
    m = x.shape[0]
    cols = 4000 if m % 4000 == 0 else 32
    try:
        import ml_dtypes
    except ImportError:
        checks.append("- ml_dtypes is not installed: the numpy composition rows are missing.")
    else:
        xb32 = x.reshape(-1, 32)
        for name, elem, emax, maxv in (
            ("mxfp8_e4m3", ml_dtypes.float8_e4m3fn, 8, 448.0),
            ("mxfp4", ml_dtypes.float4_e2m1fn, 2, 6.0),
        ):
            fn = lambda elem=elem, emax=emax, maxv=maxv: np_mx(xb32, elem, emax, maxv)  # noqa: E731
            add(
                name,
                "numpy + ml_dtypes",
                1,
                measure(fn, m, R),
                "composition, not a peer API: amax → E8M0 exponent → x/X → astype → back",
            )
            checks.append(
                agreement(
                    f"numpy + ml_dtypes composition ({name})",
                    [("quantize-dequantize", same_bits(qd[name], fn().reshape(-1)), m)],
                )
            )
    try:
        import torch
        from torchao.prototype.mx_formats.mx_tensor import MXTensor
    except Exception as e:  # noqa: BLE001  (torchao raises more than ImportError)
        rows.append(["mxfp8_e4m3, mxfp4", "torchao", "1", "not installed", "", "", str(e)[:80]])
    else:
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        xt = torch.from_numpy(x.reshape(-1, cols))
        try:
            for name, elem in (
                ("mxfp8_e4m3", torch.float8_e4m3fn),
                ("mxfp4", torch.float4_e2m1fn_x2),
            ):
                fn = lambda elem=elem: MXTensor.to_mx(xt, elem, 32).dequantize(torch.float32)  # noqa: E731
                t = measure(fn, m, R)
                peer_time[name] = t.per_elem
                spelled = "float8_e4m3fn" if name == "mxfp8_e4m3" else "float4_e2m1fn_x2"
                add(
                    name,
                    "torchao",
                    1,
                    t,
                    f"`MXTensor.to_mx(t, torch.{spelled}, 32).dequantize(torch.float32)`, "
                    f"input ({m // cols:,}, {cols:,}), `torch.set_num_threads(1)`",
                )
                checks.append(
                    agreement(
                        f"torchao ({name}, FLOOR scale)",
                        [("quantize-dequantize", same_bits(qd[name], fn().numpy().reshape(-1)), m)],
                    )
                )
        finally:
            torch.set_num_threads(old)
    try:
        import gfloat
        import gfloat.formats
    except ImportError:
        checks.append("- gfloat is not installed: its rows are missing.")
    else:
        s = min(m, GFLOAT_BLOCK_MAX)
        blocks = x[:s].astype(np.float64).reshape(-1, 32)
        for name, fi in (
            ("mxfp8_e4m3", gfloat.formats.format_info_mxfp8_e4m3),
            ("mxfp4", gfloat.formats.format_info_mxfp4_e2m1),
        ):
            fn = lambda fi=fi: [  # noqa: E731
                gfloat.quantize_block(fi, b, gfloat.compute_scale_amax) for b in blocks
            ]
            add(
                name,
                "gfloat",
                1,
                measure(fn, s, max(3, R // 2)),
                f"`quantize_block(fi, b, compute_scale_amax)` per block of 32, first {s:,} "
                "values, float64; time per value scaled",
            )
            checks.append(
                agreement(
                    f"gfloat `quantize_block` ({name}, first {s:,} values)",
                    [("quantize-dequantize", same_bits(qd[name][:s], np.concatenate(fn())), s)],
                )
            )
    for name, pt in peer_time.items():
        for th in threads:
            r = pt / ours[(name, th)].per_elem
            checks.append(
                f"- {name}, lowbit on {th} thread{'s' if th > 1 else ''}: "
                f"{fmt_ratio(r)}× the speed of torchao on one thread."
            )
    table = md_table(
        ["format", "implementation", "threads", "median ms", "Melem/s", "× copy time", "notes"],
        rows,
        "lllrrrl",
    )
    return table, {"ours": ours, "idle": idle}, checks


def block_targets(ours: dict, idle: dict, ctx: Context, threads: Sequence[int]) -> list[str]:
    copy = ctx.copy.per_elem

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    def two(name: str, ref: float) -> str:
        if 2 not in threads:
            return "n/a"
        t = ours[(name, 2)].per_elem / ref
        return f"{t:.2f}×" + (" (second thread never ran)" if idle[(name, 2)] else "")

    rows = []
    for name in ("mxfp8_e4m3", "mxfp4"):
        r1 = ours[(name, 1)].per_elem / copy
        rows.append(
            [
                f"{name}: quantize-dequantize time / `np.copyto` time",
                f"≤ {TARGET_MX_COPY_1T:g}×",
                f"{r1:.2f}×",
                verdict(r1 <= TARGET_MX_COPY_1T),
                two(name, copy),
            ]
        )
    mx8_1 = ours[("mxfp8_e4m3", 1)].per_elem
    for name in ("mx9", "mx6", "mx4", "vsq_int4"):
        r1 = ours[(name, 1)].per_elem / mx8_1
        ref2 = ours[("mxfp8_e4m3", 2)].per_elem if 2 in threads else 1.0
        rows.append(
            [
                f"{name}: quantize-dequantize time / mxfp8_e4m3's time",
                f"≤ {TARGET_VS_MXFP8:g}×",
                f"{r1:.2f}×",
                verdict(r1 <= TARGET_VS_MXFP8),
                two(name, ref2),
            ]
        )
    return [
        "### Targets (issue 3)",
        "",
        "Decided on one numba thread, per value; the last column gives the same ratio with "
        "two threads for lowbit (for information: both times on two threads, except "
        "`np.copyto`, which is single-threaded).",
        "",
        *md_table(
            ["target", "goal", "measured, one thread", "verdict", "two threads"],
            rows,
            "llrll",
        ),
        "",
    ]


def block_qsnr(ctx: Context) -> list[str]:
    import lowbit

    xq = np.random.default_rng(SEED).standard_normal(QSNR_N, dtype=np.float32)
    rows = []
    db: dict[str, float] = {}
    for name in BLOCK_QSNR:
        f = lowbit.get_format(name)
        xi = xq.reshape(QSNR_VSQ_SHAPE) if name.startswith("vsq") else xq
        # int4_g128 is a Quantizer, whose groups run along its own configured axis
        has_axis = "axis" in inspect.signature(f.quantize).parameters
        db[name] = qsnr_db(xi, f.quantize(xi, axis=-1) if has_axis else f.quantize(xi))
        how = f"input ({xi.shape[0]:,}, {xi.shape[1]:,}), axis −1" if xi.ndim > 1 else ""
        rows.append([name, f"{f.bits_per_element:g}", f"{db[name]:.2f}", how])
    for name in PER_TENSOR_QSNR:
        f = lowbit.get_format(name)
        s = np.float32(np.max(np.abs(xq)) / f.max)
        q = s * f.quantize(xq / s, overflow="saturate")
        db[name] = qsnr_db(xq, q)
        rows.append(
            [
                f"{name}, per-tensor absmax scale",
                f"{f.bits:g} (+ one FP32 scale)",
                f"{db[name]:.2f}",
                's = max(abs(x)) / fmt.max, q = s · fmt.quantize(x / s, overflow="saturate")',
            ]
        )
    diff = db["mx9"] - db["fp8_e4m3fn"]
    gap = diff - PAPER_MX9_VS_E4M3_DB
    if abs(gap) <= 1.0:
        rel = f"within 1 dB of the claim ({gap:+.2f} dB)"
    else:
        rel = f"{abs(gap):.2f} dB {'above' if gap > 0 else 'below'} the claim"
    return [
        "### QSNR",
        "",
        f"QSNR = 10·log10(Σx² / Σ(x − q)²) in dB on {QSNR_N:,} values "
        f"`np.random.default_rng({SEED}).standard_normal({QSNR_N:,}, dtype=np.float32)`, "
        "q = `fmt.quantize(x, axis=-1)` (blocks along the last axis).  Bits per element "
        "count the element and the per-block scales (`bits_per_element`); VS-Quant's "
        "per-channel FP32 γ is not counted.",
        "",
        *md_table(["format", "bits / element", "QSNR dB", "notes"], rows, "lrrl"),
        "",
        f"MX9 − FP8 E4M3 (per-tensor absmax scale): **{diff:.2f} dB** "
        f"({db['mx9']:.2f} − {db['fp8_e4m3fn']:.2f}).  The ISCA 2023 paper (Rouhani et al., "
        f'"With Shared Microexponents, A Little Shifting Goes a Long Way") claims MX9 about '
        f"{PAPER_MX9_VS_E4M3_DB:g} dB above FP8 E4M3; this run is {rel}.",
        "",
    ]


def section(ctx: Context) -> list[str]:
    """The lines of the "Block formats" section (without its ``## `` heading)."""
    from lowbit.threads import max_threads

    threads = [t for t in (1, 2) if t <= max_threads()]
    table, res, checks = block_speed(ctx, threads)
    print("[block] qsnr", file=sys.stderr, flush=True)
    return [
        f"Input: the first values of the {ctx.n:,} float32 values "
        f"`np.random.default_rng({SEED}).standard_normal(n)` that fill whole blocks "
        f"(VS-Quant: reshaped to (channels, {VSQ_K})).  Quantize-dequantize (`fmt.quantize(x, "
        f"axis=-1)`, float32 out), median of {ctx.args.repeats} timed calls after one warm-up "
        f'(gfloat: {max(3, ctx.args.repeats // 2)}); "× copy time" is time per value over '
        f"the time per value of `np.copyto(dst, x)` ({fmt_ms(ctx.copy.median)} ms for "
        f"{ctx.n:,} values in this run).  lowbit uses `lowbit.set_num_threads(t)`; numpy, "
        "ml_dtypes and gfloat are single-threaded; torchao runs with "
        "`torch.set_num_threads(1)`.",
        "",
        "### Quantize-dequantize speed",
        "",
        *table,
        "",
        "Agreement, same run (identical float32 values, or both NaN):",
        "",
        *checks,
        "",
        *block_targets(res["ours"], res["idle"], ctx, threads),
        *block_qsnr(ctx),
    ]
