"""``BlockArray``: the codes of a block-format tensor, and their one validation.

Every block format's ``encode`` returns a :class:`BlockArray` (element codes, scale codes,
microexponent bits, a tensor scale or outer scales), and every ``decode`` and
``lowbit.hwmodel.macsim.gemm`` check it with :func:`validate_block_array` against the
format's descriptor (``element_bits``, ``scale_code_max``, ``micro_bits``,
``tensor_scale_format``, ``outer_scale_format``; see :class:`.block.BlockFormat`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Format
from .blocking import moved_shape
from .packing import pack, packed_nbytes, unpack


@dataclass(frozen=True)
class BlockArray:
    """Codes of a block-format tensor.

    ``codes``: element codes, shape = input shape with ``axis`` moved last.
    ``scales``: per-block scale codes, shape (..., n_blocks).
    ``micro``: per-sub-block microexponent bits (shared-microexponent formats), else None.
    ``tensor_scale``: the FP32 per-tensor scale (NVFP4), else None.
    ``outer_scale``: float32 outer scales (VS-Quant's γ per channel or per tensor), else None.
    """

    format: Format
    codes: np.ndarray
    scales: np.ndarray
    shape: tuple[int, ...]
    axis: int
    micro: np.ndarray | None = None
    tensor_scale: float | None = None
    outer_scale: np.ndarray | None = None

    def validate(self, fmt: Format | None = None, where: str = "") -> BlockArray:
        """Check every field against the format; return self or raise ValueError/TypeError.

        See :func:`validate_block_array`.  ``fmt``: the format that will read the array
        (its ``decode``); ``where``: a prefix for messages (e.g. "macsim: a: ").

        >>> import numpy as np, lowbit
        >>> enc = lowbit.get_format("mxfp4").encode(np.ones((4, 64), np.float32))
        >>> enc.validate() is enc
        True
        """
        return validate_block_array(self, fmt, where)

    @property
    def nbytes(self) -> int:
        """Bytes when every field is bit-packed (what storage really costs)."""
        f = self.format
        n = packed_nbytes(self.codes.size, f.element_bits)
        n += packed_nbytes(self.scales.size, f.scale_bits)
        if self.micro is not None:
            n += packed_nbytes(self.micro.size, f.micro_bits)
        if self.tensor_scale is not None:
            n += 4
        if self.outer_scale is not None:
            n += 4 * self.outer_scale.size
        return n

    def packed(self) -> dict[str, np.ndarray]:
        """The fields as dense byte arrays (see ``lowbit.formats.pack``)."""
        f = self.format
        out = {"codes": pack(self.codes, f.element_bits), "scales": pack(self.scales, f.scale_bits)}
        if self.micro is not None:
            out["micro"] = pack(self.micro, f.micro_bits)
        return out

    @classmethod
    def from_packed(
        cls, fmt, packed, shape, axis, tensor_scale=None, outer_scale=None
    ) -> BlockArray:
        """Rebuild from :meth:`packed` output, the original shape and axis."""
        moved = moved_shape(shape, axis)
        nb = -(-moved[-1] // fmt.block_size)
        lead = int(np.prod(moved[:-1], dtype=np.int64))
        codes = unpack(packed["codes"], fmt.element_bits, lead * moved[-1]).reshape(moved)
        scales = unpack(packed["scales"], fmt.scale_bits, lead * nb).reshape(moved[:-1] + (nb,))
        micro = None
        if "micro" in packed:
            ns = -(-moved[-1] // fmt.sub_block_size)
            micro = unpack(packed["micro"], fmt.micro_bits, lead * ns).reshape(moved[:-1] + (ns,))
        return cls(fmt, codes, scales, tuple(shape), axis, micro, tensor_scale, outer_scale)


def _int_field(p: str, what: str, a, want_shape: tuple, hi: int, lo: int = 0) -> None:
    """An integer array of shape ``want_shape`` with values in [lo, hi]."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu":
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{p}{what} must be an integer numpy array, got {got}")
    if a.shape != tuple(want_shape):
        raise ValueError(f"{p}{what} have shape {a.shape}; the codes need {tuple(want_shape)}")
    if a.size:
        amin, amax = int(a.min()), int(a.max())
        if amin < lo or amax > hi:
            raise ValueError(f"{p}{what} must lie in [{lo}, {hi}]; got values in [{amin}, {amax}]")


def _positive_floats(p: str, what: str, a) -> np.ndarray:
    v = np.asarray(a)
    if v.dtype.kind not in "fiu" or v.dtype.kind == "b":
        raise TypeError(f"{p}{what} must be a real number array, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not (np.isfinite(v).all() and (v > 0).all()):
        raise ValueError(f"{p}{what} must be finite and positive, got {v.ravel()[:4].tolist()}")
    return v


def validate_block_array(enc, fmt=None, where: str = ""):
    """Check a :class:`BlockArray` field by field against its format (audit F1, F9).

    The one check every block ``decode`` and ``lowbit.hwmodel.macsim.gemm`` run before
    reading the fields: ``shape`` and ``axis``; ``codes`` (integer, shape = ``shape`` with
    ``axis`` moved last, values in [0, 2^element_bits)); ``scales`` (integer, shape
    (..., n_blocks), values in the scale format's code range); ``micro`` (present exactly
    when the format has microexponents, shape (..., n_sub_blocks), values in
    [0, 2^micro_bits)); ``tensor_scale`` (NVFP4 only: finite and positive);
    ``outer_scale`` (VS-Quant only: finite, positive, one per channel or one per tensor).
    Raises TypeError for a wrong type or dtype, ValueError for a wrong shape or value.

    >>> import numpy as np, lowbit
    >>> from dataclasses import replace
    >>> enc = lowbit.get_format("mxfp4").encode(np.ones((4, 64), np.float32))
    >>> validate_block_array(replace(enc, scales=enc.scales[:1, :1]))
    Traceback (most recent call last):
    ...
    ValueError: mxfp4: scales have shape (1, 1); the codes need (4, 2)
    """
    if not isinstance(enc, BlockArray):
        name = getattr(fmt, "name", "block format")
        raise TypeError(
            f"{where}{name}: expected a BlockArray made by this format, got {type(enc).__name__}"
        )
    f = enc.format
    if fmt is not None and f != fmt:
        raise TypeError(
            f"{where}{fmt.name}: this BlockArray was made by {getattr(f, 'name', f)!r}; "
            f"decode it with that format"
        )
    if not getattr(f, "has_block_scales", False):
        raise TypeError(f"{where}BlockArray.format must be a block format, got {f!r}")
    p = f"{where}{f.name}: "
    shape = enc.shape
    if (
        not isinstance(shape, tuple)
        or not shape
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape)
        or min(shape) < 0
    ):
        raise TypeError(f"{p}shape must be a non-empty tuple of non-negative ints, got {shape!r}")
    nd = len(shape)
    ax = enc.axis
    if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
        raise TypeError(f"{p}axis must be an int, got {ax!r}")
    if not -nd <= ax < nd:
        raise ValueError(
            f"{p}axis={ax} is out of range for shape {shape}; legal range -{nd}..{nd - 1}"
        )
    moved = moved_shape(shape, ax)
    n = moved[-1]
    nb = -(-n // f.block_size)
    codes = enc.codes
    if not isinstance(codes, np.ndarray) or codes.dtype.kind not in "iu":
        got = codes.dtype if isinstance(codes, np.ndarray) else type(codes).__name__
        raise TypeError(f"{p}codes must be an integer numpy array, got {got}")
    if codes.shape != moved:
        raise ValueError(
            f"{p}codes have shape {codes.shape}; shape={shape} with axis={ax} needs {moved}"
        )
    _int_field(p, "codes", codes, moved, 2**f.element_bits - 1)
    _int_field(p, "scales", enc.scales, moved[:-1] + (nb,), f.scale_code_max)
    if f.micro_bits:
        if enc.micro is None:
            raise ValueError(
                f"{p}micro is missing ({f.name} has {f.micro_bits}-bit microexponents)"
            )
        ns = -(-n // f.sub_block_size)
        _int_field(p, "micro", enc.micro, moved[:-1] + (ns,), 2**f.micro_bits - 1)
    elif enc.micro is not None:
        raise ValueError(f"{p}micro must be None ({f.name} has no microexponents)")
    if f.tensor_scale_format is not None:
        ts = enc.tensor_scale
        if isinstance(ts, bool) or not isinstance(ts, (int, float, np.integer, np.floating)):
            raise TypeError(f"{p}tensor_scale must be a float, got {ts!r}")
        _positive_floats(p, "tensor_scale", ts)
    elif enc.tensor_scale is not None:
        raise ValueError(f"{p}tensor_scale must be None ({f.name} has no per-tensor scale)")
    if f.outer_scale_format is not None:
        if enc.outer_scale is None:
            raise ValueError(f"{p}outer_scale is missing ({f.name} stores γ there)")
        g = _positive_floats(p, "outer_scale", enc.outer_scale)
        want = f._outer_scale_size(shape, ax % nd)
        if g.size != want:
            raise ValueError(f"{p}outer_scale has {g.size} values; shape={shape} needs {want}")
    elif enc.outer_scale is not None:
        raise ValueError(f"{p}outer_scale must be None ({f.name} has no outer scale)")
    return enc
