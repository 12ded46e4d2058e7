"""Scaled quantization: ``Quantizer`` (per-tensor / per-channel / per-group scales with a
range setter) and ``VSQuant`` (two-level per-vector scaling, Dai et al., MLSys 2021)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _kernels as K
from .base import Format, FormatError, check_choice, random_bits
from .block import (
    BlockArray,
    _from_blocks,
    _to_blocks,
    _unblock,
    check_axis,
    check_block_size,
    check_float_array,
    fp32_scale,
    validate_block_array,
)
from .integer import IntFormat

GRANULARITIES = ("per_tensor", "per_channel", "per_group")
RANGES = ("minmax", "percentile", "mse", "aciq", "kl", "octav")
#: range methods computed per slice by lowbit.analysis.ranges (imported when first used)
ANALYSIS_RANGES = ("aciq", "kl", "octav")


def _resolve(fmt):
    """A Format as is; a name through the registry (imported late: the registry builds
    Quantizer and VSQuant presets itself)."""
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


@dataclass(frozen=True)
class Quantizer(Format):
    """A scalar format with a scale per tensor, per channel or per group, set from the data.

    Symmetric: s = r / fmt.max, q = fmt.quantize(x / s) · s, with r the range statistic of
    |x| ("minmax": max|x|; "percentile": the ``percentile``-th percentile of |x|; "mse": the
    clip r·c, c on a grid of 100 fractions in (0, 1], with the least squared error;
    "aciq", "kl", "octav": the clip :func:`lowbit.analysis.ranges.clip_for` chooses on each
    slice's values, ACIQ with a Laplace prior, b = mean|x − x̄|; symmetric only).
    Asymmetric (integer formats): s = (rmax - rmin) / (qmax - qmin),
    z = round(qmin - rmin / s), q = (clip(round(x / s) + z, qmin, qmax) - z) · s.
    The scale is stored in ``scale_format`` (a registered format such as fp16, bf16, e8m0;
    None means FP32) and used as stored.

    >>> import numpy as np, lowbit
    >>> qz = lowbit.Quantizer("int4", granularity="per_group", group_size=4, scale_format="fp16")
    >>> qz.quantize(np.array([0.1, 0.2, -0.7, 0.35, 7.0, 1.0, 0.0, -3.0])).tolist()
    [0.0999755859375, 0.199951171875, -0.6998291015625, 0.39990234375, 7.0, 1.0, 0.0, -3.0]
    """

    format: object
    granularity: str = "per_tensor"
    axis: int = 0
    group_size: int = 128
    range: str = "minmax"
    symmetric: bool = True
    scale_format: object = None
    percentile: float = 99.99
    name: str = field(default="", compare=False)

    def __post_init__(self):
        fmt = _resolve(self.format)
        if hasattr(fmt, "block_size") or isinstance(fmt, Quantizer):
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
            check_block_size("Quantizer", "group_size", self.group_size)
        if isinstance(self.percentile, (bool, np.bool_)) or not isinstance(
            self.percentile, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"Quantizer: percentile must be a number in (0, 100], got {self.percentile!r}"
            )
        if not self.symmetric and not isinstance(self.format, IntFormat):
            raise FormatError("Quantizer: asymmetric (zero-point) scaling needs an integer format")
        if not self.symmetric and self.range in ANALYSIS_RANGES:
            raise FormatError(f"Quantizer: range={self.range!r} needs symmetric=True")
        if not 0 < self.percentile <= 100:
            raise FormatError(f"Quantizer: percentile={self.percentile}; legal range is (0, 100]")
        if not self.name:
            g = {"per_tensor": "pt", "per_channel": "pc", "per_group": f"g{self.group_size}"}
            object.__setattr__(self, "name", f"{self.format.name}_{g[self.granularity]}")

    @property
    def bits(self) -> int:
        return self.format.bits

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the scale's bits per group (per-tensor/channel: amortised away)."""
        b = float(self.format.bits)
        if self.granularity == "per_group":
            b += _scale_bits(self.scale_format) / self.group_size
        return b

    def overhead_bits(self, shape) -> float:
        """Scale (and zero-point) bits per element for a tensor of ``shape``."""
        n = int(np.prod(shape))
        sb = _scale_bits(self.scale_format) + (0 if self.symmetric else self.format.bits)
        if self.granularity == "per_tensor":
            return sb / n
        if self.granularity == "per_channel":
            return sb * shape[self.axis] / n
        return sb * n / self.group_size / n

    max = property(lambda self: self.format.max)
    min = property(lambda self: self.format.min)
    smallest_normal = property(lambda self: self.format.smallest_normal)
    smallest_subnormal = property(lambda self: self.format.smallest_subnormal)
    eps = property(lambda self: self.format.eps)

    def values(self):
        raise ValueError(f"{self.name}: values depend on the scale; see .format.values()")

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
        blocks, moved, axn, _ = _to_blocks(self.name, arr, ax, self.group_size)
        n = moved[-1]
        pad = blocks.shape[-1] * blocks.shape[-2] - n
        g = blocks.reshape(-1, self.group_size)

        def back(v):
            return _from_blocks(v.reshape(blocks.shape), moved, axn).astype(out_dtype)

        back.pad = pad
        return g, back

    def _range(self, g: np.ndarray) -> np.ndarray:
        ag = np.abs(g)
        if self.range == "percentile":
            return np.percentile(ag, self.percentile, axis=1)
        top = ag.max(axis=1)
        if self.range in ANALYSIS_RANGES:
            # lazily: lowbit.formats must not import lowbit.analysis at module level
            from ..analysis.ranges import clip_for

            opts = {"prior": "laplace"} if self.range == "aciq" else {}
            r = np.array([clip_for(self.format, row, self.range, **opts) for row in g])
            # a constant or all-zero slice gives no clip (0 or NaN): fall back to max|x|
            return np.where(np.isfinite(r) & (r > 0), r, top)
        return top

    def _fake(self, g, r):
        f = self.format
        if self.symmetric:
            s = _store_scale(self.name, np.where(r > 0, r / f.max, 1.0), self.scale_format)
            kw = {"overflow": "saturate"} if _has_overflow(f) else {}
            return f.quantize(g / s[:, None], **kw) * s[:, None]
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
        "saturate"; ``seed`` is accepted (and type-checked) for the Format protocol only.
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
            best = None
            for c in np.linspace(0.01, 1.0, 100):
                q = self._fake(g, r * c)
                err = ((q - g) ** 2).sum(axis=1)
                if best is None:
                    best, best_err = q, err
                else:
                    better = err < best_err
                    best = np.where(better[:, None], q, best)
                    best_err = np.minimum(err, best_err)
            return back(best)
        return back(self._fake(g, r))

    def encode(self, *a, **k):
        raise ValueError(f"{self.name}: Quantizer fake-quantizes; use .format.encode on x / scale")

    def decode(self, *a, **k):
        raise ValueError(f"{self.name}: Quantizer fake-quantizes; use .format.decode")


@dataclass(frozen=True)
class VSQuant(Format):
    """Two-level per-vector scaling (VS-Quant, Dai et al. 2021).

    Vectors of ``vector_size`` elements along ``axis``; the outer FP32 scale γ per channel
    (index along ``channel_axis``) or per tensor.  Calibration (domain.md §4):
    s_v = max|x_v| / qmax; γ = max_v s_v / (2^S - 1); s_q = clip(round(s_v / γ), 1, 2^S - 1);
    q = clip(RNE(x / (γ · s_q)), -qmax, qmax); x ≈ γ · s_q · q.
    """

    element: object = "int4"
    vector_size: int = 16
    scale_bits: int = 4
    outer: str = "per_channel"
    channel_axis: int = 0
    name: str = field(default="", compare=False)

    micro_bits = 0
    _has_tensor_scale = False
    _has_outer_scale = True

    @property
    def _scale_code_max(self) -> int:
        return 2**self.scale_bits - 1

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
        check_block_size("VSQuant", "vector_size", self.vector_size)
        for what in ("scale_bits", "channel_axis"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"VSQuant: {what} must be an int, got {v!r}")
        if not 1 <= self.scale_bits <= 16:
            raise FormatError(f"VSQuant: scale_bits={self.scale_bits}; legal range is 1..16")
        if not self.name:
            object.__setattr__(
                self, "name", f"vsq_{el.name}_v{self.vector_size}_u{self.scale_bits}"
            )

    @property
    def qmax(self) -> int:
        return self.element.qmax

    @property
    def element_bits(self) -> int:
        return self.element.bits

    @property
    def bits(self) -> int:
        return self.element.bits

    block_size = property(lambda self: self.vector_size)

    @property
    def bits_per_element(self) -> float:
        """Element bits + per-vector scale bits (4 + 4/16 = 4.25 for vsq_int4); γ excluded."""
        return self.element.bits + self.scale_bits / self.vector_size

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
        blocks, moved, axn, _ = _to_blocks(self.name, arr, axis, self.vector_size)
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
        codes = np.ascontiguousarray(_unblock(codes)[..., :n])
        sdt = np.uint16 if smax > 255 else np.uint8
        return BlockArray(self, codes, sq.astype(sdt), tuple(arr.shape), axn, outer_scale=gamma)

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
        s = np.repeat(g * enc.scales.astype(np.float64), self.vector_size, axis=-1)[..., :n]
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
            and arr.shape[1] % self.vector_size == 0
            and arr.size
            and np.isfinite(arr).all()
        ):
            # fused numba kernel for the common (channels, reduction) weight layout; tested
            # against the general path below
            xc = np.ascontiguousarray(arr)
            out = np.empty_like(xc)
            sv = np.empty((xc.shape[0], xc.shape[1] // self.vector_size))
            K.pick(K.vsq_quantize, xc.size)(
                xc, out, sv, self.vector_size, self.qmax, 2**self.scale_bits - 1,
                self.outer == "per_tensor",
            )  # fmt: skip
            return out
        return self.decode(self.encode(arr, axis=axis)).astype(out_dtype)
