"""Reports: the PDF report of a recipe, the format reference table and the basic accuracy
study as Markdown and CSV.

``build_report(recipe, output)`` (``lowbit report``) runs a recipe's studies and writes the
PDF (``lowbit.report.build``; recipes: ``lowbit.report.recipe``; the studies, each a
``compute`` and a ``render``: ``lowbit.report.studies``; page layout: ``lowbit.report.pdf``).
Those names load on first use, so that ``import lowbit.report`` (done by every ``lowbit``
command) does not pay for matplotlib.

``write_basic_report(out_dir)`` (``lowbit report --tables``): ``lowbit.report.basic``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .basic import (
    AccuracyResult,
    absmax_accuracy,
    accuracy_formats,
    format_accuracy,
    write_basic_report,
)
from .tables import (
    code_table,
    exact_number,
    format_number,
    format_record,
    format_table_markdown,
    format_table_text,
    specials_summary,
    write_format_csv,
)

_LAZY = {
    "build_report": "build",
    "summary_markdown": "build",
    "ReportResult": "build",
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "parse_recipe": "recipe",
    "DEFAULTS": "recipe",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        if name != "DEFAULTS":  # DEFAULTS is a fresh copy of the packaged recipe each time
            globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AccuracyResult",
    "Recipe",
    "ReportResult",
    "build_report",
    "load_recipe",
    "parse_recipe",
    "summary_markdown",
    "absmax_accuracy",
    "accuracy_formats",
    "code_table",
    "exact_number",
    "format_accuracy",
    "format_number",
    "format_record",
    "format_table_markdown",
    "format_table_text",
    "specials_summary",
    "write_basic_report",
    "write_format_csv",
]
