"""The one accumulator model (lowbit/hwmodel/accumulator.py): its grammar, its classes, the
exact (Kulisch) width, and that one spec means the same thing to every consumer."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from lowbit import get_format
from lowbit.cli import main
from lowbit.hwmodel import array_cost, mac_cost, macsim
from lowbit.hwmodel.accumulator import (
    ACC_ROUNDINGS,
    ExactAccumulator,
    FixedAccumulator,
    Grid,
    exact_accumulator_width,
    exact_width,
    parse_accumulator,
)
from lowbit.hwmodel.macsim import gemm, value_table
from lowbit.hwmodel.macsim.numpy_oracle import gemm_numpy
from lowbit.hwmodel.macsim.reference import gemm_ref
from lowbit.report.recipe import sim_accumulator

needs_c = pytest.mark.skipif(not macsim.available(), reason="C simulator not built")


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("exact", ExactAccumulator()),
        ("kulisch", ExactAccumulator()),
        ("fixed", ExactAccumulator()),
        (" Fixed ", ExactAccumulator()),
        (24, FixedAccumulator(24)),
        ("24", FixedAccumulator(24)),
        ("fixed24", FixedAccumulator(24, None, "wrap")),
        ("fixed24s", FixedAccumulator(24, None, "saturate")),
        ("fixed:24", FixedAccumulator(24, None, "wrap")),
        ("fixed:24:saturate", FixedAccumulator(24, None, "saturate")),
        ("fixed:24:3", FixedAccumulator(24, 3, "wrap")),
        ("fixed:24:-3:saturate", FixedAccumulator(24, -3, "saturate")),
        ("fp16", get_format("fp16")),
        ("bf16", get_format("bf16")),
        ("fp8_e4m3fn", get_format("fp8_e4m3fn")),
    ],
)
def test_the_grammar(spec, want):
    assert parse_accumulator(spec) == want
    assert parse_accumulator(want) is want  # objects pass through


@pytest.mark.parametrize(
    ("spec", "exc", "needle"),
    [
        ("fixed:8:x:wrap", ValueError, "fixed-point specs"),
        ("fixedx", ValueError, "fixed-point specs"),
        ("fp64", ValueError, "unknown accumulator 'fp64'"),
        ("int8", ValueError, "unknown accumulator 'int8'"),
        ("0", ValueError, "positive integer"),
        (True, ValueError, "unknown accumulator True"),
        ("fixed:62:-1100", ValueError, "frac=-1100 outside -962..1023 for width=62"),
    ],
)
def test_bad_specs_name_the_grammar(spec, exc, needle):
    with pytest.raises(exc, match=needle.replace("(", r"\(").replace(".", r"\.")):
        parse_accumulator(spec)


def test_fixed_accumulator_validates_its_fields():
    with pytest.raises(TypeError, match="width must be an int"):
        FixedAccumulator(24.0)
    with pytest.raises(ValueError, match="overflow='clip'"):
        FixedAccumulator(24, 0, "clip")
    assert ACC_ROUNDINGS == ("nearest_even", "toward_zero", "down")


@pytest.mark.parametrize(
    ("a", "b", "k"),
    [
        ("int8", "int8", 4096),
        ("int8_narrow", "int8_narrow", 4096),
        ("int8", "uint8", 4096),
        ("int4", "uint4", 1),
        ("fp8_e4m3fn", "fp8_e4m3fn", 4096),
        ("fp8_e4m3fnuz", "fp8_e4m3fnuz", 4096),
        ("fp4_e2m1fn", "int8", 32),
        ("fp16", "fp16", 1024),
    ],
)
def test_exact_width_from_tables_equals_the_format_rule(a, b, k):
    """The simulator's register (from value tables) and the hardware model's width (from
    the formats' ranges) are one rule."""
    width, frac = exact_width(value_table(a), value_table(b), k)
    assert width == exact_accumulator_width(a, b, k)
    assert frac == -(value_table(a).low + value_table(b).low)


def test_exact_width_is_the_narrowest_signed_register():
    """int8 × {0, 1}: products in [-128, 127]; K = 4096 of them in [-2^19, 2^19 - 2^12]:
    20 bits (the bound on |p| alone would give 21)."""
    a = Grid(Fraction(-128), Fraction(127), 0)
    bit = Grid(Fraction(0), Fraction(1), 0)
    assert exact_width(a, bit, 4096) == (20, 0)
    assert exact_width(a, a, 4096) == (28, 0)
    with pytest.raises(ValueError, match="positive integer"):
        exact_width(a, a, 0)


def test_mac_cost_takes_every_spelling_of_the_grammar():
    exact = mac_cost("int8", "int8", "fixed")
    for spec in ("exact", "kulisch", ExactAccumulator()):
        assert mac_cost("int8", "int8", spec).total == exact.total
    w24 = mac_cost("int8", "int8", "fixed:24:saturate")
    assert w24.accumulator == "fixed24 (saturate)" and w24.accumulator_width == 24
    assert w24.total == mac_cost("int8", "int8", FixedAccumulator(24, overflow="saturate")).total
    assert mac_cost("int8", "int8", "fixed24").total == mac_cost("int8", "int8", 24).total
    assert array_cost("int8", "int8", "fixed24s").mac.total == w24.total


@needs_c
@pytest.mark.parametrize("spec", ["fixed", "exact", "fixed24", "fixed:20:0:saturate", "fp16"])
def test_one_spec_means_the_same_to_gemm_its_oracles_and_the_cli(spec, capsys):
    """`lowbit hw --acc fixed` and `lowbit simulate --acc fixed` both mean the exact
    accumulator; gemm, gemm_numpy and gemm_ref read every spec alike."""
    i8 = get_format("int8")
    rng = np.random.default_rng(1)
    a = i8.encode(rng.integers(-128, 128, (3, 40)).astype(float))
    b = i8.encode(rng.integers(-128, 128, (40, 4)).astype(float))
    obj = parse_accumulator(spec)
    c, st = gemm(a, b, i8, i8, accumulator=spec)
    c_obj, st_obj = gemm(a, b, i8, i8, accumulator=obj)
    np.testing.assert_array_equal(c, c_obj)
    assert st.as_dict() == st_obj.as_dict()
    c_np, st_np = gemm_numpy(a, b, i8, i8, accumulator=spec)
    c_ref, st_ref = gemm_ref(a, b, i8, i8, accumulator=spec)
    np.testing.assert_array_equal(c, c_np)
    np.testing.assert_array_equal(c, c_ref)
    assert st.overflow == st_np["overflow"] == st_ref["overflow"]
    argv = ["simulate", "--a-format", "int8", "--acc", spec, "--m", "3", "--k", "40", "--n", "4"]
    assert main([*argv, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    if isinstance(obj, ExactAccumulator):  # `--acc fixed` is the exact accumulator
        assert r["accumulator"] == "exact" and r["error_vs_exact"]["max_abs"] == 0.0
    elif isinstance(obj, FixedAccumulator):  # the binary point resolved and reported
        assert r["accumulator"] == repr(FixedAccumulator(obj.width, 0, obj.overflow))
    else:
        assert r["accumulator"] == "fp16"
    assert main(["hw", "-w", "int8", "-a", "int8", "--acc", spec, "--json"]) == 0
    hw = json.loads(capsys.readouterr().out)
    assert hw["mac"]["accumulator"] == mac_cost("int8", "int8", spec, terms=4096).accumulator


@needs_c
def test_exact_register_width_is_the_model_width():
    """The simulator's exact register is as wide as exact_width says (register_bits)."""
    i8, u8 = get_format("int8"), get_format("uint8")
    a = i8.encode(np.full((2, 64), -128.0))
    b = u8.encode(np.full((64, 2), 255.0))
    c, st = gemm(a, b, i8, u8, accumulator="exact", toggles=True)
    assert c[0, 0] == -128 * 255 * 64
    assert st.register_bits == exact_accumulator_width(i8, u8, 64) == 22


def test_report_recipes_take_the_grammar():
    assert sim_accumulator("fixed:24:saturate", "[x]") == "fixed:24:saturate"
    assert sim_accumulator("fixed:16:0", "[x]") == "fixed:16:0"
    for bad in ("fixed", "exact", "fixed:70", "fp64", 24):
        with pytest.raises(ValueError, match="fixed:WIDTH"):
            sim_accumulator(bad, "[x]")
