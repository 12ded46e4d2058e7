"""The one unit description (issue 13 item 1/3/6): weight-only and mixed pairs, the scale path
and epilogue, feasibility flags and refusals, equal-lane comparisons.  Expected widths and
gate counts are derived by hand from the blocks of lowbit.hwmodel.arith (docs/hwmodel.md)."""

from __future__ import annotations

import pytest

from lowbit.hwmodel import arith as A
from lowbit.hwmodel import compare_units, mac_cost, make_unit
from lowbit.hwmodel.block import FP32, adder_tree, fp_mult, to_float
from lowbit.hwmodel.gates import DEFAULT_COSTS


def test_w4a16_priced_per_group_of_128():
    m = mac_cost("int4_g128", "fp16")
    assert (m.lanes, m.accumulator, m.feasible) == (128, "fp32", True)
    # int4 magnitude 4 bits (−8) × FP16 significand 11 = 15 bits, aligned over the FP16
    # activation's span emax − emin = 15 − (−14) = 29 binades, + a sign bit: 45-bit words
    tree = m.cost.find("tree128x45")
    assert tree.share == 128
    assert tree.total == pytest.approx(adder_tree(128, 45, True, DEFAULT_COSTS)[0].total / 128)
    # tree output 45 + 7 = 52 bits × the FP16 group scale's 11-bit significand, once per group
    scale = m.cost.find("array_mult52x11")
    assert scale.total == pytest.approx(A.array_multiplier(52, 11).total / 128)
    assert m.cost.find("lshift63by62")  # 52 + 11 = 63-bit scaled sum normalised to FP32


def test_w4a16_on_32_lanes_keeps_a_partial_group_register():
    m = mac_cost("int4_g128", "fp16", lanes=32)
    assert m.lanes == 32
    # 32-input tree: 45 + 5 = 50 bits; 128/32 = 4 cycles a group → 52-bit exact partial sum
    part = m.cost.find("block_partial")
    assert part.total == pytest.approx((A.ripple_adder(52).total + A.register(52).total) / 32)
    # the per-group scale is paid by 32 MACs instead of 128
    assert m.total > mac_cost("int4_g128", "fp16").total


def test_w4a8_group_and_per_channel():
    m = mac_cost("int4_g128", "int8")
    # int4 × int8 products lie in [−1016, 1024]: 12-bit two's complement, tree of 128: 19
    assert m.cost.find("tree128x12") and m.cost.find("array_mult19x11")
    assert m.cost.find("negate30")  # 19 + 11 bits converted to FP32
    pc = mac_cost("int4", "int8", "fp32", lanes=32, output_scales=("channel", "token"))
    assert pc.feasible and pc.lanes == 32
    fp8 = mac_cost("int4_g128", "fp8_e4m3fn")
    assert m.total < fp8.total < mac_cost("int4_g128", "fp16").total


def test_w8a8_per_channel_per_token_epilogue():
    base = mac_cost("int8", "int8", "fixed", lanes=32)
    both = mac_cost("int8", "int8", "fixed", lanes=32, output_scales=("channel", "token"))
    one = mac_cost("int8", "int8", "fixed", lanes=32, output_scales=("channel",))
    # fixed28 → FP32, then γ_w[n]·γ_a[m] and × the output: two FP32 multiplies per output
    conv, mult = to_float(28, DEFAULT_COSTS).total, fp_mult(FP32, DEFAULT_COSTS, "m").total
    assert both.breakdown()["output"] == pytest.approx((conv + 2 * mult) / 4096)
    assert one.breakdown()["output"] == pytest.approx((conv + mult) / 4096)
    assert both.total - base.total == pytest.approx((conv + 2 * mult) / 4096)
    # the scalar MAC pays the same epilogue
    s = mac_cost("int8", "int8", "fixed", output_scales=("token",))
    assert s.breakdown()["output"] == pytest.approx((conv + mult) / 4096)


def test_block_formats_default_to_fp32_scalars_to_exact():
    assert mac_cost("mxfp4", "mxfp4").accumulator == "fp32"
    assert mac_cost("nvfp4", "nvfp4").accumulator == "fp32"
    assert mac_cost("int8", "int8").accumulator == "fixed28 (exact)"


