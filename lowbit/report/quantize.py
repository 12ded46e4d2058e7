"""How the report quantizes a tensor: formats with scales of their own as they are, scalar
formats through one per-tensor absmax scale s = max|x| / fmt.max.

The report-wide rule lives here and nowhere else in ``lowbit.report``: :func:`absmax_scale`
(the per-tensor scale every study and table uses); which formats set their own scales is
the format's own fact, ``Format.has_block_scales``.

Why not ``lowbit.formats.Quantizer(fmt, "per_tensor")``: it rounds its scale to FP32,
divides in float64 and returns x's dtype (float32), where the report divides in x's dtype
and scales back in float64.  On the smoke recipe's tensors the two differ in most values
(relative differences up to 7e-8) for int8 and fp8_e4m3fn alike, so the report keeps its
own rule and its numbers stay as they were.
"""

from __future__ import annotations

import numpy as np

from ..formats import Format, get_format


def absmax_scale(x: np.ndarray, fmt: Format | str) -> float:
    """The per-tensor absmax scale s = max|x| / fmt.max (a float64), so that x / s fits fmt.

    Callers divide x by s in x's own dtype, round in the format (``overflow="saturate"``:
    x / s can round a hair above fmt.max) and multiply back.

    >>> absmax_scale(np.array([0.5, -2.54]), "int8")
    0.02
    """
    return float(np.max(np.abs(x))) / float(get_format(fmt).max)


def quantize_tensor(fmt_name: str, x: np.ndarray) -> np.ndarray:
    """Quantize a 2-D tensor to float64: block and two-level formats with their own scales,
    blocks along the last axis; scalar formats as s · Q(x / s), s = :func:`absmax_scale`.

    >>> quantize_tensor("int8", np.array([[0.5, -2.54]], dtype=np.float32)).round(6).tolist()
    [[0.5, -2.54]]
    """
    fmt = get_format(fmt_name)
    if fmt.has_block_scales:
        return np.asarray(fmt.quantize(x), dtype=np.float64)
    s = absmax_scale(x, fmt)
    q = fmt.quantize((x / s).astype(np.float32), overflow="saturate")
    return np.asarray(q, dtype=np.float64) * s
