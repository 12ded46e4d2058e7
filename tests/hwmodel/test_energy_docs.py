"""docs/hwmodel.md's energy tables are bench/bench_energy.py's output (numbers come from code)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_energy", ROOT / "bench" / "bench_energy.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_docs_energy_tables_are_the_generators_output():
    bench = _bench()
    doc = (ROOT / "docs" / "hwmodel.md").read_text(encoding="utf-8")
    for marker, table in (
        ("energy-p8", bench.p8_table()),
        ("energy-sensitivity", bench.sensitivity_tables()),
    ):
        block = re.search(f"<!-- {marker} -->\n(.*?)\n<!-- /{marker} -->", doc, re.S)
        assert block is not None, marker
        assert block.group(1).strip() == table.strip(), (
            f"{marker} is stale: run .venv/bin/python bench/bench_energy.py --write"
        )
