"""The fast Walsh–Hadamard transform (FWHT) in numpy: O(n log n) adds per vector of n.

Orders n = p·m (``lowbit.transformspec.hadamard_order``): H_n = H_p ⊗ H_m, with

- H_p Sylvester's, H_1 = [1], H_2p = [[H_p, H_p], [H_p, −H_p]] (natural order, the order of
  ``scipy.linalg.hadamard``), symmetric, applied by log2(p) butterfly stages: the stage of
  stride h pairs index i with i + h, the signal-flow graph of Fino & Algazi 1976 ("Unified
  Matrix Treatment of the Fast Walsh-Hadamard Transform", IEEE Trans. Computers C-25(11));
- H_m (m > 1) Paley's construction I for the prime q = m − 1 ≡ 3 (mod 4) (Paley 1933, "On
  orthogonal matrices", J. Math. Phys. 12): H_m = I + [[0, 1ᵀ], [−1, Q]], Q_ij = χ(j − i)
  the Legendre symbol mod q; not symmetric.  Applied as a dense m × m product on each run of
  m values (as QuaRot does for its non-power-of-two orders).

H Hᵀ = n·I; ``normalize=True`` divides by √n so the transform is orthonormal.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..transformspec import ORDERS, hadamard_order, is_paley_order


@lru_cache(maxsize=16)
def paley_matrix(m: int) -> np.ndarray:
    """Paley's construction I of a Hadamard matrix of order m (m − 1 a prime ≡ 3 mod 4).

    >>> h = paley_matrix(12); bool((h @ h.T == 12 * np.eye(12)).all())
    True
    """
    q = m - 1
    if not is_paley_order(m):
        raise ValueError(f"paley_matrix: m − 1 = {q} must be a prime ≡ 3 (mod 4)")
    chi = np.array([0] + [1 if pow(a, (q - 1) // 2, q) == 1 else -1 for a in range(1, q)])
    s = np.zeros((m, m), dtype=np.int64)
    s[0, 1:], s[1:, 0] = 1, -1
    s[1:, 1:] = chi[(np.arange(q)[None, :] - np.arange(q)[:, None]) % q]  # Q_ij = χ(j − i)
    h = np.eye(m, dtype=np.int64) + s
    h.flags.writeable = False
    return h


def fwht(
    x: np.ndarray,
    axis: int = -1,
    block: int | None = None,
    normalize: bool = True,
    transpose: bool = False,
):
    """x multiplied by H_b (``block`` = b, default the whole axis) along ``axis``, blockwise:
    each run of b consecutive values along the axis is one vector.  Returns float64.

    With ``normalize`` the result is x·H_b/√b (orthonormal); without it x·H_b (integers stay
    integers, the hardware's unscaled butterflies).  ``transpose``: x·H_bᵀ instead (the
    inverse of the orthonormal transform; the same for a power-of-two b).

    >>> fwht(np.array([1.0, 0.0, 0.0, 0.0]), normalize=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> fwht(np.array([1.0, 2.0, 3.0, 4.0]), block=2).round(4).tolist()
    [2.1213, -0.7071, 4.9497, -0.7071]
    """
    a = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    n = a.shape[-1]
    b = n if block is None else block
    order = None if isinstance(b, bool) or not isinstance(b, (int, np.integer)) else int(b)
    factors = None if order is None else hadamard_order(order)
    if factors is None:
        raise ValueError(f"fwht: no Hadamard matrix of order {b!r}; {ORDERS}")
    if n % b:
        raise ValueError(f"fwht: axis of length {n} is not a whole number of blocks of {b}")
    p, m = factors
    lead = a.shape[:-1]
    v = np.ascontiguousarray(a).reshape(-1, b)  # may be the caller's array: only read
    if m > 1:  # H_p ⊗ H_m: the Paley factor on each run of m values, then the butterflies
        hm = paley_matrix(m).astype(np.float64)
        v = (v.reshape(-1, m) @ (hm.T if transpose else hm)).reshape(-1, b)
    bufs = [np.empty_like(v), np.empty_like(v) if p > 2 else None]  # stages ping-pong
    h, i = m, 0
    while h < b:
        # one stage: the pairs (i, i + h) with bit log2(h / m) of i / m clear, all at once
        src = v.reshape(v.shape[0], b // (2 * h), 2, h)
        dst = bufs[i].reshape(src.shape)
        np.add(src[:, :, 0], src[:, :, 1], out=dst[:, :, 0])
        np.subtract(src[:, :, 0], src[:, :, 1], out=dst[:, :, 1])
        v, i, h = bufs[i], 1 - i, 2 * h
    v = v / np.sqrt(b) if normalize else (v.copy() if b == 1 else v)
    return np.moveaxis(v.reshape(*lead, n), -1, axis)
