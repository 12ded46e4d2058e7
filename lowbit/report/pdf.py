"""A small report builder on matplotlib's PdfPages: A4 pages filled top to bottom.

A :class:`Document` holds pages (matplotlib Figures of A4 size).  Blocks are placed at a
cursor that moves down the page: ``heading``, ``paragraph``, ``figure`` (a drawing callback
gets a rectangle in inches), ``table`` (a pandas DataFrame of strings, booktabs rules,
split over pages when long).  Figures and tables are numbered; each records how to
reproduce it.  ``save`` adds page footers, checks that no text leaves its page (matplotlib's
own renderer measures every text), and writes the PDF.  No LaTeX: DejaVu Sans, TrueType
fonts embedded (so ``pdftotext`` reads the text back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ..fileio import open_output  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

PAGE_W, PAGE_H = 8.27, 11.69  # A4, inches
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 0.85, 0.8, 0.85
TEXT_W = PAGE_W - 2 * MARGIN_X
BODY_PT, CAPTION_PT, TABLE_PT, MIN_TABLE_PT = 9.0, 8.0, 7.5, 5.5
LINE = 1.32  # line height / font size
PT = 1 / 72  # inches per point

RC = {
    "pdf.fonttype": 42,  # TrueType: text stays text (pdftotext, search, copy)
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 6.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "lines.markersize": 4.0,
    "savefig.dpi": 150,
    # a Document keeps every page (a Figure) open until save(): no "More than 20 figures" warning
    "figure.max_open_warning": 0,
}

_MEASURE = RendererAgg(100, 100, 72)  # 72 dpi: widths come out in points


def text_width_pt(text: str, size: float, weight: str = "normal") -> float:
    """Width of one line of text in points (DejaVu Sans)."""
    prop = FontProperties(family="DejaVu Sans", size=size, weight=weight)
    w, _, _ = _MEASURE.get_text_width_height_descent(text, prop, ismath=False)
    return float(w)


def wrap(text: str, width_in: float, size: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap of ``text`` to ``width_in`` inches, measuring each line."""
    lines: list[str] = []
    for para in text.split("\n"):
        words, cur = para.split(), ""
        for word in words:
            trial = f"{cur} {word}" if cur else word
            if cur and text_width_pt(trial, size, weight) * PT > width_in:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        lines.append(cur)
    return lines


@dataclass
class Repro:
    """How to reproduce one figure or table: its label and the calls that made it."""

    label: str
    title: str
    lines: list[str]
    page: int = 0  # 1-based page it starts on
    rect: tuple | None = None  # a figure's drawing area (left, bottom, width, height), fractions


