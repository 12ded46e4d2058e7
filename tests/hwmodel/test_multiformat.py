"""One unit for several formats (issue 13 item 6): the union datapath and its overhead."""

from __future__ import annotations

import pytest

from lowbit import get_format
from lowbit.hwmodel import mac_cost, multi_format_cost
from lowbit.hwmodel.multiformat import union_operand

SETS = [
    ["fp8_e4m3fn", "fp8_e5m2"],
    ["fp8_e4m3fn", "int8"],
    ["mxfp8_e4m3", "mxfp6_e2m3", "mxfp4"],
]


@pytest.mark.parametrize("fmts", SETS)
@pytest.mark.parametrize("acc", ["fp32", None])
def test_union_costs_at_least_the_widest_single(fmts, acc):
    r = multi_format_cost(fmts, acc)
    for f in fmts:
        single = mac_cost(f, f, acc or ("fp32" if f.startswith("mx") else "fixed"), lanes=32)
        assert r.single[(f, f)].total == single.total
    assert r.union.total > max(m.total for m in r.single.values())
    assert r.overhead > 1 and r.union.lanes == 32
    assert r.separate > max(m.total for m in r.single.values())


def test_union_of_one_format_is_that_format():
    r = multi_format_cost(["int8", "int8"], "fp32")
    assert r.overhead == 1.0 and len(r.single) == 1


def test_union_operand_widths():
    u = union_operand([get_format("fp8_e4m3fn"), get_format("int8")])
    # INT8: 8 magnitude bits (−128), two's complement; E4M3: 4-bit exponent over 14 binades
    assert (u.mag_bits, u.exp_bits, u.exp_span, u.twos, u.is_float) == (8, 4, 14, True, True)
    mx = union_operand([get_format(f) for f in ("mxfp8_e4m3", "mxfp6_e2m3", "mxfp4")])
    assert (mx.mag_bits, mx.exp_bits, mx.exp_span) == (4, 4, 14)


def test_decode_muxes():
    r = multi_format_cost(["fp8_e4m3fn", "fp8_e5m2"], "fp32")
    # union field: 3 stored significand bits + 5 exponent bits = 8; one MUX2 per bit (F = 2)
    assert r.union.cost.find("field_mux_w").cells == {"mux2": 8}
    three = multi_format_cost(SETS[2], "fp32")
    assert three.union.cost.find("field_mux_a").cells == {"mux2": 2 * 7}  # F = 3: 2 per bit


def test_mixed_families_refused():
    with pytest.raises(ValueError, match="block families"):
        multi_format_cost(["mxfp4", "nvfp4"])
    with pytest.raises(ValueError, match="block families"):
        multi_format_cost(["mxfp8_e4m3", "fp8_e4m3fn"])
    with pytest.raises(ValueError, match="at least two"):
        multi_format_cost(["int8"])


def test_docs_table_is_the_model():
    """docs/hwmodel.md's multi-format table quotes multi_format_cost(formats, "fp32")."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "hwmodel.md").read_text()
    body = doc.split("| formats | singles | union | overhead | separate datapaths |")[1]
    rows = [ln.split("|")[1:-1] for ln in body.strip().split("\n\n")[0].splitlines()[1:]]
    assert len(rows) == 3
    for fmts, singles, union, overhead, separate in rows:
        r = multi_format_cost([f.strip() for f in fmts.split("+")], "fp32")
        assert [round(m.total) for m in r.single.values()] == [int(x) for x in singles.split(",")]
        assert round(r.union.total) == int(union) and f"{r.overhead:.2f}" == overhead.strip()
        assert round(r.separate) == int(separate)
