"""GEMM operands quantized as a unit would hold them: a format, a granularity along the
right axis, a range method and a scale format, giving what the bit-exact simulator
(:func:`lowbit.hwmodel.macsim.gemm`) takes — element codes with ``scales=``, or a
:class:`~lowbit.formats.BlockArray` with its blocks along K.

Y = X · W with X the activations (M×K, role "activation") and W the weights (K×N, role
"weight").  A scale that is constant along K can be applied after the dot product: per
tensor, per token (one per row of X) and per output channel (one per column of W) — the
W8A8 standard (e.g. LLM.int8(), Dettmers et al. 2022; SmoothQuant, Xiao et al. 2023).
Scales that vary along K must multiply each product: groups/blocks of K (int4_g128, MX,
NVFP4, VS-Quant, ``g<N>``).  A per-channel activation scale (varying along K) or a
per-token weight scale cannot be applied after accumulation and is refused.

Spec grammar (:func:`parse_spec`), fields separated by ":"::

    FORMAT[:GRANULARITY[:RANGE[:SCALE_FORMAT]]]

* FORMAT: a registered format name (``lowbit.list_formats()``).
* GRANULARITY (scalar formats): ``none`` (values encoded as they are, no scale),
  ``per_tensor``, ``per_token`` (activations), ``per_channel`` (weights), ``g<N>`` (one
  scale per N consecutive elements along K).  Default: ``none`` for floating-point formats
  of 16 bits or more (fp16, bf16, fp32), ``per_tensor`` otherwise.  Block formats (mxfp4,
  nvfp4, int4_g128, vsq_int4, …) take none: their blocks lie along K by construction.
* RANGE: the clip each scale is set from — ``minmax`` (alias ``absmax``), ``mse``,
  ``percentile`` (99.99) or ``p<P>`` (the P-th percentile of |x|), ``aciq`` (Laplace
  prior), ``kl``, ``octav`` (:mod:`lowbit.analysis.ranges`).  Default ``minmax``; block
  formats set their own scales (``minmax`` only).
* SCALE_FORMAT: the format scales are stored in (``fp32`` default; ``fp16``, ``bf16``,
  ``e8m0``, …).  Block formats: the format's own.

>>> parse_spec("fp8_e4m3fn:per_token:mse").describe()
'fp8_e4m3fn:per_token:mse:fp32'
>>> parse_spec("int4_g128").describe()
'int4_g128'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..analysis.ranges import sample_clip, samples_of
from ..formats import FloatFormat, Format, get_format
from ..formats.calibration import MSE_FRACTIONS
from ..formats.scaling import VSQuant, _saturating, _symmetric_scales
from ..hwmodel.macsim.operands import operand as _macsim_operand

ROLES = ("activation", "weight")
GRANULARITIES = ("none", "per_tensor", "per_token", "per_channel", "per_group")
RANGES = ("minmax", "mse", "percentile", "aciq", "kl", "octav")
_RANGE_ALIASES = {"absmax": "minmax"}
_GROUP = re.compile(r"^g([1-9][0-9]*)$")
_PCT = re.compile(r"^p([0-9]+(?:\.[0-9]+)?)$")


@dataclass(frozen=True)
class OperandSpec:
    """How one GEMM operand is quantized (see the module docstring for each field).

    >>> s = OperandSpec("int8", "per_channel")
    >>> s.format.name, s.granularity, s.range, s.scale_format.name
    ('int8', 'per_channel', 'minmax', 'fp32')
    """

    format: Any
    granularity: str | None = None
    range: str = "minmax"
    scale_format: Any = None
    group: int | None = None
    percentile: float = 99.99

    def __post_init__(self):
        fmt = get_format(self.format) if isinstance(self.format, str) else self.format
        if not isinstance(fmt, Format):
            raise TypeError(f"OperandSpec: format must be a Format or its name, got {fmt!r}")
        object.__setattr__(self, "format", fmt)
        rng = _RANGE_ALIASES.get(self.range, self.range)
        if rng not in RANGES:
            raise ValueError(f"OperandSpec: range={self.range!r}; expected one of {RANGES}")
        object.__setattr__(self, "range", rng)
        if not 0 < float(self.percentile) <= 100:
            raise ValueError(f"OperandSpec: percentile={self.percentile}; legal range (0, 100]")
        if self.is_block:
            self._check_block()
            return
        gran = self.granularity or self._default_granularity(fmt)
        if gran not in GRANULARITIES:
            raise ValueError(f"OperandSpec: granularity={gran!r}; expected one of {GRANULARITIES}")
        object.__setattr__(self, "granularity", gran)
        if gran == "per_group":
            g = self.group
            if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1:
                raise ValueError(f"OperandSpec: per_group needs group= a positive int, got {g!r}")
        elif self.group is not None:
            raise ValueError(f"OperandSpec: group={self.group} is for per_group only")
        if gran == "none" and (self.range != "minmax" or self.scale_format is not None):
            raise ValueError("OperandSpec: granularity 'none' has no scale: no range or scale")
        sf = get_format(self.scale_format or "fp32")
        if not isinstance(sf, Format) or sf.has_block_scales:
            raise ValueError(f"OperandSpec: scale_format must be a scalar format, got {sf}")
        object.__setattr__(self, "scale_format", None if gran == "none" else sf)

    @staticmethod
    def _default_granularity(fmt: Format) -> str:
        return "none" if isinstance(fmt, FloatFormat) and fmt.bits >= 16 else "per_tensor"

    @property
    def is_block(self) -> bool:
        """Whether the format brings its own scales (blocks along K)."""
        return bool(self.format.has_block_scales)

    def _check_block(self) -> None:
        name = self.format.name
        if self.granularity not in (None, "block"):
            raise ValueError(
                f"OperandSpec: {name} is a block format (its scales lie in blocks along K); "
                f"granularity={self.granularity!r} does not apply"
            )
        if self.range != "minmax" or self.scale_format is not None or self.group is not None:
            raise ValueError(
                f"OperandSpec: {name} sets its own scales (its format's rule): no range "
                "method, scale format or group"
            )
        object.__setattr__(self, "granularity", "block")

    def describe(self) -> str:
        """The spec in the grammar of :func:`parse_spec` (round-trips)."""
        if self.is_block:
            return self.format.name
        if self.granularity == "none":
            return f"{self.format.name}:none"
        gran = f"g{self.group}" if self.granularity == "per_group" else self.granularity
        rng = f"p{self.percentile:g}" if self.range == "percentile" else self.range
        return f"{self.format.name}:{gran}:{rng}:{self.scale_format.name}"

    __str__ = describe


def parse_spec(spec: Any) -> OperandSpec:
    """An :class:`OperandSpec` from a string of the module's grammar (or a spec or a Format,
    returned as a spec).

    >>> parse_spec("int8:g32:p99.9:fp16").describe()
    'int8:g32:p99.9:fp16'
    >>> parse_spec("fp16").granularity
    'none'
    """
    if isinstance(spec, OperandSpec):
        return spec
    if isinstance(spec, Format):
        return OperandSpec(spec)
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"operand spec must be a non-empty string, got {spec!r}")
    parts = spec.split(":")
    if len(parts) > 4:
        raise ValueError(
            f"operand spec {spec!r}: at most FORMAT:GRANULARITY:RANGE:SCALE_FORMAT (4 fields)"
        )
    fmt, gran, rng, sf = (parts + [None] * 4)[:4]
    kw: dict[str, Any] = {}
    if gran:
        m = _GROUP.match(gran)
        if m:
            gran, kw["group"] = "per_group", int(m.group(1))
        elif gran not in GRANULARITIES:
            raise ValueError(
                f"operand spec {spec!r}: granularity {gran!r}; expected one of "
                "none, per_tensor, per_token, per_channel, g<N>"
            )
    if rng:
        m = _PCT.match(rng)
        if m:
            rng, kw["percentile"] = "percentile", float(m.group(1))
    return OperandSpec(fmt, gran or None, rng or "minmax", sf or None, **kw)


@dataclass
class QuantizedOperand:
    """One quantized GEMM operand in the simulator's terms.

    ``data``: element codes (same shape as the operand) or a BlockArray (blocks along K);
    ``element``: the format of the codes (None for a BlockArray); ``scales``: None, a 1-D
    vector (per row of X / column of W, applied after accumulation) or 2-D per-group scales
    ((M, K/g) for X, (K/g, N) for W) multiplying each product; ``scale_block``: g;
    ``values``: the dequantized operand in float64, exactly (codes × every scale).
    """

    spec: OperandSpec
    role: str
    data: Any
    element: Any
    scales: np.ndarray | None
    scale_block: int | None
    values: np.ndarray


def _check_operand(x: Any, role: str) -> np.ndarray:
    if role not in ROLES:
        raise ValueError(f"quantize_operand: role={role!r}; expected one of {ROLES}")
    a = np.asarray(x)
    if a.dtype.kind != "f" or a.ndim != 2:
        raise TypeError(
            f"quantize_operand: the {role} must be a 2-D float array, got {a.dtype} {a.shape}"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"quantize_operand: the {role} holds NaN or Inf")
    return a.astype(np.float64)


def _check_granularity(spec: OperandSpec, role: str) -> None:
    wrong = {"activation": "per_channel", "weight": "per_token"}[role]
    if spec.granularity == wrong:
        raise ValueError(
            f"quantize_operand: {wrong} scales of the {role} vary along K, so they cannot be "
            "applied after the dot product; use per_token for activations, per_channel for "
            "weights, or g<N> (migrating channel scales into the weights is SmoothQuant)"
        )


def _clips(spec: OperandSpec, g: np.ndarray) -> np.ndarray:
    """The clip of each slice (row of g) by the spec's range method; max|x| for "mse"
    (the candidates are fractions of it)."""
    top = np.abs(g).max(axis=1)
    if spec.range in ("minmax", "mse"):
        return top
    if spec.range == "percentile":
        return np.percentile(np.abs(g), spec.percentile, axis=1)
    opts = {"prior": "laplace"} if spec.range == "aciq" else {}
    r = np.array([sample_clip(spec.format, samples_of(row), spec.range, **opts) for row in g])
    # a constant or all-zero slice gives no clip (0 or NaN): fall back to max|x|
    return np.where(np.isfinite(r) & (r > 0), r, top)


def _slice_scales(spec: OperandSpec, g: np.ndarray) -> np.ndarray:
    """One stored scale per slice: s = clip / format.max in the scale format; "mse": the
    candidate clip max|x| · c (c in MSE_FRACTIONS, the first on a tie) with the least
    squared error, as :class:`lowbit.Quantizer` chooses it."""
    fmt, sf, name = spec.format, spec.scale_format, spec.format.name
    r = _clips(spec, g)
    if spec.range != "mse":
        return _symmetric_scales(name, fmt, r, sf)
    best = best_err = None
    for c in MSE_FRACTIONS:
        s = _symmetric_scales(name, fmt, r * c, sf)
        err = ((fmt.quantize(g / s[:, None], **_saturating(fmt)) * s[:, None] - g) ** 2).sum(1)
        if best is None:
            best, best_err = s, err
        else:
            better = err < best_err
            best, best_err = np.where(better, s, best), np.minimum(err, best_err)
    return best


def _scalar(spec: OperandSpec, a: np.ndarray, role: str) -> QuantizedOperand:
    fmt = spec.format
    xk = a if role == "activation" else a.T  # (rows, K): K last
    rows, k = xk.shape
    gran = spec.granularity
    if gran == "none":
        codes = np.ascontiguousarray(fmt.encode(a))
        return QuantizedOperand(spec, role, codes, fmt, None, None, _decode(fmt, codes))
    if gran == "per_group" and k % spec.group:
        raise ValueError(f"quantize_operand: K={k} is not a multiple of the group {spec.group}")
    if gran == "per_tensor":
        g = xk.reshape(1, -1)
    elif gran == "per_group":
        g = xk.reshape(-1, spec.group)
    else:
        g = xk
    if not np.abs(g).max(initial=0.0) < 1e154:
        raise ValueError(f"quantize_operand: the {role}'s values square beyond float64")
    s = _slice_scales(spec, g)
    q = fmt.encode(g / s[:, None], **_saturating(fmt)).reshape(rows, k)
    if gran == "per_group":
        sk = s.reshape(rows, k // spec.group)
        full = np.repeat(sk, spec.group, axis=1)
        scales, block = (sk if role == "activation" else np.ascontiguousarray(sk.T)), spec.group
    else:
        vec = np.full(rows, s[0]) if gran == "per_tensor" else s
        full, scales, block = vec[:, None], vec, None
    values = _decode(fmt, q) * full
    if role == "weight":
        q, values = q.T, values.T
    return QuantizedOperand(spec, role, np.ascontiguousarray(q), fmt, scales, block, values)


def _decode(fmt: Format, codes: np.ndarray) -> np.ndarray:
    return np.asarray(fmt.decode(codes), dtype=np.float64)


def _block(spec: OperandSpec, a: np.ndarray, role: str) -> QuantizedOperand:
    fmt = spec.format
    axis = 1 if role == "activation" else 0  # blocks along K
    if isinstance(fmt, VSQuant) and fmt.outer == "per_channel":
        fmt = replace(fmt, channel_axis=1 - axis)  # γ per token / per output channel
    enc = fmt.encode(a, axis=axis)
    # the dequantized values exactly as the simulator multiplies them: element × block
    # scale × outer scale, in float64 (each a short significand: exact)
    op = _macsim_operand(role, enc, None, "a" if role == "activation" else "b")
    v = _decode(op.element, op.codes)
    if op.block_scales is not None:
        full = np.repeat(op.block_scales, op.scale_block, axis=axis)  # K padded to blocks
        v = v * full[: v.shape[0], : v.shape[1]]
    if op.vector is not None:
        v = v * (op.vector[:, None] if axis == 1 else op.vector[None, :])
    return QuantizedOperand(spec, role, enc, None, None, None, v)


def quantize_operand(x: Any, spec: Any, role: str = "weight") -> QuantizedOperand:
    """Quantize one GEMM operand: ``x`` a 2-D float array (X: M×K for ``role="activation"``,
    W: K×N for ``role="weight"``), ``spec`` an :class:`OperandSpec` or a string of the
    module's grammar.  Returns a :class:`QuantizedOperand` ready for the simulator.

    >>> import numpy as np
    >>> w = np.array([[1.0, -0.5], [0.25, 2.0]])
    >>> q = quantize_operand(w, "int8:per_channel", role="weight")
    >>> np.allclose(q.scales, [1 / 127, 2 / 127], rtol=2**-24), q.data.tolist()
    (True, [[127, 224], [32, 127]])
    """
    spec = parse_spec(spec)
    a = _check_operand(x, role)
    if spec.is_block:
        return _block(spec, a, role)
    _check_granularity(spec, role)
    return _scalar(spec, a, role)


def scale_bits_per_element(q: QuantizedOperand) -> float:
    """Bits per element of the operand including its scales' storage (for block formats
    the format's ``bits_per_element``; scalar formats: element bits + scale bits amortised
    over the elements one scale covers).

    >>> import numpy as np
    >>> scale_bits_per_element(quantize_operand(np.ones((4, 8)), "int4:g4", "activation"))
    12.0
    """
    f = q.spec.format
    if q.spec.is_block:
        return float(f.bits_per_element)
    if q.spec.granularity == "none":
        return float(f.bits)
    n = q.values.size
    count = np.size(q.scales) if q.spec.granularity != "per_tensor" else 1
    return f.bits + q.spec.scale_format.bits * count / n if n else math.nan
