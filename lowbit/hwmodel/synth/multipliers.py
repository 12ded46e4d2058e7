"""Multipliers alone: emit Verilog for integer and minifloat multipliers, synthesise it with
Yosys to 2-input gates and weigh the cells with the model's own primitive costs
(docs/background.md §6).  Whole MAC units are in :mod:`lowbit.hwmodel.synth.unit`.

The mapping is ``synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT``; an XOR/XNOR
counts as XOR2 (3), every other 2-input cell 1, inverters 0.
"""

from __future__ import annotations

import re

from ...formats import FloatFormat, get_format
from ..gates import DEFAULT_COSTS, GateCosts
from ..mac import mac_cost
from .yosys import identifier as _identifier
from .yosys import map_script, run_script
from .yosys import value as _value


def int_multiplier_verilog(bits: int, top: str = "mul") -> str:
    """A signed bits×bits Baugh–Wooley multiplier (Baugh & Wooley 1973): partial products with
    the sign row and column inverted, plus 2^n + 2^(2n−1); product 2n bits.

    >>> "module mul" in int_multiplier_verilog(4)
    True
    """
    if not isinstance(bits, int) or bits < 2:
        raise ValueError(f"bits must be an integer >= 2, got {bits!r}")
    _identifier("top", top)
    n, w = bits, 2 * bits
    rows = []
    for i in range(n):
        terms = []
        for j in range(n):
            pp = f"(a[{j}] & b[{i}])"
            if (i == n - 1) != (j == n - 1):
                pp = f"~{pp}"
            terms.append(pp)
        rows.append(f"({{{w}'d0, {{{', '.join(reversed(terms))}}}}} << {i})")
    const = (1 << n) + (1 << (w - 1))
    body = " + ".join(rows) + f" + {w}'d{const}"
    return (
        f"module {top}(input [{n - 1}:0] a, input [{n - 1}:0] b, output [{w - 1}:0] p);\n"
        f"  wire [{2 * w - 1}:0] s = {body};\n  assign p = s[{w - 1}:0];\nendmodule\n"
    )


def fp_multiplier_verilog(fmt: FloatFormat | str, top: str = "fmul") -> str:
    """Product of two codes of a minifloat as (sign, exponent sum, significand product): hidden
    bit = OR of the exponent field, a subnormal's exponent field taken as 1 (specials not
    handled).  value = (−1)^s · sig · 2^(exp − 2·bias − 2M).

    >>> "fmul" in fp_multiplier_verilog("fp8_e4m3fnuz")
    True
    """
    _identifier("top", top)
    f = get_format(fmt)
    if not isinstance(f, FloatFormat):
        raise ValueError(f"{f.name}: fp_multiplier_verilog needs a FloatFormat")
    e, m, b = f.exp_bits, f.man_bits, f.bits
    return f"""module {top}(input [{b - 1}:0] a, input [{b - 1}:0] b, output s,
  output [{e}:0] exp, output [{2 * m + 1}:0] sig);
  wire ha = |a[{b - 2}:{m}];
  wire hb = |b[{b - 2}:{m}];
  wire [{e - 1}:0] ea = {{a[{b - 2}:{m + 1}], a[{m}] | ~ha}};
  wire [{e - 1}:0] eb = {{b[{b - 2}:{m + 1}], b[{m}] | ~hb}};
  assign s = a[{b - 1}] ^ b[{b - 1}];
  assign exp = {{1'b0, ea}} + {{1'b0, eb}};
  assign sig = {{ha, a[{m - 1}:0]}} * {{hb, b[{m - 1}:0]}};
endmodule
"""


def synthesise(
    verilog: str,
    top: str,
    evals: list[dict[str, int]] | None = None,
    show: tuple[str, ...] = ("p",),
    costs: GateCosts = DEFAULT_COSTS,
    timeout: float = 120.0,
) -> dict:
    """Synthesise ``verilog`` with Yosys; return ``{"cells": {...}, "gates": weighted, "evals":
    [outputs per input dict]}`` (outputs as unsigned ints).

    ``top``, the ``evals`` keys and ``show`` must be Verilog identifiers and the ``evals``
    values numbers (or identifiers): they are written into a Yosys script, and Yosys runs a
    line starting with ``!`` in a shell, so anything else is refused with ValueError.

    >>> r = synthesise(int_multiplier_verilog(2), "mul", [{"a": 3, "b": 3}])  # doctest: +SKIP
    """
    _identifier("top", top)
    show = tuple(_identifier("show", o) for o in show)
    if evals is not None and not isinstance(evals, (list, tuple)):
        raise ValueError(f"evals must be a list of dicts, got {type(evals).__name__}")
    for vec in evals or []:
        if not isinstance(vec, dict):
            raise ValueError(f"evals entries must be dicts of input values, got {vec!r}")
        for k, v in vec.items():
            _identifier("evals key", k)
            _value(f"evals[{k!r}]", v)
    # results go to files (tee): the yowasp build's stdout after an ABC run is not reliable
    lines = [*map_script(top), "tee -q -o stat.txt stat"]
    for vec in evals or []:
        sets = " ".join(f"-set {k} {_value(k, v)}" for k, v in vec.items())
        lines.append(f"tee -q -a eval.txt eval {sets} " + "".join(f" -show {o}" for o in show))
    if not evals:
        lines.append("tee -q -o eval.txt log")
    _, files = run_script(verilog, lines, ("stat.txt", "eval.txt"), timeout=timeout)
    stat, out = files["stat.txt"], files["eval.txt"]
    cells = {k: int(v) for k, v in re.findall(r"\$_(\w+?)_\s+(\d+)", stat.split("Eval")[0])}
    weights = {"XOR": costs.xor2, "XNOR": costs.xor2, "NOT": 0.0}
    gates = sum(n * weights.get(k, costs.and2) for k, n in cells.items())
    found = re.findall(r"Eval result:\s*\\(\w+) = \d+'([01]+)", out)
    results = [
        {k: int(v, 2) for k, v in found[i : i + len(show)]} for i in range(0, len(found), len(show))
    ]
    return {"cells": cells, "gates": gates, "evals": results}


def compare_multipliers(costs: GateCosts = DEFAULT_COSTS) -> list[dict]:
    """Model vs Yosys for INT2–INT8 signed multipliers and the FP8 E2–E5 (fnuz) multipliers.

    >>> rows = compare_multipliers()  # doctest: +SKIP
    """
    rows = []
    for bits in range(2, 9):
        name = f"int{bits}"
        model = mac_cost(name, name, "fixed", costs=costs).breakdown()["mpy"]
        syn = synthesise(int_multiplier_verilog(bits), "mul", costs=costs)["gates"]
        rows.append({"format": name, "model": model, "yosys": syn, "ratio": model / syn})
    for e in (2, 3, 4, 5):
        name = f"fp8_e{e}m{7 - e}fnuz"
        mpy = mac_cost(name, name, "fixed", costs=costs).cost.find("mpy")
        model = mpy.total - mpy.breakdown().get("specials", 0.0)  # Verilog has no NaN logic
        syn = synthesise(fp_multiplier_verilog(name), "fmul", costs=costs)["gates"]
        rows.append({"format": name, "model": model, "yosys": syn, "ratio": model / syn})
    return rows
