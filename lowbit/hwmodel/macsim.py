"""Bit-exact GEMM simulator: a finite accumulator applied at every MAC step.

C = A · B with A (M×K) and B (K×N) given as element codes of lowbit formats of at most
16 bits (or as float arrays, encoded here), optionally with per-row/per-column scales or
per-block scales along K (OCP MX operands bring theirs).  Each product is exact (checked
here, from the format tables); each addition into the accumulator rounds (floating point),
wraps or saturates (fixed point), or is exact (Kulisch), in the stated order along K
(domain.md §7):

* ``order="sequential"``: acc ← round(acc + p_k), k = 0, 1, …
* ``order="blocks"``: the products of each block of ``block`` consecutive k are summed
  exactly, and each block sum is added with one rounding (MX dot products, tensor cores);
* ``order="pairwise"``: a tree of adders of the accumulator format: level by level,
  neighbours are added (one rounding each); an odd last entry moves up unchanged; the
  leaves are the exact products (a single product still passes one adder, 0 + p).

The core is C (``csrc/macsim.c``) behind two option structs validated here and once
more in C before any loop runs (the cpfloat boundary, style.md); it vectorises across
outputs and runs row ranges on ``threads`` threads.  ``macsim_ref`` is the slow exact
Python reference it is tested against.  Examples calling the C core are marked SKIP so
that a checkout without the built extension passes ``--doctest-modules``;
``tests/hwmodel/test_macsim.py`` runs them.

>>> import numpy as np
>>> from lowbit import get_format
>>> e4m3 = get_format("fp8_e4m3fn")
>>> a = e4m3.encode(np.array([[1.0, 0.25, 0.25]]))
>>> b = e4m3.encode(np.array([[1.0], [2**-9], [2**-9]]))
>>> c, stats = gemm(a, b, e4m3, e4m3, accumulator="fp16")  # doctest: +SKIP
>>> c.tolist(), stats.absorbed  # 1 + 2^-11 + 2^-11: two ties, both lost  # doctest: +SKIP
([[1.0]], 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..formats import FloatFormat, IntFormat, get_format
from ..formats.base import to_numpy
from ..formats.block import BlockArray, FixedPointElement, MXFormat, NVFP4Format, SharedExpFormat
from ..formats.scaling import VSQuant
from .accumulator import FixedAccumulator

ROUNDINGS = ("nearest_even", "toward_zero", "down")  # "down": fixed point only
FIXED_MODES = ("wrap", "saturate")
ORDERS = ("sequential", "blocks", "pairwise")
#: widest fixed-point register the int64 core holds with room for a product (see macsim.c)
MAX_FIXED_WIDTH = 62
#: widest exact (Kulisch) register: 32-bit digits, MACSIM_MAX_LIMBS − 2 of them
MAX_EXACT_WIDTH = 32 * 38
MAX_THREADS = 64
#: largest ``block``/``scale_block`` (the C core holds them in int64 with room to add)
MAX_BLOCK = 2**62
#: register values n · 2^-frac and the factor 2^frac must be finite doubles (macsim.c)
MAX_FIXED_FRAC = 1023
_ACC_FIXED, _ACC_FLOAT, _ACC_EXACT = 1, 2, 3
_RNE, _RTZ, _DOWN = 0, 1, 2
_ROUND_CODE = {"nearest_even": _RNE, "toward_zero": _RTZ, "down": _DOWN}
#: why gemm is unavailable when the optional C extension was not compiled at install time
MISSING_MESSAGE = (
    "lowbit's C MAC simulator (lowbit.hwmodel._macsim) is not in this installation: pip "
    "compiles it only when a C compiler is available. Install a C compiler (e.g. gcc) and "
    "reinstall lowbit (pip install --force-reinstall --no-deps <the lowbit sdist or "
    "checkout>; in a checkout, `python csrc/build_macsim.py` builds it in place). "
    "lowbit.hwmodel.macsim_numpy.gemm_numpy is a slower numpy version for the sequential "
    "order without block scales."
)


@dataclass(frozen=True)
class FixedAcc:
    """Two's-complement fixed-point accumulator: ``width`` bits, ``frac`` of them fractional.

    Value of register n: n · 2^-frac, n ∈ [-2^(width-1), 2^(width-1) - 1].  ``frac`` lies
    in [width − 1024, 1023]: then 2^frac and every register value are finite doubles, so
    each result is exact (binary64's exponent range, IEEE 754-2019 §3.6).

    >>> FixedAcc(32, 0, "wrap")
    FixedAcc(width=32, frac=0, mode='wrap')
    """

    width: int
    frac: int = 0
    mode: str = "wrap"

    def __post_init__(self):
        for what, v in (("width", self.width), ("frac", self.frac)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"FixedAcc: {what} must be an int, got {v!r}")
        if not 2 <= self.width <= MAX_FIXED_WIDTH:
            raise ValueError(f"FixedAcc: width={self.width} outside 2..{MAX_FIXED_WIDTH}")
        lo = self.width - 1024
        if not lo <= self.frac <= MAX_FIXED_FRAC:
            raise ValueError(
                f"FixedAcc: frac={self.frac} outside {lo}..{MAX_FIXED_FRAC} for width="
                f"{self.width} (the register's values n·2^-frac must be finite doubles)"
            )
        if not isinstance(self.mode, str) or self.mode not in FIXED_MODES:
            raise ValueError(f"FixedAcc: mode={self.mode!r}; expected one of {FIXED_MODES}")


@dataclass(frozen=True)
class ExactAcc:
    """The exact (Kulisch) accumulator: every partial sum is kept without error."""


@dataclass(frozen=True)
class TableInfo:
    """Facts about a set of finite values that decide exactness of products.

    ``low``/``top``: smallest/largest exponent of a set bit over all nonzero finite
    values; ``sig``: the most significant bits any one value has.
    """

    values: np.ndarray  # float64, one per code; NaN/Inf where the code is not finite
    finite: np.ndarray  # bool per code
    low: int
    top: int
    sig: int
    max_abs: Fraction


def _describe(values: np.ndarray) -> tuple[int, int, int, Fraction]:
    finite = np.isfinite(values)
    nz = np.abs(values[finite & (values != 0)])
    if nz.size == 0:
        return 0, 0, 0, Fraction(0)
    frac, exp = np.frexp(nz)  # nz = frac · 2^exp, frac ∈ [0.5, 1)
    mant = (frac * 2.0**53).astype(np.int64)  # exact: 53-bit integer significand
    tz = np.log2((mant & -mant).astype(np.float64)).astype(np.int64)  # trailing zeros
    low = exp - 53 + tz
    top = exp - 1
    return int(low.min()), int(top.max()), int((top - low + 1).max()), Fraction(float(nz.max()))


def value_table(fmt: Any) -> TableInfo:
    """Decode every code of a scalar format of ≤ 16 bits into float64 and describe it."""
    if isinstance(fmt, str):
        fmt = get_format(fmt)
    if not isinstance(fmt, (IntFormat, FloatFormat, FixedPointElement)):
        raise TypeError(
            f"macsim: operand format must be an IntFormat, FloatFormat or an MX format, got {fmt!r}"
        )
    if fmt.bits > 16:
        raise ValueError(f"macsim: operand format {fmt} has {fmt.bits} bits; at most 16 supported")
    values = np.asarray(fmt.decode(np.arange(2**fmt.bits, dtype=np.uint16)), dtype=np.float64)
    low, top, sig, mx = _describe(values)
    return TableInfo(values, np.isfinite(values), low, top, sig, mx)


def _scaled_info(t: TableInfo, scales: np.ndarray | None) -> TableInfo:
    """The value set of (element × block scale): bits within [l1 + l2, t1 + t2 + 1]."""
    if scales is None:
        return t
    low, top, sig, mx = _describe(scales)
    if mx == 0:
        return TableInfo(t.values, t.finite, t.low, t.top, t.sig, Fraction(0))
    return TableInfo(t.values, t.finite, t.low + low, t.top + top + 1, t.sig + sig, t.max_abs * mx)


@dataclass
class MacStats:
    """What happened in the accumulators of one :func:`gemm` call.

    ``overflow``: steps that wrapped, saturated or went to ±Inf; ``swamping``: steps whose
    exact sum was not representable, so part of the addend was lost; ``absorbed``: steps
    where a nonzero addend was wholly lost; ``toggles``: bits of the accumulator register
    that changed, summed over every step (None unless asked); ``max_abs``: the largest
    |accumulator| after any step; ``macs``: M·N·K; ``steps``: accumulator additions;
    ``fast``: whether a vectorised loop ran; ``per_output``: M×N arrays of the same
    counts (None unless asked).  Indexable like a dict: ``stats["overflow"]``.
    """

    overflow: int
    swamping: int
    absorbed: int
    max_abs: float
    macs: int
    steps: int
    toggles: int | None = None
    fast: bool = False
    per_output: dict[str, np.ndarray] | None = field(default=None, repr=False)
    register_bits: int = 0

    def __getitem__(self, key: str):
        return getattr(self, key)

    @property
    def activity(self) -> float | None:
        """Switching activity of the accumulator register: toggled bits per bit per step
        (``toggles / (steps · register_bits)``), the quantity the energy model's
        ``Technology(activity=…)`` stands for; None unless ``toggles=True`` was asked."""
        if self.toggles is None or not self.steps or not self.register_bits:
            return None
        return self.toggles / (self.steps * self.register_bits)

    def as_dict(self) -> dict:
        """The scalar statistics as a plain dict."""
        keys = ("overflow", "swamping", "absorbed", "toggles", "max_abs", "macs", "steps")
        return {k: getattr(self, k) for k in keys}


def resolve_accumulator(accumulator: Any) -> FloatFormat | FixedAcc | ExactAcc | FixedAccumulator:
    """Map the ``accumulator=`` argument to a FloatFormat, FixedAcc, ExactAcc or the hardware
    model's FixedAccumulator (binary point at the products' least significant bit)."""
    if isinstance(accumulator, (FixedAcc, ExactAcc, FloatFormat, FixedAccumulator)):
        return accumulator
    if accumulator in ("exact", "kulisch"):
        return ExactAcc()
    if accumulator in ("fp16", "bf16", "fp32"):
        return get_format(accumulator)
    raise ValueError(
        f"macsim: accumulator={accumulator!r}; expected 'fp16', 'bf16', 'fp32', 'exact', "
        "a FloatFormat, FixedAcc(width, frac, mode) or FixedAccumulator(width, overflow)"
    )


def _float_acc(fmt: FloatFormat, rounding: str) -> dict:
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
        kind=_ACC_FLOAT,
        man_bits=fmt.man_bits,
        emin=fmt.emin,
        emax=fmt.emax,
        subnormals=int(fmt.has_subnormals),  # else results below 2^emin flush to zero
        rounding=_ROUND_CODE[rounding],
    )


def _fixed_acc(acc: FixedAcc, low: int, top: int, rounding: str = "nearest_even") -> dict:
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
        kind=_ACC_FIXED,
        width=acc.width,
        frac_bits=acc.frac,
        saturate=int(acc.mode == "saturate"),
        rounding=_ROUND_CODE[rounding],
    )


def exact_fixed_acc(ta: TableInfo, tb: TableInfo, k: int) -> FixedAcc:
    """The narrowest fixed-point register that holds every partial sum of k products exactly
    (a FixedAcc when it fits 62 bits; :func:`gemm` switches to a multi-word register above).

    frac = -(low_a + low_b); |sum| ≤ k · max|a| · max|b| · 2^frac < 2^(width - 1).
    """
    width, frac = _exact_width(ta, tb, k)
    if width > MAX_FIXED_WIDTH:
        raise ValueError(
            f"macsim: the exact accumulator for these formats and K={k} needs {width} bits; "
            f"a FixedAcc holds at most {MAX_FIXED_WIDTH} (gemm uses a multi-word register)"
        )
    return FixedAcc(width, frac, "saturate")


def _exact_width(ta: TableInfo, tb: TableInfo, k: int) -> tuple[int, int]:
    frac = -(ta.low + tb.low)
    bound = k * ta.max_abs * tb.max_abs * Fraction(2) ** frac
    return max(2, math.ceil(bound).bit_length() + 1), frac


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


def _all_finite(finite: np.ndarray, codes: np.ndarray) -> bool:
    """Whether every code indexes a finite table entry, without a full-size mask: the
    table is tiny, so look codes up only when some entry is not finite, in row chunks."""
    if finite.all() or codes.size == 0:
        return True
    rows = max(1, (1 << 20) // max(codes.shape[1], 1))
    return all(finite[codes[r0 : r0 + rows]].all() for r0 in range(0, codes.shape[0], rows))


@dataclass
class _Operand:
    """One GEMM operand as the C core takes it (A: M×K, B: K×N orientation)."""

    codes: np.ndarray
    element: Any  # the scalar format of the codes
    block_scales: np.ndarray | None = None  # per scale_block along K; exact factors
    scale_block: int | None = None
    block: int | None = None  # the format's dot-product block (default for order="blocks")
    vector: np.ndarray | None = None  # per row of A / column of B, applied to C (γ, s_tensor)


_BLOCK_FORMATS = "OCP MX (mxfp8/6/4, mxint8), MX9/MX6/MX4 and BFP, NVFP4, VS-Quant"


def _block_operand(name: str, x: BlockArray, side: str) -> _Operand:
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
        if sc.size and (sc.min() < 0 or sc.max() > 255):
            raise ValueError(f"macsim: {name} has E8M0 scale codes outside [0, 255]")
        scales = np.where(sc == 255, np.nan, np.ldexp(1.0, sc - 127))
        element, sblk, blk = fmt.element, fmt.block_size, fmt.block_size
    elif isinstance(fmt, SharedExpFormat):
        # x = q · 2^(e_block − d_sub − (m − 1)): one exact power-of-two factor per sub-block
        element, blk = fmt._int, fmt.block_size
        if fmt.micro_bits:
            sblk = fmt.sub_block_size
            nsub = -(-k // sblk)
            e = np.repeat(sc, fmt.block_size // sblk, axis=-1)[..., :nsub]
            nan = e == 255
            e = e - 127 - np.asarray(x.micro).astype(np.int64)
        else:
            sblk, nan, e = fmt.block_size, sc == 255, sc - 127
        scales = np.where(nan, np.nan, np.ldexp(1.0, e - (fmt.man_bits - 1)))
    elif isinstance(fmt, NVFP4Format):
        # E4M3 block scales inside the dot product; the FP32 tensor scale on the output,
        # as NVFP4 hardware applies it in the epilogue
        element, sblk, blk = fmt._e2m1, fmt.block_size, fmt.block_size
        scales = fmt._e4m3.decode(sc.astype(np.uint8)).astype(np.float64)
        vector = np.full(codes.shape[0], float(x.tensor_scale))
    elif isinstance(fmt, VSQuant):
        element, sblk, blk = fmt.element, fmt.vector_size, fmt.vector_size
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
    return _Operand(codes, element, np.ascontiguousarray(scales), sblk, blk, vector)


def _operand(name: str, x: Any, fmt: Any, side: str) -> _Operand:
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
    if isinstance(fmt, (MXFormat, SharedExpFormat, NVFP4Format, VSQuant)):
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
    return _Operand(_codes(name, x, fmt.bits), fmt)


def _user_scales(scales: Any, m: int, k: int, n: int, scale_block: int | None):
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


def _register_bits(opts_acc: dict) -> int:
    """Bits of the simulated accumulator register (sign, exponent, mantissa for floats)."""
    if opts_acc["kind"] != _ACC_FLOAT:
        return int(opts_acc["width"])
    top = opts_acc["emax"] - opts_acc["emin"] + 2  # the biased Inf/NaN exponent
    return 1 + top.bit_length() + opts_acc["man_bits"]


def _load_lib():
    """The compiled C core; ImportError with :data:`MISSING_MESSAGE` when it is absent."""
    try:
        from . import _macsim
    except ImportError as exc:
        raise ImportError(MISSING_MESSAGE) from exc
    return _macsim


def _int_tables(ta: TableInfo, tb: TableInfo, frac: int, present_finite: bool):
    """Integer tables a_int · b_int = product · 2^frac for the vectorised fixed-point loop,
    when entries fit 31 bits and products 62 bits; else (None, None)."""
    if not present_finite:
        return None, None
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


def gemm(
    a: Any,
    b: Any,
    a_format: Any = None,
    b_format: Any = None,
    accumulator: Any = "fp32",
    rounding: str = "nearest_even",
    order: str = "sequential",
    block: int | None = None,
    scales: Any = None,
    scale_block: int | None = None,
    toggles: bool = False,
    per_output: bool = False,
    threads: int = 1,
    fast: bool = True,
) -> tuple[np.ndarray, MacStats]:
    """C = A · B, each addend added into a finite accumulator in the given order along K.

    ``a`` (M×K), ``b`` (K×N): integer arrays of codes of ``a_format``/``b_format``, float
    arrays (encoded here with the format's defaults), or OCP MX :class:`BlockArray`s with
    blocks along K (``a`` encoded with axis=1, ``b`` with axis=0).  ``accumulator``:
    "fp16", "bf16", "fp32", any IEEE-style FloatFormat up to FP32, ``FixedAcc(width, frac,
    mode)``, the hardware model's ``FixedAccumulator(width, overflow)`` (binary point at the
    products' LSB) or "exact" (a Kulisch register as wide as the data needs).
    ``rounding``: "nearest_even" or "toward_zero"; for fixed point also "down" (dropping
    the low bits of two's complement) — a fixed-point register with fewer fractional bits
    than the products rounds each sum acc + p onto its grid, then wraps or saturates.  ``order``:
    "sequential", "blocks" (``block`` products summed exactly per addition; default the MX
    block size or 32) or "pairwise".  ``scales=(a_scales, b_scales)``: each None, a 1-D
    vector (per row of A / per column of B: multiplies C afterwards, in float64) or 2-D per-block
    scales of shape (M, ⌈K/scale_block⌉) / (⌈K/scale_block⌉, N) that multiply each product
    exactly.  ``toggles``: count accumulator bit flips; ``per_output``: M×N statistics;
    ``threads``: threads over rows of C; ``fast=False`` forces the generic loop.

    Returns (C as float64, :class:`MacStats`).  Fixed and exact results are the register
    value n · 2^-frac rounded to the nearest double (exact below 2^53).

    >>> import numpy as np
    >>> from lowbit import get_format
    >>> i8 = get_format("int8")
    >>> a = i8.encode(np.full((1, 4), 100.0)); b = i8.encode(np.full((4, 1), 100.0))
    >>> c, st = gemm(a, b, i8, i8, accumulator=FixedAcc(16, 0, "saturate"))  # doctest: +SKIP
    >>> c.tolist(), st.overflow  # doctest: +SKIP
    ([[32767.0]], 1)
    """
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise ValueError(f"macsim: rounding={rounding!r}; expected one of {ROUNDINGS}")
    if not isinstance(order, str) or order not in ORDERS:
        raise ValueError(f"macsim: order={order!r}; expected one of {ORDERS}")
    for what, flag in (("toggles", toggles), ("per_output", per_output), ("fast", fast)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"macsim: {what} must be True or False, got {flag!r}")
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"macsim: threads must be an int, got {threads!r}")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"macsim: threads={threads} outside 1..{MAX_THREADS}")

    oa, ob = _operand("a", a, a_format, "a"), _operand("b", b, b_format, "b")
    a_codes, a_el, a_bs, a_blk = oa.codes, oa.element, oa.block_scales, oa.scale_block
    b_codes, b_el, b_bs, b_blk = ob.codes, ob.element, ob.block_scales, ob.scale_block
    if a_codes.shape[1] != b_codes.shape[0]:
        raise ValueError(
            f"macsim: inner dimensions differ: a is {a_codes.shape}, b is {b_codes.shape}"
        )
    m, k = a_codes.shape
    n = b_codes.shape[1]
    if a_blk and b_blk and a_blk != b_blk:
        raise ValueError(f"macsim: the operands' block (scale) sizes differ: {a_blk} and {b_blk}")
    mx_block = a_blk or b_blk
    natural_block = max(oa.block or 0, ob.block or 0) or None
    if scale_block is not None:
        if isinstance(scale_block, bool) or not isinstance(scale_block, (int, np.integer)):
            raise TypeError(f"macsim: scale_block must be an int, got {scale_block!r}")
        if not 1 <= scale_block <= MAX_BLOCK:
            raise ValueError(f"macsim: scale_block={scale_block} outside 1..2^62")
        if mx_block and scale_block != mx_block:
            raise ValueError(
                f"macsim: scale_block={scale_block} but the block operands' scales cover "
                f"{mx_block} elements"
            )
    sblk = mx_block or scale_block
    row_s, col_s, ua_bs, ub_bs = _user_scales(scales, m, k, n, sblk)
    if (ua_bs is not None and a_bs is not None) or (ub_bs is not None and b_bs is not None):
        raise ValueError("macsim: a block operand brings its own block scales; pass None for it")
    for vec, fromfmt, what in ((row_s, oa.vector, "rows"), (col_s, ob.vector, "columns")):
        if vec is not None and fromfmt is not None:
            raise ValueError(f"macsim: VS-Quant brings the scales of its {what}; pass None")
    row_s = row_s if row_s is not None else oa.vector
    col_s = col_s if col_s is not None else ob.vector
    a_bs = a_bs if a_bs is not None else ua_bs
    b_bs = b_bs if b_bs is not None else ub_bs
    if block is None:
        block = natural_block or 32
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
        raise ValueError(f"macsim: block={block!r} must be a positive int")
    if not 1 <= block <= MAX_BLOCK:
        raise ValueError(f"macsim: block={block} outside 1..2^62")
    if order != "blocks":
        block = 1

    ta, tb = value_table(a_el), value_table(b_el)
    present_finite = _all_finite(ta.finite, a_codes) and _all_finite(tb.finite, b_codes)
    for s in (a_bs, b_bs):
        if s is not None and not np.isfinite(s).all():
            present_finite = False
    sa, sb = _scaled_info(ta, a_bs), _scaled_info(tb, b_bs)
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
    if wide_blocks and not present_finite:
        raise ValueError(
            f"macsim: block sums of {block} products span {span} bits, more than a double: "
            "supported for finite operands only (these hold NaN or Inf)"
        )
    if wide_blocks and block > 2**28:
        raise ValueError(f"macsim: block={block}: at most 2^28 products per wide block")
    bk_limbs = bk_frac = 0

    acc = resolve_accumulator(accumulator)
    if isinstance(acc, FixedAccumulator):
        if acc.width > MAX_FIXED_WIDTH:
            raise ValueError(f"macsim: {acc} is wider than {MAX_FIXED_WIDTH} bits")
        acc = FixedAcc(max(acc.width, 2), -low, acc.overflow)
    kind = "float" if isinstance(acc, FloatFormat) else "int"
    if kind == "int" and not present_finite:
        raise ValueError(
            "macsim: operands hold NaN or Inf (codes or scales); fixed-point and exact "
            "accumulators have no encoding for them — use a floating-point accumulator"
        )
    if isinstance(acc, ExactAcc):
        if order == "pairwise":
            raise ValueError("macsim: order='pairwise' has no meaning for the exact accumulator")
        width, frac = _exact_width(sa, sb, max(k, 1))
        if width <= MAX_FIXED_WIDTH and not wide_blocks:
            acc = FixedAcc(width, frac, "saturate")
        elif width > MAX_EXACT_WIDTH:
            raise ValueError(
                f"macsim: the exact accumulator needs {width} bits; at most {MAX_EXACT_WIDTH}"
            )
        else:
            opts_acc = dict(kind=_ACC_EXACT, width=width, frac_bits=frac)
            if wide_blocks:
                bk_limbs, bk_frac = (width + 31) // 32 + 2, frac
    if rounding == "down" and isinstance(acc, FloatFormat):
        raise ValueError(
            "macsim: rounding='down' is for fixed-point accumulators; float accumulators take "
            "'nearest_even' or 'toward_zero'"
        )
    if isinstance(acc, FixedAcc) and low + acc.frac < 0 and order == "pairwise":
        raise ValueError(
            f"macsim: {acc} rounds these products (they need {-low} fractional bits): "
            "supported in sequential and blocks order, not pairwise"
        )
    if isinstance(acc, FloatFormat):
        opts_acc = _float_acc(acc, rounding)
        if wide_blocks:  # the register holds the accumulator's values as well
            bk_frac = max(-low, acc.man_bits - acc.emin)
            bk_width = max(top + grow, acc.emax + 1) + 3 + bk_frac
            bk_limbs = (bk_width + 31) // 32 + 2
    elif isinstance(acc, FixedAcc):
        if wide_blocks:
            raise ValueError(
                f"macsim: block sums of {block} products span {span} bits; a fixed-point "
                "accumulator takes at most 53 — use a smaller block, or a float or exact one"
            )
        opts_acc = _fixed_acc(acc, low, top + grow, rounding)
    if toggles and order == "pairwise":
        raise ValueError("macsim: toggles count one register's flips; not for order='pairwise'")

    # conditions for the vectorised loops (see macsim.c)
    a_int = b_int = None
    f32_ok = f64_exact = f64_ok = 0
    plain = a_bs is None and b_bs is None and present_finite
    if plain and opts_acc["kind"] == _ACC_FIXED:
        a_int, b_int = _int_tables(ta, tb, opts_acc["frac_bits"], present_finite)
    if plain and opts_acc["kind"] == _ACC_FLOAT:
        tabs32 = all(
            (np.float32(t.values[t.finite]).astype(np.float64) == t.values[t.finite]).all()
            for t in (ta, tb)
        )
        f32_ok = int(tabs32 and sig <= 24 and low >= -149 and top + 1 <= 127)
        lo_acc = acc.emin - acc.man_bits
        f64_exact = int(max(acc.emax, top) + 1 - min(lo_acc, low) + 1 <= 53)
        f64_ok = 1
    opts = dict(
        order=ORDERS.index(order),
        block=int(block),
        scale_block=int(sblk or 1),
        a_scaled=int(a_bs is not None),
        b_scaled=int(b_bs is not None),
        toggles=int(toggles),
        per_output=int(per_output),
        threads=int(threads),
        fast=int(fast),
        int_ok=int(a_int is not None),
        f32_ok=f32_ok,
        f64_exact=f64_exact,
        f64_ok=f64_ok,
        bk_limbs=bk_limbs,
        bk_frac=bk_frac,
        a_u8=int(a_codes.dtype == np.uint8),
        b_u8=int(b_codes.dtype == np.uint8),
    )

    mod = _load_lib()
    ffi, lib = mod.ffi, mod.lib
    c_acc = ffi.new("macsim_acc_t *", opts_acc)
    c_opts = ffi.new("macsim_opts_t *", opts)
    if lib.macsim_check(c_acc, c_opts) != 0:  # pragma: no cover - Python validated already
        raise ValueError(
            f"macsim: the C core refused accumulator={acc}, order={order!r}, block={block}, "
            f"threads={threads}: a gap in lowbit's own checks, please report it"
        )
    nbytes = lib.macsim_work_size(m, k, n, c_acc, c_opts)
    work = np.empty(max(int(nbytes), 64), dtype=np.uint8)
    out = np.empty((m, n), dtype=np.float64)
    a_tab = np.ascontiguousarray(ta.values)
    b_tab = np.ascontiguousarray(tb.values)
    po_arrays = None
    c_po = ffi.new("macsim_outstats_t *")
    if per_output:
        po_arrays = {
            "overflow": np.zeros((m, n), np.int64),
            "swamping": np.zeros((m, n), np.int64),
            "absorbed": np.zeros((m, n), np.int64),
            "toggles": np.zeros((m, n), np.int64),
            "max_abs": np.zeros((m, n), np.float64),
        }
        for key, cname in (
            ("overflow", "overflow"),
            ("swamping", "inexact"),
            ("absorbed", "absorbed"),
            ("toggles", "toggles"),
        ):
            setattr(c_po, cname, ffi.from_buffer("int64_t[]", po_arrays[key], True))
        c_po.max_abs = ffi.from_buffer("double[]", po_arrays["max_abs"], True)

    def buf(kind, arr, writable=False):
        if arr is None:
            return ffi.NULL
        return ffi.from_buffer(kind, arr, require_writable=writable)

    stats = ffi.new("macsim_stats_t *")
    rc = lib.macsim_gemm(
        buf(f"uint{8 * a_codes.itemsize}_t[]", a_codes),
        buf(f"uint{8 * b_codes.itemsize}_t[]", b_codes),
        buf("double[]", a_tab),
        buf("double[]", b_tab),
        buf("int32_t[]", a_int),
        buf("int32_t[]", b_int),
        buf("double[]", a_bs),
        buf("double[]", b_bs),
        m,
        k,
        n,
        c_acc,
        c_opts,
        buf("double[]", out, True),
        buf("uint8_t[]", work, True),
        work.size,
        stats,
        c_po,
    )
    if rc != 0:  # pragma: no cover
        raise RuntimeError(f"macsim: C core returned {rc}")
    if isinstance(accumulator, str) and accumulator in ("exact", "kulisch") and stats.overflow:
        raise AssertionError("macsim: exact accumulator overflowed")  # pragma: no cover
    if row_s is not None:
        out *= row_s[:, None]
    if col_s is not None:
        out *= col_s[None, :]
    if order == "sequential":
        steps = m * n * k
    elif order == "blocks":
        steps = m * n * -(-k // block)
    else:
        steps = m * n * max(k - 1, 1 if k else 0)
    if po_arrays is not None and not toggles:
        po_arrays.pop("toggles")
    return out, MacStats(
        overflow=int(stats.overflow),
        swamping=int(stats.inexact),
        absorbed=int(stats.absorbed),
        max_abs=float(stats.max_abs),
        macs=m * n * k,
        steps=steps,
        toggles=int(stats.toggles) if toggles else None,
        fast=bool(stats.fast),
        per_output=po_arrays,
        register_bits=_register_bits(opts_acc),
    )


__all__ = [
    "ExactAcc",
    "FixedAcc",
    "MacStats",
    "gemm",
    "resolve_accumulator",
    "value_table",
]
