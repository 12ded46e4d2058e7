"""Validation of a :func:`~lowbit.hwmodel.macsim.gemm` call and the two C option structs it
becomes (``macsim_acc_t``, ``macsim_opts_t`` in ``csrc/macsim.h``), as cpfloat separates
building and validating its options from running the loops.  Every check here comes before
any C code runs; the C core checks the structs once more (``macsim_check``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...formats import FloatFormat
from ..accumulator import (
    ACC_ROUNDINGS,
    ExactAccumulator,
    FixedAccumulator,
    exact_width,
    parse_accumulator,
)
from .operands import OUTER_SCALES, Operand, all_finite, fold_pow2, operand, user_scales
from .run import ORDERS, Constants, constants
from .tables import TableInfo, scaled_table, value_table

#: largest ``block``/``scale_block`` (the C core holds them in int64 with room to add)
MAX_BLOCK = 2**62


@dataclass
class Plan:
    """Everything one C call takes: operands, tables, scales and the two option dicts."""

    a: Operand
    b: Operand
    ta: TableInfo
    tb: TableInfo
    a_bs: np.ndarray | None
    b_bs: np.ndarray | None
    row_scales: np.ndarray | None
    col_scales: np.ndarray | None
    a_int: np.ndarray | None
    b_int: np.ndarray | None
    acc: Any  # the resolved accumulator, for messages
    exact: bool  # the exact accumulator: it must never overflow
    opts_acc: dict
    opts: dict
    steps: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """(M, K, N)."""
        return self.a.codes.shape[0], self.a.codes.shape[1], self.b.codes.shape[1]


@dataclass
class _Products:
    """The bit range of the products (block sums) the accumulator adds."""

    low: int
    top: int
    sig: int
    grow: int
    span: int
    wide_blocks: bool
    finite: bool
    sa: TableInfo
    sb: TableInfo


def _check_flags(rounding, order, toggles, per_output, fast, threads, c: Constants) -> None:
    if not isinstance(rounding, str) or rounding not in ACC_ROUNDINGS:
        raise ValueError(f"macsim: rounding={rounding!r}; expected one of {ACC_ROUNDINGS}")
    if not isinstance(order, str) or order not in ORDERS:
        raise ValueError(f"macsim: order={order!r}; expected one of {ORDERS}")
    for what, flag in (("toggles", toggles), ("per_output", per_output), ("fast", fast)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"macsim: {what} must be True or False, got {flag!r}")
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"macsim: threads must be an int, got {threads!r}")
    if not 1 <= threads <= c.max_threads:
        raise ValueError(f"macsim: threads={threads} outside 1..{c.max_threads}")


def _check_block(what: str, v: Any) -> None:
    """``block`` and ``scale_block``: ints in 1..2^62 (a wrong type of scale_block is a
    TypeError, of block a ValueError, as they always were)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        if what == "block":
            raise ValueError(f"macsim: block={v!r} must be a positive int")
        raise TypeError(f"macsim: {what} must be an int, got {v!r}")
    if not 1 <= v <= MAX_BLOCK:
        raise ValueError(f"macsim: {what}={v} outside 1..2^62")


def _scales(oa: Operand, ob: Operand, scales: Any, scale_block: Any, k: int):
    """(scale block length, A block scales, B block scales, row vector, column vector)."""
    m, n = oa.codes.shape[0], ob.codes.shape[1]
    a_blk, b_blk = oa.scale_block, ob.scale_block
    if a_blk and b_blk and a_blk != b_blk:
        raise ValueError(f"macsim: the operands' block (scale) sizes differ: {a_blk} and {b_blk}")
    mx_block = a_blk or b_blk
    if scale_block is not None:
        _check_block("scale_block", scale_block)
        if mx_block and scale_block != mx_block:
            raise ValueError(
                f"macsim: scale_block={scale_block} but the block operands' scales cover "
                f"{mx_block} elements"
            )
    sblk = mx_block or scale_block
    row_s, col_s, ua_bs, ub_bs = user_scales(scales, m, k, n, sblk)
    if (ua_bs is not None and oa.block_scales is not None) or (
        ub_bs is not None and ob.block_scales is not None
    ):
        raise ValueError("macsim: a block operand brings its own block scales; pass None for it")
    for vec, fromfmt, what in ((row_s, oa.vector, "rows"), (col_s, ob.vector, "columns")):
        if vec is not None and fromfmt is not None:
            raise ValueError(f"macsim: VS-Quant brings the scales of its {what}; pass None")
    a_bs = oa.block_scales if oa.block_scales is not None else ua_bs
    b_bs = ob.block_scales if ob.block_scales is not None else ub_bs
    row_s = row_s if row_s is not None else oa.vector
    col_s = col_s if col_s is not None else ob.vector
    return sblk, a_bs, b_bs, row_s, col_s


