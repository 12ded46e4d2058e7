"""The fast Walsh–Hadamard transform (FWHT) in numpy: O(n log n) adds per vector of n.

The matrix is Sylvester's, H_1 = [1], H_2n = [[H_n, H_n], [H_n, −H_n]] (natural order, the
order of ``scipy.linalg.hadamard``), symmetric with H Hᵀ = n·I; ``normalize=True`` divides
by √n so the transform is orthonormal.  Stage h of log2(n) butterflies pairs index i with
i + h for i's bit log2(h) clear, the signal-flow graph of Fino & Algazi 1976 ("Unified Matrix
Treatment of the Fast Walsh-Hadamard Transform", IEEE Trans. Computers C-25(11)).
"""

from __future__ import annotations

import numpy as np

from ..transformspec import is_power_of_two


def fwht(x: np.ndarray, axis: int = -1, block: int | None = None, normalize: bool = True):
    """x multiplied by H_b (``block`` = b, default the whole axis) along ``axis``, blockwise:
    each run of b consecutive values along the axis is one vector.  Returns float64.

    With ``normalize`` the result is x·H_b/√b (orthonormal: the transform is its own
    inverse); without it x·H_b (integers stay integers, the hardware's unscaled butterflies).

    >>> fwht(np.array([1.0, 0.0, 0.0, 0.0]), normalize=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> fwht(np.array([1.0, 2.0, 3.0, 4.0]), block=2).round(4).tolist()
    [2.1213, -0.7071, 4.9497, -0.7071]
    """
    a = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    n = a.shape[-1]
    b = n if block is None else block
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not is_power_of_two(int(b)):
        raise ValueError(f"fwht: the block must be a power of two >= 1, got {b}")
    if n % b:
        raise ValueError(f"fwht: axis of length {n} is not a whole number of blocks of {b}")
    lead = a.shape[:-1]
    v = np.ascontiguousarray(a).reshape(-1, b)  # may be the caller's array: only read
    bufs = [np.empty_like(v), np.empty_like(v) if b > 2 else None]  # stages ping-pong
    h, i = 1, 0
    while h < b:
        # one stage: the pairs (i, i + h) with bit log2(h) of i clear, all at once
        src = v.reshape(v.shape[0], b // (2 * h), 2, h)
        dst = bufs[i].reshape(src.shape)
        np.add(src[:, :, 0], src[:, :, 1], out=dst[:, :, 0])
        np.subtract(src[:, :, 0], src[:, :, 1], out=dst[:, :, 1])
        v, i, h = bufs[i], 1 - i, 2 * h
    v = v / np.sqrt(b) if normalize else (v.copy() if b == 1 else v)
    return np.moveaxis(v.reshape(*lead, n), -1, axis)
