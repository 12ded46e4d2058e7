"""``lowbit simulate``: one GEMM on the bit-exact MAC simulator.

Draws A (M×K) and B (K×N) from a distribution (``--dist``: the one distribution grammar of
:func:`lowbit.analysis.specs.parse_distribution`, as ``lowbit sweep --dist``; documented in
docs/analysis.md), scales each tensor by its absmax onto the format's range (``x / s`` with
s = max|x| / format max, :func:`lowbit.report.quantize.absmax_scale`; ``--scale none``:
s = 1), encodes, runs
:func:`lowbit.hwmodel.macsim.gemm` with the chosen accumulator, and prints the error of the
result (times s_A·s_B) against the exact GEMM of the decoded operands (``gemm`` with the
exact accumulator, one rounding to double at the end) and against the float64 GEMM of the
unquantized draws (SNR: :func:`lowbit.analysis.metrics.sqnr_db`), the accumulator
statistics, and the time.

Accumulator specs (``--acc``): the one grammar of
``lowbit.hwmodel.accumulator.parse_accumulator``, as for ``lowbit hw --acc``: ``fp16``,
``bf16``, ``fp32``, any other IEEE-style float format name, ``exact`` (Kulisch; also
``fixed``), and fixed point: ``fixedW`` (W bits, wrap), ``fixedWs`` (W bits, saturate),
or ``fixed:W[:F][:wrap|saturate]`` (F fractional bits).  Without F the binary point is at
the products' least significant bit (F = 0 for integer operands, 18 for E4M3 × E4M3);
with block formats give F.

Size limits: at most ``--max-macs`` M·K·N multiply-accumulates (default 2^33, about a
minute or two on one core: the C core runs 1e8–1e9 MAC/s, and the exact reference GEMM
runs as well), and at most ``--max-memory`` GiB for the draws, codes and results
(default 4; estimated as 64 bytes per operand element and 80 per output).  Larger runs are
refused before anything is drawn; raise the option to run them anyway.

>>> resolve_acc("fixed32s", "fp8_e4m3fn", "fp8_e4m3fn")
FixedAccumulator(width=32, frac=18, overflow='saturate')
>>> resolve_acc("fixed:20:0:wrap", "int8", "int8")
FixedAccumulator(width=20, frac=0, overflow='wrap')
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np

from ..analysis.specs import DIST_GRAMMAR
from ..hwmodel.accumulator import ACC_ROUNDINGS
from ..hwmodel.accumulator import GRAMMAR as ACC_GRAMMAR
from ..report.quantize import absmax_scale
from ._common import SEED_MAX

#: default work budget (M·K·N) and memory budget (GiB) of one run; see the module docstring
MAX_MACS = 2**33
MAX_MEMORY_GIB = 4.0
#: bytes per operand element (float64 draws, x / s, codes, encoding temporaries) and per
#: output (the result, the exact reference, the float64 product of the draws, error
#: temporaries); measured peaks were 46–49 bytes per operand element (int8, MXFP8)
BYTES_PER_OPERAND, BYTES_PER_OUTPUT = 64, 80
#: The statistics of :class:`lowbit.hwmodel.macsim.MacStats` the report prints (None: left out).
STAT_KEYS = ("overflow", "swamping", "absorbed", "max_abs", "macs", "steps", "toggles")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``simulate`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser(
        "simulate",
        help="one GEMM on the bit-exact MAC simulator: error vs float64 and accumulator stats",
        description=__doc__.split("\n\n>>>")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--a-format", required=True, metavar="FMT", help="A's format, e.g. fp8_e4m3fn")
    p.add_argument("--b-format", metavar="FMT", help="B's format (default: A's)")
    p.add_argument(
        "--acc",
        default="fp32",
        metavar="ACC",
        help=f"{ACC_GRAMMAR} (fp32)",
    )
    p.add_argument("--m", type=int, default=256, help="rows of A (256)")
    p.add_argument("--k", type=int, default=1024, help="columns of A, rows of B (1024)")
    p.add_argument("--n", type=int, default=256, help="columns of B (256)")
    p.add_argument(
        "--dist",
        default="gaussian",
        metavar="DIST",
        help=f"{DIST_GRAMMAR} (gaussian)",
    )
    p.add_argument("--seed", type=int, default=0, help=f"random seed, 0..{SEED_MAX} (0)")
    p.add_argument(
        "--scale",
        default="absmax",
        choices=("absmax", "none"),
        help="absmax: each tensor scaled so that max|x| is the format's max (default); "
        "none: the draws encoded as they are",
    )
    p.add_argument(
        "--rounding",
        default="nearest_even",
        choices=ACC_ROUNDINGS,
        help="accumulator rounding (down: fixed point only)",
    )
    p.add_argument("--order", help="accumulation order: sequential | pairwise | blocks | ...")
    p.add_argument("--block", type=int, help="block size for --order blocks")
    p.add_argument("--threads", type=int, help="threads of the C core")
    p.add_argument(
        "--max-macs",
        type=int,
        default=MAX_MACS,
        metavar="N",
        help=f"refuse runs of more than N multiply-accumulates M·K·N (default 2^33 = {MAX_MACS:,})",
    )
    p.add_argument(
        "--max-memory",
        type=float,
        default=MAX_MEMORY_GIB,
        metavar="GIB",
        help=f"refuse runs estimated to need more than GIB GiB of memory (default {MAX_MEMORY_GIB:g})",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)
    return p


def resolve_acc(spec: str, a_format: Any, b_format: Any) -> Any:
    """The accumulator ``--acc`` names (:func:`~lowbit.hwmodel.accumulator.parse_accumulator`),
    with a fixed-point binary point left open placed at the products' least significant bit
    of the two formats, so that the report states it."""
    from ..formats import get_format
    from ..hwmodel.accumulator import FixedAccumulator, parse_accumulator
    from ..hwmodel.macsim import value_table

    try:
        acc = parse_accumulator(spec)
    except ValueError as exc:
        raise ValueError(f"--acc {spec!r}: {exc}") from None
    if isinstance(acc, FixedAccumulator) and acc.frac is None:
        a_format = get_format(a_format) if isinstance(a_format, str) else a_format
        b_format = get_format(b_format) if isinstance(b_format, str) else b_format
        if a_format.has_block_scales or b_format.has_block_scales:
            raise ValueError(
                f"--acc {spec!r}: with block formats give the binary point: "
                "fixed:W:F[:wrap|saturate]"
            )
        frac = -(value_table(a_format).low + value_table(b_format).low)
        acc = FixedAccumulator(acc.width, frac, acc.overflow)
    return acc


def _acc_name(acc: Any) -> str:
    """How the report names an accumulator: a float format's name, "exact", or the
    FixedAccumulator with its binary point."""
    from ..formats import FloatFormat
    from ..hwmodel.accumulator import ExactAccumulator

    if isinstance(acc, FloatFormat):
        return acc.name
    if isinstance(acc, ExactAccumulator):
        return "exact"
    return repr(acc)


def draw(dist: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Samples of the distribution ``dist`` names in the one grammar
    (:func:`~lowbit.analysis.specs.parse_distribution`), drawn from ``rng``.

    >>> draw("uniform", (2, 3), np.random.default_rng(0)).shape
    (2, 3)
    >>> draw("cauchy", (2, 3), np.random.default_rng(0))
    Traceback (most recent call last):
    ...
    ValueError: --dist 'cauchy': unknown distribution 'cauchy'; expected one of gaussian, normal, laplace, uniform, student_t, t
    """
    from ..analysis.specs import parse_distribution

    try:
        distribution = parse_distribution(dist)
    except ValueError as exc:
        raise ValueError(f"--dist {dist!r}: {exc}") from None
    return distribution.rvs(size=shape, random_state=rng)


