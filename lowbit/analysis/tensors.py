"""Tensors from checkpoint files (.safetensors, .npy, .npz), read lazily, and array-likes.

Only the bytes of the tensor asked for are read: ``.npy`` files are memory-mapped
(``numpy.load(mmap_mode="r")``), a ``.npz`` member is read alone, and a ``.safetensors`` tensor
is read through its header's byte offsets, by the ``safetensors`` package (``pip install
'lowbit[io]'``) where its numpy backend knows the dtype, else by ``numpy.memmap`` of that byte
range.  The 8-bit floats and bfloat16 of real checkpoints, which numpy has no dtype for, are
decoded by lowbit's own formats (fp8_e4m3fn, fp8_e5m2, e8m0, bf16) to float32, exactly.

The safetensors layout (https://github.com/huggingface/safetensors, "Format"): an 8-byte
little-endian header length N, N bytes of JSON ``{name: {"dtype", "shape", "data_offsets":
[begin, end]}, "__metadata__": {...}}``, then the data; offsets count from the end of the
header.  Every field is checked, and a malformed file is a ValueError naming the file.

This module imports only numpy and lowbit.formats (no scipy, no pandas): ``lowbit`` exports
:func:`list_tensors` and :func:`load_tensor` from here.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: safetensors dtypes numpy reads as they are (little-endian on disk).
_PLAIN = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
    "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
#: safetensors dtypes decoded by a lowbit format: (format name, code dtype on disk).
_DECODED = {
    "F8_E4M3": ("fp8_e4m3fn", "u1"),  # OCP FP8 E4M3 (no inf, NaN = S.1111.111)
    "F8_E5M2": ("fp8_e5m2", "u1"),  # OCP FP8 E5M2 (IEEE-like)
    "F8_E8M0": ("e8m0", "u1"),  # OCP MX E8M0 scale
    "BF16": ("bf16", "<u2"),
}
#: safetensors caps its header at 100 MB (safetensors/src/tensor.rs, MAX_HEADER_SIZE).
MAX_HEADER_BYTES = 100_000_000
SUFFIXES = (".safetensors", ".npy", ".npz")


class TensorInfo(NamedTuple):
    """One tensor of a file: its name, its dtype as the file states it, and its shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]


# -- public API -------------------------------------------------------------------------------
def list_tensors(path: str | os.PathLike) -> list[TensorInfo]:
    """Every tensor of a .safetensors, .npz or .npy file, without reading any data.

    A .npy file holds one tensor, listed under its file stem.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> np.savez(p, a=np.zeros((2, 3), np.float32), b=np.arange(4))
    >>> [tuple(t) for t in list_tensors(p)]
    [('a', 'float32', (2, 3)), ('b', 'int64', (4,))]
    """
    kind = _kind(Path(os.fspath(path)))
    path = _existing(path)
    if kind == ".safetensors":
        return [TensorInfo(n, e["dtype"], tuple(e["shape"])) for n, e in _header(path)[0].items()]
    if kind == ".npy":
        dtype, shape = _npy_header(path)
        return [TensorInfo(path.stem, str(dtype), shape)]
    out = []
    with _zip(path) as z:
        for member in z.namelist():
            if member.endswith(".npy"):
                with z.open(member) as f:
                    dtype, shape = _npy_header(path, f)
                out.append(TensorInfo(member[:-4], str(dtype), shape))
    return out


def load_tensor(
    path: str | os.PathLike, name: str | None = None, *, key: str | None = None
) -> np.ndarray:
    """One tensor of a .safetensors, .npz or .npy file (``name`` picks one of several;
    ``key`` is its older spelling).

    Reads only that tensor's bytes.  FP8 (F8_E4M3, F8_E5M2, F8_E8M0) and BF16 tensors are
    decoded to float32 by lowbit's formats; other dtypes keep theirs.  A .npy file comes back
    memory-mapped and read-only.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "w.npy"); np.save(p, np.arange(3.0))
    >>> load_tensor(p).tolist()
    [0.0, 1.0, 2.0]
    """
    name = _one_name(name, key)
    kind = _kind(Path(os.fspath(path)))
    path = _existing(path)
    if kind == ".safetensors":
        return _load_safetensors(path, name)
    if kind == ".npy":
        if name is not None and name != path.stem:
            raise ValueError(f"{path}: a .npy file holds one tensor ({path.stem!r}), not {name!r}")
        return _load_npy(path)
    with _zip(path) as z:
        names = [m[:-4] for m in z.namelist() if m.endswith(".npy")]
        member = _pick(names, name, path) + ".npy"
        with z.open(member) as f:
            try:
                return np.lib.format.read_array(f, allow_pickle=False)
            except (ValueError, EOFError, OSError) as exc:
                raise ValueError(f"{path}: tensor {member[:-4]!r} is unreadable ({exc})") from None


