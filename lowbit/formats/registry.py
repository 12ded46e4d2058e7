"""The named formats: ``get_format(name)`` and ``list_formats()``."""

from __future__ import annotations

from .base import Format, suggest
from .block import FixedPointElement, MXFormat, NVFP4Format, SharedExpFormat
from .expformat import E8M0
from .integer import BinaryFormat, IntFormat
from .minifloat import FloatFormat
from .scaling import GroupScaledFormat, VSQuant


def _builtin() -> dict[str, Format]:
    r: dict[str, Format] = {}

    def add(f: Format):
        r[f.name] = f

    for b in range(2, 17):
        add(IntFormat(b))
        add(IntFormat(b, narrow=True, name=f"int{b}_narrow"))
        add(IntFormat(b, signed=False, name=f"uint{b}"))
        add(IntFormat(b, encoding="sign_magnitude", name=f"int{b}_sm"))
    add(IntFormat(32))
    add(BinaryFormat())
    add(IntFormat(2, narrow=True, name="ternary"))
    # OCP 8-bit floating point (OFP8) v1.0
    add(FloatFormat(4, 3, specials="fn", name="fp8_e4m3fn"))
    add(FloatFormat(5, 2, specials="ieee", name="fp8_e5m2"))
    # fnuz: one NaN at the -0 code, bias 2^(E-1).  The E2..E5 set is exactly the FP8 of
    # van Baalen et al. 2023 (App. A): 255 values, no Inf, -0 code = NaN.
    for e in (2, 3, 4, 5):
        add(FloatFormat(e, 7 - e, specials="fnuz", name=f"fp8_e{e}m{7 - e}fnuz"))
    # IEEE-like FP8 (ml_dtypes float8_e4m3 / float8_e3m4)
    add(FloatFormat(4, 3, specials="ieee", name="fp8_e4m3"))
    add(FloatFormat(3, 4, specials="ieee", name="fp8_e3m4"))
    # OCP MX element types (no Inf, no NaN)
    add(FloatFormat(2, 3, specials="none", name="fp6_e2m3fn"))
    add(FloatFormat(3, 2, specials="none", name="fp6_e3m2fn"))
    add(FloatFormat(2, 1, specials="none", name="fp4_e2m1fn"))
    add(E8M0)  # the OCP MX scale (OCP MX v1.0 §5.4); the MX formats' scale_format
    add(FloatFormat(5, 10, specials="ieee", name="fp16"))
    add(FloatFormat(8, 7, specials="ieee", name="bf16"))
    add(FloatFormat(8, 23, specials="ieee", name="fp32"))
    # OCP MX v1.0: block 32, E8M0 scale
    for name, elem in (
        ("mxfp8_e4m3", "fp8_e4m3fn"),
        ("mxfp8_e5m2", "fp8_e5m2"),
        ("mxfp6_e2m3", "fp6_e2m3fn"),
        ("mxfp6_e3m2", "fp6_e3m2fn"),
        ("mxfp4", "fp4_e2m1fn"),
    ):
        add(MXFormat(r[elem], 32, name=name))
    # MXINT8: 8-bit two's complement read as 1.6 fixed point, -128 unused (OCP MX §5.3.3)
    add(MXFormat(FixedPointElement(IntFormat(8, narrow=True), 6), 32, name="mxint8"))
    # MXINT4: the MXINT8 scheme with a symmetric 4-bit element, ±7 read as 1.2 fixed point
    # (max 1.75; Chen et al. 2025, "INT v.s. FP", arXiv 2510.25602)
    add(MXFormat(FixedPointElement(IntFormat(4, narrow=True), 2), 32, name="mxint4"))
    # shared microexponents (Rouhani et al., ISCA 2023): block 16, pairs, 1 micro bit
    for name, m in (("mx9", 7), ("mx6", 4), ("mx4", 2)):
        add(SharedExpFormat(m, 16, 2, 1, name=name))
    add(SharedExpFormat(7, 16, micro_bits=0, name="bfp8_b16"))
    add(NVFP4Format(element=r["fp4_e2m1fn"], scale_format=r["fp8_e4m3fn"]))
    # NVINT4: symmetric INT4 (±7) elements, E4M3 scale per 16, FP32 tensor scale (Chen et
    # al. 2025, "INT v.s. FP", arXiv 2510.25602)
    add(NVFP4Format(element=r["int4_narrow"], scale_format=r["fp8_e4m3fn"], name="nvint4"))
    # VS-Quant: INT4/INT8 elements (symmetric), UINT4/UINT6… per-vector scale per 16, FP32 γ
    add(VSQuant(r["int4_narrow"], 16, 4, name="vsq_int4"))
    add(VSQuant(r["int8_narrow"], 16, 6, name="vsq_int8"))
    # INT4 (-8..7) with an FP16 scale per group of 128 along the last axis: symmetric
    # round-to-nearest (scale max|x|/7), no zero point.  The group layout of GPTQ (Frantar
    # et al. 2023) and AWQ (Lin et al. 2024), but not their method: both are weight-only,
    # calibrate their rounding or scales and store a zero point.
    add(GroupScaledFormat(r["int4"], 128, r["fp16"], name="int4_g128"))
    return r


_REGISTRY: dict[str, Format] = _builtin()


def list_formats() -> list[str]:
    """Names of every registered format, in registration order."""
    return list(_REGISTRY)


def get_format(name: str | Format) -> Format:
    """The registered format called ``name`` (a Format passes through unchanged).

    >>> import lowbit
    >>> lowbit.get_format("fp8_e4m3fn").max
    448.0
    """
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise TypeError(f"get_format: expected a format name (str), got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}{suggest(name, _REGISTRY)}") from None


def register(fmt: Format, name: str | None = None) -> Format:
    """Add a format under ``name`` (default: its own name); an existing name raises.

    >>> import lowbit
    >>> lowbit.register("hello", name="zz")
    Traceback (most recent call last):
    TypeError: register: expected a Format (IntFormat, FloatFormat, MXFormat, ...), got str
    """
    if not isinstance(fmt, Format):
        raise TypeError(
            f"register: expected a Format (IntFormat, FloatFormat, MXFormat, ...), "
            f"got {type(fmt).__name__}"
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"register: name must be a non-empty str, got {name!r}")
    key = name or fmt.name
    if key in _REGISTRY:
        raise ValueError(f"register: a format named {key!r} already exists")
    _REGISTRY[key] = fmt
    return fmt
