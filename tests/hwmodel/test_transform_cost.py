"""Online transform cost: cell counts of the butterfly network from van Baalen et al. 2023's
App. B formulas written out by hand, amortisation, and bad input."""

from __future__ import annotations

import math

import pytest

from lowbit import get_format
from lowbit.hwmodel import mac_cost
from lowbit.hwmodel.arith import array_multiplier
from lowbit.hwmodel.datapath import Product, float_accumulate
from lowbit.hwmodel.gates import PRIMITIVES, GateCosts
from lowbit.hwmodel.transform_cost import transform_cost


def _hand_cells(b: int, bits: int) -> dict[str, int]:
    """The integer FWHT network by hand: stage s has b/2 butterflies on w = bits + s bit
    words; the adder is (w−1) FA + HA, the subtractor w XOR + w FA (carry-in 1), and both
    outputs are registered (2w FF)."""
    cells = {"fa": 0, "ha": 0, "xor2": 0, "ff": 0}
    for s in range(1, int(math.log2(b)) + 1):
        w, m = bits + s, b // 2
        cells["fa"] += m * ((w - 1) + w)
        cells["ha"] += m
        cells["xor2"] += m * w
        cells["ff"] += m * 2 * w
    return cells


@pytest.mark.parametrize(("b", "fmt"), [(2, "int4"), (16, "int8"), (128, "int8"), (64, "uint8")])
def test_integer_hadamard_cells_by_hand(b, fmt):
    t = transform_cost(f"hadamard:{b}", fmt, n=1)
    (step,) = t.steps
    bits = get_format(fmt).bits
    assert step.vector.cell_counts() == _hand_cells(b, bits)
    want = sum(n * getattr(GateCosts(), c) for c, n in _hand_cells(b, bits).items())
    assert t.per_element == pytest.approx(want / b)
    assert step.adds == b * int(math.log2(b)) and step.multiplies == 0
    assert t.stages == int(math.log2(b))


def test_paley_stage_cells_by_hand():
    # b = 24 = 2·12: per 12-run, each of 12 outputs sums 12 int8 words in an exact tree with
    # carry-ins (6 adders of 9 bits, 3 of 10, 1 of 11, 1 of 12: 107 FA) and a 12-bit
    # register; 66 of H_12's 144 entries are −1, each an 8-bit XOR bank; then one butterfly
    # stage of 12 butterflies on 13-bit words
    t = transform_cost("hadamard:24", "int8", n=1)
    (step,) = t.steps
    paley = {"fa": 24 * 107, "ff": 24 * 12, "xor2": 2 * 66 * 8}
    bfly = {"fa": 12 * (12 + 13), "ha": 12, "xor2": 12 * 13, "ff": 12 * 2 * 13}
    want = {c: paley.get(c, 0) + bfly.get(c, 0) for c in ("fa", "ha", "xor2", "ff")}
    assert step.vector.cell_counts() == want
    assert step.adds == 24 * 1 + 24 * 11 and step.stages == 1 + 4
    assert "Paley stage of order 12" in step.note
    f = transform_cost("hadamard", "fp16", n=1, k=5120)  # 256·20, a LLaMA-13B width
    assert f.steps[0].adds == 5120 * (8 + 19)


def test_per_mac_is_per_element_over_n_and_whole_k_is_k():
    a = transform_cost("hadamard:4096", "int8", n=1)
    b = transform_cost("hadamard", "int8", n=4096, k=4096)
    assert b.per_element == a.per_element
    assert b.per_mac == pytest.approx(a.per_element / 4096)
    # an online 4096-point Hadamard amortised over 4096 outputs is < 0.1 % of an int8 MAC
    assert b.per_mac < 1e-3 * mac_cost("int8", "int8", "fixed").total


def test_float_hadamard_is_log2b_float_adders_per_element():
    fp16 = get_format("fp16")
    p = Product(fp16.man_bits + 1, False, fp16.exp_bits, fp16.emax - fp16.emin)
    adder = sum(g.total for g in float_accumulate(p, fp16, "nearest_even", GateCosts()))
    t = transform_cost("hadamard:128", "fp16", n=1)
    # per element and stage: one add or sub (b/2 butterflies of 2 over b values), a sub
    # flips one sign (XOR2 = 3 gates) on half of them
    assert t.per_element == pytest.approx(7 * (adder + 3.0 / 2))
    wide = transform_cost("hadamard:128", "fp8_e4m3fn", n=1, internal="fp32")
    narrow = transform_cost("hadamard:128", "fp8_e4m3fn", n=1)
    assert wide.per_element > t.per_element > narrow.per_element


def test_signs_add_one_negation_per_element():
    plain = transform_cost("hadamard:32", "int8", n=1).per_element
    signed = transform_cost("hadamard:32:signs=3", "int8", n=1).per_element
    assert signed - plain == pytest.approx(8 * 3 + 8 * 3)  # 8 XOR2 + 8 HA (negate8)
    f_plain = transform_cost("hadamard:32", "fp16", n=1).per_element
    assert transform_cost("hadamard:32:signs=3", "fp16", n=1).per_element - f_plain == 3.0


def test_smoothquant_is_free_online_and_chains_add():
    sq = transform_cost("smoothquant:0.5", "fp16")
    assert sq.per_element == 0 and sq.per_mac == 0 and "free online" in sq.steps[0].note
    h = transform_cost("hadamard:64", "fp16", n=512)
    both = transform_cost("smoothquant:0.5+hadamard:64", "fp16", n=512)
    assert both.per_mac == pytest.approx(h.per_mac) and both.depth == h.depth


def test_rotation_is_b_multiplies_per_element():
    b = 16
    t = transform_cost(f"rotation:0:{b}", "int8", n=1)
    (step,) = t.steps
    assert step.multiplies == b * b and step.adds == b * (b - 1)
    # b 8×8 multipliers per element plus the adder tree and its register
    assert t.per_element > b * array_multiplier(8).total
    assert t.per_element > 10 * transform_cost(f"hadamard:{b}", "int8", n=1).per_element


def test_unit_costs_count_cells():
    ones = GateCosts.from_mapping({p: 1 for p in PRIMITIVES}, unit="cells")
    t = transform_cost("hadamard:8", "int8", n=1, costs=ones)
    assert t.unit == "cells"
    assert t.per_element * 8 == sum(_hand_cells(8, 8).values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spec": "hadamard", "activation_format": "int8"}, "needs k"),
        ({"spec": "hadamard", "k": 56}, "no Hadamard matrix of order K = 56"),
        ({"spec": "hadamard:64", "k": 96}, "not divisible by the block 64"),
        ({"spec": "rotation:1:7", "k": 96}, "not divisible by the block 7"),
        ({"spec": "hadamard:8", "activation_format": "mxfp8_e4m3"}, "scalar activations"),
        ({"spec": "hadamard:8", "n": 0}, "n must be a positive integer"),
        ({"spec": "hadamard:8", "k": True}, "k must be a positive integer"),
        ({"spec": "hadamard:8", "internal": "int16"}, "must be a FloatFormat"),
        ({"spec": "hadamard:28"}, "no Hadamard matrix of order 28"),
        ({"spec": "smoothquant:3"}, r"\[0, 1\]"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        transform_cost(**kwargs)
