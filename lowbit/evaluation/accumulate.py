"""Accumulation schemes beyond one accumulator register: the binary point of a fixed-point
register chosen from the output range, and limited-precision accumulation with periodic
promotion into FP32, on operands quantized by :func:`~lowbit.evaluation.quantize_operand`.

* :func:`choose_frac`: the fraction bits F of a W-bit register that holds a given bound
  on |partial sum| (with headroom); :func:`partial_sum_bound`: that bound, measured as the
  largest |partial sum| of the exact accumulation of (calibration) operands.
* :func:`accumulate`: Y = X·W bit-exactly in one accumulator and order
  (:func:`lowbit.hwmodel.macsim.gemm`), or — ``interval=I`` — accumulated in a narrow
  float for I products at a time, each partial sum then added into an FP32 register, as
  DeepSeek-V3 (arXiv 2412.19437, §3.3.2) does for FP8 GEMMs on H800 tensor cores (whose
  accumulation keeps about 14 bits; :data:`FP22`, E8M13, stands for it) with I = 128.

Promotion is composed exactly: one simulator call per K-chunk gives that chunk's partial
sum in the narrow accumulator (each partial a value of that format, so exactly a float32),
and the partials are added in order with numpy float32 additions, which are IEEE 754
binary32 additions rounded to nearest even (tests/evaluation/test_accumulate.py holds them
to the simulator's FP32 accumulator).  Per-row/column scales (per-token, per-channel,
per-tensor, NVFP4's tensor scale, VS-Quant's γ) are applied after the FP32 sum, or their
power-of-two part folded into the products first (``outer_scales="fold_pow2"``,
:func:`lowbit.hwmodel.macsim.operands.fold_pow2`), as :func:`~lowbit.hwmodel.macsim.gemm`
does.

>>> choose_frac(24, 413.0, headroom_bits=0)
14
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..formats import FloatFormat
from ..hwmodel.accumulator import FixedAccumulator, parse_accumulator
from ..hwmodel.macsim import MacStats, gemm
from ..hwmodel.macsim.operands import OUTER_SCALES, fold_pow2
from ..hwmodel.macsim.operands import operand as _macsim_operand
from .gemm import _simulate
from .operands import QuantizedOperand

#: a 22-bit IEEE-style float, E8M13: 14 significant bits and FP32's exponent range — the
#: accumulation precision DeepSeek-V3 §3.3.2 measured for FP8 GEMMs on H800 tensor cores
FP22 = FloatFormat(8, 13, name="fp22")
#: names this module adds to the accumulator grammar (``parse_accumulator``)
EXTRA_ACCUMULATORS = {"fp22": FP22}
ORDERS = ("sequential", "blocks", "pairwise")


def resolve_accumulator(spec: Any):
    """An accumulator of :func:`~lowbit.hwmodel.accumulator.parse_accumulator`'s grammar,
    or ``"fp22"`` (:data:`FP22`).

    >>> resolve_accumulator("fp22").man_bits, resolve_accumulator("fixed:24:12").frac
    (13, 12)
    """
    if isinstance(spec, str) and spec.strip().lower() in EXTRA_ACCUMULATORS:
        return EXTRA_ACCUMULATORS[spec.strip().lower()]
    return parse_accumulator(spec)


def choose_frac(width: int, bound: float, headroom_bits: int = 1) -> int:
    """Fraction bits F of a ``width``-bit two's-complement register chosen from the output
    range: the largest F for which the register's largest value (2^(W−1) − 1)·2^−F still
    holds ``bound`` · 2^``headroom_bits`` (``bound``: the largest |partial sum| expected,
    e.g. :func:`partial_sum_bound`).  Every further fraction bit would halve the range and
    overflow; every one fewer only coarsens the grid.  F may be negative (a grid coarser
    than 1) when the bound exceeds the register's integer range.

    >>> choose_frac(24, 413.0, 0), choose_frac(24, 413.0), choose_frac(16, 32767.0, 0)
    (14, 13, 0)
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 2:
        raise ValueError(f"choose_frac: width must be an int ≥ 2, got {width!r}")
    if not (isinstance(bound, (int, float, np.floating)) and math.isfinite(bound) and bound > 0):
        raise ValueError(f"choose_frac: bound must be a finite number > 0, got {bound!r}")
    if isinstance(headroom_bits, bool) or not isinstance(headroom_bits, (int, np.integer)):
        raise TypeError(f"choose_frac: headroom_bits must be an int, got {headroom_bits!r}")
    if headroom_bits < 0:
        raise ValueError(f"choose_frac: headroom_bits must be ≥ 0, got {headroom_bits}")
    top = (1 << (int(width) - 1)) - 1
    need = float(bound) * 2.0 ** int(headroom_bits)
    frac = math.floor(math.log2(top / need))
    # log2 of a ratio can be off by one ulp at an exact power of two: settle it exactly
    while top * 2.0**-frac < need:
        frac -= 1
    while top * 2.0 ** -(frac + 1) >= need:
        frac += 1
    return int(frac)