def _products(ta, tb, a, b, a_bs, b_bs, block: int, sblk) -> _Products:
    """Check that products are exact doubles; their bit range; whether block sums are wide."""
    finite = all_finite(ta.finite, a.codes) and all_finite(tb.finite, b.codes)
    for s in (a_bs, b_bs):
        if s is not None and not np.isfinite(s).all():
            finite = False
    sa, sb = scaled_table(ta, a_bs), scaled_table(tb, b_bs)
    low, top, sig = sa.low + sb.low, sa.top + sb.top + 1, sa.sig + sb.sig
    if sa.max_abs == 0 or sb.max_abs == 0:
        low, top, sig = 0, 0, 0
    grow = max(0, math.ceil(math.log2(block))) if block > 1 else 0
    if sig > 53 or low < -1000 or top + 1 + grow > 300:
        raise ValueError(
            f"macsim: products of these operands are not exact in double ({sa.sig}+{sb.sig} "
            f"significant bits, exponents {low}..{top}); at most 53 bits within "
            "2^-1000..2^300 supported"
        )
    span = top + 1 + grow - low
    if (a_bs is not None or b_bs is not None) and sblk % block == 0:
        # each block of products shares its scales: (sum of element products) × scales
        ssig = (sa.sig - ta.sig) + (sb.sig - tb.sig)
        span = (ta.top + tb.top + 2 + grow) - (ta.low + tb.low) + ssig
    # block sums wider than a double are formed in a Kulisch register (float and exact
    # accumulators); fixed point keeps its int64 register
    wide_blocks = block > 1 and span > 53
    if wide_blocks and not finite:
        raise ValueError(
            f"macsim: block sums of {block} products span {span} bits, more than a double: "
            "supported for finite operands only (these hold NaN or Inf)"
        )
    if wide_blocks and block > 2**28:
        raise ValueError(f"macsim: block={block}: at most 2^28 products per wide block")
    return _Products(low, top, sig, grow, span, wide_blocks, finite, sa, sb)


def _float_acc(fmt: FloatFormat, rounding: str, c: Constants) -> dict:
    if fmt.specials != "ieee":
        raise ValueError(
            f"macsim: floating-point accumulator {fmt} must be IEEE-style (specials='ieee')"
        )
    if fmt.man_bits > 23 or fmt.emin < -126 or fmt.emax > 127:
        raise ValueError(
            f"macsim: accumulator {fmt} is wider than FP32 (man_bits ≤ 23, "
            f"emin ≥ -126, emax ≤ 127 supported; got {fmt.man_bits}, {fmt.emin}, {fmt.emax})"
        )
    return dict(
        kind=c.acc_float,
        man_bits=fmt.man_bits,
        emin=fmt.emin,
        emax=fmt.emax,
        subnormals=int(fmt.has_subnormals),  # else results below 2^emin flush to zero
        rounding=c.round_code[rounding],
    )


def _fixed_acc(acc: FixedAccumulator, low: int, top: int, rounding: str, c: Constants) -> dict:
    """Options of a fixed-point register.  Addends below its LSB (low + frac < 0) are
    rounded into it at every step with ``rounding``; addends scaled by 2^frac must stay
    below 2^62 (macsim.c keeps sums in int64)."""
    if top + 1 + acc.frac > 62:
        raise ValueError(f"macsim: addends scaled by 2^{acc.frac} exceed 2^62")
    if low + acc.frac < -1074:  # x · 2^frac would underflow double and hide the rounding
        raise ValueError(
            f"macsim: {acc}: products as small as 2^{low} are below 2^-1074 on the register's "
            f"grid; use frac ≥ {-1074 - low}"
        )
    return dict(
        kind=c.acc_fixed,
        width=acc.width,
        frac_bits=acc.frac,
        saturate=int(acc.overflow == "saturate"),
        rounding=c.round_code[rounding],
    )