@dataclass
class Document:
    """A report under construction; ``save(path)`` writes it."""

    title: str
    footer: str = ""
    pages: list = field(default_factory=list)
    repro: list[Repro] = field(default_factory=list)
    n_figures: int = 0
    n_tables: int = 0
    y: float = 0.0  # cursor: inches from the top of the current page
    _section: str = ""
    problems: list[str] = field(default_factory=list)
    sections: list[tuple[str, int]] = field(default_factory=list)  # (title, 1-based page)
    contents_y: float = 0.0

    def __post_init__(self) -> None:
        plt.rcParams.update(RC)

    # -- pages ------------------------------------------------------------------------
    @property
    def page(self) -> Figure:
        if not self.pages:
            self.new_page()
        return self.pages[-1]

    def new_page(self) -> Figure:
        fig = plt.figure(figsize=(PAGE_W, PAGE_H))
        self.pages.append(fig)
        self.y = MARGIN_TOP
        return fig

    def room(self) -> float:
        """Inches left on the current page."""
        return PAGE_H - MARGIN_BOTTOM - self.y if self.pages else 0.0

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` inches fit on this one."""
        if not self.pages or height > self.room():
            self.new_page()

    def _text(self, x_in: float, y_in: float, s: str, size: float, **kw: Any) -> Text:
        # y_in: inches from the top to the text's top edge
        return self.page.text(
            x_in / PAGE_W,
            1 - y_in / PAGE_H,
            s,
            fontsize=size,
            va="top",
            parse_math=False,
            **kw,
        )

    # -- blocks -----------------------------------------------------------------------
    def text_lines(self, lines: Sequence[str], size: float, x: float = MARGIN_X, **kw) -> None:
        step = size * LINE * PT
        for line in lines:
            self.ensure(step)
            self._text(x, self.y, line, size, **kw)
            self.y += step

    def heading(
        self, text: str, level: int = 1, new_page: bool = False, numbered: bool = True
    ) -> None:
        """A section heading; level-1 headings are numbered 1, 2, ... unless ``numbered``
        is False, and kept with at least 1.5 inches of what follows."""
        size = {1: 14.0, 2: 11.0}.get(level, 9.5)
        if new_page:
            self.new_page()
        self.ensure(size * LINE * PT + 1.5)
        if self.y > MARGIN_TOP + 0.01:
            self.y += 0.12
        if level == 1:
            self._section = text
            self.sections.append((text, len(self.pages)))
            if numbered:
                text = f"{len(self.sections)}  {text}"
        self.text_lines(wrap(text, TEXT_W, size, "bold"), size, weight="bold")
        self.y += 0.06

    def paragraph(self, text: str, size: float = BODY_PT, indent: float = 0.0) -> None:
        lines = wrap(text, TEXT_W - indent, size)
        self.text_lines(lines, size, x=MARGIN_X + indent)
        self.y += 0.08

    def bullets(self, items: Sequence[str], size: float = BODY_PT) -> None:
        for item in items:
            lines = wrap(item, TEXT_W - 0.18, size)
            self.ensure(size * LINE * PT)
            self._text(MARGIN_X + 0.02, self.y, "•", size)
            self.text_lines(lines, size, x=MARGIN_X + 0.18)
        self.y += 0.06

    def _caption(self, kind: str, number: int, caption: str) -> None:
        head = f"{kind} {number}. "
        lines = wrap(head + caption, TEXT_W, CAPTION_PT)
        step = CAPTION_PT * LINE * PT
        for i, line in enumerate(lines):
            self.ensure(step)
            if i == 0:
                t = self._text(MARGIN_X, self.y, head, CAPTION_PT, weight="bold")
                w = text_width_pt(head, CAPTION_PT, "bold") * PT
                self._text(MARGIN_X + w, self.y, line[len(head) :], CAPTION_PT)
                del t
            else:
                self._text(MARGIN_X, self.y, line, CAPTION_PT)
            self.y += step

    def caption_height(self, caption: str) -> float:
        return len(wrap("Figure 99. " + caption, TEXT_W, CAPTION_PT)) * CAPTION_PT * LINE * PT

    def figure(
        self,
        draw: Callable,
        height: float,
        caption: str,
        title: str,
        repro: Sequence[str],
    ) -> str:
        """Draw a figure ``height`` inches tall across the text width; returns its label.

        ``draw(fig, rect)`` adds axes inside ``rect`` = (left, bottom, width, height) in
        figure fractions, leaving room for its own tick and axis labels inside the rect.
        """
        need = height + 0.08 + self.caption_height(caption)
        self.ensure(need)
        top = self.y
        rect = (
            MARGIN_X / PAGE_W,
            1 - (top + height) / PAGE_H,
            TEXT_W / PAGE_W,
            height / PAGE_H,
        )
        before = set(self.page.axes)
        page = len(self.pages)
        draw(self.page, rect)
        self._check_inside([a for a in self.page.axes if a not in before], rect, title)
        self.y = top + height + 0.08
        self.n_figures += 1
        label = f"Figure {self.n_figures}"
        self._caption("Figure", self.n_figures, caption)
        self.y += 0.16
        self.repro.append(Repro(label, title, list(repro), page, rect))
        return label

    def _check_inside(self, axes: Sequence[Axes], rect: Sequence[float], title: str) -> None:
        # every axis, tick label, legend and title must stay inside the figure's rectangle,
        # or it would run into the caption or the text above
        self.page.draw_without_rendering()
        renderer = self.page.canvas.get_renderer()
        fw, fh = self.page.bbox.width, self.page.bbox.height
        x0, y0 = rect[0] * fw - 2, rect[1] * fh - 2
        x1, y1 = (rect[0] + rect[2]) * fw + 2, (rect[1] + rect[3]) * fh + 2
        for ax in axes:
            bb = ax.get_tightbbox(renderer)
            if bb is None:
                continue
            if bb.x0 < x0 or bb.y0 < y0 or bb.x1 > x1 or bb.y1 > y1:
                self.problems.append(
                    f"figure {title!r}: axes {ax.get_title() or ax.get_label()!r} spill out "
                    f"of their rectangle by {max(x0 - bb.x0, y0 - bb.y0, bb.x1 - x1, bb.y1 - y1):.0f} px"
                )

    def table(
        self,
        df,
        caption: str,
        title: str,
        repro: Sequence[str],
        right: Sequence[bool] | None = None,
        size: float = TABLE_PT,
        notes: str = "",
    ) -> str:
        """A table of strings (a DataFrame whose cells are already formatted), caption above.

        Numbers are right-aligned (``right``; default: columns whose cells look numeric).
        The font shrinks (down to 5.5 pt) until the table fits the text width; long tables
        continue on the next page with their header repeated.
        """
        headers = [str(c) for c in df.columns]
        rows = [[str(v) for v in r] for r in df.itertuples(index=False)]
        if right is None:
            right = [_numeric_column([r[i] for r in rows]) for i in range(len(headers))]
        gap = 10.0  # points between columns
        while True:
            widths = [
                max(
                    [text_width_pt(line, size, "bold") for line in h.split("\n")]
                    + [text_width_pt(r[i], size) for r in rows]
                )
                for i, h in enumerate(headers)
            ]
            total = (sum(widths) + gap * (len(widths) - 1)) * PT
            if total <= TEXT_W or size <= MIN_TABLE_PT:
                break
            size -= 0.25
        if total > TEXT_W:
            raise ValueError(f"table {title!r} is {total:.2f} in wide; the page has {TEXT_W}")
        step = size * 1.45 * PT
        self.n_tables += 1
        number = self.n_tables
        label = f"Table {number}"
        self.ensure(self.caption_height(caption) + 4 * step + 0.2)
        self._caption("Table", number, caption)
        page = len(self.pages)
        self.y += 0.04
        x0 = MARGIN_X + (TEXT_W - total) / 2 if total < TEXT_W * 0.7 else MARGIN_X
        xs, x = [], x0
        for w in widths:
            xs.append(x)
            x += (w + gap) * PT
        i = 0
        first = True
        while i < len(rows) or first:
            if not first:
                self.new_page()
                self._text(MARGIN_X, self.y, f"{label} (continued)", CAPTION_PT, weight="bold")
                self.y += CAPTION_PT * LINE * PT + 0.04
            first = False
            fit = max(1, int((self.room() - 2.5 * step - 0.1) / step))
            chunk = rows[i : i + fit]
            self._rule(x0, total, 0.8)
            self.y += 0.03
            head_lines = max(h.count("\n") + 1 for h in headers)
            for k in range(head_lines):
                cells = [h.split("\n") for h in headers]
                # bottom-align multi-line headers
                cells = [
                    c[k - (head_lines - len(c))] if k >= head_lines - len(c) else "" for c in cells
                ]
                self._row(cells, xs, widths, right, size, "bold")
                self.y += step
            self._rule(x0, total, 0.5)
            self.y += 0.03
            for r in chunk:
                self._row(r, xs, widths, right, size, "normal")
                self.y += step
            self._rule(x0, total, 0.8)
            i += len(chunk)
            if i >= len(rows):
                break
        self.y += 0.08
        if notes:
            self.paragraph(notes, size=CAPTION_PT - 0.5)
        self.y += 0.1
        self.repro.append(Repro(label, title, list(repro), page))
        return label

    def _row(
        self,
        cells: Sequence[str],
        xs: Sequence[float],
        widths: Sequence[float],
        right: Sequence[bool],
        size: float,
        weight: str,
    ) -> None:
        for c, x, w, r in zip(cells, xs, widths, right, strict=True):
            if r:
                self._text(x + w * PT, self.y, c, size, ha="right", weight=weight)
            else:
                self._text(x, self.y, c, size, weight=weight)

    def _rule(self, x0: float, width: float, lw: float) -> None:
        y = 1 - self.y / PAGE_H
        self.page.add_artist(
            Line2D(
                [x0 / PAGE_W, (x0 + width) / PAGE_W],
                [y, y],
                transform=self.page.transFigure,
                color="black",
                linewidth=lw,
            )
        )

    # -- output -----------------------------------------------------------------------
    def finish(self) -> None:
        """Footers with page numbers (the count is known only now)."""
        n = len(self.pages)
        for i, fig in enumerate(self.pages, 1):
            if i == 1:
                continue
            fig.text(
                MARGIN_X / PAGE_W,
                0.45 / PAGE_H,
                self.footer,
                fontsize=7,
                color="0.35",
                parse_math=False,
            )
            fig.text(
                1 - MARGIN_X / PAGE_W,
                0.45 / PAGE_H,
                f"{i} / {n}",
                fontsize=7,
                color="0.35",
                ha="right",
                parse_math=False,
            )

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> list[str]:
        """Write the PDF; returns the overflow problems found (empty when every text fits)."""
        self.finish()
        problems = list(self.problems)
        for i, fig in enumerate(self.pages, 1):
            problems += [f"page {i}: {p}" for p in overflow(fig)]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary name, renamed when complete: a failed write keeps the previous PDF
        with open_output(path, "wb") as fh, PdfPages(fh, metadata=metadata or {}) as pdf:
            for fig in self.pages:
                pdf.savefig(fig)
        for fig in self.pages:
            plt.close(fig)
        return problems


def _numeric_column(cells: Sequence[str]) -> bool:
    def numeric(s: str) -> bool:
        s = s.strip().replace(",", "").replace("−", "-").rstrip("%×")
        if s in ("", "—", "-", "n/a", "∞", "-∞"):
            return True
        if s.startswith("2^"):
            s = s[2:]
        try:
            float(s)
            return True
        except ValueError:
            return False

    return all(numeric(c) for c in cells)


def overflow(fig: Figure, pad_in: float = 0.2) -> list[str]:
    """Every visible text of ``fig`` whose box leaves the page (less ``pad_in`` inches).

    Uses the figure's own renderer, so the boxes are those the PDF will have.
    """
    fig.draw_without_rendering()  # lays out legends and ticks as savefig will
    renderer = fig.canvas.get_renderer()
    w, h = fig.bbox.width, fig.bbox.height
    pad = pad_in * fig.dpi
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        bb = t.get_window_extent(renderer)
        if bb.x0 < pad - 1 or bb.y0 < pad - 1 or bb.x1 > w - pad + 1 or bb.y1 > h - pad + 1:
            out.append(f"text {t.get_text()[:40]!r} at {tuple(round(v) for v in bb.extents)}")
    return out