def partial_sum_bound(
    qa: QuantizedOperand,
    qb: QuantizedOperand,
    order: str = "blocks",
    lanes: int = 32,
    outer_scales: str = "fold_pow2",
) -> float:
    """The largest |partial sum| an accumulator meets on these operands: the simulator's
    ``max_abs`` of their exact (Kulisch) accumulation in ``order`` (blocks of ``lanes``;
    "pairwise" is measured in sequential order).  Measured on calibration operands, it is
    the bound :func:`choose_frac` takes.

    Units: with ``outer_scales="epilogue"`` the register's own (codes times block scales:
    integers for INT8 per token × per channel).  With ``"fold_pow2"`` the register holds
    the real partial sums divided by the significands m ∈ [1, 2) of the outer scales, which
    differ from draw to draw; the bound is then taken in real units (``max_abs`` times the
    largest significands), so that it holds the register for any draw whose real partial
    sums stay below it.  (The worst case over all operand values, Σ_k max|a|·max|b|, never
    overflows but spends log2 K bits on sums that do not occur.)
    """
    order = "sequential" if order == "pairwise" else order
    block = int(lanes) if order == "blocks" else None
    _, st = _simulate(qa, qb, "exact", order=order, block=block, outer_scales=outer_scales)
    factor = 1.0
    if outer_scales == "fold_pow2":
        a, b, _ = _sides(qa, qb, outer_scales)
        for v in (a.vector, b.vector):
            if v is not None and v.size:
                factor *= float(np.abs(v).max())
    return float(st.max_abs) * factor


@dataclass
class _Side:
    codes: np.ndarray
    element: Any
    scales: np.ndarray | None  # per block of K, multiplying each product (2-D)
    vector: np.ndarray | None  # per row of X / column of W, after accumulation


def _side(q: QuantizedOperand, name: str) -> tuple[_Side, int | None]:
    """The operand as the simulator holds it, in X (M×K) / W (K×N) orientation."""
    if q.spec.is_block:
        op = _macsim_operand(name, q.data, None, name)
        return _Side(op.codes, op.element, op.block_scales, op.vector), op.scale_block
    if q.scales is None or q.scales.ndim == 1:
        return _Side(q.data, q.element, None, q.scales), None
    return _Side(q.data, q.element, q.scales, None), q.scale_block


def _sides(qa: QuantizedOperand, qb: QuantizedOperand, outer_scales: str):
    a, sa = _side(qa, "a")
    b, sb = _side(qb, "b")
    k = a.codes.shape[1]
    if sa and sb and sa != sb:
        raise ValueError(f"accumulate: the operands' scale blocks differ: {sa} and {sb}")
    sblk = sa or sb
    if outer_scales == "fold_pow2" and (a.vector is not None or b.vector is not None):
        sblk = sblk or k
        a.scales, a.vector = fold_pow2(a.vector, a.scales, sblk, k, "a")
        b.scales, b.vector = fold_pow2(b.vector, b.scales, sblk, k, "b")
    return a, b, sblk


