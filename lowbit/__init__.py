"""lowbit: bit-exact low-precision number formats, their accuracy and their hardware cost."""

from .formats import (
    BinaryFormat,
    ExpFormat,
    FloatFormat,
    Format,
    FormatError,
    GroupScaledFormat,
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


def __getattr__(name: str):
    # lowbit.analysis loads on first use, so that importing lowbit.formats (which runs this
    # file first) brings in no layer above it.
    if name in ("list_tensors", "load_tensor"):
        from .analysis import tensors

        return getattr(tensors, name)
    if name == "analysis":  # ``import lowbit; lowbit.analysis`` worked when it loaded eagerly
        import importlib

        return importlib.import_module(".analysis", __name__)
    raise AttributeError(f"module 'lowbit' has no attribute {name!r}")


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
    "GroupScaledFormat",
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
