"""Scaled quantization: the group-scaled and two-level formats, and ``Quantizer``.

* ``GroupScaledFormat`` — a scalar element format with one scale per group of
  ``block_size`` values, stored in a scale format (``int4_g128``: INT4 with an FP16 scale
  per 128: symmetric ±7 round to nearest, no zero point; GPTQ's and AWQ's group layout but
  not their method, which is weight-only, calibrated and stores a zero point).
* ``VSQuant`` — two-level per-vector scaling (Dai et al., "VS-Quant: Per-vector scaled
  quantization for accurate low-precision neural network inference", MLSys 2021).
* ``Quantizer`` — not a format but a procedure: a scalar format plus a granularity
  (per tensor, per channel, per group) plus a range setter (:mod:`.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import _kernels as K
from .base import ROUNDING_MODES, Format, FormatError, check_choice, random_bits
from .block import BlockArray, BlockFormat, _registered, fp32_scale, validate_block_array
from .blocking import (
    check_axis,
    check_block_size,
    check_float_array,
    from_blocks,
    to_blocks,
    unblock,
)
from .calibration import METHODS, mse_rows, sample_clip, samples_of
from .integer import IntFormat
from .minifloat import FloatFormat

GRANULARITIES = ("per_tensor", "per_channel", "per_group")
RANGES = METHODS
#: range methods computed per slice on its samples (:func:`.calibration.sample_clip`)
SAMPLE_RANGES = ("aciq", "kl", "octav")


def _resolve(fmt):
    """A Format as is; a name through the registry (imported late: the registry builds
    the scaled formats itself)."""
    if isinstance(fmt, Format):
        return fmt
    from .registry import get_format

    return get_format(fmt)


def _scale_bits(scale_format) -> int:
    return 32 if scale_format is None else scale_format.bits


def _store_scale(name: str, s: np.ndarray, scale_format) -> np.ndarray:
    """Round positive scales to the scale format (never to zero: the smallest value).

    FP32 (``scale_format=None``): a scale beyond FP32's range raises, one below it becomes
    FP32's smallest subnormal (:func:`lowbit.formats.block.fp32_scale`).  Another scale
    format saturates at its largest value (``overflow="saturate"``), as its own rule says.
    """
    if scale_format is None:
        return fp32_scale(name, s, "the range of x")
    q = (
        scale_format.quantize(s, overflow="saturate")
        if _has_overflow(scale_format)
        else (scale_format.quantize(s))
    )
    q = np.asarray(q, dtype=np.float64)
    tiny = scale_format.smallest_subnormal
    return np.where((q <= 0) | ~np.isfinite(q), np.where(s > 0, tiny, 1.0), q)


def _has_overflow(fmt) -> bool:
    return "saturate" in getattr(fmt, "overflow_policies", ())


def _saturating(fmt) -> dict:
    """The keyword that makes ``fmt`` saturate (formats without overflow policies clip)."""
    return {"overflow": "saturate"} if _has_overflow(fmt) else {}


def _symmetric_scales(name: str, element, amax: np.ndarray, scale_format) -> np.ndarray:
    """s = max|x| / element.max per slice, stored in ``scale_format`` (1 for a zero slice)."""
    return _store_scale(name, np.where(amax > 0, amax / element.max, 1.0), scale_format)


# ------------------------------------------------------------------------------------------
# Group-scaled formats
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupScaledFormat(BlockFormat):
    """A scalar ``element`` format with one scale per ``block_size`` values along ``axis``.

    Symmetric, no zero point, round to nearest (``int4_g128``: q in ±7, s = max|x_g| / 7;
    not GPTQ or AWQ, which are weight-only, calibrate the rounding or the scales and store
    a zero point): s = S(max|x_g| / element.max), S the rounding to
    ``scale_format`` (saturating at its largest value; a zero group takes s = 1, a scale
    that rounds to zero the scale format's smallest value); elements element(x / s)
    (saturating); x ≈ q · s.  ``encode`` stores the element codes and the scale codes in a
    :class:`BlockArray`.  NaN or ±Inf input raises (it cannot set a scale).  ``max``
    and the other range facts are the element's (at a scale of 1).

    >>> import numpy as np, lowbit
    >>> f = lowbit.get_format("int4_g128")
    >>> f.element.name, f.scale_format.name, f.block_size
    ('int4', 'fp16', 128)
    >>> f.quantize(np.array([[0.1, 0.2, -0.7, 0.35]])).tolist()
    [[0.0999755859375, 0.199951171875, -0.6998291015625, 0.39990234375]]
    """

    family = "group_scaled"

    element: object = "int4"
    block_size: int = 128
    scale_format: object = "fp16"
    name: str = field(default="", compare=False)

    def __post_init__(self):
        el = _resolve(self.element)
        sf = _resolve(self.scale_format)
        for what, f in (("element", el), ("scale_format", sf)):
            if not isinstance(f, (IntFormat, FloatFormat)):
                raise TypeError(
                    f"GroupScaledFormat: {what} must be an integer or minifloat format, "
                    f"got {getattr(f, 'name', f)!r}"
                )
        if isinstance(el, IntFormat) and not el.signed:
            raise FormatError("GroupScaledFormat: a symmetric element must be signed")
        object.__setattr__(self, "element", el)
        object.__setattr__(self, "scale_format", sf)
        check_block_size("GroupScaledFormat", "block_size", self.block_size)
        if not self.name:
            object.__setattr__(self, "name", f"{el.name}_g{self.block_size}_{sf.name}")

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the scale's bits per group (4 + 16/128 for int4_g128)."""
        return self.element.bits + self.scale_bits / self.block_size

    max = property(lambda self: self.element.max)
    min = property(lambda self: self.element.min)
    smallest_normal = property(lambda self: self.element.smallest_normal)
    smallest_subnormal = property(lambda self: self.element.smallest_subnormal)
    eps = property(lambda self: self.element.eps)

    def _describe_extra(self) -> dict:
        return {
            "element": self.element.name,
            "block_size": self.block_size,
            "scale": self.scale_format.name,
            "bits_per_element": self.bits_per_element,
        }

    def _scaled_blocks(self, x, axis):
        """(blocks (..., n_blocks, k), scales (..., n_blocks) as stored, moved shape, axis,
        result dtype)."""
        blocks, moved, axis, out_dtype = to_blocks(self.name, x, axis, self.block_size)
        if not np.isfinite(blocks).all():
            raise ValueError(f"{self.name}: NaN or Inf input cannot set a scale")
        amax = np.max(np.abs(blocks), axis=-1)
        s = _symmetric_scales(self.name, self.element, amax, self.scale_format)
        return blocks, s, moved, axis, out_dtype

    def _check_policies(self, rounding, overflow) -> None:
        check_choice(self.name, "rounding", rounding, ROUNDING_MODES)
        if overflow not in (None, "saturate"):
            raise ValueError(
                f"{self.name}: overflow={overflow!r} is not supported; elements and scales "
                "saturate (overflow=None or 'saturate')"
            )

    def encode(
        self, x, axis: int = -1, rounding: str = "nearest_even", overflow=None, seed=None
    ) -> BlockArray:
        """Element codes and scale codes (one per group) of ``x``, groups along ``axis``.

        Elements and scales saturate (``overflow`` may be None or "saturate"); ``seed``
        makes ``rounding="stochastic"`` reproducible.

        >>> import numpy as np, lowbit
        >>> enc = lowbit.get_format("int4_g128").encode(np.full((1, 128), 0.7))
        >>> enc.codes[0, 0], lowbit.get_format("fp16").decode(enc.scales).tolist()
        (np.uint8(7), [[0.0999755859375]])
        """
        self._check_policies(rounding, overflow)
        blocks, s, moved, axis, _ = self._scaled_blocks(x, axis)
        el = self.element
        q = el.encode(blocks / s[..., None], rounding=rounding, seed=seed, **_saturating(el))
        codes = np.ascontiguousarray(unblock(q)[..., : moved[-1]])
        scodes = self.scale_format.encode(s)  # exact: s is a value of the scale format
        shape = tuple(np.moveaxis(np.empty(moved, dtype=np.uint8), -1, axis).shape)
        return BlockArray(self, codes, scodes, shape, axis)

    def decode(self, enc: BlockArray) -> np.ndarray:
        """Values (float32: an element times an FP16 scale fits) of a :class:`BlockArray`."""
        validate_block_array(enc, self)
        n = enc.codes.shape[-1]
        q = self.element.decode(enc.codes).astype(np.float64)
        s = self.scale_format.decode(enc.scales).astype(np.float64)
        v = q * np.repeat(s, self.block_size, axis=-1)[..., :n]
        return np.moveaxis(v, -1, enc.axis).astype(np.float32)

    def quantize(self, x, axis: int = -1, rounding: str = "nearest_even", overflow=None, seed=None):
        """``decode(encode(x))`` in x's float dtype, float32 at least (±0 may differ;
        ``overflow``, ``seed``: see :meth:`encode`)."""
        self._check_policies(rounding, overflow)
        arr, out_dtype = check_float_array(self.name, x)
        if arr.ndim and arr.size == 0:
            check_axis(self.name, axis, arr.ndim)
            return np.empty(arr.shape, dtype=out_dtype)
        blocks, s, moved, axis, out_dtype = self._scaled_blocks(arr, axis)
        el = self.element
        q = el.quantize(blocks / s[..., None], rounding=rounding, seed=seed, **_saturating(el))
        return from_blocks(q * s[..., None], moved, axis).astype(out_dtype)


# ------------------------------------------------------------------------------------------
# Quantizer: a procedure, not a format
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quantizer:
    """Fake quantization of a scalar format with a scale per tensor, per channel or per
    group of ``block_size`` values along ``axis``, set from the data by a range method.

    Symmetric: s = r / fmt.max, q = fmt.quantize(x / s) · s, with r the range statistic of
    |x| ("minmax": max|x|; "percentile": the ``percentile``-th percentile of |x|; "mse": the
    clip r·c, c on a grid of 100 fractions in (0, 1], with the least squared error;
    "aciq", "kl", "octav": the clip :func:`lowbit.formats.calibration.sample_clip` chooses
    on each slice's values, ACIQ with a Laplace prior, b = mean|x − x̄|; symmetric only).
    Asymmetric (integer formats): s = (rmax - rmin) / (qmax - qmin),
    z = round(qmin - rmin / s), q = (clip(round(x / s) + z, qmin, qmax) - z) · s.
    The scale is stored in ``scale_format`` (a registered format such as fp16, bf16, e8m0;
    None means FP32) and used as stored.  A Quantizer has no codes: a format that stores
    its group scales is :class:`GroupScaledFormat`.

    >>> import numpy as np, lowbit
    >>> qz = lowbit.Quantizer("int4", granularity="per_group", block_size=4, scale_format="fp16")
    >>> qz.quantize(np.array([0.1, 0.2, -0.7, 0.35, 7.0, 1.0, 0.0, -3.0])).tolist()
    [0.0999755859375, 0.199951171875, -0.6998291015625, 0.39990234375, 7.0, 1.0, 0.0, -3.0]
    """

    format: object
    granularity: str = "per_tensor"
    axis: int = 0
    block_size: int = 128
    range: str = "minmax"
    symmetric: bool = True
    scale_format: object = None
    percentile: float = 99.99
    name: str = field(default="", compare=False)

    def __post_init__(self):
        fmt = _resolve(self.format)
        if fmt.has_block_scales:
            raise TypeError(
                f"Quantizer: format must be a scalar format (integer, minifloat, ...); "
                f"{fmt.name} is a block or scaled format with scales of its own: use it "
                "directly (lowbit.get_format(name).quantize)"
            )
        object.__setattr__(self, "format", fmt)
        if self.scale_format is not None:
            object.__setattr__(self, "scale_format", _resolve(self.scale_format))
        check_choice("Quantizer", "granularity", self.granularity, GRANULARITIES)
        check_choice("Quantizer", "range", self.range, RANGES)
        if isinstance(self.axis, bool) or not isinstance(self.axis, (int, np.integer)):
            raise TypeError(f"Quantizer: axis must be an int, got {self.axis!r}")
        if self.granularity == "per_group":
            check_block_size("Quantizer", "block_size", self.block_size)
        if isinstance(self.percentile, (bool, np.bool_)) or not isinstance(
            self.percentile, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"Quantizer: percentile must be a number in (0, 100], got {self.percentile!r}"
            )
        if not self.symmetric and not isinstance(self.format, IntFormat):
            raise FormatError("Quantizer: asymmetric (zero-point) scaling needs an integer format")
        if not self.symmetric and self.range in SAMPLE_RANGES:
            raise FormatError(f"Quantizer: range={self.range!r} needs symmetric=True")
        if not 0 < self.percentile <= 100:
            raise FormatError(f"Quantizer: percentile={self.percentile}; legal range is (0, 100]")
        if not self.name:
            g = {"per_tensor": "pt", "per_channel": "pc", "per_group": f"g{self.block_size}"}
            object.__setattr__(self, "name", f"{self.format.name}_{g[self.granularity]}")

    @property
    def bits(self) -> int:
        return self.format.bits

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the scale's bits per group (per-tensor/channel: amortised away)."""
        b = float(self.format.bits)
        if self.granularity == "per_group":
            b += _scale_bits(self.scale_format) / self.block_size
        return b

    def overhead_bits(self, shape) -> float:
        """Scale (and zero-point) bits per element for a tensor of ``shape``."""
        n = int(np.prod(shape))
        sb = _scale_bits(self.scale_format) + (0 if self.symmetric else self.format.bits)
        if self.granularity == "per_tensor":
            return sb / n
        if self.granularity == "per_channel":
            return sb * shape[self.axis] / n
        return sb * n / self.block_size / n

    def __str__(self) -> str:
        return self.name

    def _groups(self, arr, out_dtype):
        """x as (groups, members) float64 and a function mapping back to x's shape."""
        a = arr.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{self.name}: NaN or Inf input cannot set a scale")
        if self.granularity == "per_tensor":
            return a.reshape(1, -1), lambda v: v.reshape(arr.shape).astype(out_dtype)
        ax = check_axis(self.name, self.axis, a.ndim)
        if self.granularity == "per_channel":
            m = np.moveaxis(a, ax, 0)
            return m.reshape(m.shape[0], -1), lambda v: np.moveaxis(
                v.reshape(m.shape), 0, ax
            ).astype(out_dtype)
        blocks, moved, axn, _ = to_blocks(self.name, arr, ax, self.block_size)
        n = moved[-1]
        pad = blocks.shape[-1] * blocks.shape[-2] - n
        g = blocks.reshape(-1, self.block_size)

        def back(v):
            return from_blocks(v.reshape(blocks.shape), moved, axn).astype(out_dtype)

        back.pad = pad
        return g, back

    def _range(self, g: np.ndarray) -> np.ndarray:
        ag = np.abs(g)
        if self.range == "percentile":
            return np.percentile(ag, self.percentile, axis=1)
        top = ag.max(axis=1)
        if self.range in SAMPLE_RANGES:
            opts = {"prior": "laplace"} if self.range == "aciq" else {}
            r = np.array(
                [sample_clip(self.format, samples_of(row), self.range, **opts) for row in g]
            )
            # a constant or all-zero slice gives no clip (0 or NaN): fall back to max|x|
            return np.where(np.isfinite(r) & (r > 0), r, top)
        return top

    def _fake(self, g, r):
        f = self.format
        if self.symmetric:
            s = _symmetric_scales(self.name, f, r, self.scale_format)
            return f.quantize(g / s[:, None], **_saturating(f)) * s[:, None]
        lo = np.minimum(g.min(axis=1), 0.0)
        hi = np.maximum(g.max(axis=1), 0.0)
        s = _store_scale(
            self.name, np.where(hi > lo, (hi - lo) / (f.qmax - f.qmin), 1.0), self.scale_format
        )
        z = np.clip(np.rint(f.qmin - lo / s), f.qmin, f.qmax)
        q = np.clip(np.rint(g / s[:, None]) + z[:, None], f.qmin, f.qmax)
        return (q - z[:, None]) * s[:, None]

    def quantize(self, x, rounding: str = "nearest_even", overflow=None, seed=None):
        """Fake-quantize x: scale, round in the format, scale back (x's float dtype, float32 at least).

        Rounding is to nearest even and elements saturate: ``overflow`` may be None or
        "saturate"; ``seed`` is accepted (and type-checked) for symmetry with the formats.
        Floating-point input only (TypeError for integer and bool arrays); an empty array
        gives an empty array.
        """
        if rounding != "nearest_even":
            raise ValueError(f"{self.name}: Quantizer rounds to nearest even only")
        if overflow not in (None, "saturate"):
            raise ValueError(
                f"{self.name}: overflow={overflow!r} is not supported; a Quantizer saturates "
                "(overflow=None or 'saturate')"
            )
        if seed is not None:
            random_bits(0, seed)  # TypeError naming seed's legal types
        arr, out_dtype = check_float_array(self.name, x)
        if arr.ndim and self.granularity != "per_tensor":
            check_axis(self.name, self.axis, arr.ndim)
        if arr.size == 0:
            return np.empty(arr.shape, dtype=out_dtype)
        g, back = self._groups(arr, out_dtype)
        r = self._range(g)
        if self.range == "mse":
            return back(mse_rows(g, r, self._fake))
        return back(self._fake(g, r))


# ------------------------------------------------------------------------------------------
# VS-Quant
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VSQuant(BlockFormat):
    """Two-level per-vector scaling (VS-Quant, Dai et al. 2021, §3).

    Vectors of ``block_size`` elements along ``axis``; the outer FP32 scale γ per channel
    (index along ``channel_axis``) or per tensor.  Calibration (Dai et al. §3.2, max
    calibration of both levels): s_v = max|x_v| / qmax; γ = max_v s_v / (2^S - 1);
    s_q = clip(round(s_v / γ), 1, 2^S - 1); q = clip(RNE(x / (γ · s_q)), -qmax, qmax);
    x ≈ γ · s_q · q.  The per-vector scale codes are ``scale_format`` = ``uint{S}`` codes.

    >>> import lowbit
    >>> f = lowbit.get_format("vsq_int4")
    >>> f.element.name, f.scale_format.name, f.outer_scale_format.name, f.block_size
    ('int4_narrow', 'uint4', 'fp32', 16)
    """

    family = "vs_quant"

    element: object = "int4"
    block_size: int = 16
    scale_bits: int = 4
    outer: str = "per_channel"
    channel_axis: int = 0
    name: str = field(default="", compare=False)

    @cached_property
    def scale_format(self) -> IntFormat:
        """``uint{scale_bits}``, the per-vector scale s_q (the registered one when it is)."""
        b = self.scale_bits
        return _registered(IntFormat(b, signed=False, name=f"uint{b}"))

    @cached_property
    def outer_scale_format(self) -> FloatFormat:
        """FP32, the format of γ."""
        return _registered(FloatFormat(8, 23, specials="ieee", name="fp32"))

    @property
    def scale_code_max(self) -> int:
        return self.scale_format.qmax

    def _outer_scale_size(self, shape: tuple, axis: int) -> int:
        """How many γ a BlockArray of ``shape`` (blocks along ``axis``) holds."""
        if self.outer == "per_tensor":
            return 1
        nd = len(shape)
        if not -nd <= self.channel_axis < nd or self.channel_axis % nd == axis:
            raise ValueError(
                f"{self.name}: channel_axis={self.channel_axis} does not fit shape {shape} "
                f"with blocks along axis {axis}"
            )
        return shape[self.channel_axis % nd]

    def __post_init__(self):
        el = _resolve(self.element)
        if not isinstance(el, IntFormat) or not el.signed:
            raise FormatError("VSQuant: element must be a signed IntFormat")
        object.__setattr__(self, "element", el)
        check_choice("VSQuant", "outer", self.outer, ("per_channel", "per_tensor"))
        check_block_size("VSQuant", "block_size", self.block_size)
        for what in ("scale_bits", "channel_axis"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"VSQuant: {what} must be an int, got {v!r}")
        if not 1 <= self.scale_bits <= 16:
            raise FormatError(f"VSQuant: scale_bits={self.scale_bits}; legal range is 1..16")
        if not self.name:
            object.__setattr__(self, "name", f"vsq_{el.name}_v{self.block_size}_u{self.scale_bits}")

    @property
    def qmax(self) -> int:
        return self.element.qmax

    @property
    def bits_per_element(self) -> float:
        """Element bits + per-vector scale bits (4 + 4/16 = 4.25 for vsq_int4); γ excluded."""
        return self.element.bits + self.scale_bits / self.block_size

    def overhead_bits(self, shape) -> float:
        """Amortised bits of γ (FP32) per element for a tensor of ``shape``."""
        n = int(np.prod(shape))
        ng = 1 if self.outer == "per_tensor" else shape[self.channel_axis]
        return 32 * ng / n

    max = property(lambda self: float(self.qmax))
    min = property(lambda self: -float(self.qmax))
    smallest_normal = property(lambda self: 1.0)
    smallest_subnormal = property(lambda self: 1.0)
    eps = property(lambda self: 1.0)

    def values(self):
        raise ValueError(f"{self.name}: values depend on the scales")

    def encode(self, x, axis: int = -1) -> BlockArray:
        """Element codes, per-vector scale codes (unsigned ints) and γ (float32)."""
        arr, _ = self._check_input(x, axis)
        nd = arr.ndim
        if not np.isfinite(arr).all():
            raise ValueError(f"{self.name}: NaN or Inf input cannot set a scale")
        blocks, moved, axn, _ = to_blocks(self.name, arr, axis, self.block_size)
        smax = 2**self.scale_bits - 1
        sv = np.abs(blocks).max(axis=-1, initial=0.0) / self.qmax  # (..., n_vectors)
        if self.outer == "per_tensor":
            gmax = np.array([sv.max(initial=0.0)])
        else:
            ca = self._moved_channel_axis(nd, axn)
            other = tuple(i for i in range(sv.ndim) if i != ca)
            gmax = sv.max(axis=other, initial=0.0)
        gamma = np.where(gmax > 0, fp32_scale(self.name, gmax / smax, "max_v s_v"), 1.0)
        gamma = gamma.astype(np.float32)  # exact: fp32_scale's values are float32's
        g = self._broadcast_gamma(gamma.astype(np.float64), sv.ndim, nd, axn)
        sq = np.clip(np.rint(sv / g), 1, smax)
        q = np.clip(np.rint(blocks / (g * sq)[..., None]), -self.qmax, self.qmax)
        codes = self.element.encode(q)
        n = moved[-1]
        codes = np.ascontiguousarray(unblock(codes)[..., :n])
        scodes = self.scale_format.encode(sq)  # s_q is an integer in [1, 2^S - 1]
        return BlockArray(self, codes, scodes, tuple(arr.shape), axn, outer_scale=gamma)

    def _check_input(self, x, axis):
        """(float array, output dtype) after the checks every VS-Quant entry runs: float
        input of at least one axis, ``axis`` and ``channel_axis`` in range and distinct."""
        arr, out_dtype = check_float_array(self.name, x)
        if arr.ndim < 1:
            raise ValueError(f"{self.name}: block formats need at least one axis, got a 0-d array")
        nd = arr.ndim
        axn = check_axis(self.name, axis, nd)
        if self.outer == "per_channel":
            ca = check_axis(self.name, self.channel_axis, nd, "channel_axis")
            if ca == axn:
                raise ValueError(
                    f"{self.name}: channel_axis={self.channel_axis} and axis={axis} name the "
                    "same axis; the vectors must run along another axis than the channels"
                )
        return arr, out_dtype

    def _moved_channel_axis(self, nd: int, axn: int) -> int:
        ca = self.channel_axis % nd
        return ca if ca < axn else ca - 1

    def _broadcast_gamma(self, gamma, ndim_moved, nd, axn):
        """γ (one per channel, or one) shaped to broadcast against (..., n_vectors)."""
        if self.outer == "per_tensor":
            return gamma.reshape((1,) * ndim_moved)
        ca = self._moved_channel_axis(nd, axn)
        shape = [1] * ndim_moved
        shape[ca] = gamma.size
        return gamma.reshape(shape)

    def decode(self, enc: BlockArray) -> np.ndarray:
        validate_block_array(enc, self)
        n = enc.codes.shape[-1]
        q = self.element.decode(enc.codes).astype(np.float64)
        g = self._broadcast_gamma(
            enc.outer_scale.astype(np.float64), enc.scales.ndim, len(enc.shape), enc.axis
        )
        sq = self.scale_format.decode(enc.scales).astype(np.float64)
        s = np.repeat(g * sq, self.block_size, axis=-1)[..., :n]
        return np.moveaxis(q * s, -1, enc.axis).astype(np.float32)

    def quantize(self, x, axis: int = -1):
        """``decode(encode(x))`` in x's float dtype."""
        arr, out_dtype = self._check_input(x, axis)
        if (
            out_dtype == np.float32
            and arr.dtype == np.float32
            and arr.ndim == 2
            and axis in (-1, 1)
            and (self.outer == "per_tensor" or self.channel_axis in (0, -2))
            and arr.shape[1] % self.block_size == 0
            and arr.size
            and np.isfinite(arr).all()
        ):
            # fused numba kernel for the common (channels, reduction) weight layout; tested
            # against the general path below
            xc = np.ascontiguousarray(arr)
            out = np.empty_like(xc)
            sv = np.empty((xc.shape[0], xc.shape[1] // self.block_size))
            K.pick(K.vsq_quantize, xc.size)(
                xc, out, sv, self.block_size, self.qmax, 2**self.scale_bits - 1,
                self.outer == "per_tensor",
            )  # fmt: skip
            return out
        return self.decode(self.encode(arr, axis=axis)).astype(out_dtype)