def _check(interval: Any, k: int, sblk: int | None, order: str, lanes: int, acc: Any) -> int:
    if isinstance(interval, bool) or not isinstance(interval, (int, np.integer)) or interval < 1:
        raise ValueError(f"accumulate: interval must be a positive int, got {interval!r}")
    if not isinstance(acc, FloatFormat) or acc.man_bits > 23:
        raise ValueError(
            f"accumulate: promotion into FP32 needs a float accumulator of at most FP32's "
            f"precision (fp16, bf16, fp22, fp32), got {acc}"
        )
    interval = min(int(interval), k)
    if sblk and sblk < k and interval % sblk and interval != k:
        raise ValueError(
            f"accumulate: interval={interval} must be a multiple of the operands' scale "
            f"block {sblk}"
        )
    if order == "blocks" and interval % lanes and interval != k:
        raise ValueError(f"accumulate: interval={interval} must be a multiple of lanes={lanes}")
    return interval


def _fp32_add(acc: np.ndarray, p: np.ndarray, counts: dict[str, int]) -> np.ndarray:
    """acc + p in IEEE binary32 (numpy float32 addition: round to nearest even), counting
    steps that overflowed, lost part of p, or lost all of it (finite operands only)."""
    p32 = p.astype(np.float32)
    if not np.array_equal(p32.astype(np.float64), p, equal_nan=True):
        raise ValueError("accumulate: a partial sum is not a float32 value")  # pragma: no cover
    a64, b64 = acc.astype(np.float64), p
    live = np.isfinite(a64) & np.isfinite(b64)
    with np.errstate(invalid="ignore", over="ignore"):
        new = acc + p32  # Inf − Inf = NaN, as IEEE 754 says
        s = a64 + b64  # TwoSum (Knuth): s + e is the exact sum of two doubles
        bb = s - a64
        e = (a64 - (s - bb)) + (b64 - bb)
        inexact = live & ((e != 0) | (new.astype(np.float64) != s))
    counts["overflow"] += int(np.count_nonzero(live & ~np.isfinite(new)))
    counts["swamping"] += int(np.count_nonzero(inexact))
    counts["absorbed"] += int(np.count_nonzero(inexact & (new == acc) & (p32 != 0)))
    return new


#: products per simulator call when chunks are batched (see :func:`_chunk_partials`)
GROUP_MACS = 1 << 20


