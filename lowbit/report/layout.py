"""Drawing helpers the studies share: a GridSpec with margins in inches, one colour per
format family and the marker cycle."""

from __future__ import annotations

from typing import Any

from ..formats import get_format
from .pdf import PAGE_H, PAGE_W

#: one colour per format family (``Format.family``), so a format looks the same in every
#: figure; integers and binary share one, minifloats and E8M0 another
FAMILY_COLOURS = {
    "integer": "#1f77b4",
    "binary": "#1f77b4",
    "minifloat": "#d62728",
    "exponent": "#d62728",
    "mx": "#2ca02c",
    "shared_exponent": "#9467bd",
    "nvfp4": "#ff7f0e",
    "vs_quant": "#8c564b",
    "group_scaled": "#e377c2",
}
#: how a legend names each family
FAMILY_TEXT = {
    "integer": "integer",
    "binary": "binary",
    "minifloat": "minifloat",
    "exponent": "E8M0",
    "mx": "OCP MX",
    "shared_exponent": "MX9/6/4, BFP",
    "nvfp4": "NVFP4",
    "vs_quant": "VS-Quant",
    "group_scaled": "grouped INT",
}
MARKERS = "osD^v<>phX*P8dH"


def family_of(name: str) -> str:
    """The family (``Format.family``) of a registered format name, for colours and grouping.

    >>> [family_of(n) for n in ("mxfp4", "mx6", "nvfp4", "vsq_int4", "int4_g128", "fp8_e4m3fn")]
    ['mx', 'shared_exponent', 'nvfp4', 'vs_quant', 'group_scaled', 'minifloat']
    """
    return get_format(name).family


def grid(
    fig: Any,
    rect: tuple[float, float, float, float],
    nrows: int,
    ncols: int,
    left: float = 0.55,
    right: float = 0.1,
    top: float = 0.25,
    bottom: float = 0.5,
    **kw: Any,
) -> Any:
    """A GridSpec inside ``rect`` (figure fractions) with margins in inches for labels.

    >>> import matplotlib.figure
    >>> gs = grid(matplotlib.figure.Figure(), (0.0, 0.0, 1.0, 0.5), 1, 2)
    >>> gs.get_geometry()
    (1, 2)
    """
    x, y, w, h = rect
    return fig.add_gridspec(
        nrows,
        ncols,
        left=x + left / PAGE_W,
        right=x + w - right / PAGE_W,
        bottom=y + bottom / PAGE_H,
        top=y + h - top / PAGE_H,
        **kw,
    )


def stacked_barh(ax: Any, y, parts: list[Any], colours: list[str], ok, height: float = 0.75):
    """Horizontal bars at ``y`` stacked from ``parts`` (one array per component, drawn left
    to right in ``colours``); rows where ``ok`` is False (infeasible) are left empty.
    Returns the bars' total lengths.

    >>> import matplotlib.pyplot as plt, numpy as np
    >>> ax = plt.figure().add_subplot()
    >>> stacked_barh(ax, [1, 0], [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
    ...              ["C0", "C1"], np.array([True, False])).tolist()
    [4.0, 0.0]
    """
    import numpy as np

    left = np.zeros(len(y))
    for vals, colour in zip(parts, colours, strict=True):
        vals = np.where(ok, np.asarray(vals, dtype=float), 0.0)
        ax.barh(y, vals, left=left, color=colour, height=height)
        left += vals
    return left
