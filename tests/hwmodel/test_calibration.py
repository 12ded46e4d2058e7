"""SYNTH_CALIBRATED against the committed whole-unit synthesis (lowbit/hwmodel/data/
synthesis.json): every unit within ±15 % (held-out rows included), formats more than 5 %
apart ordered as synthesis orders them, the fit reproducible from the data, the data
consistent with the Verilog generator, and the docs table what the generator writes."""

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
    for r in tab.itertuples():
        key = (r.weight, r.activation, r.accumulator, r.lanes)
        assert abs(r.ratio_cal - 1) <= 0.15, (key, r.ratio_cal)


def test_fit_holds_out_rows_and_keeps_cells_physical(tab):
    """The rows outside the training formats are within ±15 % too (the fit never saw them),
    and every fitted cell costs at least half its App. B cost."""
    test = tab[~tab.weight.isin(T.TRAIN_FORMATS)]
    assert len(test) >= 30 and (test.ratio_cal - 1).abs().max() <= 0.15
    for cell in T.FIT_CELLS:
        assert getattr(SYNTH_CALIBRATED, cell) >= T.FIT_FLOOR * getattr(VAN_BAALEN_2023, cell)


def test_registers_equal_synthesis(tab):
    assert (tab.registers_cal == tab.registers_synth).all()


#: synthesis gap below which the calibrated model may order two units the other way: the
#: closest pairs at one lane with a float accumulator (INT4/INT5 vs FP8 E4M3/E5M2, synthesis
#: 3.7–4.3 % apart) are within the model's ±15 %; docs/hwmodel.md lists every swapped pair
ORDER_GAP = 0.05


def test_ordering_per_accumulator_follows_synthesis(tab):
    """At one accumulator and lane count, the calibrated model orders every pair of units
    whose synthesised sizes differ by more than ORDER_GAP as synthesis does, and INT8 vs
    FP8-E4M3 always; closer pairs may swap (the docs table lists them)."""
    for (_, _), g in tab.groupby(["accumulator", "lanes"]):
        for a, b in itertools.combinations(g.itertuples(), 2):
            gap = abs(a.gates_synth / b.gates_synth - 1)
            key = {a.weight, b.weight} == {"int8", "fp8_e4m3fnuz"}
            if gap > ORDER_GAP or key:
                assert (a.gates_cal > b.gates_cal) == (a.gates_synth > b.gates_synth), (a, b)
    # the flips the docs list are exactly those the data gives
    flips = T.order_flips(tab, "cal")
    assert all(abs(r - 1) <= ORDER_GAP for *_, r in flips)


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


def test_depth_within_stated_tolerance(tab):
    """docs/hwmodel.md: calibrated depth 0.8–1.4× synthesis on the grid, up to 2.6× on the
    16-lane block units (scale path and block-to-float in series)."""
    q = tab.depth_cal / tab.depth_synth
    block = tab.weight.isin([c[0] for c in T.REPORT_CONFIGS])
    assert q[~block].between(0.8, 1.4).all(), q[~block].describe()
    assert q[block].between(0.8, 2.6).all(), q[block].describe()