def _encode(fmt: Any, x: np.ndarray, how: str = "absmax") -> tuple[np.ndarray, float]:
    """Codes of x / s and s, with s = max|x| / max of the format (per-tensor absmax), or 1.
    Formats with scales of their own get x as it is (gemm encodes it along K)."""
    if fmt.has_block_scales:
        return np.ascontiguousarray(x, dtype=np.float32), 1.0
    scale = absmax_scale(x, fmt) if how == "absmax" and x.size else 0.0
    scale = scale if scale > 0 else 1.0  # an all-zero tensor is encoded as it is
    return fmt.encode(x / scale, overflow="saturate"), scale


def errors(c: np.ndarray, ref: np.ndarray) -> dict:
    """Relative Frobenius error, max abs error and SNR (dB, :func:`~lowbit.analysis.metrics.sqnr_db`
    of ``ref`` against ``c``) of c; an exact result has SNR +inf, a NaN or infinite error −inf.

    >>> errors(np.array([1.0, 2.5]), np.array([1.0, 2.0]))["snr_db"]  # doctest: +ELLIPSIS
    13.0102...
    """
    from ..analysis.metrics import sqnr_db

    with np.errstate(invalid="ignore", over="ignore"):
        d = c - ref
        err2 = float(np.sum(d * d))
        ref2 = float(np.sum(ref * ref))
        rel = math.sqrt(err2 / ref2) if ref2 > 0 else (0.0 if err2 == 0 else math.inf)
        mx = float(np.max(np.abs(d))) if d.size else 0.0
    if math.isnan(err2):
        rel, mx, err2 = math.inf, math.inf, math.inf
    if err2 == 0:
        snr = math.inf
    elif ref2 > 0 and math.isfinite(err2):
        snr = sqnr_db(ref, c)
    else:
        snr = -math.inf
    return {"rel_frobenius": rel, "max_abs": mx, "snr_db": snr}


