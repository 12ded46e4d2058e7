"""lowbit: bit-exact low-precision number formats, their accuracy and their hardware cost."""

from .analysis.tensors import list_tensors, load_tensor
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
    "list_formats",
    "list_tensors",
    "load_tensor",
    "register",
    "ternarize",
]