def parse_tensor_spec(spec: str) -> tuple[str, str | None]:
    """``"FILE:NAME"`` → ``(FILE, NAME)``; ``"FILE"`` → ``(FILE, None)``.

    The split is at the last colon, unless the whole spec names an existing file (a path may
    hold colons; tensor names in checkpoints do not).

    >>> parse_tensor_spec("model.safetensors:layers.0.mlp.weight")
    ('model.safetensors', 'layers.0.mlp.weight')
    >>> parse_tensor_spec("w.npy")
    ('w.npy', None)
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"a tensor is given as FILE or FILE:NAME, got {spec!r}")
    if os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, name = spec.rsplit(":", 1)
    if not path:
        raise ValueError(f"a tensor is given as FILE or FILE:NAME, got {spec!r}")
    return path, (name or None)


def as_array(obj: Any) -> np.ndarray:
    """A numpy array from an ndarray, a list, or any object with ``__array__`` or DLPack
    (``__dlpack__``: torch, jax, cupy on the host...).

    >>> class OnlyDLPack:
    ...     def __init__(self, a): self.a = a
    ...     def __dlpack__(self, **kw): return self.a.__dlpack__(**kw)
    ...     def __dlpack_device__(self): return self.a.__dlpack_device__()
    >>> as_array(OnlyDLPack(np.arange(3.0))).tolist()
    [0.0, 1.0, 2.0]
    """
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, "__array__") or isinstance(obj, (list, tuple, int, float, np.generic)):
        return np.asarray(obj)
    if hasattr(obj, "__dlpack__"):
        try:
            return np.from_dlpack(obj)
        except (TypeError, BufferError, RuntimeError) as exc:
            raise TypeError(
                f"{type(obj).__name__}: its DLPack data is not readable on the CPU ({exc})"
            ) from None
    raise TypeError(f"expected an array (numpy, __array__ or DLPack), got {type(obj).__name__}")


def is_array_like(obj: Any) -> bool:
    """True for what :func:`as_array` converts without guessing (not str, not scalars)."""
    return isinstance(obj, (np.ndarray, list, tuple)) or (
        not isinstance(obj, (str, bytes))
        and (hasattr(obj, "__array__") or hasattr(obj, "__dlpack__"))
    )


# -- helpers ----------------------------------------------------------------------------------
def _one_name(name: str | None, key: str | None) -> str | None:
    if key is not None and name is not None and key != name:
        raise ValueError(f"give the tensor name once (name={name!r}, key={key!r})")
    name = name if name is not None else key
    if name is not None and not isinstance(name, str):
        raise TypeError(f"a tensor name is a str, got {type(name).__name__}")
    return name


def _existing(path) -> Path:
    path = Path(os.fspath(path))
    if not path.is_file():
        raise ValueError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    return path


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: unsupported tensor file (expected {', '.join(SUFFIXES)})")
    return suffix


def _pick(names: list[str], name: str | None, path: Path) -> str:
    if name is not None:
        if name not in names:
            held = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
            raise ValueError(f"{path}: no tensor {name!r}; it holds {held}")
        return name
    if len(names) != 1:
        held = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise ValueError(f"{path}: {len(names)} tensors ({held}); name one (FILE:NAME)")
    return names[0]


def _zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None


def _npy_header(path: Path, f=None) -> tuple[np.dtype, tuple[int, ...]]:
    from numpy.lib import format as npf

    def read(fh):
        version = npf.read_magic(fh)
        reader = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
        shape, _, dtype = reader(fh, max_header_size=1 << 20)
        return dtype, tuple(shape)

    try:
        if f is not None:
            return read(f)
        with open(path, "rb") as fh:
            return read(fh)
    except (ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy file ({exc})") from None


def _load_npy(path: Path) -> np.ndarray:
    dtype, shape = _npy_header(path)
    if dtype.hasobject:
        raise ValueError(f"{path}: holds Python objects (pickled data); lowbit reads numbers only")
    try:
        if math.prod(shape) == 0:  # numpy cannot memory-map zero bytes
            return np.load(path, allow_pickle=False)
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npy file ({exc})") from None


def _header(path: Path) -> tuple[dict[str, dict], int]:
    """The tensor entries of a safetensors header, validated, and the data's start offset."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: too short to be a safetensors file ({size} bytes)")
        n = int.from_bytes(head, "little")
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(
                f"{path}: safetensors header length {n} exceeds the file "
                f"({size} bytes) or the 100 MB limit; not a safetensors file?"
            )
        text = f.read(n)
    try:
        header = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: unreadable safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header is a {type(header).__name__}, not a dict")
    header.pop("__metadata__", None)
    data_bytes = size - 8 - n
    for name, entry in header.items():
        _check_entry(path, name, entry, data_bytes)
    return header, 8 + n


