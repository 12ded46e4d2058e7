"""``lowbit info NAME``: a format's properties and, up to 8 bits, its code → value table."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ._common import json_default

#: Formats up to this width get their full code → value table in ``lowbit info``.
CODE_TABLE_MAX_BITS = 8


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``info`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser("info", help="properties of one format and, up to 8 bits, every code")
    p.add_argument("name", metavar="NAME", help="format name, e.g. fp8_e4m3fn")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the properties (and codes) of the format ``args.name``; 0 on success.

    >>> import argparse
    >>> run(argparse.Namespace(name="int2", json=False))  # doctest: +ELLIPSIS
    int2
    ...
    codes (4):
      code  binary  value
      0x0   00      0
      0x1   01      1
      0x2   10      -2
      0x3   11      -1
    0
    """
    from .. import get_format
    from ..report import code_table

    fmt = get_format(args.name)
    props = fmt.describe()
    scaled = fmt.has_block_scales
    codes = code_table(fmt) if fmt.bits <= CODE_TABLE_MAX_BITS and not scaled else None
    if args.json:
        _print_json(props, codes)
    else:
        _print_text(fmt, props, codes, scaled)
    return 0


def _print_json(props: dict, codes: list[dict] | None) -> None:
    doc = {"properties": props}
    if codes is not None:
        # JSON has no NaN or Inf: those values are given as the strings "NaN", "Inf", "-Inf"
        doc["codes"] = [
            {
                "code": r["code"],
                "hex": r["hex"],
                "binary": r["binary"],
                "value": r["value"] if np.isfinite(r["value"]) else r["text"],
            }
            for r in codes
        ]
    print(json.dumps(doc, indent=2, allow_nan=False, default=json_default, ensure_ascii=False))


def _print_text(fmt, props: dict, codes: list[dict] | None, scaled: bool) -> None:
    from ..report import exact_number, format_number

    width = max(len(k) for k in props)
    print(fmt.name)
    for key, value in props.items():
        if isinstance(value, float):
            short = format_number(value)
            text = exact_number(value) + (f"  ({short})" if "^" in short else "")
        else:
            text = str(value)
        print(f"  {key:<{width}}  {text}")
    if codes is None:
        if scaled:
            print("(values depend on the block or group scales: no code table)")
        else:
            print(f"({fmt.bits} bits: no code table above {CODE_TABLE_MAX_BITS} bits)")
        return
    print(f"\ncodes ({len(codes)}):")
    hex_w = max(4, len(codes[0]["hex"]))
    bin_w = max(6, len(codes[0]["binary"]))
    print(f"  {'code':<{hex_w}}  {'binary':<{bin_w}}  value")
    for r in codes:
        print(f"  {r['hex']:<{hex_w}}  {r['binary']:<{bin_w}}  {r['text']}")
