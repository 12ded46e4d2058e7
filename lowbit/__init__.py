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
from .threads import get_num_threads, set_num_threads


def _version() -> str:
    # pyproject.toml holds the version; an installed lowbit (also `pip install -e`) carries
    # it in its metadata. A source tree on sys.path that was never installed has none.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lowbit")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _version()

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
    "list_tensors",
    "load_tensor",
    "register",
    "set_num_threads",
    "ternarize",
]