def _check_entry(path: Path, name: str, entry: Any, data_bytes: int) -> None:
    where = f"{path}: tensor {name!r}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: its header entry is a {type(entry).__name__}, not a dict")
    for key in ("dtype", "shape", "data_offsets"):
        if key not in entry:
            raise ValueError(f"{where}: the header entry has no {key!r}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _PLAIN and dtype not in _DECODED:
        known = ", ".join([*_PLAIN, *_DECODED])
        raise ValueError(f"{where}: unsupported dtype {dtype!r} (lowbit reads {known})")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise ValueError(f"{where}: shape must be a list of integers >= 0, got {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_count(o) for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise ValueError(
            f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}"
        )
    if offsets[1] > data_bytes:
        raise ValueError(
            f"{where}: data_offsets {offsets} run past the end of the data ({data_bytes} bytes)"
        )
    need = math.prod(shape) * _itemsize(dtype)
    if offsets[1] - offsets[0] != need:
        raise ValueError(
            f"{where}: shape {shape} of {dtype} needs {need} bytes, "
            f"data_offsets give {offsets[1] - offsets[0]}"
        )


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _itemsize(dtype: str) -> int:
    return np.dtype(_PLAIN[dtype] if dtype in _PLAIN else _DECODED[dtype][1]).itemsize


def _load_safetensors(path: Path, name: str | None) -> np.ndarray:
    header, start = _header(path)
    name = _pick(list(header), name, path)
    entry = header[name]
    dtype, shape = entry["dtype"], tuple(entry["shape"])
    begin, end = entry["data_offsets"]
    package = _safetensors_package()
    if dtype in _PLAIN and package is not None:
        safe_open, error = package
        try:
            with safe_open(str(path), "numpy") as f:
                return f.get_tensor(name)
        except (error, OSError) as exc:
            raise ValueError(f"{path}: tensor {name!r} is unreadable ({exc})") from None
    disk = np.dtype(_PLAIN[dtype] if dtype in _PLAIN else _DECODED[dtype][1])
    if end == begin:
        raw = np.zeros(shape, disk)
    else:  # map only this tensor's bytes; the copy below reads just them
        raw = np.memmap(path, dtype=disk, mode="r", offset=start + begin, shape=shape)
    if dtype in _PLAIN:
        return np.array(raw, dtype=disk.newbyteorder("="))
    from ..formats import get_format

    codes = np.array(raw, dtype=disk.newbyteorder("="))
    return np.asarray(get_format(_DECODED[dtype][0]).decode(codes), dtype=np.float32)


def _safetensors_package():
    """(safe_open, SafetensorError) if the package is installed (the [io] extra), else None."""
    try:
        from safetensors import SafetensorError, safe_open
    except ImportError:
        return None
    return safe_open, SafetensorError
