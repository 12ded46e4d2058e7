"""MAC array, energy and the `lowbit hw` command."""

from __future__ import annotations

import json

import pytest

from lowbit.cli import main
from lowbit.hwmodel import HOROWITZ_45NM_PJ, Technology, array_cost, mac_cost


def test_output_stationary_counts():
    a = array_cost("int8", "int8", "fixed", gemm=(256, 64, 300), array=(128, 128))
    assert a.macs == 256 * 64 * 300
    assert a.tiles == 2 * 3
    assert a.cycles == 6 * (64 + 128 + 128 - 2)
    assert a.mac.terms == 64 and a.mac.accumulator_width == 2 * 8 + 6  # exact for K = 64
    assert a.accumulator_register_bits == 128 * 128 * 22
    assert a.pipeline_register_bits == 128 * 128 * 16
    assert a.sram_read_bits == 6 * 64 * (128 * 8 + 128 * 8)
    assert a.dram_bits == 256 * 64 * 8 + 64 * 300 * 8 + 256 * 300 * 22
    assert a.area_gates == 128 * 128 * (a.mac.total + 16 * 6)
    assert 0 < a.utilisation < 1


def test_area_and_energy_scale_with_node_and_format():
    t45, t22 = Technology(45), Technology(22.5)
    # gate area calibrated to Horowitz's 282 µm² 8-bit multiplier
    assert mac_cost("int8", "int8").breakdown()["mpy"] * t45.gate_area_um2 == pytest.approx(282)
    assert t22.gate_area_um2 == pytest.approx(t45.gate_area_um2 / 4)
    assert t22.gate_energy_pj == pytest.approx(t45.gate_energy_pj / 2)
    assert t45.sram_pj_per_bit() == HOROWITZ_45NM_PJ["sram_8kb_read_64b"] / 64
    g = (512, 512, 512)
    i8 = array_cost("int8", "int8", "fixed", gemm=g, array=(64, 64))
    f8 = array_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", gemm=g, array=(64, 64))
    assert i8.area_um2 < f8.area_um2
    assert i8.energy_pj["mac"] < f8.energy_pj["mac"]
    e = i8.energy_pj
    assert e["total"] == pytest.approx(e["mac"] + e["pipeline"] + e["sram"] + e["dram"])
    with pytest.raises(ValueError, match="node_nm"):
        Technology(0)


@pytest.mark.parametrize("gemm", ["4x4", "4x0x4", "axbxc", (1, 2)])
def test_bad_shapes(gemm):
    with pytest.raises(ValueError, match="gemm"):
        array_cost("int8", "int8", gemm=gemm)


def test_cli_table_and_json(capsys):
    argv = ["hw", "--weights", "fp8_e4m3fn", "--activations", "fp8_e4m3fn", "--acc", "fp16"]
    assert main(argv + ["--gemm", "256x256x256", "--array", "16x16"]) == 0
    out = capsys.readouterr().out
    assert "1081" in out and "normacc" in out and "cycles" in out
    assert main(argv + ["--gemm", "64x64x64", "--array", "8x8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mac"]["total"] == 1081 and doc["tiles"] == 64


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--acc", "fp12"], "supported"),
        (["--acc", "0"], "positive integer"),
        (["--array", "0x4"], "array"),
        (["--weights", "e8m0"], "IntFormat and FloatFormat"),
    ],
)
def test_cli_bad_input_exits_2(capsys, extra, match):
    argv = ["hw", "--weights", "int8", "--activations", "int8", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lowbit: error: ") and match in err
