"""SYNTH_CALIBRATED against the committed whole-unit synthesis (lowbit/hwmodel/data/
synthesis.json): every unit within ±15 %, formats ordered as synthesis orders them, the
fit reproducible from the data, the data consistent with the Verilog generator, and the
docs table what the generator writes."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from lowbit.hwmodel import SYNTH_CALIBRATED, VAN_BAALEN_2023, GateCosts
from lowbit.hwmodel.arith import incrementer, prefix_adder, ripple_adder
from lowbit.hwmodel.synth import table as T

DOC = Path(__file__).resolve().parents[2] / "docs" / "hwmodel.md"


@pytest.fixture(scope="module")
def tab():
    return T.synthesis_table(live=False)


def test_data_covers_grid_and_report_units_and_is_fresh():
    doc = T.load_data()
    keys = {tuple(r["config"]) for r in doc["rows"]}
    assert set(T.all_configs()) <= keys
    assert doc["yosys"].startswith("Yosys 0.70")
    # a change to units.py that is not re-synthesised changes a hash
    assert T.stale_rows() == []


def test_every_row_within_15_percent_with_calibrated_costs(tab):
    assert len(tab) == len(T.all_configs())
    bad = tab[(tab.ratio_cal - 1).abs() > 0.15]
    assert bad.empty, bad[["weight", "accumulator", "lanes", "ratio_cal"]]


def test_registers_equal_synthesis(tab):
    assert (tab.registers_cal == tab.registers_synth).all()


def test_ordering_per_accumulator_follows_synthesis(tab):
    """Pairs of formats at one accumulator and lane count: where synthesis sizes differ by
    more than 10 %, the calibrated model orders them the same way; INT8 vs FP8-E4M3 always."""
    for (_, _), g in tab.groupby(["accumulator", "lanes"]):
        for a, b in itertools.combinations(g.itertuples(), 2):
            gap = abs(a.gates_synth / b.gates_synth - 1)
            key = {a.weight, b.weight} == {"int8", "fp8_e4m3fnuz"}
            if gap > 0.10 or key:
                assert (a.gates_cal > b.gates_cal) == (a.gates_synth > b.gates_synth), (a, b)


def test_fit_reproduces_the_constants():
    fit = T.fit_costs()
    for cell, v in fit.items():
        assert getattr(SYNTH_CALIBRATED, cell) == pytest.approx(v, abs=5e-4), cell


def test_docs_table_is_the_generators(tab):
    text = DOC.read_text(encoding="utf-8")
    start = text.index(T.BEGIN) + len(T.BEGIN)
    assert text[start : text.index(T.END)].strip() == T.doc_table(tab).strip()


def test_van_baalen_table_unchanged():
    assert VAN_BAALEN_2023 == GateCosts()
    assert (VAN_BAALEN_2023.adder, VAN_BAALEN_2023.float_adder) == ("ripple", "mantissa")


def test_prefix_adder_against_sklansky_counts():
    # Sklansky: log2(n) levels of n/2 prefix nodes; 8 bits: 3 levels, 12 nodes, depth 8
    a = prefix_adder(8)
    assert a.cells == {"ha": 8, "ao21": 12, "and2": 12, "xor2": 7} and a.depth == 8
    # the table selects the architecture for every adder and incrementer
    pre = dataclasses.replace(VAN_BAALEN_2023, adder="prefix")
    assert ripple_adder(8, costs=pre).cells == a.cells
    assert incrementer(16, costs=pre).cells == {"and2": 32, "xor2": 16}
    assert ripple_adder(8).cells == {"fa": 7, "ha": 1}


@pytest.mark.parametrize("field,value", [("adder", "carry-save"), ("float_adder", "wide")])
def test_structure_choices_checked(field, value):
    with pytest.raises(ValueError, match=field):
        GateCosts(**{field: value})
