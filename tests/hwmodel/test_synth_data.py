"""A few units re-synthesised live with the pinned Yosys equal their committed rows
(lowbit/hwmodel/data/synthesis.json), flat and hierarchical."""

from __future__ import annotations

import numpy as np
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


def test_hierarchical_modules_compute_the_flat_unit():
    """The lane and rest netlists of a hierarchical synthesis, wired together (four lanes
    into the rest), give the flat netlist's next register on random codes and states."""
    from lowbit.hwmodel.synth.mac import _netlist_json, simulate_unit
    from lowbit.hwmodel.synth.netlist import Netlist

    flat = synthesize_mac("int3", "int3", "fixed", lanes=4, hierarchical=False)
    hier = synthesize_mac("int3", "int3", "fixed", lanes=4, hierarchical=True)
    assert hier.netlist is None and hier.hierarchical and hier.unit == flat.unit
    u = flat.unit
    lane = Netlist.from_json(_netlist_json(u.lane_verilog, "mac_lane")[0], "mac_lane")
    rest = Netlist.from_json(_netlist_json(u.rest_verilog, "mac_rest")[0], "mac_rest")
    rng = np.random.default_rng(13)
    n = 200
    w, a = rng.integers(0, 8, (n, 4)), rng.integers(0, 8, (n, 4))
    state = rng.integers(0, 1 << u.acc_bits, n)
    want = simulate_unit(flat, w, a, state)
    ins = {"acc": _bits(state, u.acc_bits)}
    for i in range(4):
        out = lane.step({"w0": _bits(w[:, i], 3), "a0": _bits(a[:, i], 3)})["lp"]
        ins[f"p{i}"] = out
    got = _ints(rest.step(ins)["nxt"])
    assert got == want
    # gates add as lanes × lane + rest
    assert hier.gates == 4 * lane.gates() + rest.gates()


def _bits(v, width):
    return np.array([[(int(x) >> i) & 1 for i in range(width)] for x in v], bool)


def _ints(bits):
    return [int(sum(int(b) << i for i, b in enumerate(row))) for row in bits]