def _chunk_partials(a: _Side, b: _Side, sblk, starts: list[int], length: int, acc, kw: dict):
    """Partial sums of the chunks [k0, k0 + length) for k0 in ``starts``, each accumulated
    from zero, in one simulator call: G chunks side by side form a (G·M) × L by L × (G·N)
    product whose diagonal blocks (chunk g of X with chunk g of W) are exactly the chunks'
    accumulations; the off-diagonal outputs are discarded (G× the products, 1/G the calls).
    Returns (partials (G, M, N), their event counts, steps, max |acc|)."""
    g, m, n = len(starts), a.codes.shape[0], b.codes.shape[1]
    ca = np.concatenate([a.codes[:, k0 : k0 + length] for k0 in starts], axis=0)
    cb = np.concatenate([b.codes[k0 : k0 + length] for k0 in starts], axis=1)
    scales = None
    if a.scales is not None or b.scales is not None:
        cols = [slice(k0 // sblk, -(-(k0 + length) // sblk)) for k0 in starts]
        sa = None if a.scales is None else np.concatenate([a.scales[:, c] for c in cols], 0)
        sb = None if b.scales is None else np.concatenate([b.scales[c] for c in cols], 1)
        scales = (sa, sb)
    out, st = gemm(np.ascontiguousarray(ca), np.ascontiguousarray(cb), a.element, b.element,
                   accumulator=acc, scales=scales, per_output=g > 1,
                   scale_block=sblk if scales is not None else None, **kw)  # fmt: skip
    idx = np.arange(g)
    diag = out.reshape(g, m, g, n)[idx, :, idx, :]  # (G, M, N): chunk g × chunk g
    if g == 1:
        counts = {key: int(st[key]) for key in ("overflow", "swamping", "absorbed")}
        return diag, counts, st.steps, st.max_abs
    po = {key: v.reshape(g, m, g, n)[idx, :, idx, :] for key, v in st.per_output.items()}
    counts = {key: int(po[key].sum()) for key in ("overflow", "swamping", "absorbed")}
    return diag, counts, st.steps // g, float(po["max_abs"].max(initial=0.0))


def _promote(a: _Side, b: _Side, sblk, acc, order, lanes, interval, rounding):
    m, k = a.codes.shape
    n = b.codes.shape[1]
    kw = dict(rounding=rounding, order=order, block=lanes if order == "blocks" else None)
    total = np.zeros((m, n), np.float32)
    counts = dict(overflow=0, swamping=0, absorbed=0)
    steps, top = 0, 0.0
    full = list(range(0, k - k % interval, interval))
    per_call = max(1, int(math.sqrt(GROUP_MACS / (m * n * interval))))
    groups = [(full[i : i + per_call], interval) for i in range(0, len(full), per_call)]
    if k % interval:
        groups.append(([k - k % interval], k % interval))
    for starts, length in groups:
        parts, c, st_steps, st_top = _chunk_partials(a, b, sblk, starts, length, acc, kw)
        for key in counts:
            counts[key] += c[key]
        steps += st_steps + m * n * len(starts)
        top = max(top, st_top)
        for part in parts:  # the FP32 register, in K order
            total = _fp32_add(total, part, counts)
            fin = np.abs(total[np.isfinite(total)])
            top = max(top, float(fin.max(initial=0.0)))
    y = total.astype(np.float64)
    return y, MacStats(macs=m * n * k, steps=steps, max_abs=top, **counts)


def accumulate(
    qa: QuantizedOperand,
    qb: QuantizedOperand,
    accumulator: Any = "fp32",
    order: str = "blocks",
    lanes: int = 32,
    interval: int | None = None,
    outer_scales: str = "fold_pow2",
    rounding: str = "nearest_even",
) -> tuple[np.ndarray, MacStats]:
    """Y = X·W of quantized operands (``qa``: the activation X, M×K; ``qb``: the weight W,
    K×N), bit-exactly.  ``accumulator``: :func:`resolve_accumulator`'s grammar; ``order``:
    "sequential", "blocks" (``lanes`` products summed exactly per addition) or "pairwise";
    ``interval``: None for one register over all of K, or promote — accumulate
    ``interval`` products in ``accumulator`` (in ``order``), add that partial sum into an
    FP32 register, start again from zero.  Returns (Y in float64, :class:`MacStats` summed
    over the narrow steps and the FP32 additions; ``max_abs`` in the accumulator's units).

    >>> import numpy as np
    >>> from lowbit.evaluation import quantize_operand
    >>> x = quantize_operand(np.ones((1, 4096)), "fp8_e4m3fn:none", "activation")
    >>> w = quantize_operand(np.full((4096, 1), 2.0**-9), "fp8_e4m3fn:none", "weight")
    >>> accumulate(x, w, "fp16", "sequential")[0].item()  # at 4, 2^-9 is half an ulp  # doctest: +SKIP
    4.0
    >>> accumulate(x, w, "fp16", "sequential", interval=128)[0].item()  # doctest: +SKIP
    8.0
    """
    if order not in ORDERS:
        raise ValueError(f"accumulate: order={order!r}; expected one of {ORDERS}")
    if outer_scales not in OUTER_SCALES:
        raise ValueError(f"accumulate: outer_scales={outer_scales!r}; one of {OUTER_SCALES}")
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ValueError(f"accumulate: lanes must be a positive int, got {lanes!r}")
    acc = resolve_accumulator(accumulator)
    block = int(lanes) if order == "blocks" else None
    if interval is None:
        return _simulate(qa, qb, acc, order=order, block=block, outer_scales=outer_scales,
                         rounding=rounding)  # fmt: skip
    a, b, sblk = _sides(qa, qb, outer_scales)
    interval = _check(interval, a.codes.shape[1], sblk, order, int(lanes), acc)
    y, stats = _promote(a, b, sblk, acc, order, int(lanes), interval, rounding)
    if a.vector is not None:  # the epilogue, as gemm applies it
        y *= a.vector[:, None]
    if b.vector is not None:
        y *= b.vector[None, :]
    return y, stats


def fixed_register(width: int, frac: int | None, saturate: bool = True) -> FixedAccumulator:
    """A ``width``-bit register with ``frac`` fraction bits (None: at the products' LSB).

    >>> fixed_register(24, 12)
    FixedAccumulator(width=24, frac=12, overflow='saturate')
    """
    return FixedAccumulator(int(width), frac, "saturate" if saturate else "wrap")
