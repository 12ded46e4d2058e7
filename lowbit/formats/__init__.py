"""Bit-exact number formats: integers, minifloats, exponent-only scales."""

from .base import OVERFLOW_POLICIES, ROUNDING_MODES, Format, FormatError
from .expformat import ExpFormat
from .integer import BinaryFormat, IntFormat, binarize, ternarize
from .minifloat import FloatFormat
from .registry import get_format, list_formats, register

__all__ = [
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
