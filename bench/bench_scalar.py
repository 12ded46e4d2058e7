"""The "Scalar formats" group: lowbit's scalar formats against their peers.

Run by the driver (``make bench`` runs ``.venv/bin/python bench/run.py --output
BENCHMARKS.md``; ``--groups scalar`` runs this group alone).  Input:
``np.random.default_rng(0).standard_normal(n, dtype=np.float32)``; int8 gets the same values
times 127/4, scaled before any timing.  Every figure is the median wall time of
``--repeats`` calls after one warm-up call, all in this process, so ratios between rows are
meaningful while absolute times move with the machine's load.

For each format: quantize-dequantize, encode only and decode only, by lowbit on one and on
two lowbit threads, by ml_dtypes (int8: numpy ``rint``/``clip``/``astype``, because ml_dtypes
integer casts truncate and wrap) and by gfloat (on the first 1,000,000 values, scaled per
element).  The physical limit is ``np.copyto`` of the float32 input.  Outputs are checked
for agreement in the same run.  Then: the targets, and the latency of calls on short arrays.
The start-up subsection that closes the section is bench_startup.py's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from common import (
    PARALLEL_MIN,
    SEED,
    TARGET_COPY_1T,
    TARGET_VS_MLDTYPES,
    Context,
    Timing,
    agreement,
    fmt_int,
    fmt_ms,
    fmt_ratio,
    md_table,
    measure,
    measure_threads,
    same_bits,
)

#: gfloat is pure numpy and ~100x slower than lowbit: it is timed on this many values.
GFLOAT_MAX = 1_000_000
OPS = ("quantize-dequantize", "encode", "decode")
STRETCH_COPY_2T = 2.0  # two threads: within this many copy times (see "Targets")


@dataclass
class Row:
    op: str
    impl: str
    threads: int
    timing: Timing
    note: str = ""
    scaled: bool = False  # timed on a prefix, reported per element
    idle_thread: bool = False  # threads > 1, but lowbit's helper threads did no work


@dataclass(frozen=True)
class ScalarCase:
    """One lowbit format and how its peers spell the same operations."""

    name: str  # lowbit.get_format name
    ml_dtype: str | None  # ml_dtypes attribute; None: numpy integer peer
    gfloat_fi: str | None  # gfloat.formats attribute; None: gfloat has no such format
    gfloat_sat: bool = False  # gfloat round_ndarray(sat=...) matching lowbit's default
    scale: float = 1.0  # applied to the N(0,1) input before any timing
    about: str = ""


SCALAR_CASES = (
    ScalarCase(
        "fp8_e4m3fn",
        "float8_e4m3fn",
        "format_info_ocp_e4m3",
        about="OCP E4M3, overflow to NaN (lowbit's default, as ml_dtypes; gfloat sat=False).",
    ),
    ScalarCase(
        "fp8_e5m2",
        "float8_e5m2",
        "format_info_ocp_e5m2",
        about="OCP E5M2, overflow to Inf (lowbit's default, as ml_dtypes; gfloat sat=False).",
    ),
    ScalarCase(
        "fp4_e2m1fn",
        "float4_e2m1fn",
        "format_info_ocp_e2m1",
        gfloat_sat=True,
        about="OCP MX E2M1, saturating (lowbit's default, as ml_dtypes; gfloat needs "
        "sat=True for a format without Inf/NaN).",
    ),
    ScalarCase(
        "int8",
        None,
        None,
        scale=127 / 4,
        about="Two's complement int8, round to nearest even, saturating.  Input N(0,1)·127/4.  "
        "Peer: numpy `np.clip(np.rint(x), -128, 127).astype(np.int8)` to encode and "
        "`.astype(np.float32)` to decode (ml_dtypes integer casts truncate and wrap, and "
        "gfloat's `ocp_int8` is the MXINT8 element k/64, not int8).",
    ),
)


def numpy_int8_encode(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -128, 127).astype(np.int8)


def run_scalar_case(ctx: Context, case: ScalarCase, threads: Sequence[int]) -> list[str]:
    import lowbit

    args = ctx.args
    R = args.repeats
    fmt = lowbit.get_format(case.name)
    x = ctx.x if case.scale == 1.0 else (ctx.x * np.float32(case.scale)).astype(np.float32)
    n = x.shape[0]
    all_codes = np.arange(2**fmt.bits, dtype=np.uint8)
    rows: list[Row] = []
    checks: list[str] = []

    # ---- lowbit, one and two threads
    codes = fmt.encode(x)
    for th in threads:
        lowbit.set_num_threads(th)
        for op, fn in (
            ("quantize-dequantize", lambda: fmt.quantize(x)),
            ("encode", lambda: fmt.encode(x)),
            ("decode", lambda: fmt.decode(codes)),
        ):
            timing, wt = measure_threads(fn, n, R)
            idle = th > 1 and n >= PARALLEL_MIN and wt == 0
            note = ""
            if idle:
                note = "**second thread never ran** (no CPU tick measured for the helper threads)"
            elif th > 1 and n < PARALLEL_MIN:
                note = f"n < {PARALLEL_MIN:,}: serial kernel"
            rows.append(Row(op, "lowbit", th, timing, note, idle_thread=idle))
    lowbit.set_num_threads(max(threads))

    # ---- the reference peer: ml_dtypes, or numpy for int8
    if case.ml_dtype is not None:
        import ml_dtypes

        T = getattr(ml_dtypes, case.ml_dtype)
        ref = "ml_dtypes"
        q = x.astype(T)
        peer = (
            (
                "quantize-dequantize",
                lambda: x.astype(T).astype(np.float32),
                "x.astype(T).astype(f32)",
            ),
            ("encode", lambda: x.astype(T), "x.astype(T)"),
            ("decode", lambda: q.astype(np.float32), "q.astype(f32)"),
        )
        peer_qdq = x.astype(T).astype(np.float32)
        peer_codes = q.view(np.uint8)
        peer_table = all_codes.view(T).astype(np.float32)
    else:
        ref = "numpy"
        q = numpy_int8_encode(x)
        peer = (
            (
                "quantize-dequantize",
                lambda: numpy_int8_encode(x).astype(np.float32),
                "clip(rint(x)).astype(i8).astype(f32)",
            ),
            ("encode", lambda: numpy_int8_encode(x), "clip(rint(x)).astype(i8)"),
            ("decode", lambda: q.astype(np.float32), "q.astype(f32)"),
        )
        peer_qdq = numpy_int8_encode(x).astype(np.float32)
        peer_codes = q.view(np.uint8)
        peer_table = all_codes.view(np.int8).astype(np.float32)
    checks.append(
        agreement(
            ref,
            [
                ("quantize-dequantize", same_bits(fmt.quantize(x), peer_qdq), n),
                ("encode", same_bits(codes, peer_codes), n),
                (
                    "decode of every code",
                    same_bits(fmt.decode(all_codes), peer_table),
                    len(all_codes),
                ),
            ],
        )
    )
    for op, fn, spelled in peer:
        rows.append(Row(op, ref, 1, measure(fn, n, R), f"`{spelled}`"))

    # ---- gfloat on a prefix
    if case.gfloat_fi is not None:
        try:
            import gfloat
            import gfloat.formats
        except ImportError:
            checks.append("- gfloat is not installed: its rows are missing.")
        else:
            fi = getattr(gfloat.formats, case.gfloat_fi)
            m = min(n, GFLOAT_MAX)
            xs = x[:m]
            rs = gfloat.round_ndarray(fi, xs, sat=case.gfloat_sat)
            cs = gfloat.encode_ndarray(fi, rs)
            sat = f"sat={case.gfloat_sat}"
            scaled = m < n
            g = (
                ("quantize-dequantize", lambda: gfloat.round_ndarray(fi, xs, sat=case.gfloat_sat),
                 f"`round_ndarray(fi, x, {sat})`, float64 out"),
                ("encode", lambda: gfloat.encode_ndarray(fi, rs),
                 "`encode_ndarray(fi, r)` of already rounded r (rounding not included)"),
                ("decode", lambda: gfloat.decode_ndarray(fi, cs), "`decode_ndarray(fi, c)`"),
            )  # fmt: skip
            for op, fn, note in g:
                rows.append(Row(op, "gfloat", 1, measure(fn, m, R), note, scaled))
            checks.append(
                agreement(
                    f"gfloat ({fi.name}, first {m:,} values)",
                    [
                        ("quantize-dequantize", same_bits(fmt.quantize(xs), rs), m),
                        ("encode", same_bits(fmt.encode(xs), cs), m),
                        (
                            "decode of every code",
                            same_bits(fmt.decode(all_codes), gfloat.decode_ndarray(fi, all_codes)),
                            len(all_codes),
                        ),
                    ],
                )
            )

    by = {(r.op, r.impl, r.threads): r for r in rows}
    ctx.rows[case.name] = (rows, ref)

    # ---- table
    out = [f"### {case.name}", "", case.about, ""]
    table = []
    for op in OPS:
        ref_row = by[(op, ref, 1)]
        for r in (r for r in rows if r.op == op):
            ms = r.timing.per_elem * n
            table.append(
                [
                    op,
                    r.impl,
                    str(r.threads),
                    fmt_ms(ms) + (" *" if r.scaled else ""),
                    f"{1e-6 / r.timing.per_elem:,.1f}",
                    fmt_ratio(r.timing.per_elem / ctx.copy.per_elem),
                    fmt_ratio(ref_row.timing.per_elem / r.timing.per_elem),
                    r.note,
                ]
            )
    out += md_table(
        [
            "operation",
            "implementation",
            "threads",
            f"median ms ({fmt_int(n)} values)",
            "Melem/s",
            "× copy time",
            f"speed vs {ref}",
            "note",
        ],
        table,
        "lllrrrrl",
    )
    if any(r.scaled for r in rows):
        out += ["", f"\\* timed on the first {GFLOAT_MAX:,} values; the time shown is scaled to n."]
    out += ["", "Agreement, checked in this run:", "", *checks, ""]
    return out


def scalar_limits(ctx: Context) -> list[str]:
    """The memory-bandwidth limit rows: what any elementwise float32 pass costs."""
    x = ctx.x
    dst = np.empty_like(x)
    R = ctx.args.repeats
    rows = [
        ("`np.copyto(dst, x)` (read 4 B + write 4 B per value)", ctx.copy),
        ("`np.multiply(x, 1.0, out=dst)`", measure(lambda: np.multiply(x, 1.0, out=dst), ctx.n, R)),
        ("`x * 1.0` (allocates its output, as lowbit does)", measure(lambda: x * 1.0, ctx.n, R)),
    ]
    ctx.alloc = rows[2][1]
    table = [
        [
            what,
            fmt_ms(t.median),
            f"{t.n / t.median / 1e6:,.0f}",
            f"{8 * t.n / t.median / 1e9:.1f}",
            fmt_ratio(t.per_elem / ctx.copy.per_elem),
        ]
        for what, t in rows
    ]
    return [
        "### Memory-bandwidth limit (numpy, one thread)",
        "",
        *md_table(
            ["operation", "median ms", "Melem/s", "GB/s at 8 B/value", "× copy time"],
            table,
            "lrrrr",
        ),
        "",
    ]


def targets(ctx: Context, threads: Sequence[int]) -> list[str]:
    if "fp8_e4m3fn" not in ctx.rows:
        return []
    rows_e4m3, ref = ctx.rows["fp8_e4m3fn"]
    by = {(r.impl, r.threads): r for r in rows_e4m3 if r.op == "quantize-dequantize"}
    copy = ctx.copy.per_elem
    vs = by[(ref, 1)].timing.per_elem / by[("lowbit", 1)].timing.per_elem
    xc1 = by[("lowbit", 1)].timing.per_elem / copy
    contention: list[str] = []

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    rows = [
        [
            "one thread: speed vs ml_dtypes `x.astype(float8_e4m3fn).astype(float32)`",
            f"≥ {TARGET_VS_MLDTYPES:g}×",
            f"{vs:.2f}×",
            verdict(vs >= TARGET_VS_MLDTYPES),
        ],
        [
            "one thread: time in units of `np.copyto` time (cpfloat's speed in the peer survey)",
            f"≤ {TARGET_COPY_1T:g}×",
            f"{xc1:.2f}×",
            verdict(xc1 <= TARGET_COPY_1T),
        ],
    ]
    if 2 in threads:
        xc2 = by[("lowbit", 2)].timing.per_elem / copy
        idle = by[("lowbit", 2)].idle_thread
        rows.append(
            [
                "stretch, two threads: time in units of one-thread `np.copyto` time",
                f"≤ {STRETCH_COPY_2T:g}×",
                f"{xc2:.2f}×" + (" (second thread never ran)" if idle else ""),
                verdict(xc2 <= STRETCH_COPY_2T),
            ]
        )
        speedup = xc1 / xc2
        rows.append(["two threads vs one thread (information)", "", f"speed-up {speedup:.2f}×", ""])
        load = ctx.load_before[0]
        if speedup < 1 and load > 0.5:
            contention = [
                f"Two threads were slower than one while the 1-minute load average was "
                f"{load:.2f} on {os.cpu_count()} cores, which suggests another process was "
                "using a core: the helper thread then runs only part of the time.",
                "",
            ]
    alloc = []
    if ctx.alloc is not None:
        alloc = [
            f"For scale: allocating the output alone (`x * 1.0`) costs "
            f"{ctx.alloc.per_elem / copy:.2f}× copy time in this run.",
            "",
        ]
    return [
        "### Targets",
        "",
        "fp8_e4m3fn quantize-dequantize (`lowbit.get_format('fp8_e4m3fn').quantize(x)`), "
        "computed from the rows above; verdicts are decided by the script.",
        "",
        *md_table(["target", "goal", "measured", "verdict"], rows, "lrrl"),
        "",
        *contention,
        *alloc,
    ]


def per_call_section(ctx: Context, size: int = 1000, calls: int = 200) -> list[str]:
    """Latency of calls on short arrays, where Python overhead and thread launches show."""
    import lowbit

    R = ctx.args.repeats
    table = []
    launched_any = False
    for case in SCALAR_CASES:
        fmt = lowbit.get_format(case.name)
        xs = (ctx.x[:size] * np.float32(case.scale)).astype(np.float32)
        codes = fmt.encode(xs)
        if case.ml_dtype is not None:
            import ml_dtypes

            T = getattr(ml_dtypes, case.ml_dtype)
            q = xs.astype(T)
            peer = {
                "quantize-dequantize": lambda xs=xs, T=T: xs.astype(T).astype(np.float32),
                "encode": lambda xs=xs, T=T: xs.astype(T),
                "decode": lambda q=q: q.astype(np.float32),
            }
        else:
            q = numpy_int8_encode(xs)
            peer = {
                "quantize-dequantize": lambda xs=xs: numpy_int8_encode(xs).astype(np.float32),
                "encode": lambda xs=xs: numpy_int8_encode(xs),
                "decode": lambda q=q: q.astype(np.float32),
            }
        ours = {
            "quantize-dequantize": lambda fmt=fmt, xs=xs: fmt.quantize(xs),
            "encode": lambda fmt=fmt, xs=xs: fmt.encode(xs),
            "decode": lambda fmt=fmt, codes=codes: fmt.decode(codes),
        }
        for op in OPS:
            fn, pf = ours[op], peer[op]

            def many(fn=fn):
                for _ in range(calls):
                    fn()

            t_ours, wt = measure_threads(many, size * calls, R)
            t_peer = measure(lambda pf=pf: [pf() for _ in range(calls)], size * calls, R)
            launched = bool(wt)
            launched_any |= launched
            table.append(
                [
                    case.name,
                    op,
                    f"{t_ours.median / calls * 1e6:.1f}",
                    f"{t_peer.median / calls * 1e6:.1f}",
                    "**yes**" if launched else "no" if wt is not None else "unknown",
                ]
            )
    out = [
        "### Short arrays",
        "",
        f"Microseconds per call on {size:,} values (median of {R} timings of {calls} calls), "
        f"lowbit with {lowbit.get_num_threads()} threads allowed.  Below "
        f"{PARALLEL_MIN:,} values lowbit calls its serial kernels, so its helper threads "
        "should stay idle; the last column says whether they ran.",
        "",
        *md_table(
            ["format", "operation", "lowbit µs", "ml_dtypes / numpy µs", "worker threads ran"],
            table,
            "llrrl",
        ),
        "",
    ]
    if launched_any:
        out += [
            "Helper threads ran for short arrays, where lowbit should call its serial "
            "kernels: a regression.",
            "",
        ]
    return out


def section(ctx: Context) -> list[str]:
    """The lines of the "Scalar formats" section (without its ``## `` heading and without
    the start-up subsection, which bench_startup.py adds)."""
    from lowbit.threads import max_threads

    threads = [t for t in (1, 2) if t <= max_threads()]
    out = [
        f"Input: {ctx.n:,} float32 values `np.random.default_rng({SEED}).standard_normal(n)`.  "
        f"Median of {ctx.args.repeats} timed calls after one warm-up.  "
        '"× copy time" is time per value over the time per value of `np.copyto(dst, x)` in '
        "this run; \"speed vs\" is the peer's time over this row's time for the same "
        "operation (above 1: faster than the peer).  lowbit uses `lowbit.set_num_threads(t)`; "
        f"arrays of at least {PARALLEL_MIN:,} values run its threaded kernels.  numpy, "
        "ml_dtypes and gfloat are single-threaded.",
        "",
        *scalar_limits(ctx),
    ]
    for case in SCALAR_CASES:
        print(f"[scalar] {case.name}", file=sys.stderr, flush=True)
        out += run_scalar_case(ctx, case, threads)
    out += targets(ctx, threads)
    print("[scalar] short arrays", file=sys.stderr, flush=True)
    out += per_call_section(ctx)
    return out
