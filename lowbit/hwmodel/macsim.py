"""Bit-exact GEMM simulator: codes in, a finite accumulator applied at every MAC step.

C = A · B with A (M×K) and B (K×N) given as element codes of lowbit scalar formats of at
most 16 bits.  Each product is exact (checked here, from the format tables); each addition
into the accumulator rounds (floating point), wraps or saturates (fixed point), or is exact
(Kulisch), sequentially along K (domain.md §7).  The core is C (``csrc/macsim.c``) behind
one options struct validated here and once more in C before any loop runs (the cpfloat
boundary, style.md).  ``macsim_ref`` is the slow exact Python reference it is tested against.
Examples calling the C core are marked SKIP so that a checkout without the built extension
passes ``--doctest-modules``; ``tests/hwmodel/test_macsim.py`` runs them.

>>> import numpy as np
>>> from lowbit import get_format
>>> e4m3 = get_format("fp8_e4m3fn")
>>> a = e4m3.encode(np.array([[1.0, 0.25, 0.25]]))
>>> b = e4m3.encode(np.array([[1.0], [2**-9], [2**-9]]))
>>> c, stats = gemm(a, b, e4m3, e4m3, accumulator="fp16")  # doctest: +SKIP
>>> c.tolist(), stats["absorbed"]  # 1 + 2^-11 + 2^-11: two ties, both lost  # doctest: +SKIP
([[1.0]], 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..formats import FloatFormat, IntFormat, get_format

ROUNDINGS = ("nearest_even", "toward_zero")
FIXED_MODES = ("wrap", "saturate")
#: widest fixed-point register the int64 core holds with room for a product (see macsim.c)
MAX_FIXED_WIDTH = 62
_ACC_FIXED, _ACC_FLOAT = 1, 2
_RNE, _RTZ = 0, 1
_BUILD_HINT = "build it with `python csrc/build_macsim.py` from the repository root"


@dataclass(frozen=True)
class FixedAcc:
    """Two's-complement fixed-point accumulator: ``width`` bits, ``frac`` of them fractional.

    Value of register n: n · 2^-frac, n ∈ [-2^(width-1), 2^(width-1) - 1].

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
        if self.mode not in FIXED_MODES:
            raise ValueError(f"FixedAcc: mode={self.mode!r}; expected one of {FIXED_MODES}")


@dataclass(frozen=True)
class ExactAcc:
    """The exact (Kulisch) accumulator: every partial sum is kept without error."""


@dataclass(frozen=True)
class TableInfo:
    """Facts about a format's finite values that decide exactness of products.

    ``low``/``top``: smallest/largest exponent of a set bit over all nonzero finite
    values; ``sig``: the most significant bits any one value has.
    """

    values: np.ndarray  # float64, one per code; NaN/Inf where the code is not finite
    finite: np.ndarray  # bool per code
    low: int
    top: int
    sig: int
    max_abs: Fraction


def value_table(fmt: Any) -> TableInfo:
    """Decode every code of a scalar format of ≤ 16 bits into float64 and describe it."""
    if isinstance(fmt, str):
        fmt = get_format(fmt)
    if not isinstance(fmt, (IntFormat, FloatFormat)):
        raise TypeError(f"macsim: operand format must be an IntFormat or FloatFormat, got {fmt!r}")
    if fmt.bits > 16:
        raise ValueError(f"macsim: operand format {fmt} has {fmt.bits} bits; at most 16 supported")
    values = np.asarray(fmt.decode(np.arange(2**fmt.bits, dtype=np.uint16)), dtype=np.float64)
    finite = np.isfinite(values)
    nz = np.abs(values[finite & (values != 0)])
    if nz.size == 0:
        return TableInfo(values, finite, 0, 0, 0, Fraction(0))
    frac, exp = np.frexp(nz)  # nz = frac · 2^exp, frac ∈ [0.5, 1)
    mant = (frac * 2.0**53).astype(np.int64)  # exact: 53-bit integer significand
    tz = np.log2((mant & -mant).astype(np.float64)).astype(np.int64)  # trailing zeros
    low = exp - 53 + tz
    top = exp - 1
    return TableInfo(
        values,
        finite,
        int(low.min()),
        int(top.max()),
        int((top - low + 1).max()),
        Fraction(float(nz.max())),
    )