@pytest.mark.parametrize(
    "w,a,acc,terms,match",
    [
        ("mxfp4", "mxfp4", "fixed", 4096, "E8M0 scale range: 529 bits"),
        ("mx9", "mx9", "exact", 4096, "E8M0"),
        ("int8", "int8", "fp16", 4096, "fp16 accumulator can overflow"),
        ("fp8_e4m3fn", "fp8_e4m3fn", "fp16", 1, "fp16 accumulator can overflow"),  # 448² > 65504
        ("int8", "int8", 20, 4096, "need 28 bits"),
        ("int8", "int8", "fixed:24:3", 4096, "need 31 bits"),  # 4096·128²·2^3 = 2^30
        ("mxfp8_e4m3", "mxfp8_e4m3", "fixed32", 4096, "can overflow"),
    ],
)
def test_infeasible_units_are_flagged(w, a, acc, terms, match):
    m = mac_cost(w, a, acc, terms=terms)
    assert not m.feasible and any(match in s for s in m.warnings), m.warnings
    assert m.to_dict()["feasible"] is False


@pytest.mark.parametrize(
    "w,a,acc,terms",
    [
        ("int8", "int8", 20, 16),  # 16 · 2^14 = 2^18: 20 bits exactly
        ("int8", "int8", "fp32", 4096),
        ("fp8_e4m3fn", "fp8_e4m3fn", "fp32", 4096),
        ("mxfp8_e4m3", "mxfp8_e4m3", "fp32", 4096),
        ("nvfp4", "nvfp4", "fixed", 4096),  # E4M3 scales: a 57-bit exact register
        ("int4", "int4", "fp16", 1023),  # 1023 · (−8)² = 65472 <= 65504
    ],
)
def test_feasible_units(w, a, acc, terms):
    m = mac_cost(w, a, acc, terms=terms)
    assert m.feasible and m.warnings == ()


def test_fp16_threshold_is_the_formats_max():
    assert not mac_cost("int4", "int4", "fp16", terms=1024).feasible  # 65536 > 65504


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"reduction": "tree"}, "reduction"),
        ({"reduction_bits": -1}, "reduction_bits"),
        ({"output_scales": ("row",)}, "output_scales"),
        ({"output_scales": ("token", "token")}, "once"),
        ({"quantize": "bf16"}, "not a block format"),
        ({"quantize": "int8", "activation": "mxfp4"}, "float"),
        ({"lanes": 0}, "lanes"),
        ({"reduction": "aligned", "accumulator": "fixed", "lanes": 32}, "float accumulator"),
    ],
)
def test_refusals(kwargs, match):
    kw = dict(kwargs)
    w, a = kw.pop("weight", "int8"), kw.pop("activation", "int8")
    acc = kw.pop("accumulator", None)
    with pytest.raises(ValueError, match=match):
        mac_cost(w, a, acc, **kw)


def test_aligned_reduction_narrows_the_tree_and_grows_with_bits():
    exact = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", lanes=32)
    al = mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", lanes=32, reduction="aligned")
    # exact tree words: 8 + 28 + 1 = 37 bits; aligned: FP32 significand 24 + 3 = 27 + 1 = 28
    assert exact.cost.find("tree32x37") and al.cost.find("tree32x28")
    assert al.cost.find("max_exp32").total == pytest.approx(
        31 * (A.comparator(5).total + A.mux_bank(5).total) / 32
    )
    totals = [
        mac_cost("fp8_e4m3fn", "fp8_e4m3fn", "fp32", lanes=32, reduction="aligned",
                 reduction_bits=b).total
        for b in (12, 16, 24, 32)
    ]  # fmt: skip
    assert totals == sorted(totals) and len(set(totals)) == 4


def test_on_the_fly_quantisation_amax():
    plain = mac_cost("mxfp8_e4m3", "mxfp8_e4m3")
    q = mac_cost("mxfp8_e4m3", "mxfp8_e4m3", quantize="bf16")
    # amax over 32 BF16 magnitudes (15 bits): 31 comparators (15 XOR2 + 15 AO21) and muxes
    amax = q.cost.find("amax32")
    assert amax.total == pytest.approx(31 * (15 * 3 + 15 * 2 + 15 * 3) / 32)
    assert q.total - plain.total == pytest.approx(q.breakdown()["quantize"])