def _positive(name: str, v: int | None) -> None:
    if v is not None and v < 1:
        raise ValueError(f"--{name} must be a positive integer, got {v}")


def check_size(m: int, k: int, n: int, max_macs: int = MAX_MACS, max_gib: float = MAX_MEMORY_GIB):
    """Refuse a GEMM of more than ``max_macs`` MACs or an estimated ``max_gib`` GiB, with
    the option that overrides the limit: an accepted size must not run for hours or die
    half-way for want of memory.

    >>> check_size(1, 10**9, 1)
    Traceback (most recent call last):
    ...
    ValueError: --m 1 --k 1000000000 --n 1 needs about 119 GiB (64 bytes per element of A and B, 80 per output), more than --max-memory 4 GiB; choose smaller sizes or raise --max-memory
    """
    macs = m * k * n
    if macs > max_macs:
        raise ValueError(
            f"--m {m} --k {k} --n {n} is {macs:,} multiply-accumulates, more than --max-macs "
            f"{max_macs:,} (at 1e8–1e9 MAC/s: up to {macs / 1e8 / 60:,.0f} min); choose "
            "smaller sizes or raise --max-macs"
        )
    need = BYTES_PER_OPERAND * (m * k + k * n) + BYTES_PER_OUTPUT * m * n
    if need > max_gib * 2**30:
        raise ValueError(
            f"--m {m} --k {k} --n {n} needs about {need / 2**30:,.0f} GiB ({BYTES_PER_OPERAND} "
            f"bytes per element of A and B, {BYTES_PER_OUTPUT} per output), more than "
            f"--max-memory {max_gib:g} GiB; choose smaller sizes or raise --max-memory"
        )


