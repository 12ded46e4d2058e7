"""GEMM operands as the C core takes them: validated element codes, per-block scale factors
along K (from a block format's encoding or the caller's ``scales=``), per-row / per-column
output scales.  The block families' scale rules are read from the formats (OCP MX v1.0
§5.4, §6.3 for E8M0; docs/formats-block.md for MX9/6/4, NVFP4, VS-Quant and the
group-scaled formats such as int4_g128).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...formats import FloatFormat, IntFormat, get_format
from ...formats.base import to_numpy
from ...formats.block import BlockArray, FixedPointElement, MXFormat, NVFP4Format, SharedExpFormat
from ...formats.scaling import GroupScaledFormat, VSQuant


def _codes(name: str, arr: Any, fmt_bits: int) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"macsim: {name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"macsim: {name} must have an integer dtype, got {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"macsim: {name} must be 2-D, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"macsim: {name} must be C-contiguous (use np.ascontiguousarray)")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= 2**fmt_bits:
            raise ValueError(
                f"macsim: {name} has codes outside [0, 2^{fmt_bits}) (min {lo}, max {hi})"
            )
    # the C core reads uint8 or uint16 codes: no copy when they already are one of them
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.int8:  # non-negative (checked above): the same bytes as uint8
        return arr.view(np.uint8)
    return arr.astype(np.uint16, copy=False)


def all_finite(finite: np.ndarray, codes: np.ndarray) -> bool:
    """Whether every code indexes a finite table entry, without a full-size mask: the
    table is tiny, so look codes up only when some entry is not finite, in row chunks."""
    if finite.all() or codes.size == 0:
        return True
    rows = max(1, (1 << 20) // max(codes.shape[1], 1))
    return all(finite[codes[r0 : r0 + rows]].all() for r0 in range(0, codes.shape[0], rows))


@dataclass
class Operand:
    """One GEMM operand as the C core takes it (A: M×K, B: K×N orientation)."""

    codes: np.ndarray
    element: Any  # the scalar format of the codes
    block_scales: np.ndarray | None = None  # per scale_block along K; exact factors
    scale_block: int | None = None
    block: int | None = None  # the format's dot-product block (default for order="blocks")
    vector: np.ndarray | None = None  # per row of A / column of B, applied to C (γ, s_tensor)


_BLOCK_FORMATS = (
    "OCP MX (mxfp8/6/4, mxint8), MX9/MX6/MX4 and BFP, NVFP4, VS-Quant, group-scaled (int4_g128)"
)
#: the block families an operand may be given in (as a BlockArray or encoded here)
_BLOCK_TYPES = (MXFormat, SharedExpFormat, NVFP4Format, VSQuant, GroupScaledFormat)


def _block_operand(name: str, x: BlockArray, side: str) -> Operand:
    """Element codes and exact per-element scale factors of a block-format tensor."""
    x.validate(where=f"macsim: {name}: ")  # every field the C core indexes fits the codes
    fmt = x.format
    if len(x.shape) != 2:
        raise ValueError(f"macsim: {name} must be 2-D, got shape {x.shape}")
    want_axis = 1 if side == "a" else 0
    if x.axis % 2 != want_axis:
        raise ValueError(
            f"macsim: {name} must have its blocks along K (axis={want_axis}), got axis={x.axis}"
        )
    codes = np.ascontiguousarray(x.codes)  # (rows, K) with K last
    k = codes.shape[1]
    vector = None
    sc = np.asarray(x.scales).astype(np.int64)
    if isinstance(fmt, MXFormat):
        sf = fmt.scale_format
        if sc.size and (sc.min() < 0 or sc.max() > sf.code_of_nan):
            raise ValueError(f"macsim: {name} has E8M0 scale codes outside [0, {sf.code_of_nan}]")
        scales = sf.decode(sc.astype(np.uint8)).astype(np.float64)
        element, sblk, blk = fmt.element, fmt.block_size, fmt.block_size
    elif isinstance(fmt, SharedExpFormat):
        # x = q · 2^(e_block − d_sub − (m − 1)): one exact power-of-two factor per sub-block
        element, blk, sf = fmt.element, fmt.block_size, fmt.scale_format
        if fmt.micro_bits:
            sblk = fmt.sub_block_size
            nsub = -(-k // sblk)
            e = np.repeat(sc, fmt.block_size // sblk, axis=-1)[..., :nsub]
            nan = e == sf.code_of_nan
            e = sf.exponent_of(e) - np.asarray(x.micro).astype(np.int64)
        else:
            sblk, nan, e = fmt.block_size, sc == sf.code_of_nan, sf.exponent_of(sc)
        scales = np.where(nan, np.nan, np.ldexp(1.0, e - (fmt.man_bits - 1)))
    elif isinstance(fmt, NVFP4Format):
        # E4M3 block scales inside the dot product; the FP32 tensor scale on the output,
        # as NVFP4 hardware applies it in the epilogue
        element, sblk, blk = fmt.element, fmt.block_size, fmt.block_size
        scales = fmt.scale_format.decode(sc.astype(np.uint8)).astype(np.float64)
        vector = np.full(codes.shape[0], float(x.tensor_scale))
    elif isinstance(fmt, GroupScaledFormat):
        # x = q · s per group along K, s a value of the scale format (FP16 for int4_g128):
        # each product is multiplied by its group's scale, exactly (a W4A16 unit that
        # dequantizes int4 · s exactly before the multiply-accumulate)
        element, sblk, blk = fmt.element, fmt.block_size, fmt.block_size
        scales = fmt.scale_format.decode(np.asarray(x.scales)).astype(np.float64)
    elif isinstance(fmt, VSQuant):
        element, sblk, blk = fmt.element, fmt.block_size, fmt.block_size
        scales = sc.astype(np.float64)
        g = np.asarray(x.outer_scale, dtype=np.float64).ravel()
        rows = codes.shape[0]
        if g.size == 1:
            vector = np.full(rows, g[0])
        elif g.size == rows and fmt.channel_axis % 2 != want_axis:
            vector = g
        else:
            raise ValueError(
                f"macsim: {name}: VS-Quant's γ must be per tensor or per output channel "
                f"(channel_axis={1 - want_axis} for {'A' if side == 'a' else 'B'})"
            )
    else:
        raise TypeError(f"macsim: block operands must be {_BLOCK_FORMATS}; got {fmt.name}")
    if side == "b":
        codes, scales = np.ascontiguousarray(codes.T), np.ascontiguousarray(scales.T)
    codes = _codes(name, codes, element.bits)
    return Operand(codes, element, np.ascontiguousarray(scales), sblk, blk, vector)


def operand(name: str, x: Any, fmt: Any, side: str) -> Operand:
    if isinstance(fmt, str):
        fmt = get_format(fmt)
    if isinstance(x, BlockArray):
        if fmt is not None and fmt != x.format:
            raise ValueError(f"macsim: {name} is a BlockArray of {x.format.name}, not {fmt}")
        return _block_operand(name, x, side)
    # torch, jax, cupy-on-host... through __array__ or DLPack, as the formats take them
    x = to_numpy(f"macsim: {name}", x)
    if fmt is None:
        raise TypeError(f"macsim: {name}_format is required unless {name} is a BlockArray")
    if isinstance(fmt, _BLOCK_TYPES):
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or x.ndim != 2:
            raise TypeError(
                f"macsim: with {fmt.name}, {name} must be a 2-D float array or a BlockArray"
            )
        axis = 1 if side == "a" else 0
        if isinstance(fmt, VSQuant) and fmt.outer == "per_channel":
            fmt = replace(fmt, channel_axis=1 - axis)  # γ per row of A, per column of B
        return _block_operand(name, fmt.encode(x, axis=axis), side)
    if not isinstance(fmt, (IntFormat, FloatFormat, FixedPointElement)):
        raise TypeError(
            f"macsim: {name}_format must be an integer or float format of ≤ 16 bits or a "
            f"block format ({_BLOCK_FORMATS}), got {getattr(fmt, 'name', fmt)!r}"
        )
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if x.ndim != 2:
            raise ValueError(f"macsim: {name} must be 2-D, got shape {x.shape}")
        x = np.ascontiguousarray(fmt.encode(x))
    return Operand(_codes(name, x, fmt.bits), fmt)


def user_scales(scales: Any, m: int, k: int, n: int, scale_block: int | None):
    """(row vector, column vector, A block scales, B block scales) from ``scales=``."""
    if scales is None:
        return None, None, None, None
    if not isinstance(scales, (tuple, list)) or len(scales) != 2:
        raise TypeError("macsim: scales must be a pair (a_scales, b_scales); either may be None")
    out = [None, None, None, None]
    for side, s in zip("ab", scales, strict=True):
        if s is None:
            continue
        s = np.asarray(s)
        if s.dtype.kind not in "fiu":
            raise TypeError(f"macsim: {side} scales must be numeric, got {s.dtype}")
        s = np.ascontiguousarray(s, dtype=np.float64)
        rows = m if side == "a" else n
        if s.ndim == 1:
            if s.size != rows:
                raise ValueError(
                    f"macsim: per-{'row' if side == 'a' else 'column'} {side} scales need "
                    f"{rows} values, got shape {s.shape}"
                )
            out[0 if side == "a" else 1] = s.reshape(-1)
            continue
        if s.ndim != 2:
            raise ValueError(f"macsim: {side} scales must be 1-D or 2-D, got shape {s.shape}")
        if scale_block is None:
            raise ValueError("macsim: per-block scales need scale_block= (their K length)")
        nb = -(-k // scale_block)
        want = (m, nb) if side == "a" else (nb, n)
        if s.shape != want:
            raise ValueError(
                f"macsim: per-block {side} scales must have shape {want} "
                f"(K={k}, scale_block={scale_block}), got {s.shape}"
            )
        out[2 if side == "a" else 3] = s
    return tuple(out)


#: where the per-row / per-column scales (NVFP4's tensor scale, VS-Quant's γ, ``scales=``
#: vectors) are applied: see :func:`fold_pow2`
OUTER_SCALES = ("epilogue", "fold_pow2")


def fold_pow2(
    vector: np.ndarray | None, block_scales: np.ndarray | None, sblk: int, k: int, side: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Move the power-of-two part of per-row (``side="a"``) or per-column (``"b"``) output
    scales into the per-block scales that multiply each product.

    Each scale s = 2^e · m with 1 ≤ |m| < 2 (``np.frexp``); 2^e multiplies the block scales
    (exactly: only their exponents change, as an exponent adder in the scale path would) and
    m stays an output scale, applied after accumulation.  The accumulator then holds values
    within a factor of 4 of the true output (both sides folded) instead of values in the
    formats' scaled domain.  Zero or non-finite scales are not folded.  Returns (block
    scales, remaining vector); both unchanged when ``vector`` is None.

    >>> bs, m = fold_pow2(np.array([0.75, 8.0]), None, 4, 8, "a")
    >>> bs.tolist(), m.tolist()
    ([[0.5, 0.5], [8.0, 8.0]], [1.5, 1.0])
    """
    if vector is None:
        return block_scales, vector
    v = np.asarray(vector, dtype=np.float64)
    ok = np.isfinite(v) & (v != 0)
    _, e = np.frexp(np.where(ok, v, 1.0))
    p2 = np.where(ok, np.ldexp(1.0, e - 1), 1.0)  # 2^e ≤ |s| < 2^(e+1)
    if block_scales is None:
        nb = max(-(-k // sblk), 1)
        block_scales = np.ones((v.size, nb) if side == "a" else (nb, v.size))
    factor = p2[:, None] if side == "a" else p2[None, :]
    return np.ascontiguousarray(block_scales * factor), v / p2
