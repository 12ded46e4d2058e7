"""``lowbit hw``: the printed lanes, accumulator, components, warnings, energy and synthesis
against lowbit.hwmodel called directly."""

from __future__ import annotations

import json
import re

import pytest

from lowbit.cli import main
from lowbit.hwmodel import Technology, array_cost, mac_cost
from lowbit.hwmodel.array import mac_components

SMALL = ["--gemm", "64x256x64", "--array", "16x16"]


def run(capsys, *argv):
    status = main(["hw", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def value(out: str, name: str) -> str:
    """The cell after ``name`` on its line of the plain table."""
    m = re.search(rf"^\s*{re.escape(name)}\s+(.+)$", out, re.M)
    assert m, (name, out)
    return m.group(1).strip()


def test_defaults_are_the_units_and_said(capsys):
    status, out, _ = run(capsys, "-w", "mxfp4", "-a", "mxfp4", *SMALL)
    assert status == 0
    mac = mac_cost("mxfp4", "mxfp4", terms=256)  # the unit's defaults: FP32, 32 lanes
    assert "-> fp32 (the unit's default)" in out
    assert value(out, "lanes") == "32 (the unit's default)"
    assert value(out, "total") == f"{mac.total:.0f} 2-input gates per MAC"
    for comp, gates in mac_components(mac).items():
        assert value(out, comp).split()[0] == f"{gates:.0f}"
    assert value(out, "critical path") == f"{mac.depth} gate levels"
    assert "warning" not in out


def test_lanes_acc_and_infeasible_warning(capsys):
    status, out, _ = run(capsys, "-w", "mxfp4", "-a", "mxfp4", "--acc", "fixed", "--lanes", "16",
                         "--activity", "0.5", *SMALL)  # fmt: skip
    assert status == 0
    mac = mac_cost("mxfp4", "mxfp4", "fixed", terms=256, lanes=16)
    assert not mac.feasible and value(out, "lanes") == "16"
    assert f"warning: infeasible: {mac.warnings[0]}" in out
    assert value(out, "total").startswith(f"{mac.total:.0f} ")


def test_energy_options_match_array_cost(capsys):
    argv = ["-w", "int8", "-a", "int8", "--acc", "fp32", "--lanes", "32", "--output-format",
            "fp16", "--activity", "0.25", "--sram", "32kb", "--dram", "high", "--node", "7", *SMALL]  # fmt: skip
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    doc = json.loads(out)
    res = array_cost("int8", "int8", "fp32", gemm="64x256x64", array="16x16", lanes=32,
                     technology=Technology(7, sram="32kb", dram="high"),
                     output_format="fp16", activity=0.25)  # fmt: skip
    assert doc["energy_pj_per_mac"] == pytest.approx(res.pj_per_mac())
    assert doc["components_gates"] == pytest.approx(mac_components(res.mac))
    assert doc["output_bits"] == 16 and doc["mac"]["unit_lanes"] == 32 and doc["synth"] is None
    status, out, _ = run(capsys, *argv)
    assert value(out, "dram") == f"{res.pj_per_mac()['dram']:.4f}"
    assert "outputs in fp16 (16 bits)" in out and value(out, "activity source") == "assumed 0.25"


def test_stage_depth_prices_the_pipeline(capsys):
    status, out, _ = run(capsys, "-w", "fp8_e4m3fn", "-a", "fp8_e4m3fn", "--acc", "fp32",
                         "--lanes", "32", "--stage-depth", "48", "--activity", "0.5", "--json",
                         *SMALL)  # fmt: skip
    assert status == 0
    doc = json.loads(out)
    want = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", terms=256, lanes=32, stage_depth=48)
    assert doc["mac"]["total"] == want.total and "pipeline" in doc["mac"]["breakdown"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--activity", "2"], "--activity"),
        (["--lanes", "0"], "--lanes"),
        (["--sram", "2mb"], "--sram"),
        (["--output-format", "mxfp4"], "output_format"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, argv, needle):
    status, out, err = run(capsys, "-w", "int8", "-a", "int8", *argv)
    assert status == 2 and err.startswith("lowbit: error: ") and needle in err


def test_synth_prints_model_beside_synthesis(capsys):
    from lowbit.hwmodel import synth

    compare = getattr(synth, "model_vs_synthesis", None) or getattr(synth, "compare_units", None)
    if compare is None or not synth.yosys_available():
        pytest.skip("needs lowbit.hwmodel.synth with a Yosys")
    status, out, _ = run(capsys, "-w", "int2", "-a", "int2", "--acc", "fixed", "--synth",
                         "--activity", "0.5", *SMALL)  # fmt: skip
    assert status == 0
    (row,) = compare([("int2", "int2", "fixed", 1)], terms=256)
    cells = value(out, "combinational gates").split()
    assert cells == [
        f"{row['gates_model']:.0f}",
        f"{row['gates_synth']:.0f}",
        f"{row['ratio']:.2f}",
    ]
    assert value(out, "registers (bits)").split()[:2] == [
        str(row["registers_model"]),
        str(row["registers_synth"]),
    ]
    assert value(out, "depth (gate levels)").split()[:2] == [
        str(row["depth_model"]),
        str(row["depth_synth"]),
    ]
