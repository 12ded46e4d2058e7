"""Bit-exact number formats: integers, minifloats, exponent-only scales, block formats.

``lowbit.formats`` imports nothing from the rest of lowbit (the bottom layer).
"""

from .base import OVERFLOW_POLICIES, ROUNDING_MODES, Format, FormatError
from .block import (
    BlockArray,
    BlockFormat,
    FixedPointElement,
    MXFormat,
    NVFP4Format,
    SharedExpFormat,
)
from .blocking import from_blocks, to_blocks
from .expformat import ExpFormat
from .integer import BinaryFormat, IntFormat, binarize, ternarize
from .minifloat import FloatFormat
from .packing import pack, packed_nbytes, unpack
from .registry import get_format, list_formats, register
from .scaling import GroupScaledFormat, Quantizer, VSQuant

__all__ = [
    "BlockArray",
    "BlockFormat",
    "FixedPointElement",
    "GroupScaledFormat",
    "MXFormat",
    "NVFP4Format",
    "Quantizer",
    "SharedExpFormat",
    "VSQuant",
    "from_blocks",
    "to_blocks",
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