def _accumulator(spec: Any, p: _Products, k: int, block: int, order: str, rounding: str, c):
    """(resolved accumulator, accumulator options, Kulisch block limbs, their frac)."""
    try:
        acc = parse_accumulator(spec)
    except ValueError as exc:
        raise ValueError(f"macsim: accumulator={spec!r}: {exc}") from None
    if isinstance(acc, FixedAccumulator):
        if not 2 <= acc.width <= c.max_fixed_width:
            raise ValueError(
                f"macsim: {acc}: width={acc.width} outside 2..{c.max_fixed_width} (the C "
                "core's int64 fixed-point register)"
            )
        if acc.frac is None:  # the binary point at the products' least significant bit
            acc = replace(acc, frac=-p.low)
    if not isinstance(acc, FloatFormat) and not p.finite:
        raise ValueError(
            "macsim: operands hold NaN or Inf (codes or scales); fixed-point and exact "
            "accumulators have no encoding for them — use a floating-point accumulator"
        )
    bk_limbs = bk_frac = 0
    opts_acc = None
    if isinstance(acc, ExactAccumulator):
        if order == "pairwise":
            raise ValueError("macsim: order='pairwise' has no meaning for the exact accumulator")
        width, frac = exact_width(p.sa, p.sb, max(k, 1))
        width = max(width, 2)
        if width <= c.max_fixed_width and not p.wide_blocks:
            acc = FixedAccumulator(width, frac, "saturate")
        elif width > c.max_exact_width:
            raise ValueError(
                f"macsim: the exact accumulator needs {width} bits; at most {c.max_exact_width}"
            )
        else:
            opts_acc = dict(kind=c.acc_exact, width=width, frac_bits=frac)
            if p.wide_blocks:
                bk_limbs, bk_frac = (width + 31) // 32 + 2, frac
    if rounding == "down" and isinstance(acc, FloatFormat):
        raise ValueError(
            "macsim: rounding='down' is for fixed-point accumulators; float accumulators take "
            "'nearest_even' or 'toward_zero'"
        )
    if isinstance(acc, FixedAccumulator) and p.low + acc.frac < 0 and order == "pairwise":
        raise ValueError(
            f"macsim: {acc} rounds these products (they need {-p.low} fractional bits): "
            "supported in sequential and blocks order, not pairwise"
        )
    if isinstance(acc, FloatFormat):
        opts_acc = _float_acc(acc, rounding, c)
        if p.wide_blocks:  # the register holds the accumulator's values as well
            bk_frac = max(-p.low, acc.man_bits - acc.emin)
            bk_width = max(p.top + p.grow, acc.emax + 1) + 3 + bk_frac
            bk_limbs = (bk_width + 31) // 32 + 2
    elif isinstance(acc, FixedAccumulator):
        if p.wide_blocks:
            raise ValueError(
                f"macsim: block sums of {block} products span {p.span} bits; a fixed-point "
                "accumulator takes at most 53 — use a smaller block, or a float or exact one"
            )
        opts_acc = _fixed_acc(acc, p.low, p.top + p.grow, rounding, c)
    return acc, opts_acc, bk_limbs, bk_frac


def _int_tables(ta: TableInfo, tb: TableInfo, frac: int):
    """Integer tables a_int · b_int = product · 2^frac for the vectorised fixed-point loop,
    when entries fit 31 bits and products 62 bits; else (None, None)."""
    shift = ta.low + tb.low + frac
    if shift < 0 or shift > 62:
        return None, None
    ai = np.where(ta.finite, ta.values, 0.0) * 2.0 ** (-ta.low + shift)
    bi = np.where(tb.finite, tb.values, 0.0) * 2.0**-tb.low
    amax, bmax = np.abs(ai).max(), np.abs(bi).max()
    if amax >= 2**31 or bmax >= 2**31 or amax * bmax >= 2**62:
        return None, None
    if (ai != np.round(ai)).any() or (bi != np.round(bi)).any():  # pragma: no cover
        return None, None
    return ai.astype(np.int32), bi.astype(np.int32)


