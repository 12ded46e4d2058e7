"""lowbit: bit-exact low-precision number formats, their accuracy and their hardware cost."""

from .formats import (
    BinaryFormat,
    ExpFormat,
    FloatFormat,
    Format,
    FormatError,
    IntFormat,
    MXFormat,
    NVFP4Format,
    Quantizer,
    SharedExpFormat,
    VSQuant,
    binarize,
    get_format,
    list_formats,
    register,
    ternarize,
)
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "BinaryFormat",
    "ExpFormat",
    "FloatFormat",
    "Format",
    "FormatError",
    "IntFormat",
    "MXFormat",
    "NVFP4Format",
    "Quantizer",
    "SharedExpFormat",
    "VSQuant",
    "__version__",
    "binarize",
    "get_format",
    "get_num_threads",
    "list_formats",
    "register",
    "set_num_threads",
    "ternarize",
]
