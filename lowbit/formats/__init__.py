"""Bit-exact number formats: integers, minifloats, exponent-only scales."""

from .base import OVERFLOW_POLICIES, ROUNDING_MODES, Format, FormatError
from .block import BlockArray, FixedPointElement, MXFormat, NVFP4Format, SharedExpFormat
from .expformat import ExpFormat
from .integer import BinaryFormat, IntFormat, binarize, ternarize
from .minifloat import FloatFormat
from .packing import pack, packed_nbytes, unpack
from .registry import get_format, list_formats, register
from .scaling import Quantizer, VSQuant

__all__ = [
    "BlockArray",
    "FixedPointElement",
    "MXFormat",
    "NVFP4Format",
    "Quantizer",
    "SharedExpFormat",
    "VSQuant",
    "pack",
    "packed_nbytes",
    "unpack",
    "OVERFLOW_POLICIES",
    "ROUNDING_MODES",
    "BinaryFormat",
    "ExpFormat",
    "FloatFormat",
    "Format",
    "FormatError",
    "IntFormat",
    "binarize",
    "get_format",
    "list_formats",
    "register",
    "ternarize",
]
