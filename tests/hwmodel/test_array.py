"""MAC array, energy and the `lowbit hw` command."""

from __future__ import annotations

import json

import pytest

from lowbit.cli import main
from lowbit.hwmodel import HOROWITZ_45NM_PJ, Technology, array_cost, mac_cost


def test_output_stationary_counts():
    a = array_cost("int8", "int8", "fixed", gemm=(256, 64, 300), array=(128, 128), activity=0.5)
    assert a.macs == 256 * 64 * 300
    assert a.tiles == 2 * 3
    assert a.cycles == 6 * (64 + 128 + 128 - 2)
    assert a.mac.terms == 64 and a.mac.accumulator_width == 2 * 8 + 6  # exact for K = 64
    assert a.accumulator_register_bits == 128 * 128 * 22
    assert a.pipeline_register_bits == 128 * 128 * 16
    # A (256×64) re-read for each of 3 column panels, W (64×300) for each of 2 row panels,
    # outputs once in bf16; both operands fit the 1 MB buffer, so DRAM sees each once
    assert a.sram_read_bits == 3 * 256 * 64 * 8 + 2 * 64 * 300 * 8 + 256 * 300 * 16
    assert a.dram_bits == 256 * 64 * 8 + 64 * 300 * 8 + 256 * 300 * 16
    assert a.area_gates == 128 * 128 * (a.mac.total + 16 * 6)
    assert 0 < a.utilisation < 1


def test_area_and_energy_scale_with_node_and_format():
    t45, t22 = Technology(45), Technology(22.5)
    # gate area calibrated to Horowitz's 282 µm² 8-bit multiplier
    assert mac_cost("int8", "int8").breakdown()["mpy"] * t45.gate_area_um2 == pytest.approx(282)
    assert t22.gate_area_um2 == pytest.approx(t45.gate_area_um2 / 4)
    assert t22.gate_energy_pj == pytest.approx(t45.gate_energy_pj / 2)
    assert t45.sram_pj_per_bit() == HOROWITZ_45NM_PJ["sram_1mb_read_64b"] / 64  # the default
    assert t22.sram_pj_per_bit() == pytest.approx(t45.sram_pj_per_bit() / 2)
    assert t22.dram_pj_per_bit() == t45.dram_pj_per_bit()  # the interface is not node-scaled
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


@pytest.mark.parametrize(
    "kwargs",
    [
        {"node_nm": float("inf")},
        {"node_nm": float("nan")},
        {"energy_exponent": float("inf")},
        {"activity": float("nan")},
        {"node_nm": True},
        {"node_nm": "45"},
    ],
)
def test_technology_refuses_non_finite_parameters(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name}"):
        Technology(**kwargs)


def test_numpy_integers_are_integers_bools_are_not():
    import numpy as np

    a = array_cost("int8", "int8", gemm=(np.int64(4), 4, np.uint16(4)), array=(np.int32(2), 2))
    b = array_cost("int8", "int8", gemm=(4, 4, 4), array=(2, 2))
    assert a.gemm == (4, 4, 4) and type(a.gemm[0]) is int and a.to_dict() == b.to_dict()
    assert mac_cost("int8", "int8", terms=np.int64(16)) == mac_cost("int8", "int8", terms=16)
    assert (
        mac_cost("int8", "int8", lanes=np.int8(4)).total == mac_cost("int8", "int8", lanes=4).total
    )
    for bad in ((True, 4, 4), (np.bool_(True), 4, 4), (4.0, 4, 4)):
        with pytest.raises(ValueError, match="positive integers"):
            array_cost("int8", "int8", gemm=bad)
    with pytest.raises(ValueError, match="terms must be a positive integer"):
        mac_cost("int8", "int8", terms=np.True_)


def test_huge_gemm_counts_are_exact_integers_or_refused():
    a = array_cost("int8", "int8", gemm=(2**20 + 1, 4096, 2**20 + 3), array=(128, 128))
    assert a.tiles == (2**20 // 128 + 1) * (2**20 // 128 + 1)  # integer ceilings, no float
    for gemm in ("1" + "0" * 30 + "x4096x4096", "1" + "0" * 400 + "x1x1", (2**33, 1, 1)):
        with pytest.raises(ValueError, match="2\\^32"):
            array_cost("int8", "int8", gemm=gemm)
    with pytest.raises(ValueError, match="2\\^53 MACs"):
        array_cost("int8", "int8", gemm=(2**20, 2**20, 2**20))


def test_unknown_keywords_are_named():
    with pytest.raises(TypeError, match="unknown keyword.*'tech'.*valid keywords.*technology"):
        array_cost("int8", "int8", tech=Technology())


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--node", "inf"], "node_nm must be a finite number"),
        (["--gemm", "1" + "0" * 30 + "x4096x4096"], "2^32"),
        (["--gemm", "1" + "0" * 400 + "x1x1"], "2^32"),
    ],
)
def test_hw_absurd_inputs_are_one_line_errors(capsys, argv, needle):
    status = main(["hw", "-w", "int8", "-a", "int8", *argv])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("lowbit: error: ") and err.count("\n") == 1, err
    assert needle in err
