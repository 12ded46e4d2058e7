"""``lowbit formats``: the table of every registered format (text, Markdown or CSV)."""

from __future__ import annotations

import argparse
import sys

from ..fileio import STDOUT


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``formats`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser("formats", help="table of every registered format")
    p.add_argument("--markdown", action="store_true", help="print a GitHub Markdown page")
    p.add_argument(
        "--csv",
        metavar="PATH",
        help="also write the table as CSV to PATH ('-': only the CSV, on stdout)",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the format table; with ``--csv`` write it as CSV too; 0 on success.

    >>> import argparse
    >>> run(argparse.Namespace(csv=None, markdown=True))  # doctest: +ELLIPSIS
    # ...
    0
    """
    from ..report import format_table_markdown, format_table_text, write_format_csv

    if args.csv == STDOUT:  # the CSV alone: a table around it would not parse
        write_format_csv(STDOUT)
        return 0
    if args.csv:
        path = write_format_csv(args.csv)
        print(f"wrote {path}", file=sys.stderr)
    print(format_table_markdown() if args.markdown else format_table_text(), end="")
    return 0