def _check_draws(dist: str, what: str, x: np.ndarray) -> None:
    """Heavy tails (Student-t with small ν) overflow float64: say so, not "NaN input"."""
    bad = x.size - int(np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(
            f"--dist {dist!r}: {bad:,} of the {x.size:,} draws of {what} are not finite "
            "(they overflow float64); use a distribution with lighter tails (for student_t, "
            "a larger ν)"
        )


def simulate(args: argparse.Namespace) -> dict:
    """Run the GEMM ``args`` describe; the result as a dict (what ``--json`` prints)."""
    from ..formats import get_format
    from ..hwmodel.macsim import MISSING_MESSAGE, available, gemm

    if not available():  # before any drawing: say at once when the C simulator is missing
        raise ValueError(MISSING_MESSAGE)
    for name in ("m", "k", "n"):
        _positive(name, getattr(args, name))
    _positive("threads", getattr(args, "threads", None))
    _positive("block", getattr(args, "block", None))
    _positive("max-macs", getattr(args, "max_macs", None))
    max_gib = getattr(args, "max_memory", MAX_MEMORY_GIB)
    if not (math.isfinite(max_gib) and max_gib > 0):
        raise ValueError(f"--max-memory must be a positive number of GiB, got {max_gib}")
    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed must be in 0..{SEED_MAX}, got {args.seed}")
    check_size(args.m, args.k, args.n, getattr(args, "max_macs", MAX_MACS), max_gib)
    a_name = args.a_format
    b_name = args.b_format or a_name
    a_fmt, b_fmt = get_format(a_name), get_format(b_name)
    acc = resolve_acc(args.acc, a_fmt, b_fmt)
    options = {opt: getattr(args, opt, None) for opt in ("order", "block", "threads")}
    kw = {opt: value for opt, value in options.items() if value is not None}
    if "block" in kw and kw.get("order") != "blocks":
        raise ValueError("--block needs --order blocks")

    rng = np.random.default_rng(args.seed)
    x_a = draw(args.dist, (args.m, args.k), rng)
    _check_draws(args.dist, "A", x_a)
    x_b = draw(args.dist, (args.k, args.n), rng)
    _check_draws(args.dist, "B", x_b)
    how = getattr(args, "scale", "absmax")
    a, s_a = _encode(a_fmt, x_a, how)
    b, s_b = _encode(b_fmt, x_b, how)
    rounding = getattr(args, "rounding", "nearest_even")

    t0 = time.perf_counter()
    c, stats = gemm(a, b, a_fmt, b_fmt, accumulator=acc, rounding=rounding, **kw)
    seconds = time.perf_counter() - t0
    exact_kw = {"threads": kw["threads"]} if "threads" in kw else {}
    try:
        ref, _ = gemm(a, b, a_fmt, b_fmt, accumulator="exact", **exact_kw)
        ref_how = "exact accumulator (gemm accumulator='exact'), rounded once to double"
    except ValueError:  # an exact register this wide is not implemented: float64 BLAS
        if a_fmt.has_block_scales or b_fmt.has_block_scales:
            raise
        va = np.asarray(a_fmt.decode(a), dtype=np.float64)
        vb = np.asarray(b_fmt.decode(b), dtype=np.float64)
        ref = va @ vb
        ref_how = "float64 np.matmul of the decoded operands"
    scale = s_a * s_b
    c_real, ref_real = c * scale, ref * scale
    macs = args.m * args.n * args.k
    st = {key: getattr(stats, key) for key in STAT_KEYS if getattr(stats, key) is not None}
    return {
        "a_format": a_fmt.name,
        "b_format": b_fmt.name,
        "accumulator": _acc_name(acc),
        "rounding": rounding,
        **{k: v for k, v in kw.items()},
        "m": args.m,
        "k": args.k,
        "n": args.n,
        "dist": args.dist,
        "seed": args.seed,
        "scale": how,
        "scale_a": s_a,
        "scale_b": s_b,
        "nonfinite_outputs": int(np.count_nonzero(~np.isfinite(c))),
        "reference": ref_how,
        "error_vs_exact": errors(c_real, ref_real),
        "error_vs_unquantized": errors(c_real, x_a @ x_b),
        "quantization_error": errors(ref_real, x_a @ x_b),
        "stats": st,
        "seconds": seconds,
        "macs_per_second": macs / seconds if seconds > 0 else math.inf,
    }


def _num(v: float) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    return f"{v:.4g}" if isinstance(v, float) else f"{v:,}"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.generic,)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no Inf/NaN
    return obj


def report_text(r: dict) -> str:
    extra = "".join(f", {k} {r[k]}" for k in ("order", "block", "threads") if k in r)
    lines = [
        f"{r['a_format']} × {r['b_format']} → {r['accumulator']} ({r['rounding']}{extra}): "
        f"A {r['m']}×{r['k']}, B {r['k']}×{r['n']}, {r['dist']}, seed {r['seed']}",
        f"per-tensor scales ({r['scale']}): A {r['scale_a']:.6g}, B {r['scale_b']:.6g}",
        f"time {r['seconds']:.3f} s, {r['macs_per_second']:.3g} MAC/s",
        "",
        f"{'error of the result':<28}{'vs exact GEMM':>16}{'vs unquantized':>18}"
        f"{'(quantization only)':>22}",
    ]
    e, u, q = r["error_vs_exact"], r["error_vs_unquantized"], r["quantization_error"]
    for key, label in (
        ("rel_frobenius", "relative Frobenius"),
        ("max_abs", "max abs"),
        ("snr_db", "SNR dB"),
    ):
        lines.append(f"{label:<28}{_num(e[key]):>16}{_num(u[key]):>18}{_num(q[key]):>22}")
    lines += [
        f"(exact GEMM: {r['reference']}; unquantized: float64 A·B of the draws; quantization "
        "only: the exact GEMM against it)",
    ]
    if r["nonfinite_outputs"]:
        lines.append(
            f"non-finite outputs: {r['nonfinite_outputs']:,} (the accumulator overflowed: "
            "try a wider one, or --scale none)"
        )
    lines += ["", "accumulator statistics"]
    for key, v in r["stats"].items():
        unit = " (accumulator units, before scaling)" if key == "max_abs" else ""
        lines.append(f"  {key:<10}{_num(v):>18}{unit}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``lowbit simulate`` with parsed ``args``; print the report; 0 on success."""
    try:
        r = simulate(args)
    except MemoryError:  # the estimate of check_size was short on this machine
        raise ValueError(
            f"out of memory for --m {args.m} --k {args.k} --n {args.n}; choose smaller sizes"
        ) from None
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(r), indent=2))
    else:
        print(report_text(r))
    sys.stdout.flush()
    return 0