def _fast_paths(ta, tb, acc, opts_acc, p: _Products, plain: bool, c: Constants) -> dict:
    """Conditions for the vectorised loops (see macsim.c) and the fixed-point int tables."""
    out = dict(a_int=None, b_int=None, f32_ok=0, f64_exact=0, f64_ok=0)
    if plain and opts_acc["kind"] == c.acc_fixed:
        out["a_int"], out["b_int"] = _int_tables(ta, tb, opts_acc["frac_bits"])
    if plain and opts_acc["kind"] == c.acc_float:
        tabs32 = all(
            (np.float32(t.values[t.finite]).astype(np.float64) == t.values[t.finite]).all()
            for t in (ta, tb)
        )
        out["f32_ok"] = int(tabs32 and p.sig <= 24 and p.low >= -149 and p.top + 1 <= 127)
        lo_acc = acc.emin - acc.man_bits
        out["f64_exact"] = int(max(acc.emax, p.top) + 1 - min(lo_acc, p.low) + 1 <= 53)
        out["f64_ok"] = 1
    return out


def _steps(order: str, m: int, k: int, n: int, block: int) -> int:
    if order == "sequential":
        return m * n * k
    if order == "blocks":
        return m * n * -(-k // block)
    return m * n * max(k - 1, 1 if k else 0)


def build(
    a: Any,
    b: Any,
    a_format: Any,
    b_format: Any,
    accumulator: Any,
    rounding: str,
    order: str,
    block: int | None,
    scales: Any,
    scale_block: int | None,
    toggles: bool,
    per_output: bool,
    threads: int,
    fast: bool,
    outer_scales: str = "epilogue",
) -> Plan:
    """Validate the arguments of :func:`~lowbit.hwmodel.macsim.gemm` (same meaning) and build
    the :class:`Plan` of its C call; ValueError/TypeError naming the argument otherwise."""
    c = constants()
    _check_flags(rounding, order, toggles, per_output, fast, threads, c)
    oa, ob = operand("a", a, a_format, "a"), operand("b", b, b_format, "b")
    if oa.codes.shape[1] != ob.codes.shape[0]:
        raise ValueError(
            f"macsim: inner dimensions differ: a is {oa.codes.shape}, b is {ob.codes.shape}"
        )
    m, k = oa.codes.shape
    n = ob.codes.shape[1]
    sblk, a_bs, b_bs, row_s, col_s = _scales(oa, ob, scales, scale_block, k)
    if not isinstance(outer_scales, str) or outer_scales not in OUTER_SCALES:
        raise ValueError(f"macsim: outer_scales={outer_scales!r}; expected one of {OUTER_SCALES}")
    if outer_scales == "fold_pow2" and (row_s is not None or col_s is not None):
        sblk = sblk or max(k, 1)  # no block scales yet: one block spanning K
        a_bs, row_s = fold_pow2(row_s, a_bs, sblk, k, "a")
        b_bs, col_s = fold_pow2(col_s, b_bs, sblk, k, "b")
    if block is None:
        block = max(oa.block or 0, ob.block or 0) or 32
    _check_block("block", block)
    if order != "blocks":
        block = 1
    ta, tb = value_table(oa.element), value_table(ob.element)
    p = _products(ta, tb, oa, ob, a_bs, b_bs, block, sblk)
    acc, opts_acc, bk_limbs, bk_frac = _accumulator(accumulator, p, k, block, order, rounding, c)
    if toggles and order == "pairwise":
        raise ValueError("macsim: toggles count one register's flips; not for order='pairwise'")
    plain = a_bs is None and b_bs is None and p.finite
    fp = _fast_paths(ta, tb, acc, opts_acc, p, plain, c)
    opts = dict(
        order=c.order_code[order],
        block=int(block),
        scale_block=int(sblk or 1),
        a_scaled=int(a_bs is not None),
        b_scaled=int(b_bs is not None),
        toggles=int(toggles),
        per_output=int(per_output),
        threads=int(threads),
        fast=int(fast),
        int_ok=int(fp["a_int"] is not None),
        f32_ok=fp["f32_ok"],
        f64_exact=fp["f64_exact"],
        f64_ok=fp["f64_ok"],
        bk_limbs=bk_limbs,
        bk_frac=bk_frac,
        a_u8=int(oa.codes.dtype == np.uint8),
        b_u8=int(ob.codes.dtype == np.uint8),
    )
    exact = isinstance(parse_accumulator(accumulator), ExactAccumulator)  # parsed above
    return Plan(
        oa,
        ob,
        ta,
        tb,
        a_bs,
        b_bs,
        row_s,
        col_s,
        fp["a_int"],
        fp["b_int"],
        acc,
        exact,
        opts_acc,
        opts,
        _steps(order, m, k, n, block),
    )
