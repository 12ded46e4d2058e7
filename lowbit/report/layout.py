"""Drawing helpers the studies share: a GridSpec with margins in inches, one colour per
format family and the marker cycle."""

from __future__ import annotations

from typing import Any

from .pdf import PAGE_H, PAGE_W

#: one colour per format family, so a format looks the same in every figure
FAMILY_COLOURS = {
    "int": "#1f77b4",
    "fp": "#d62728",
    "mx": "#2ca02c",
    "sharedexp": "#9467bd",
    "nvfp4": "#ff7f0e",
    "vsq": "#8c564b",
    "group": "#e377c2",
}
MARKERS = "osD^v<>phX*P8dH"


def family_of(name: str) -> str:
    """Short family of a registered format name, for colours and grouping.

    >>> [family_of(n) for n in ("mxfp4", "mx6", "nvfp4", "vsq_int4", "int4_g128", "fp8_e4m3fn")]
    ['mx', 'sharedexp', 'nvfp4', 'vsq', 'group', 'fp']
    """
    if name.startswith(("mxfp", "mxint")):
        return "mx"
    if name.startswith(("mx", "bfp")):
        return "sharedexp"
    if name == "nvfp4":
        return "nvfp4"
    if name.startswith("vsq"):
        return "vsq"
    if "_g" in name:
        return "group"
    if name.startswith(("fp", "bf", "e8")):
        return "fp"
    return "int"


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
