"""Input sets shared by the format tests."""

from __future__ import annotations

import numpy as np


def dense_inputs(values: np.ndarray) -> np.ndarray:
    """Every value, every midpoint between neighbours, one float64 ulp either side of each,
    their negatives, ±0, ±Inf, NaN, values beyond the range and a few very small ones."""
    v = np.unique(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v)]
    pos = v[v >= 0]
    mids = (pos[:-1] + pos[1:]) / 2  # exact in float64 for every format here
    top = pos[-1]
    extra = [top * 1.0625, top * 1.5, top * 2, top * 1e6, 1e-300, 5e-324]
    pts = np.concatenate([pos, mids, extra])
    pts = np.concatenate([pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf)])
    pts = np.concatenate([pts, -pts, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    return pts
