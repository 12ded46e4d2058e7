"""Tables about formats: the format reference (text, Markdown, CSV) and code → value tables.

Every number comes from the format objects themselves (``lowbit.get_format``); nothing here
re-derives an exponent width or a bias.  ``docs/formats.md`` is ``format_table_markdown()``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from ..fileio import open_output
from ..formats import (
    ExpFormat,
    FloatFormat,
    Format,
    IntFormat,
    get_format,
    list_formats,
)

#: (header, CSV/dict key, right-aligned?) of the format reference table, in column order.
FORMAT_COLUMNS = (
    ("name", "name", False),
    ("family", "family", False),
    ("bits", "bits", True),
    ("min", "min", True),
    ("max", "max", True),
    ("smallest normal", "smallest_normal", True),
    ("smallest subnormal", "smallest_subnormal", True),
    ("range (dB)", "dynamic_range_db", True),
    ("specials", "specials", False),
    ("default overflow", "default_overflow", False),
)

MARKDOWN_COMMAND = "lowbit formats --markdown > docs/formats.md"


# -- single facts ------------------------------------------------------------------------
def family(fmt: Format) -> str:
    """Short family name: minifloat, integer, exponent or binary."""
    return fmt.family


def specials_summary(fmt: Format) -> str:
    """Which codes are not finite numbers, in one phrase.

    >>> from lowbit import get_format
    >>> [specials_summary(get_format(n)) for n in ("fp8_e5m2", "fp8_e4m3fn", "fp8_e4m3fnuz")]
    ['Inf, NaN', 'NaN (S.1111.111)', 'NaN = -0 code']
    """
    if isinstance(fmt, FloatFormat):
        if fmt.specials == "ieee":
            return "Inf, NaN"
        if fmt.specials == "fn":
            # OCP OFP8 §5.3: only the all-ones exponent *and* mantissa pattern is NaN
            pattern = "S." + "1" * fmt.exp_bits + ("." + "1" * fmt.man_bits if fmt.man_bits else "")
            return f"NaN ({pattern})"
        if fmt.specials == "fnuz":
            return "NaN = -0 code"
        return "none"
    if isinstance(fmt, ExpFormat):
        return f"NaN ({'1' * fmt.bits})"
    return "—"


def default_overflow(fmt: Format) -> str:
    """What ``encode`` does with |x| > max when no ``overflow`` is passed."""
    policy = getattr(fmt, "default_overflow", None)
    if policy is not None:
        return policy
    # IntFormat, BinaryFormat and ExpFormat have no attribute; their encode() defaults are
    # saturation (integers, ±1) and NaN (E8M0, as ml_dtypes' float8_e8m0fnu).
    return "nan" if isinstance(fmt, ExpFormat) else "saturate"


def format_number(v: float) -> str:
    """Short display of a format constant: integers as integers, powers of two as 2^k.

    >>> [format_number(v) for v in (448.0, 0.001953125, 3.4028234663852886e38, -0.0)]
    ['448', '2^-9', '3.40282e+38', '-0']
    """
    v = float(v)
    if not math.isfinite(v) or v == 0:
        return exact_number(v)
    if v.is_integer() and abs(v) < 2.0**53:
        return str(int(v))
    mant, exp = math.frexp(abs(v))
    if mant == 0.5:
        return f"{'-' if v < 0 else ''}2^{exp - 1}"
    return f"{v:.6g}"


def exact_number(v: float) -> str:
    """Exact, round-trippable display: NaN, Inf, -Inf, -0, integers without '.0', else repr.

    >>> [exact_number(v) for v in (float("nan"), float("-inf"), -0.0, 448.0, 0.3125)]
    ['NaN', '-Inf', '-0', '448', '0.3125']
    """
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    if v.is_integer() and abs(v) < 2.0**53:
        return str(int(v))
    return repr(v)


# -- the format reference table -----------------------------------------------------------
def format_record(fmt: Format | str) -> dict:
    """One row of the reference table as raw values (the CSV row)."""
    fmt = get_format(fmt)
    return {
        "name": fmt.name,
        "family": family(fmt),
        "bits": int(fmt.bits),
        "min": float(fmt.min),
        "max": float(fmt.max),
        "smallest_normal": float(fmt.smallest_normal),
        "smallest_subnormal": float(fmt.smallest_subnormal),
        "dynamic_range_db": float(fmt.dynamic_range_db),
        "specials": specials_summary(fmt),
        "default_overflow": default_overflow(fmt),
    }


def _display_row(rec: dict) -> list[str]:
    # A format without subnormals reports smallest_subnormal == smallest_normal.
    no_sub = rec["smallest_subnormal"] == rec["smallest_normal"]
    cells = {
        "name": rec["name"],
        "family": rec["family"],
        "bits": str(rec["bits"]),
        "min": format_number(rec["min"]),
        "max": format_number(rec["max"]),
        "smallest_normal": format_number(rec["smallest_normal"]),
        "smallest_subnormal": "—" if no_sub else format_number(rec["smallest_subnormal"]),
        "dynamic_range_db": f"{rec['dynamic_range_db']:.1f}",
        "specials": rec["specials"],
        "default_overflow": rec["default_overflow"],
    }
    return [cells[key] for _, key, _ in FORMAT_COLUMNS]


def format_records(names: Sequence[str] | None = None) -> list[dict]:
    """Reference-table rows for ``names`` (default: every registered format, in order)."""
    return [format_record(n) for n in (list_formats() if names is None else names)]


def render_text(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]
) -> str:
    """A plain table aligned with spaces (numbers right-aligned), ending in a newline."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)]) + "\n"