def _check_products_exact(ta: TableInfo, tb: TableInfo) -> None:
    # A product's bits span [low_a + low_b, top_a + top_b + 1] and it has at most
    # sig_a + sig_b significant bits: it is a double when that fits 53 bits and the range.
    if ta.sig + tb.sig > 53 or ta.low + tb.low < -1074 or ta.top + tb.top + 1 > 300:
        raise ValueError(
            f"macsim: products of these formats are not exact in double "
            f"({ta.sig}+{tb.sig} significant bits, exponents {ta.low + tb.low}.."
            f"{ta.top + tb.top + 1}); at most 53 bits within 2^-1074..2^300 supported"
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
        subnormals=int(bool(fmt.subnormals)),
        rounding=_RNE if rounding == "nearest_even" else _RTZ,
    )


def _fixed_acc(acc: FixedAcc, ta: TableInfo, tb: TableInfo) -> dict:
    # Products scaled by 2^frac must be integers below 2^62 (macsim.c keeps sums in int64),
    # and the table values scaled by 2^frac must stay above double's underflow.
    if ta.low + tb.low + acc.frac < 0:
        raise ValueError(
            f"macsim: {acc} cannot hold these products exactly: they need "
            f"{-(ta.low + tb.low)} fractional bits"
        )
    if ta.top + tb.top + 1 + acc.frac > 62 or ta.low + acc.frac < -1000:
        raise ValueError(f"macsim: products scaled by 2^{acc.frac} exceed 2^62")
    return dict(
        kind=_ACC_FIXED,
        width=acc.width,
        frac_bits=acc.frac,
        saturate=int(acc.mode == "saturate"),
    )


def exact_fixed_acc(ta: TableInfo, tb: TableInfo, k: int) -> FixedAcc:
    """The narrowest fixed-point register that holds every partial sum of k products exactly.

    frac = -(low_a + low_b); |sum| ≤ k · max|a| · max|b| · 2^frac < 2^(width - 1).
    """
    frac = -(ta.low + tb.low)
    bound = k * ta.max_abs * tb.max_abs * Fraction(2) ** frac
    width = max(2, int(bound).bit_length() + 1)  # bound is an integer: products are
    if width > MAX_FIXED_WIDTH:
        raise ValueError(
            f"macsim: the exact accumulator for these formats and K={k} needs {width} bits; "
            f"only ≤ {MAX_FIXED_WIDTH} bits are implemented (no multi-word Kulisch register yet)"
        )
    return FixedAcc(width, frac, "saturate")


def _codes(name: str, arr: Any, fmt_bits: int, info: TableInfo) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"macsim: {name} must be a numpy array of codes, got {type(arr).__name__}")
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
    codes = arr.astype(np.uint16)
    bad = ~info.finite[codes]
    if bad.any():
        raise ValueError(
            f"macsim: {name} has {int(bad.sum())} code(s) of non-finite values (NaN/Inf), "
            f"e.g. code {int(codes[bad][0])}; only finite operands are supported"
        )
    return codes


def resolve_accumulator(accumulator: Any) -> FloatFormat | FixedAcc | ExactAcc:
    """Map the ``accumulator=`` argument to a FloatFormat, FixedAcc or ExactAcc."""
    if isinstance(accumulator, (FixedAcc, ExactAcc, FloatFormat)):
        return accumulator
    if accumulator in ("exact", "kulisch"):
        return ExactAcc()
    if accumulator in ("fp16", "bf16", "fp32"):
        return get_format(accumulator)
    raise ValueError(
        f"macsim: accumulator={accumulator!r}; expected 'fp16', 'bf16', 'fp32', 'exact', "
        "a FloatFormat or FixedAcc(width, frac, mode)"
    )


def _load_lib():
    try:
        from . import _macsim
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise ImportError(f"lowbit.hwmodel._macsim is not built; {_BUILD_HINT}") from exc
    return _macsim


