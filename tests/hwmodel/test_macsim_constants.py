"""The Python ↔ C contract: the constants the simulator's Python side uses are the ones
csrc/macsim.h defines (read from the compiled module), and statistics carry one name."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from lowbit.hwmodel import macsim
from lowbit.hwmodel.accumulator import ACC_ROUNDINGS
from lowbit.hwmodel.macsim.run import ORDERS, MacStats, constants, load_lib

pytestmark = pytest.mark.skipif(not macsim.available(), reason="C simulator not built")
HEADER = Path(__file__).resolve().parents[2] / "csrc" / "macsim.h"


def header_defines() -> dict[str, int]:
    """Every integer #define of csrc/macsim.h, parsed from the text."""
    text = HEADER.read_text(encoding="utf-8")
    found = re.findall(r"^#define (MACSIM_\w+) \(?(-?\d+)\)?", text, flags=re.M)
    return {name: int(value) for name, value in found}


def test_the_compiled_module_has_the_header_constants():
    lib = load_lib().lib
    defines = header_defines()
    assert {"MACSIM_ACC_FIXED", "MACSIM_MAX_FIXED_WIDTH", "MACSIM_MAX_THREADS"} <= set(defines)
    for name, value in defines.items():
        assert getattr(lib, name) == value, name


def test_python_reads_its_constants_from_the_c_core():
    d, c = header_defines(), constants()
    assert (c.acc_fixed, c.acc_float, c.acc_exact) == (
        d["MACSIM_ACC_FIXED"],
        d["MACSIM_ACC_FLOAT"],
        d["MACSIM_ACC_EXACT"],
    )
    assert [c.round_code[r] for r in ACC_ROUNDINGS] == [
        d["MACSIM_RNE"],
        d["MACSIM_RTZ"],
        d["MACSIM_DOWN"],
    ]
    assert [c.order_code[o] for o in ORDERS] == [
        d["MACSIM_SEQUENTIAL"],
        d["MACSIM_BLOCKS"],
        d["MACSIM_PAIRWISE"],
    ]
    assert c.max_fixed_width == d["MACSIM_MAX_FIXED_WIDTH"] == 62
    assert c.max_threads == d["MACSIM_MAX_THREADS"] == 64
    # 32-bit digits, MAX_LIMBS − 2 of them (two words of headroom in each register)
    assert c.max_exact_width == d["MACSIM_MAX_EXACT_WIDTH"] == 32 * (d["MACSIM_MAX_LIMBS"] - 2)


def test_the_c_source_uses_the_named_limits():
    src = (HEADER.parent / "macsim.c").read_text(encoding="utf-8")
    assert "o->width > MACSIM_MAX_FIXED_WIDTH" in src
    assert "o->width > MACSIM_MAX_EXACT_WIDTH" in src
    assert "p->threads > MACSIM_MAX_THREADS" in src
    assert not re.search(r"#define MAX_THREADS", src)


def test_statistics_have_one_name_on_both_sides():
    ffi = load_lib().ffi
    c_stats = {name for name, _ in ffi.typeof("macsim_stats_t").fields}
    c_per_output = {name for name, _ in ffi.typeof("macsim_outstats_t").fields}
    py = {f.name for f in dataclasses.fields(MacStats)}
    counts = {"overflow", "swamping", "absorbed", "toggles", "max_abs"}
    assert counts <= c_stats and counts <= py and counts == c_per_output