def render_markdown(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]
) -> str:
    """A GitHub-flavoured Markdown table, ending in a newline."""
    align = ["---:" if r else "---" for r in right]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def format_table_text(names: Sequence[str] | None = None) -> str:
    """The reference table of ``names`` (default: all formats) as aligned plain text."""
    rows = [_display_row(r) for r in format_records(names)]
    return render_text([c[0] for c in FORMAT_COLUMNS], rows, [c[2] for c in FORMAT_COLUMNS])


def format_table_markdown(names: Sequence[str] | None = None) -> str:
    """The format reference page (``docs/formats.md``): title, provenance line, table, notes.

    >>> print(format_table_markdown(["fp8_e4m3fn"]).splitlines()[8])
    | fp8_e4m3fn | minifloat | 8 | -448 | 448 | 2^-6 | 2^-9 | 107.2 | NaN (S.1111.111) | nan |
    """
    rows = [_display_row(r) for r in format_records(names)]
    table = render_markdown([c[0] for c in FORMAT_COLUMNS], rows, [c[2] for c in FORMAT_COLUMNS])
    return (
        "# Format reference\n"
        "\n"
        f"_Generated by `{MARKDOWN_COMMAND}` from the format registry; do not edit by hand._\n"
        "\n"
        "Every format `lowbit.get_format(name)` knows, in registration order. "
        "`lowbit info NAME` lists all properties and, up to 8 bits, every code.\n"
        "\n"
        f"{table}"
        "\n"
        "- **min / max**: the most negative / largest finite value; for the unsigned `uint*` "
        "and `e8m0` formats *min* is the smallest value.\n"
        "- **smallest normal / subnormal**: the smallest positive normal value and the smallest "
        "positive value; `—` when the format has no subnormals (integers: the grid step, 1).\n"
        "- **range (dB)**: 20·log10(max / smallest positive value).\n"
        "- **specials**: the codes that are not finite numbers. `Inf, NaN`: IEEE 754 (exponent "
        "all ones); `NaN (S.1111.111)`: only that pattern, for either sign S, is NaN (OCP OFP8); "
        "`NaN = -0 code`: the single NaN sits at the negative-zero code, so there is no -0; "
        "`none`: every code is a number. Every other float format also has a -0.\n"
        "- **default overflow**: what `encode`/`quantize` do with |x| > max when no `overflow` "
        "is passed (`saturate` clamps to ±max).\n"
    )


def write_format_csv(path: str | Path, names: Sequence[str] | None = None) -> Path:
    """Write the reference table as CSV (raw values, full precision) and return the path.

    The file is written to a temporary name and renamed when complete; ``"-"`` writes the
    CSV to standard output.
    """
    with open_output(path, "w", newline="", encoding="utf-8") as fh:
        write_csv_rows(fh, [c[1] for c in FORMAT_COLUMNS], format_records(names))
    return Path(path)


def write_csv_rows(fh: TextIO, keys: Sequence[str], records: Iterable[dict]) -> None:
    """CSV of dict ``records`` to the open text file ``fh``; floats as ``repr`` (exact)."""
    writer = csv.DictWriter(fh, fieldnames=list(keys), lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in rec.items()})


# -- code → value tables ------------------------------------------------------------------
def code_bits(fmt: Format, code: int) -> str:
    """The code in binary; minifloat fields split as S.EEEE.MMM.

    >>> from lowbit import get_format
    >>> code_bits(get_format("fp8_e4m3fn"), 0x7F), code_bits(get_format("int4"), 9)
    ('0.1111.111', '1001')
    """
    if isinstance(fmt, FloatFormat):
        e, m = fmt.exp_bits, fmt.man_bits
        s = f"{code >> (e + m)}.{(code >> m) & ((1 << e) - 1):0{e}b}"
        return s + (f".{code & ((1 << m) - 1):0{m}b}" if m else "")
    return f"{code:0{fmt.bits}b}"


def code_table(fmt: Format | str) -> list[dict]:
    """Every code of a format of at most 16 bits with its value, as plain dicts.

    ``value`` is the decoded float; ``text`` shows NaN, Inf, -Inf and -0 as such, E8M0's
    powers as 2^k, and "unused" for the code a narrow integer format leaves out (it decodes
    to NaN).
    """
    fmt = get_format(fmt)
    if fmt.bits > 16:
        raise ValueError(f"{fmt.name}: a code table needs at most 16 bits; this has {fmt.bits}")
    codes = np.arange(2**fmt.bits, dtype=np.uint32)
    values = fmt.decode(codes).astype(np.float64)
    width = max(1, -(-fmt.bits // 4))
    rows = []
    for c, v in zip(codes.tolist(), values.tolist(), strict=True):
        if isinstance(fmt, IntFormat) and math.isnan(v):
            text = "unused"
        elif isinstance(fmt, ExpFormat):
            text = format_number(v)  # powers of two: 2^k is exact and short
        else:
            text = exact_number(v)
        rows.append(
            {
                "code": c,
                "hex": f"0x{c:0{width}x}",
                "binary": code_bits(fmt, c),
                "value": v,
                "text": text,
            }
        )
    return rows
