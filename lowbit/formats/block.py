"""Block formats: elements sharing a scale per block of ``block_size`` along an axis.

* ``MXFormat`` — OCP Microscaling v1.0 (MXFP8/6/4, MXINT8): one E8M0 scale per 32 elements.
* ``SharedExpFormat`` — block floating point with sign-magnitude 1.(m-1) fixed-point
  elements and one shared 8-bit exponent per block, optionally with a 1-bit microexponent
  per sub-block: the MX9/MX6/MX4 of Rouhani et al. (ISCA 2023) and MSFP-style BFP.
* ``NVFP4Format`` — E2M1 elements, an E4M3 scale per 16, an FP32 per-tensor scale.

Every block format takes ``axis`` (default -1).  A trailing partial block is zero-padded
for the scale computation only; outputs keep the input's shape.  ``encode`` returns a
:class:`BlockArray` holding the integer codes; ``decode(encode(x))`` equals ``quantize(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import _kernels as K
from .base import ROUNDING_MODES, Format, FormatError, check_choice, code_dtype
from .blockarray import BlockArray, validate_block_array
from .blocking import (
    MAX_BLOCK_SIZE,
    check_axis,
    check_block_size,
    check_float_array,
    fast_blocks,
    from_blocks,
    to_blocks,
    unblock,
)
from .expformat import E8M0, ExpFormat
from .integer import IntFormat
from .minifloat import FloatFormat

__all__ = [
    "MAX_BLOCK_SIZE",
    "BlockArray",
    "BlockFormat",
    "FixedPointElement",
    "MXFormat",
    "NVFP4Format",
    "SharedExpFormat",
    "check_axis",
    "check_block_size",
    "check_float_array",
    "fp32_scale",
    "validate_block_array",
]

SCALE_RULES = ("floor", "ceil", "even", "rceil")
#: NVFP4 block-scale rules: "subnormal" (lowbit's, RNE to any E4M3 value), "torchao"
#: (clamped below at 2^-6 as torchao's nvfp4_quantize does) or "ceil" (rounded up to the
#: next E4M3 value: s_b · s_t · element.max ≥ amax_b, so no block maximum clips)
NVFP4_SCALE_RULES = ("subnormal", "torchao", "ceil")


_F32_MAX = float(np.finfo(np.float32).max)
_F32_TINY = float(np.finfo(np.float32).smallest_subnormal)


def fp32_scale(name: str, s, what: str = "max|x|"):
    """Positive scales ``s`` (float64) stored as FP32 and read back as float64.

    A scale beyond FP32's range raises ValueError (saturating it would silently clip the
    data by orders of magnitude); a positive scale below FP32's smallest subnormal becomes
    that subnormal (its values then round to the grid of 2^-149 multiples, zeros stay
    zero): x / s · s never meets 0 or ∞, so it never makes NaN.

    >>> fp32_scale("demo", np.array([1e-50, 0.5])).tolist()
    [1.401298464324817e-45, 0.5]
    """
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(over="ignore"):
        s32 = s.astype(np.float32)
    if np.isinf(s32).any():
        big = float(s[np.isinf(s32)].max())
        raise ValueError(
            f"{name}: values exceed the FP32 scale range: {what} needs a scale of {big:.4g}, "
            f"above FP32's largest {_F32_MAX:.4g} (rescale the data, or use a scale format "
            "with a wider range)"
        )
    return np.where((s32 == 0) & (s > 0), _F32_TINY, s32.astype(np.float64))


def _scale_codes(sf: ExpFormat, e: np.ndarray, pos: np.ndarray, bad: np.ndarray):
    """(scale codes, exponents) of shared exponents ``e`` in the exponent-only scale format
    ``sf`` (E8M0): a block with no positive finite value (``pos`` False) gets the smallest
    power, an exponent below the range is clamped to it, one above it (or a block with NaN
    or ±Inf, ``bad``) gets the NaN code (OCP MX v1.0 §6.3); its exponent is reported as 0."""
    e = np.maximum(np.where(pos, e, sf.emin), sf.emin)
    nan = bad | (e > sf.emax)
    e = np.where(nan, 0, e)
    codes = np.where(nan, sf.code_of_nan, sf.code_of_exponent(e)).astype(code_dtype(sf.bits))
    return codes, e


def _floor_log2(a: np.ndarray) -> np.ndarray:
    """floor(log2 a) exactly for positive finite float64 (frexp is exact)."""
    return np.frexp(a)[1].astype(np.int64) - 1


@dataclass(frozen=True)
class FixedPointElement:
    """An integer format read as q · 2^-frac_bits (the MXINT8 element: 1.6 fixed point)."""

    int_format: IntFormat
    frac_bits: int
    name: str = ""

    def __post_init__(self):
        if not self.name:  # "int8_1.6" for MXINT8's, "int4_1.2" for MXINT4's
            b = self.int_format.bits
            object.__setattr__(self, "name", f"int{b}_{b - self.frac_bits - 1}.{self.frac_bits}")

    @property
    def bits(self) -> int:
        return self.int_format.bits

    @property
    def max(self) -> float:
        return self.int_format.qmax / 2.0**self.frac_bits

    @property
    def emax(self) -> int:
        return int(np.floor(np.log2(self.max)))

    @property
    def man_bits(self) -> int:
        return self.frac_bits

    def quantize(self, v, rounding="nearest_even", overflow="saturate", seed=None):
        s = 2.0**self.frac_bits
        return self.int_format.quantize(np.asarray(v) * s, rounding=rounding, seed=seed) / s

    def encode(self, v, rounding="nearest_even", overflow="saturate", seed=None):
        v = np.asarray(v) * 2.0**self.frac_bits
        return self.int_format.encode(v, rounding=rounding, seed=seed)

    def decode(self, codes):
        return self.int_format.decode(codes).astype(np.float64) / 2.0**self.frac_bits


def _registered(fmt: Format) -> Format:
    """The registry's object equal to ``fmt`` (so that a descriptor's ``element`` or
    ``scale_format`` *is* the registered format), else ``fmt`` itself."""
    try:
        from .registry import _REGISTRY  # late: the registry builds block formats itself
    except ImportError:  # pragma: no cover - only while the registry is being built
        return fmt
    reg = _REGISTRY.get(fmt.name)
    return reg if reg is not None and reg == fmt else fmt


class BlockFormat(Format):
    """The descriptor every block format exposes (gfloat's ``BlockFormatInfo(etype, k,
    stype)``): values are ``element`` values times scales decoded by ``scale_format``.

    * ``element``: the scalar format of each value's code;
    * ``scale_format``: the format of the per-block scale codes (E8M0 for MX and
      MX9/6/4/BFP, FP8 E4M3 for NVFP4, ``uint{S}`` for VS-Quant, FP16 for ``int4_g128``);
    * ``block_size``: how many consecutive values along ``axis`` share one scale;
    * ``sub_block_size``, ``micro_bits``: a microexponent of ``micro_bits`` bits per
      ``sub_block_size`` values (shared-microexponent formats; elsewhere the sub-block is
      the block and ``micro_bits`` is 0);
    * ``tensor_scale_format``: the format of one scale per tensor (NVFP4: FP32), else None;
    * ``outer_scale_format``: the format of VS-Quant's outer γ (FP32), else None.
    """

    micro_bits = 0
    tensor_scale_format: Format | None = None
    outer_scale_format: Format | None = None

    @property
    def has_block_scales(self) -> bool:
        return True

    @property
    def sub_block_size(self) -> int:
        return self.block_size

    @property
    def element_bits(self) -> int:
        """Bits of one element code."""
        return self.element.bits

    @property
    def scale_bits(self) -> int:
        """Bits of one block-scale code."""
        return self.scale_format.bits

    @property
    def bits(self) -> int:
        return self.element.bits

    @property
    def scale_code_max(self) -> int:
        """The largest scale code a valid BlockArray may hold (its scales are positive)."""
        return int(self.scale_format.encode(self.scale_format.max))

    def values(self):
        raise ValueError(
            f"{self.name}: a block format has no fixed value set (it depends on the scale)"
        )


# ------------------------------------------------------------------------------------------
# OCP MX
# ------------------------------------------------------------------------------------------
_MX_ELEMENT_HELP = (
    "an MX element is a minifloat FloatFormat of at most 16 bits (OCP MX v1.0 §5: "
    "'fp8_e4m3fn', 'fp8_e5m2', 'fp6_e2m3fn', 'fp6_e3m2fn', 'fp4_e2m1fn') or a "
    "FixedPointElement (MXINT8: FixedPointElement(IntFormat(8, narrow=True), 6), "
    "registered as 'mxint8')"
)


def _mx_element(el):
    """The element format of an MXFormat: a registered name is looked up; anything that
    cannot be an element (integers without a binary point, E8M0, block formats) is a
    TypeError saying what can."""
    if isinstance(el, str):
        from .registry import get_format  # late: the registry builds MX formats itself

        el = get_format(el)
    if isinstance(el, FixedPointElement):
        return el
    if isinstance(el, FloatFormat) and el.bits <= 16:
        return el
    what = getattr(el, "name", None) or repr(el)
    hint = ""
    if isinstance(el, IntFormat):
        hint = " (an integer element needs a binary point: use FixedPointElement)"
    raise TypeError(f"MXFormat: {what} cannot be an MX element{hint}; {_MX_ELEMENT_HELP}")


@dataclass(frozen=True)
class MXFormat(BlockFormat):
    """OCP MX v1.0: a block of ``block_size`` elements shares an E8M0 scale X.

    X = 2^(floor(log2 amax) - emax_elem) (``scale_rule="floor"``, the spec's rule, §6.3),
    shared exponent clamped at -127 below; above 127 the scale is NaN.  Elements are
    RNE(V / X) in the element format with overflow clamped to ±max (§6.3).  Other scale
    rules (as torchao): "ceil" = 2^(ceil(log2 amax) - emax), "even" = floor rule on amax
    rounded to the element's precision, "rceil" = smallest power of two ≥ amax / max_elem.
    A block holding NaN or ±Inf gets the NaN scale (0xFF): every value of it decodes to NaN.
    An all-zero block gets scale 2^-127 and zero elements.  The E8M0 rule (bias, range, NaN
    code) is ``scale_format``'s (:class:`~lowbit.formats.expformat.ExpFormat`).

    >>> import lowbit
    >>> f = lowbit.get_format("mxfp4")
    >>> f.element.name, f.scale_format.name, f.block_size, f.scale_format is lowbit.get_format("e8m0")
    ('fp4_e2m1fn', 'e8m0', 32, True)
    """

    family = "mx"
    scale_format = E8M0

    element: object
    block_size: int = 32
    scale_rule: str = "floor"
    name: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "element", _mx_element(self.element))
        check_block_size("MXFormat", "block_size", self.block_size)
        check_choice("MXFormat", "scale_rule", self.scale_rule, SCALE_RULES)
        if not self.name:
            object.__setattr__(self, "name", f"mx_{self.element.name}_b{self.block_size}")

    @property
    def scale_code_max(self) -> int:
        return self.scale_format.code_of_nan  # the NaN scale is a valid code

    @property
    def bits_per_element(self) -> float:
        return self.element.bits + self.scale_bits / self.block_size

    @property
    def emax_elem(self) -> int:
        """Exponent of the element format's largest power of two (OCP MX Table 1)."""
        return int(self.element.emax)

    @property
    def max(self) -> float:
        return float(self.element.max * self.scale_format.max)

    @property
    def min(self) -> float:
        return -self.max

    @property
    def smallest_subnormal(self) -> float:
        sub = getattr(self.element, "smallest_subnormal", 2.0**-self.element.man_bits)
        return float(sub * self.scale_format.min)

    @property
    def smallest_normal(self) -> float:
        return float(getattr(self.element, "smallest_normal", 1.0) * self.scale_format.min)

    @property
    def eps(self) -> float:
        return float(2.0**-self.element.man_bits)

    def _describe_extra(self) -> dict:
        return {
            "element": self.element.name,
            "block_size": self.block_size,
            "scale": self.scale_format.name,
            "scale_rule": self.scale_rule,
            "bits_per_element": self.bits_per_element,
        }

    # scale
    def _shared_exp(self, blocks: np.ndarray, scale_rule: str) -> tuple[np.ndarray, np.ndarray]:
        """(scale codes uint8, shared exponents int64) for (..., k) blocks."""
        amax = np.max(np.abs(blocks), axis=-1)
        bad = ~np.isfinite(amax)  # NaN or Inf in the block
        pos = (amax > 0) & ~bad
        a = np.where(pos, amax, 1.0)
        lg = _floor_log2(a)
        emax = self.emax_elem
        if scale_rule == "floor":
            e = lg - emax
        elif scale_rule == "ceil":
            e = lg + (a != np.ldexp(1.0, lg)) - emax
        elif scale_rule == "even":
            mb = self.element.man_bits
            m, ex = np.frexp(a)  # a = m · 2^ex, m in [0.5, 1)
            m = np.rint(m * 2.0 ** (mb + 1)) / 2.0 ** (mb + 1)
            e = _floor_log2(np.ldexp(m, ex)) - emax
        else:  # rceil: smallest k with 2^k · max_elem ≥ amax
            k = _floor_log2(a / self.element.max) - 1
            for _ in range(3):
                k = np.where(np.ldexp(self.element.max, k) < a, k + 1, k)
            e = k
        return _scale_codes(self.scale_format, e, pos, bad)

    def _encode_blocks(self, x, axis, rounding, scale_rule, seed=None):
        # checked under the block format's name, not the element's
        check_choice(self.name, "rounding", rounding, ROUNDING_MODES)
        scale_rule = check_choice(
            self.name, "scale_rule", scale_rule or self.scale_rule, SCALE_RULES
        )
        blocks, moved, axis, out_dtype = to_blocks(self.name, x, axis, self.block_size)
        scodes, e = self._shared_exp(blocks, scale_rule)
        with np.errstate(invalid="ignore"):
            v = np.ldexp(blocks, -e[..., None])
        v = np.where((scodes == self.scale_format.code_of_nan)[..., None], 0.0, v)
        kw = {"nan": "zero"} if isinstance(self.element, FloatFormat) else {}
        ecodes = self.element.encode(v, rounding=rounding, overflow="saturate", seed=seed, **kw)
        return ecodes, scodes, moved, axis, out_dtype

    def encode(
        self,
        x,
        axis: int = -1,
        rounding: str = "nearest_even",
        scale_rule: str | None = None,
        seed=None,
    ) -> BlockArray:
        """Element codes and E8M0 scale codes of ``x`` (blocks along ``axis``).

        ``seed`` (an int or a ``numpy.random.Generator``) makes ``rounding="stochastic"``
        reproducible: the elements draw their random bits from it.

        >>> import numpy as np, lowbit
        >>> lowbit.get_format("mxfp4").encode(np.full(32, 3.0, np.float32)).scales.tolist()
        [126]
        """
        ecodes, scodes, moved, axis, _ = self._encode_blocks(x, axis, rounding, scale_rule, seed)
        n = moved[-1]
        codes = unblock(ecodes)[..., :n]
        shape = tuple(np.moveaxis(np.empty(moved, dtype=np.uint8), -1, axis).shape)
        return BlockArray(self, np.ascontiguousarray(codes), scodes, shape, axis)

    def decode(self, enc: BlockArray) -> np.ndarray:
        """Values (float32) of a :class:`BlockArray`; NaN-scale blocks decode to NaN."""
        validate_block_array(enc, self)
        v = self._values(self.element.decode(enc.codes), enc.scales)
        return np.moveaxis(v, -1, enc.axis).astype(np.float32)

    def _values(self, elem: np.ndarray, scodes: np.ndarray) -> np.ndarray:
        """Element values times their blocks' scales, decoded by ``scale_format`` (a power
        of two, exact; the NaN scale makes NaN)."""
        n = elem.shape[-1]
        scale = self.scale_format.decode(scodes).astype(np.float64)
        return elem.astype(np.float64) * np.repeat(scale, self.block_size, axis=-1)[..., :n]

    def quantize(
        self,
        x,
        axis: int = -1,
        rounding: str = "nearest_even",
        scale_rule: str | None = None,
        seed=None,
    ):
        """``decode(encode(x))`` in x's float dtype, float32 at least (``seed``: see :meth:`encode`)."""
        fast = fast_blocks(x, axis, self.block_size)
        rule = scale_rule or self.scale_rule
        el_subn = getattr(self.element, "subnormals", True) is True
        if fast is not None and rounding == "nearest_even" and rule == "floor" and el_subn:
            # fused numba kernel (float32, whole blocks); tested against the path below
            xb, finish = fast
            el = self.element
            out = np.empty_like(xb)
            if isinstance(el, FixedPointElement):
                args = (0, 0, np.uint32(0), el.frac_bits, el.int_format.qmax)
            else:
                maxbits = np.array(el.max, np.float32).view(np.uint32)[()]
                args = (el.man_bits, el.emin, maxbits, -1, 0)
            K.pick(K.mx_quantize_f32, xb.size)(
                xb, out, self.block_size, self.emax_elem, *args, self.scale_format.emin
            )
            return finish(out)
        ecodes, scodes, moved, axis, out_dtype = self._encode_blocks(
            x, axis, rounding, scale_rule, seed
        )
        elem = self.element.decode(ecodes).astype(np.float64)
        scale = self.scale_format.decode(scodes).astype(np.float64)
        return from_blocks(elem * scale[..., None], moved, axis).astype(out_dtype)


# ------------------------------------------------------------------------------------------
# Shared exponent (+ microexponents): MX9/MX6/MX4 and BFP
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SharedExpFormat(BlockFormat):
    """Block floating point with optional shared microexponents (Rouhani et al. 2023).

    x = 2^(e_block - d_sub) · q / 2^(m-1), q a sign-magnitude integer with m magnitude bits
    (a 1.(m-1) fixed-point number, |q| ≤ 2^m - 1, so max 127/64, 15/8, 3/2 for m = 7, 4, 2).
    e_block = floor(log2 amax) of the block (clamped to [-127, 127]; 8 bits);
    d_sub = min(e_block - floor(log2 max|x| of the sub-block), 2^micro_bits - 1) (a zero
    sub-block takes the largest shift): with one micro bit a pair is shifted by one when
    both its elements lie below 2^e_block.  Elements are RNE'd (or the chosen rounding) to
    the fixed-point grid and saturate at ±(2^m - 1)/2^(m-1).
    A block with NaN or ±Inf, or with e_block > 127, is NaN (scale code 0xFF), as OCP MX.
    The shared exponent is an E8M0 code: ``scale_format`` holds that rule.  ``element`` is
    the sign-magnitude integer ``int{m+1}_sm`` holding q.

    >>> import lowbit
    >>> f = lowbit.get_format("mx6")
    >>> f.element.name, f.scale_format.name, f.block_size, f.sub_block_size, f.micro_bits
    ('int5_sm', 'e8m0', 16, 2, 1)
    """

    family = "shared_exponent"
    scale_format = E8M0

    man_bits: int
    block_size: int = 16
    sub_block_size: int = 2
    micro_bits: int = 1
    name: str = field(default="", compare=False)

    def __post_init__(self):
        for what in ("man_bits", "block_size", "sub_block_size", "micro_bits"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"SharedExpFormat: {what} must be an int, got {v!r}")
        if not 1 <= self.man_bits <= 23:
            raise FormatError(f"SharedExpFormat: man_bits={self.man_bits}; legal range is 1..23")
        check_block_size("SharedExpFormat", "block_size", self.block_size)
        if not 0 <= self.micro_bits <= 4:
            raise FormatError(f"SharedExpFormat: micro_bits={self.micro_bits}; legal range is 0..4")
        if self.micro_bits and (self.sub_block_size < 1 or self.block_size % self.sub_block_size):
            raise FormatError(
                f"SharedExpFormat: sub_block_size={self.sub_block_size} must divide "
                f"block_size={self.block_size}"
            )
        if not self.name:
            n = f"bfp{self.man_bits + 1}_b{self.block_size}"
            if self.micro_bits:
                n += f"_s{self.sub_block_size}u{self.micro_bits}"
            object.__setattr__(self, "name", n)

    @property
    def scale_code_max(self) -> int:
        return self.scale_format.code_of_nan  # the NaN block is a valid code

    @property
    def bits_per_element(self) -> float:
        b = self.element_bits + self.scale_bits / self.block_size
        if self.micro_bits:
            b += self.micro_bits / self.sub_block_size
        return b

    @property
    def qmax(self) -> int:
        return 2**self.man_bits - 1

    @property
    def elem_max(self) -> float:
        return self.qmax / 2.0 ** (self.man_bits - 1)

    @property
    def max(self) -> float:
        return float(self.elem_max * self.scale_format.max)

    @property
    def min(self) -> float:
        return -self.max

    @property
    def smallest_subnormal(self) -> float:
        d = 2**self.micro_bits - 1 if self.micro_bits else 0
        return float(np.ldexp(1.0, self.scale_format.emin - d - (self.man_bits - 1)))

    smallest_normal = smallest_subnormal

    @property
    def eps(self) -> float:
        return float(2.0 ** -(self.man_bits - 1))

    @cached_property
    def element(self) -> IntFormat:
        """The sign-magnitude integer q (``int{m+1}_sm``, the registered one when it is)."""
        b = self.man_bits + 1
        return _registered(IntFormat(b, encoding="sign_magnitude", name=f"int{b}_sm"))

    def _describe_extra(self) -> dict:
        return {
            "element": f"sign + {self.man_bits}-bit magnitude, 1.{self.man_bits - 1} fixed point",
            "block_size": self.block_size,
            "sub_block_size": self.sub_block_size if self.micro_bits else None,
            "micro_bits": self.micro_bits,
            "bits_per_element": self.bits_per_element,
        }

    def _encode_blocks(self, x, axis, rounding, seed=None):
        check_choice(self.name, "rounding", rounding, ROUNDING_MODES)
        blocks, moved, axis, out_dtype = to_blocks(self.name, x, axis, self.block_size)
        absb = np.abs(blocks)
        amax = np.max(absb, axis=-1)
        bad = ~np.isfinite(amax)
        pos = (amax > 0) & ~bad
        scodes, eb = _scale_codes(
            self.scale_format, _floor_log2(np.where(pos, amax, 1.0)), pos, bad
        )
        nan = scodes == self.scale_format.code_of_nan
        k, s = self.block_size, self.sub_block_size
        if self.micro_bits:
            sub = absb.reshape(absb.shape[:-1] + (k // s, s)).max(axis=-1)
            dmax = 2**self.micro_bits - 1
            with np.errstate(invalid="ignore"):
                es = np.where(sub > 0, _floor_log2(np.where(sub > 0, sub, 1.0)), -(10**6))
            d = np.clip(eb[..., None] - es, 0, dmax)
            d = np.where(np.isfinite(sub), d, 0)
            shift = np.repeat(d, s, axis=-1)
        else:
            d = None
            shift = 0
        with np.errstate(invalid="ignore"):
            v = np.ldexp(blocks, (self.man_bits - 1) - (eb[..., None] - shift))
        v = np.where(nan[..., None], 0.0, v)
        q = self.element.encode(v, rounding=rounding, seed=seed)
        return q, scodes, d, moved, axis, out_dtype

    def encode(self, x, axis: int = -1, rounding: str = "nearest_even", seed=None) -> BlockArray:
        """Element codes (sign-magnitude), shared exponents and microexponent bits.

        ``seed`` (an int or a ``numpy.random.Generator``) makes ``rounding="stochastic"``
        reproducible.

        >>> import numpy as np, lowbit
        >>> lowbit.get_format("mx9").encode(np.full(16, 0.75, np.float32)).scales[0]
        np.uint8(126)
        """
        q, scodes, d, moved, axis, _ = self._encode_blocks(x, axis, rounding, seed)
        n = moved[-1]
        codes = np.ascontiguousarray(unblock(q)[..., :n])
        micro = None
        if d is not None:
            ns = -(-n // self.sub_block_size)
            micro = np.ascontiguousarray(unblock(d)[..., :ns].astype(code_dtype(self.micro_bits)))
        shape = tuple(np.moveaxis(np.empty(moved, dtype=np.uint8), -1, axis).shape)
        return BlockArray(self, codes, scodes, shape, axis, micro)

    def _values(self, q, scodes, micro, n):
        k = self.block_size
        qv = self.element.decode(q).astype(np.float64)
        e = np.repeat(self.scale_format.exponent_of(scodes), k, axis=-1)[..., :n]
        if micro is not None:
            e = e - np.repeat(micro.astype(np.int64), self.sub_block_size, axis=-1)[..., :n]
        v = np.ldexp(qv, e - (self.man_bits - 1))
        nan = np.repeat(scodes == self.scale_format.code_of_nan, k, axis=-1)[..., :n]
        return np.where(nan, np.nan, v)

    def decode(self, enc: BlockArray) -> np.ndarray:
        """Values (float32) of a :class:`BlockArray`."""
        validate_block_array(enc, self)
        v = self._values(enc.codes, enc.scales, enc.micro, enc.codes.shape[-1])
        return np.moveaxis(v, -1, enc.axis).astype(np.float32)

    def quantize(self, x, axis: int = -1, rounding: str = "nearest_even", seed=None):
        """``decode(encode(x))`` in x's float dtype, float32 at least (``seed``: see :meth:`encode`)."""
        fast = fast_blocks(x, axis, self.block_size)
        if fast is not None and rounding == "nearest_even":
            xb, finish = fast
            out = np.empty_like(xb)
            dmax = 2**self.micro_bits - 1 if self.micro_bits else 0
            sub = self.sub_block_size if self.micro_bits else self.block_size
            K.pick(K.sharedexp_quantize, xb.size)(
                xb, out, self.block_size, sub, dmax, self.man_bits, self.scale_format.emin
            )
            return finish(out)
        enc = self.encode(x, axis=axis, rounding=rounding, seed=seed)
        out_dtype = check_float_array(self.name, x)[1]
        return self.decode(enc).astype(out_dtype)


# ------------------------------------------------------------------------------------------
# NVFP4
# ------------------------------------------------------------------------------------------
#: UE5M3: an unsigned E5M3 scale (bias 15, the all-ones code NaN as E4M3's, max
#: 1.75 · 2^16), as proposed for MX successors; held as the signed E5M3 FloatFormat whose
#: sign bit a block format with ``unsigned_scale=True`` does not store
UE5M3 = FloatFormat(5, 3, specials="fn", name="e5m3fn")


def _scaled_element(el):
    """The element of an :class:`NVFP4Format`-scheme block format: E2M1 by default, a
    registered name looked up, a minifloat FloatFormat or a signed IntFormat."""
    if el is None:
        return _registered(FloatFormat(2, 1, specials="none", name="fp4_e2m1fn"))
    if isinstance(el, str):
        from .registry import get_format  # late: the registry builds these formats itself

        el = get_format(el)
    if isinstance(el, FloatFormat) or (isinstance(el, IntFormat) and el.signed):
        return el
    raise TypeError(
        f"NVFP4Format: element must be a minifloat FloatFormat or a signed IntFormat "
        f"(e.g. 'fp4_e2m1fn', 'int4_narrow'), got {getattr(el, 'name', el)!r}"
    )


def _scale_minifloat(sf):
    """The block-scale format of an :class:`NVFP4Format`-scheme format: E4M3 by default,
    else a minifloat FloatFormat (E8M0 scales are :class:`MXFormat`'s)."""
    if sf is None:
        return _registered(FloatFormat(4, 3, specials="fn", name="fp8_e4m3fn"))
    if isinstance(sf, str):
        from .registry import get_format

        sf = get_format(sf)
    if isinstance(sf, FloatFormat):
        return sf
    raise TypeError(
        f"NVFP4Format: scale_format must be a minifloat FloatFormat (e.g. 'fp8_e4m3fn', "
        f"lowbit.formats.block.UE5M3), got {getattr(sf, 'name', sf)!r}; a power-of-two "
        "(E8M0) scale is MXFormat's"
    )


@dataclass(frozen=True)
class NVFP4Format(BlockFormat):
    """A scalar element with a minifloat scale per block and an optional FP32 tensor scale:
    NVFP4 by default, and any (element, scale format, block size) of that scheme.

    s_t = amax(tensor) / (element.max · scale_format.max) (1 when the tensor is all zero or
    ``tensor_scale`` is False), rounded to float32; s_b = S(amax(block) / element.max / s_t)
    (S: RNE to ``scale_format``, saturating at its max); elements E(x / (s_b · s_t)) (RNE,
    saturating at ±element.max), zero where s_b = 0.  The divisions are done in float64.
    ``bits_per_element`` leaves out the one FP32 per tensor.  NVFP4 is E2M1 elements, an
    E4M3 scale per 16 and the FP32 tensor scale, 448 · 6 = scale_format.max · element.max
    (NVIDIA, "Introducing NVFP4", 2025; torchao ``nvfp4_tensor.py``).

    Parameters of the scheme (each a registry line away from a named format):

    * ``element``: a minifloat FloatFormat (default E2M1) or a signed IntFormat (NVINT4:
      ``int4_narrow``, symmetric ±7, Chen et al. 2025, "INT v.s. FP", arXiv 2510.25602);
    * ``scale_format``: any minifloat FloatFormat (default FP8 E4M3; :data:`UE5M3` as
      proposed for MX successors), read as an unsigned scale (it is never negative);
    * ``unsigned_scale``: the scale is stored without its sign bit (``scale_bits`` =
      scale_format.bits - 1: UE5M3 is 8 bits);
    * ``tensor_scale``: whether the FP32 per-tensor scale exists (False: s_t = 1).

    S rounds to nearest, so s_b can round *down*: amax_b / (s_b · s_t) then exceeds
    element.max and the block maximum saturates (by up to half a scale ulp: 2^-4 = 6.25 %
    relative for E4M3's 3 mantissa bits).  ``scale_rule="ceil"`` rounds s_b up instead
    (S = the smallest scale-format value ≥ amax_b / element.max / s_t): nothing clips;
    "torchao" clamps the argument of S below at the scale format's smallest normal.

    >>> import lowbit
    >>> f = lowbit.get_format("nvfp4")
    >>> f.element.name, f.scale_format.name, f.tensor_scale_format.name, f.block_size
    ('fp4_e2m1fn', 'fp8_e4m3fn', 'fp32', 16)
    >>> lowbit.get_format("nvint4").element.name
    'int4_narrow'
    """

    family = "nvfp4"

    block_size: int = 16
    scale_rule: str = "subnormal"
    name: str = field(default="nvfp4", compare=False)
    element: object = None
    scale_format: object = None
    tensor_scale: bool = True
    unsigned_scale: bool = False

    @property
    def bits_per_element(self) -> float:
        return self.element.bits + self.scale_bits / self.block_size

    @property
    def scale_bits(self) -> int:
        """Bits of one block-scale code (without the sign bit when ``unsigned_scale``)."""
        return self.scale_format.bits - int(self.unsigned_scale)

    @property
    def tensor_scale_format(self) -> FloatFormat | None:
        """FP32, the registered ``fp32``: the one scale per tensor (None without one)."""
        if not self.tensor_scale:
            return None
        return _registered(FloatFormat(8, 23, specials="ieee", name="fp32"))

    @property
    def _span(self) -> float:
        """The largest block value at a tensor scale of 1: element.max · scale_format.max."""
        return self.element.max * self.scale_format.max

    # value range relative to a per-tensor scale of 1: 6 · 448 … 0.5 · 2^-9
    max = property(lambda self: self._span)
    min = property(lambda self: -self._span)
    smallest_subnormal = property(
        lambda self: self.element.smallest_subnormal * self.scale_format.smallest_subnormal
    )
    smallest_normal = smallest_subnormal
    eps = property(lambda self: self.element.eps)

    def _describe_extra(self) -> dict:
        return {
            "element": self.element.name,
            "block_size": self.block_size,
            "scale": (("u" if self.unsigned_scale else "") + self.scale_format.name)
            + (f" + {self.tensor_scale_format.name}" if self.tensor_scale else ""),
            "scale_rule": self.scale_rule,
            "bits_per_element": self.bits_per_element,
        }

    def __post_init__(self):
        check_block_size("NVFP4Format", "block_size", self.block_size)
        check_choice("NVFP4Format", "scale_rule", self.scale_rule, NVFP4_SCALE_RULES)
        for what in ("tensor_scale", "unsigned_scale"):
            if not isinstance(getattr(self, what), (bool, np.bool_)):
                raise TypeError(f"NVFP4Format: {what} must be a bool, got {getattr(self, what)!r}")
        el = _scaled_element(self.element)
        sf = _scale_minifloat(self.scale_format)
        object.__setattr__(self, "element", el)
        object.__setattr__(self, "scale_format", sf)
        default = (
            el.name == "fp4_e2m1fn" and sf.name == "fp8_e4m3fn" and self.block_size == 16
            and self.tensor_scale and not self.unsigned_scale
        )  # fmt: skip
        if self.name == "nvfp4" and (not default or self.scale_rule != "subnormal"):
            n = "nvfp4"
            if not default:
                u = "u" if self.unsigned_scale else ""
                n = f"nv_{el.name}_{u}{sf.name}_b{self.block_size}"
                n += "" if self.tensor_scale else "_nots"
            if self.scale_rule != "subnormal":
                n += f"_{self.scale_rule}"
            object.__setattr__(self, "name", n)

    @property
    def _scale_floor(self) -> float:
        """Lower clamp of amax_b / 6 / s_t before the E4M3 rounding: 0 (every E4M3 value,
        subnormals and zero included) or torchao's 2^-6, the smallest normal E4M3."""
        return self.scale_format.smallest_normal if self.scale_rule == "torchao" else 0.0

    def _tensor_scale(self, amax_t: float) -> float:
        """s_t = amax / (448 · 6) as FP32; 1 for an all-zero tensor or without a tensor
        scale.  Data whose s_t passes FP32's largest value raise; an s_t below FP32's
        smallest subnormal becomes it."""
        if amax_t == 0 or not self.tensor_scale:
            return 1.0
        return float(fp32_scale(self.name, amax_t / self._span, "amax / (448 · 6)"))

    def encode(self, x, axis: int = -1, rounding: str = "nearest_even", seed=None) -> BlockArray:
        """Element codes, E4M3 block-scale codes and the FP32 tensor scale.

        ``seed`` (an int or a ``numpy.random.Generator``) makes ``rounding="stochastic"``
        reproducible.

        >>> import numpy as np, lowbit
        >>> lowbit.get_format("nvfp4").encode(np.full(16, 2688.0, np.float32)).tensor_scale
        1.0
        """
        check_choice(self.name, "rounding", rounding, ROUNDING_MODES)
        blocks, moved, axis, _ = to_blocks(self.name, x, axis, self.block_size)
        if not np.isfinite(blocks).all():
            raise ValueError(f"{self.name}: NaN or Inf input (NVFP4 has no NaN element code)")
        amax_t = float(np.max(np.abs(blocks))) if blocks.size else 0.0
        st = self._tensor_scale(amax_t)
        amax_b = np.max(np.abs(blocks), axis=-1)
        sb_codes = self.scale_format.encode(
            np.maximum(amax_b / self.element.max / st, self._scale_floor),
            rounding="up" if self.scale_rule == "ceil" else "nearest_even",
            overflow="saturate",
        )
        sb = self.scale_format.decode(sb_codes).astype(np.float64)
        den = sb[..., None] * st
        v = np.where(den > 0, blocks / np.where(den > 0, den, 1.0), 0.0)
        ecodes = self.element.encode(v, rounding=rounding, overflow="saturate", seed=seed)
        n = moved[-1]
        codes = np.ascontiguousarray(unblock(ecodes)[..., :n])
        shape = tuple(np.moveaxis(np.empty(moved, dtype=np.uint8), -1, axis).shape)
        return BlockArray(
            self, codes, sb_codes, shape, axis, None, st if self.tensor_scale else None
        )

    @property
    def _fused(self) -> bool:
        """Whether the fused kernel computes this format: minifloat element and scale with
        subnormals (it rounds on their grids from emin, mantissa bits and max)."""
        el, sf = self.element, self.scale_format
        return isinstance(el, FloatFormat) and el.subnormals is True and sf.subnormals is True

    def decode(self, enc: BlockArray) -> np.ndarray:
        validate_block_array(enc, self)
        n = enc.codes.shape[-1]
        e = self.element.decode(enc.codes).astype(np.float64)
        sb = np.repeat(
            self.scale_format.decode(enc.scales).astype(np.float64), self.block_size, axis=-1
        )
        v = e * sb[..., :n] * (1.0 if enc.tensor_scale is None else enc.tensor_scale)
        return np.moveaxis(v, -1, enc.axis).astype(np.float32)

    def quantize(self, x, axis: int = -1, rounding: str = "nearest_even", seed=None):
        """``decode(encode(x))`` in x's float dtype, float32 at least (``seed``: see :meth:`encode`)."""
        fast = fast_blocks(x, axis, self.block_size)
        if (
            fast is not None
            and rounding == "nearest_even"
            and self._fused
            and self.scale_rule != "ceil"
        ):
            xb, finish = fast
            if not np.isfinite(xb).all():
                raise ValueError(f"{self.name}: NaN or Inf input (NVFP4 has no NaN element code)")
            st = self._tensor_scale(float(np.max(np.abs(xb))))
            out = np.empty_like(xb)
            sf, el = self.scale_format, self.element
            K.pick(K.nvfp4_quantize, xb.size)(
                xb, out, st, self._scale_floor,
                sf.emin, sf.man_bits, sf.max, el.emin, el.man_bits, el.max,
            )  # fmt: skip
            return finish(out)
        enc = self.encode(x, axis=axis, rounding=rounding, seed=seed)
        out_dtype = check_float_array(self.name, x)[1]
        return self.decode(enc).astype(out_dtype)
