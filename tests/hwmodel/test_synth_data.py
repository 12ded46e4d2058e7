"""A few units re-synthesised live with the pinned Yosys equal their committed rows
(lowbit/hwmodel/data/synthesis.json), flat and hierarchical."""

from __future__ import annotations

import pytest

from lowbit.hwmodel.synth import synthesize_mac, yosys_available, yosys_version
from lowbit.hwmodel.synth import table as T

pytestmark = pytest.mark.skipif(not yosys_available(), reason="no Yosys")


@pytest.mark.parametrize(
    "config",
    [("int2", "int2", "fixed", 1), ("int3", "int3", "fixed", 32), ("int2", "int2", "fp16", 1)],
)
def test_live_synthesis_equals_stored_row(config):
    doc = T.load_data()
    if yosys_version() != doc["yosys"]:
        pytest.skip(f"data written by {doc['yosys']}, not {yosys_version()}")
    stored = {tuple(r["config"]): r for r in doc["rows"]}[config]
    live = T.synth_row(config)
    for k in ("gates", "registers", "depth", "cells", "hierarchical", "verilog_sha256"):
        assert live[k] == stored[k], k


def test_hierarchical_close_to_flat_on_a_small_unit():
    """Hierarchical synthesis (lanes × lane + rest) against the flat netlist of the same
    4-lane unit: gates within 5 %, depth an upper bound of the flat depth."""
    flat = synthesize_mac("int3", "int3", "fixed", lanes=4, hierarchical=False)
    hier = synthesize_mac("int3", "int3", "fixed", lanes=4, hierarchical=True)
    assert hier.netlist is None and flat.netlist is not None
    assert abs(hier.gates / flat.gates - 1) < 0.05
    assert hier.depth >= flat.depth