def gemm(
    a_codes: np.ndarray,
    b_codes: np.ndarray,
    a_format: Any,
    b_format: Any,
    accumulator: Any = "fp32",
    rounding: str = "nearest_even",
) -> tuple[np.ndarray, dict]:
    """C = A · B on codes, each product added into a finite accumulator in order along K.

    Returns (C as float64, stats).  stats: ``overflow`` (steps that wrapped, saturated or
    went to Inf), ``swamping`` (steps whose exact sum a + p was not representable, so part
    of the update was lost), ``absorbed`` (steps where a nonzero product was wholly lost),
    ``max_abs`` (largest |accumulator| after any step), ``macs``.  Fixed and exact results
    are the register value n · 2^-frac rounded to the nearest double (exact below 2^53).

    >>> import numpy as np
    >>> from lowbit import get_format
    >>> i8 = get_format("int8")
    >>> a = i8.encode(np.full((1, 4), 100.0)); b = i8.encode(np.full((4, 1), 100.0))
    >>> c, st = gemm(a, b, i8, i8, accumulator=FixedAcc(16, 0, "saturate"))  # doctest: +SKIP
    >>> c.tolist(), st["overflow"]  # doctest: +SKIP
    ([[32767.0]], 1)
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"macsim: rounding={rounding!r}; expected one of {ROUNDINGS}")
    a_fmt = get_format(a_format) if isinstance(a_format, str) else a_format
    b_fmt = get_format(b_format) if isinstance(b_format, str) else b_format
    ta, tb = value_table(a_fmt), value_table(b_fmt)
    a = _codes("a_codes", a_codes, a_fmt.bits, ta)
    b = _codes("b_codes", b_codes, b_fmt.bits, tb)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"macsim: inner dimensions differ: a is {a.shape}, b is {b.shape}")
    m, k = a.shape
    n = b.shape[1]
    _check_products_exact(ta, tb)
    acc = resolve_accumulator(accumulator)
    if isinstance(acc, FloatFormat):
        opts = _float_acc(acc, rounding)
    elif isinstance(acc, FixedAcc):
        opts = _fixed_acc(acc, ta, tb)
    else:
        opts = _fixed_acc(exact_fixed_acc(ta, tb, max(k, 1)), ta, tb)

    mod = _load_lib()
    ffi, lib = mod.ffi, mod.lib
    c_opts = ffi.new("macsim_acc_t *", opts)
    if lib.macsim_check_acc(c_opts) != 0:  # pragma: no cover - Python validated already
        raise ValueError(f"macsim: accumulator options rejected by the C core: {opts}")
    out = np.empty((m, n), dtype=np.float64)
    scratch = np.empty(max(n, 1), dtype=np.int64)
    a_tab = np.ascontiguousarray(np.where(ta.finite, ta.values, 0.0))
    b_tab = np.ascontiguousarray(np.where(tb.finite, tb.values, 0.0))
    stats = ffi.new("macsim_stats_t *")
    rc = lib.macsim_gemm(
        ffi.from_buffer("uint16_t[]", a),
        ffi.from_buffer("uint16_t[]", b),
        ffi.from_buffer("double[]", a_tab),
        ffi.from_buffer("double[]", b_tab),
        m,
        k,
        n,
        c_opts,
        ffi.from_buffer("double[]", out, require_writable=True),
        ffi.from_buffer("int64_t[]", scratch, require_writable=True),
        stats,
    )
    if rc != 0:  # pragma: no cover
        raise RuntimeError(f"macsim: C core returned {rc}")
    if isinstance(acc, ExactAcc) and stats.overflow:  # pragma: no cover - proved impossible
        raise AssertionError("macsim: exact accumulator overflowed")
    return out, dict(
        overflow=int(stats.overflow),
        swamping=int(stats.inexact),
        absorbed=int(stats.absorbed),
        max_abs=float(stats.max_abs),
        macs=m * n * k,
    )


__all__ = ["ExactAcc", "FixedAcc", "gemm", "resolve_accumulator", "value_table"]