def test_lanes_amortise_and_nvfp4_on_32_lanes():
    totals = [mac_cost("int8", "int8", "fp32", lanes=n).total for n in (1, 2, 4, 8, 16, 32)]
    assert totals == sorted(totals, reverse=True)
    n16, n32 = mac_cost("nvfp4", "nvfp4"), mac_cost("nvfp4", "nvfp4", lanes=32)
    # two 16-element block units, one accumulator each, merged once per output
    assert n32.lanes == 16 and n32.cost.find("merge1")
    assert n32.total == pytest.approx(n16.total + n32.cost.find("merge1").total)


def test_compare_units_equal_lanes_and_accumulator():
    fmts = ["int8", "fp8_e4m3fn", "fp4_e2m1fn", "mxint8", "mxfp8_e4m3", "mxfp4"]
    c = compare_units(fmts)
    assert "32-lane" in c.note and "fp32" in c.note
    t = {w: m.total for (w, _), m in c.rows.items()}
    # like-for-like, the block scale is a small share: each MX format within 5% of its element
    for blk, el in (("mxint8", "int8"), ("mxfp8_e4m3", "fp8_e4m3fn"), ("mxfp4", "fp4_e2m1fn")):
        assert abs(t[blk] / t[el] - 1) < 0.05
    assert all(m.lanes == 32 and m.accumulator == "fp32" for m in c.rows.values())
    assert [k[0] for k, _ in c.ranked()][0] == "fp4_e2m1fn"
    f16 = compare_units(fmts, "fp16")
    assert f16.ranked() == []  # every pair can overflow FP16 at K = 4096: none ranked


def test_unit_is_the_description_mac_cost_prices():
    u = make_unit("int4_g128", "fp16", lanes=32)
    m = mac_cost("int4_g128", "fp16", lanes=32)
    assert m.spec == u and u.block == 128 and u.accumulator.name == "fp32"


def test_docs_lanes32_table_is_the_model():
    """docs/hwmodel.md's equal-lane table quotes what compare_units and pipelined give now."""
    from pathlib import Path

    from lowbit.hwmodel import pipelined

    doc = (Path(__file__).resolve().parents[2] / "docs" / "hwmodel.md").read_text()
    body = doc.split("<!-- lanes32-table -->")[1].split("<!-- /lanes32-table -->")[0]
    rows = [ln.split("|")[1:-1] for ln in body.strip().splitlines()[2:]]
    comps = {
        acc: compare_units([r[0].strip() for r in rows], acc) for acc in ("fixed", "fp16", "fp32")
    }
    for name, *cells in rows:
        f = name.strip()
        ms = [comps[acc].rows[(f, f)] for acc in ("fixed", "fp16", "fp32")]
        want = [f"{round(m.total)}" + ("" if m.feasible else " ✗") for m in ms]
        want += [str(ms[2].depth), str(round(pipelined(ms[2], 48).total))]
        assert [c.strip() for c in cells] == want, f


def test_aligned_reduction_removes_the_e5m2_lane_penalty():
    # exact trees over E5M2 fnuz's 60-binade product span make 16 lanes dearer than one MAC; an
    # aligned 27-bit window (FP32 significand + 3) does not grow with the span
    scalar = mac_cost("fp8_e5m2fnuz", "fp8_e5m2fnuz", "fp32").total
    exact = mac_cost("fp8_e5m2fnuz", "fp8_e5m2fnuz", "fp32", lanes=16)
    aligned = mac_cost("fp8_e5m2fnuz", "fp8_e5m2fnuz", "fp32", lanes=16, reduction="aligned")
    assert exact.cost.find("tree16x67")  # 2·3 + 2·30 + 1 (fnuz: emax 15, emin −15)
    assert aligned.cost.find("tree16x28")
    assert aligned.total < exact.total and aligned.total < scalar


def test_docs_weight_only_table_is_the_model():
    """docs/hwmodel.md's weight-only / mixed table quotes mac_cost(w, a, "fp32", **options)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "hwmodel.md").read_text()
    body = doc.split("**Weight-only and mixed pairs**")[1].split("\n\n")[1]
    rows = [ln.split("|")[1:-1] for ln in body.strip().splitlines()[2:]]
    assert len(rows) == 7
    for pair, opts, lanes, total in rows:
        w, a = pair.split("(")[0].split(" × ")
        kw = eval(f"dict({opts.strip().strip('`')})")  # the docs' own keyword text
        m = mac_cost(w.strip(), a.strip(), "fp32", **kw)
        assert (m.lanes, round(m.total)) == (int(lanes), int(total)), pair
