"""``build_report``: run a recipe's studies and write the PDF (and the CSVs behind it)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..fileio import atomic_dir
from .context import Context
from .pdf import MARGIN_BOTTOM, MARGIN_TOP, MARGIN_X, PAGE_H, PAGE_W, TEXT_W, Document, Repro, wrap
from .recipe import Recipe, load_recipe
from .studies import STUDIES


@dataclass
class ReportResult:
    path: Path
    pages: int
    figures: int
    tables: int
    seconds: float
    study_seconds: dict[str, float]
    data_files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    contents: list[tuple[str, int]] = field(default_factory=list)
    items: list[Repro] = field(
        default_factory=list
    )  # pdf.Repro per figure and table, with its page
    findings: list[tuple[str, str]] = field(default_factory=list)  # the title page's key results


def machine(host_name: bool = False) -> str:
    """One line about the computer the report ran on: processor, cores, operating system,
    and its network name only when ``host_name`` is true (a report is often shared, and the
    name of the machine that built it is nobody else's business).

    >>> "cores" in machine() and platform.node() not in machine().split(" · ")
    True
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    host = [platform.node()] if host_name else []
    return " · ".join([*host, cpu, f"{cores} cores", f"{platform.system()} {platform.release()}"])


@contextlib.contextmanager
def _new_data_dir(path: Path | None) -> Iterator[Path | None]:
    # the CSVs go to a new folder, swapped in for the old one only after the PDF is written:
    # a failed or interrupted build keeps the old PDF and its own CSVs, and CSVs of an
    # earlier recipe that this one does not write are gone afterwards
    if path is None:
        yield None
        return
    with atomic_dir(path) as tmp:
        yield tmp


def build_report(
    recipe: Recipe | str | Path | None = None,
    output: str | Path = "reports/out/format-comparison.pdf",
    progress: Callable[[str], None] | None = None,
    command: str | None = None,
    data_dir: str | Path | None | bool = True,
    host_name: bool = False,
) -> ReportResult:
    """Run ``recipe``'s studies and write the PDF to ``output``.

    ``progress(line)`` receives one line per study (the CLI prints them on stderr).
    ``data_dir``: where the CSV behind each table and figure goes (True: next to the PDF,
    in ``<stem>-data/``; None/False: nowhere). The folder is replaced as a whole, after
    the PDF: on success it holds exactly this build's CSVs; on failure or Ctrl-C the
    previous PDF and folder stay as they were. ``host_name``: print the computer's network
    name on the title page (default: left out).
    """
    from .. import __version__

    start = time.perf_counter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    output = Path(output)
    if data_dir is True:
        data_dir = output.parent / f"{output.stem}-data"
    data_dir = Path(data_dir) if data_dir else None
    with _new_data_dir(data_dir) as new_data:
        ctx, doc, timings, contents = _build(recipe, output, new_data, progress, command, host_name)
        problems = doc.save(output, metadata=_metadata(recipe, __version__))
    written = [data_dir / p.name for p in ctx.written] if data_dir else []
    return ReportResult(
        output,
        len(doc.pages),
        doc.n_figures,
        doc.n_tables,
        time.perf_counter() - start,
        timings,
        written,
        problems,
        ctx.notes,
        contents,
        list(doc.repro),
        list(ctx.findings),
    )


def _metadata(recipe: Recipe, version: str) -> dict[str, str]:
    return {
        "Title": recipe.title,
        "Subject": f"lowbit report from {recipe.source}",
        "Creator": f"lowbit {version}",
    }


def _build(
    recipe: Recipe,
    output: Path,
    data_dir: Path | None,
    progress: Callable[[str], None] | None,
    command: str | None,
    host_name: bool,
) -> tuple[Context, Document, dict[str, float], list[tuple[str, int]]]:
    """Run the studies into a Document (pages in memory) and a Context (CSVs in data_dir)."""
    import matplotlib
    import numpy as np

    from .. import __version__

    ctx = Context(recipe, data_dir)
    stem = output.stem
    doc = Document(recipe.title, footer=f"lowbit {__version__} · {stem} · {recipe.source}")
    command = command or f"lowbit report {recipe.source} -o {output}"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = (__version__, np.__version__, matplotlib.__version__)
    _title_page(doc, recipe, versions, now, command, machine(host_name))
    doc.new_page()  # the key results: filled in by _contents once every study has run
    timings: dict[str, float] = {}
    total = len(recipe.studies)
    for i, name in enumerate(recipe.studies, 1):
        title, study = STUDIES[name]
        t0 = time.perf_counter()
        if progress:
            progress(f"[{i}/{total}] {title} ...")
        doc.new_page()  # every study starts on a page of its own
        study.render(doc, ctx, study.compute(ctx))
        timings[name] = time.perf_counter() - t0
        if progress:
            progress(f"[{i}/{total}] {title}: {timings[name]:.1f} s")
    _repro_page(doc, recipe, command, now)
    contents = doc.sections[:-1]
    _contents(doc, contents, ctx.findings)
    return ctx, doc, timings, contents


def _title_page(
    doc: Document,
    recipe: Recipe,
    versions: tuple[str, str, str],
    now: str,
    command: str,
    machine_line: str,
) -> None:
    version, np_version, mpl_version = versions
    doc.new_page()
    doc.y = 1.1
    doc.text_lines(wrap(recipe.title, TEXT_W, 20, "bold"), 20, weight="bold")
    doc.y += 0.15
    doc.text_lines(wrap(recipe.subtitle, TEXT_W, 11), 11, color="0.25")
    doc.y += 0.3
    info = [
        ("recipe", recipe.source),
        ("studies", ", ".join(recipe.studies)),
        ("seed", str(recipe.seed)),
        ("lowbit", version),
        ("built", now),
        ("machine", machine_line),
        (
            "software",
            f"Python {platform.python_version()}, numpy {np_version}, matplotlib {mpl_version}",
        ),
        ("command", command),
    ]
    for key, val in info:
        lines = wrap(val, TEXT_W - 1.1, 9)
        doc._text(MARGIN_X, doc.y, key, 9, weight="bold")
        doc.text_lines(lines, 9, x=MARGIN_X + 1.1)
        doc.y += 0.04
    doc.y += 0.3
    doc.paragraph(
        "Every number in this report is computed by lowbit when the report is built, from the "
        "recipe above; nothing is copied from papers. The last page lists the calls and "
        "parameters behind each figure and table, and the CSV files next to the PDF hold the "
        "raw numbers."
    )
    doc.contents_y = doc.y + 0.2


def _contents(
    doc: Document, contents: list[tuple[str, int]], findings: list[tuple[str, str]]
) -> None:
    """The title page's contents list; page 2 holds one computed key result per study."""
    fig = doc.pages[0]
    y = doc.contents_y
    fig.text(MARGIN_X / PAGE_W, 1 - y / PAGE_H, "Contents", fontsize=11, weight="bold",
             va="top")  # fmt: skip
    y += 0.3
    entries = [(t, p) for t, p in contents] + [("Reproducing this report", len(doc.pages))]
    entries.insert(0, ("Key results", 2))
    for n, (title, page) in enumerate(entries, 1):
        numbered = 1 < n <= len(contents) + 1
        label = f"{n - 1}  {title}" if numbered else title
        fig.text(MARGIN_X / PAGE_W + 0.02, 1 - y / PAGE_H, label, fontsize=9.5, va="top")
        fig.text(1 - MARGIN_X / PAGE_W, 1 - y / PAGE_H, str(page), fontsize=9.5, va="top",
                 ha="right")  # fmt: skip
        y += 0.22
    if y > PAGE_H - MARGIN_BOTTOM:
        doc.problems.append(f"title page: the contents run {y - PAGE_H + MARGIN_BOTTOM:.2f} in "
                            "into the bottom margin")  # fmt: skip
    fig, y = doc.pages[1], MARGIN_TOP
    fig.text(MARGIN_X / PAGE_W, 1 - y / PAGE_H, "Key results", fontsize=13, weight="bold",
             va="top")  # fmt: skip
    y += 0.35
    if not findings:
        fig.text(MARGIN_X / PAGE_W, 1 - y / PAGE_H, "No study reported a key result.",
                 fontsize=9, va="top")  # fmt: skip
        return
    size = 9.0
    for study, text in findings:
        head = f"{study}: "
        lines = wrap(head + text, TEXT_W - 0.2, size)
        for i, line in enumerate(lines):
            x = MARGIN_X + 0.02 + (0 if i == 0 else 0.18)
            fig.text(x / PAGE_W, 1 - y / PAGE_H, line, fontsize=size, va="top", parse_math=False)
            y += size * 1.32 / 72
        y += 0.05
    if y > PAGE_H - MARGIN_BOTTOM:
        doc.problems.append(f"key results: they run {y - PAGE_H + MARGIN_BOTTOM:.2f} in "
                            "into the bottom margin")  # fmt: skip


def _repro_page(doc: Document, recipe: Recipe, command: str, now: str) -> None:
    doc.heading("Reproducing this report", new_page=True, numbered=False)
    doc.paragraph(
        f"The whole report: `{command}` (recipe {recipe.source}, seed {recipe.seed}, built "
        f"{now}). Each figure and table below was made by these lowbit calls with these "
        "parameters; every random draw is seeded from the recipe's seed."
    )
    for item in doc.repro:
        doc.ensure(0.5)
        doc.text_lines(wrap(f"{item.label}: {item.title}", TEXT_W, 8.5, "bold"), 8.5,
                       weight="bold")  # fmt: skip
        for line in item.lines:
            doc.text_lines(_wrap_mono(line, TEXT_W - 0.2, 7.0), 7.0, x=MARGIN_X + 0.2,
                           family="DejaVu Sans Mono")  # fmt: skip
        doc.y += 0.06


def _wrap_mono(text: str, width_in: float, size: float) -> list[str]:
    # DejaVu Sans Mono: every glyph is 0.602 em wide
    n = max(20, int(width_in * 72 / (0.602 * size)))
    out = []
    while len(text) > n:
        cut = text.rfind(" ", 0, n)
        cut = cut if cut > n // 2 else n
        out.append(text[:cut])
        text = "    " + text[cut:].lstrip()
    out.append(text)
    return out


def _print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def summary_markdown(recipe: Recipe | None = None) -> str:
    """The README's table of what a recipe's report contains, from the recipe itself.

    >>> print(summary_markdown().splitlines()[0])
    | § | study | what the page shows |
    """
    from ..formats import list_formats

    recipe = recipe or load_recipe(None)

    def names(xs: Iterable[str], limit: int = 6) -> str:
        xs = list(xs)
        return ", ".join(xs) if len(xs) <= limit else ", ".join(xs[:limit]) + f" … ({len(xs)})"

    at, fp, bl = recipe["atlas"], recipe["fp8_vs_int8"], recipe["block_formats"]
    en = recipe["energy"]
    rs, hw, pc, ac = (
        recipe["range_setting"],
        recipe["hardware"],
        recipe["accuracy_vs_cost"],
        recipe["accumulators"],
    )
    n_atlas = len(list_formats()) if at["formats"] == "all" else len(at["formats"])
    m, k, n = hw["gemm"]
    r, c = hw["array"]
    text = {
        "atlas": f"table of {n_atlas} formats (bits, bits/element, max, smallest normal and "
        f"subnormal, dynamic range in dB); values of {len(at['plot'])} formats on a log2 axis",
        "fp8_vs_int8": f"exact SQNR (dB) of {names(fp['formats'])} on "
        f"{', '.join(fp['distributions'])} against Lloyd–Max; whole-signal and body SQNR as an "
        f"outlier component grows (s = {fp['outlier_scales'][0]:g}…"
        f"{fp['outlier_scales'][-1]:g}); per-tensor vs per-channel scales ({fp['seeds']} seeds)",
        "block_formats": f"element QSNR of {', '.join(bl['tensors'])} {bl['shape'][0]}×"
        f"{bl['shape'][1]} tensors (blocks along K) and GEMM-output SQNR through the simulator "
        f"for {len(bl['formats'])} block formats and {len(bl['baselines'])} scalar baselines; "
        f"{bl['seeds']} seeds, 95 % intervals",
        "baselines": STUDIES["baselines"][1].page_summary(recipe),
        "design": STUDIES["design"][1].page_summary(recipe),
        "range_setting": f"exact MSE vs clip and each method's pick ({', '.join(rs['methods'])})"
        f" at {', '.join(map(str, rs['bits']))} bits on {rs['distribution']}",
        "hardware": f"gates per MAC by component for {len(hw['formats'])} formats on equal "
        f"{hw['lanes']}-lane units × {'/'.join(hw['accumulators'])} accumulators (infeasible ones "
        f"marked), depth and area at one clock, W4A16/W4A8/W8A8, multi-format units "
        f"({hw['cost_table']} cost table), the van Baalen Fig. 3 table; model beside synthesis "
        "(committed Yosys data, both cost tables)",
        "energy": f"pJ per MAC by component (multiplier … DRAM) of {len(en['formats'])} formats "
        f"in a {m}×{k}×{n} GEMM on a {r}×{c} array; sensitivity to node, memory, activity, K, "
        "array",
        "accuracy_vs_cost": f"GEMM-output SQNR through the simulator (mean ± CI over "
        f"{pc['seeds']} seeds) vs gates/MAC and pJ/MAC on equal {hw['lanes']}-lane units, "
        f"{len(pc['formats'])} formats + {len(pc['pairs'])} deployments × "
        f"{'/'.join(pc['accumulators'])}, on {', '.join(pc['tensors'])} activations; "
        "infeasible ones off the fronts, model error bands",
        "accumulators": "accumulator error (mean ± CI over "
        f"{ac['seeds']} seeds) and products partly/wholly lost vs K = "
        f"{min(ac['k'])}…{max(ac['k'])} for "
        + "; ".join(f"{p['x']} × {p['w']}" for p in ac["pairs"])
        + f" into {'/'.join(ac['accumulators'])} ({'/'.join(ac['orders'])}), fixed:"
        + "/".join(map(str, ac["fixed_widths"]))
        + " with F from the range, "
        + "/".join(ac["promote"])
        + f"→FP32 every {ac['interval']} (C simulator)",
        "real_network": f"{', '.join(recipe['real_network']['plans'])} (± "
        f"{recipe['real_network']['transform']}) on the {recipe['real_network']['model']} "
        "model: per-layer SQNR heat map; accuracy over seeds vs gates/MAC",
    }
    lines = ["| § | study | what the page shows |", "|---:|---|---|"]
    for i, study in enumerate(recipe.studies, 1):
        lines.append(f"| {i} | {STUDIES[study][0]} | {text[study]} |")
    lines.append(
        f"| | Reproducing | every figure's and table's lowbit calls and parameters; "
        f"seed {recipe.seed} |"
    )
    return "\n".join(lines) + "\n"
