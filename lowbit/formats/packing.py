"""Dense bit-packing of codes: ``pack(codes, bits)`` → bytes, ``unpack(buf, bits, count)``.

Layout: code i occupies bits [i·bits, (i+1)·bits) of a little-endian bit stream (bit 0 of
byte 0 first), so two 4-bit codes share a byte (low nibble first) and four 6-bit codes fill
three bytes.  The last byte is zero-padded.
"""

from __future__ import annotations

import numpy as np


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 32:
        raise ValueError(f"pack: bits={bits!r} is out of range; legal range is 1..32")
    return int(bits)


def packed_nbytes(count: int, bits: int) -> int:
    """Bytes that ``count`` codes of ``bits`` bits take when packed."""
    return (int(count) * _check_bits(bits) + 7) // 8


def pack(codes, bits: int) -> np.ndarray:
    """Pack unsigned integer codes of ``bits`` bits densely into a uint8 array.

    >>> pack([1, 2, 3], 4).tolist()   # 0x21, 0x03
    [33, 3]
    """
    bits = _check_bits(bits)
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise TypeError(f"pack: codes must be integers, got dtype {c.dtype}")
    c = c.reshape(-1).astype(np.uint64)
    if c.size and int(c.max()) >> bits:
        raise ValueError(f"pack: codes must lie in [0, 2^{bits})")
    if bits == 8:
        return c.astype(np.uint8)
    shifts = np.arange(bits, dtype=np.uint64)
    bitmat = ((c[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bitmat.reshape(-1), bitorder="little")


def unpack(buf, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack`: the first ``count`` codes, in the narrowest unsigned dtype.

    >>> unpack(pack([5, 0, 63, 17], 6), 6, 4).tolist()
    [5, 0, 63, 17]
    """
    from .base import code_dtype

    bits = _check_bits(bits)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise TypeError(f"unpack: count must be a non-negative int, got {count!r}")
    if count < 0:
        raise ValueError(f"unpack: count={count} must be non-negative")
    count = int(count)
    b = np.asarray(buf)
    if b.dtype != np.uint8:
        raise TypeError(f"unpack: expected a uint8 buffer, got dtype {b.dtype}")
    need = packed_nbytes(count, bits)
    if b.size < need:
        raise ValueError(f"unpack: {count} codes of {bits} bits need {need} bytes, got {b.size}")
    if bits == 8:
        return b.reshape(-1)[:count].copy()
    flat = np.unpackbits(b.reshape(-1)[:need], bitorder="little")[: count * bits]
    bitmat = flat.reshape(count, bits).astype(np.uint64)
    weights = np.uint64(1) << np.arange(bits, dtype=np.uint64)
    return (bitmat * weights).sum(axis=1).astype(code_dtype(bits))
