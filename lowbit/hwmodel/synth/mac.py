"""Synthesise a whole MAC unit (:func:`synthesize_mac`), simulate its netlist against lowbit's
own arithmetic (:func:`simulate_unit`, :func:`reference_step`), and set the model beside it
(:func:`model_vs_synthesis`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...formats import FloatFormat, get_format
from ..gates import DEFAULT_COSTS, GateCosts
from ..mac import mac_cost
from ..macsim.reference import _fixed_step, float_step
from .netlist import Netlist
from .units import Side, Unit, mac_unit
from .yosys import map_script, run_script, yosys_version

#: wall-clock limit of one Yosys run (a 32-lane FP32 unit is tens of thousands of cells)
TIMEOUT_S = 1800.0
#: where synthesised netlists are kept between runs (unset: in-process cache only)
CACHE_ENV = "LOWBIT_SYNTH_CACHE"


@dataclass(frozen=True)
class SynthResult:
    """One synthesised unit: ``gates`` (combinational, weighted: XOR/XNOR 3, other 2-input
    cells 1, inverters 0), ``registers`` (DFF bits of the accumulator register, counted
    apart), ``depth`` (2-input cells on the longest path from the inputs and the register's
    output to its input), ``cells`` (mapped cell type → count),
    ``verilog`` (the source), ``seconds`` (Yosys wall time; 0 from the cache)."""

    gates: float
    registers: int
    depth: int
    cells: dict
    verilog: str
    unit: Unit = field(repr=False)
    netlist: Netlist | None = field(repr=False, compare=False)
    seconds: float = 0.0
    hierarchical: bool = False


def _netlist_json(verilog: str, top: str) -> tuple[dict, float]:
    key = hashlib.sha256((yosys_version() + "\n" + verilog).encode()).hexdigest()[:32]
    cache = os.environ.get(CACHE_ENV)
    path = Path(cache) / f"{key}.json" if cache else None
    if path is not None and path.exists():
        return json.loads(path.read_text(encoding="utf-8")), 0.0
    t0 = time.perf_counter()
    _, files = run_script(
        verilog, [*map_script(top), "write_json net.json"], ("net.json",), TIMEOUT_S
    )
    secs = time.perf_counter() - t0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files["net.json"], encoding="utf-8")
    return json.loads(files["net.json"]), secs


#: lanes from which :func:`synthesize_mac` synthesises hierarchically by default
HIERARCHICAL_LANES = 16


@lru_cache(maxsize=256)
def _synth(weight, activation, accumulator: str, lanes: int, hier: bool) -> SynthResult:
    unit = mac_unit(weight, activation, accumulator, lanes)
    if hier and unit.lanes > 1:
        return _synth_hier(unit)
    doc, secs = _netlist_json(unit.verilog, unit.top)
    net = Netlist.from_json(doc, unit.top)
    return SynthResult(
        net.gates(), unit.acc_bits, net.depth, net.cells, unit.verilog, unit, net, secs
    )


def _synth_hier(unit: Unit) -> SynthResult:
    """lanes × (one lane) + (tree, scale path, accumulator), each synthesised on its own;
    depth = lane depth + rest depth (an upper bound: the two critical paths may not meet)."""
    lane_doc, t1 = _netlist_json(unit.lane_verilog, "mac_lane")
    rest_doc, t2 = _netlist_json(unit.rest_verilog, "mac_rest")
    lane = Netlist.from_json(lane_doc, "mac_lane")
    rest = Netlist.from_json(rest_doc, "mac_rest")
    cells = {c: unit.lanes * lane.cells.get(c, 0) + rest.cells.get(c, 0)
             for c in sorted(set(lane.cells) | set(rest.cells))}  # fmt: skip
    gates = unit.lanes * lane.gates() + rest.gates()
    return SynthResult(gates, unit.acc_bits, lane.depth + rest.depth, cells, unit.verilog,
                       unit, None, t1 + t2, True)  # fmt: skip


def synthesize_mac(
    weight,
    activation,
    accumulator="fp32",
    lanes: int = 1,
    terms: int = 4096,
    hierarchical: bool | None = None,
) -> SynthResult:
    """Synthesise the unit ``mac_cost(weight, activation, accumulator, terms, lanes=lanes)``
    prices (lowbit.hwmodel.synth.units) with Yosys to 2-input cells.  ``terms`` sizes the
    exact ("fixed") accumulator as the model does.  ``hierarchical`` (default: lanes >=
    ``HIERARCHICAL_LANES``) synthesises one lane and the rest of the unit as separate modules
    and adds lanes × lane + rest (no netlist to simulate then: ``netlist`` is None); a flat
    32-lane FP32 unit takes Yosys over 9 minutes.  Results are cached in-process, and on
    disk under ``$LOWBIT_SYNTH_CACHE`` keyed by the Verilog and the Yosys version.

    >>> r = synthesize_mac("int2", "int2", "fixed8")
    >>> r.registers, r.gates > 0, r.depth > 0, "module mac_unit" in r.verilog
    (8, True, True, True)
    """
    if not isinstance(terms, int) or isinstance(terms, bool) or terms < 1:
        raise ValueError(f"terms must be a positive integer, got {terms!r}")
    names = [get_format(weight), get_format(activation)]  # format objects: the cache key
    acc = accumulator
    if isinstance(acc, str) and acc.strip().lower() in ("fixed", "exact", "kulisch"):
        width = mac_cost(names[0], names[1], "fixed", terms, lanes=lanes).accumulator_width
        acc = f"fixed{width}"
    if not isinstance(acc, str):
        acc = acc.name if isinstance(acc, FloatFormat) else _acc_spec(acc)
    hier = lanes >= HIERARCHICAL_LANES if hierarchical is None else bool(hierarchical)
    return _synth(names[0], names[1], acc, lanes, hier)


def _acc_spec(acc) -> str:
    frac = "" if acc.frac is None else f":{acc.frac}"
    return f"fixed:{acc.width}{frac}:{acc.overflow}"


# ---- simulation and the oracle --------------------------------------------------------


def _bits(values, width: int) -> np.ndarray:
    v = np.asarray(values, dtype=object) if width > 62 else np.asarray(values, np.int64)
    out = np.zeros((len(v), width), bool)
    for i in range(width):
        out[:, i] = ((v >> i) & 1).astype(bool)
    return out


def _ints(bits: np.ndarray) -> list[int]:
    w = bits.shape[1]
    if w <= 62:
        return (bits.astype(np.int64) << np.arange(w)).sum(axis=1).tolist()
    return [int("".join("1" if b else "0" for b in row[::-1]), 2) for row in bits]


def simulate_unit(res: SynthResult, w_codes, a_codes, state, xw=None, xa=None) -> list[int]:
    """Next accumulator register of the synthesised netlist for each vector: ``w_codes``,
    ``a_codes`` (n × lanes codes), ``state`` (n register values), ``xw``/``xa`` (n scale
    codes of block formats).  One call is one clock edge on n independent units."""
    u, net = res.unit, res.netlist
    if net is None:
        raise ValueError("a hierarchical synthesis has no netlist: use hierarchical=False")
    w_codes, a_codes = np.atleast_2d(w_codes), np.atleast_2d(a_codes)
    ins = {}
    for i in range(u.lanes):
        ins[f"w{i}"] = _bits(w_codes[:, i], u.w.bits)
        ins[f"a{i}"] = _bits(a_codes[:, i], u.a.bits)
    if u.scale != "none":
        ins["xw"], ins["xa"] = _bits(xw, u.scale_bits), _bits(xa, u.scale_bits)
    ins["acc"] = _bits(state, u.acc_bits)
    ins = {k: v for k, v in ins.items() if k in net.inputs}
    return _ints(net.step(ins)["nxt"])


def _values(side: Side, codes) -> np.ndarray:
    """Element values: the format's decode; an integer grid times 2^lsb (MXINT8's 1.6)."""
    v = np.asarray(side.fmt.decode(np.asarray(codes)), np.float64)
    return v if side.is_float else v * 2.0**side.lsb


def _scale_values(u: Unit, codes) -> list[Fraction]:
    codes = np.asarray(codes)
    if u.scale == "mx":
        return [Fraction(2) ** (int(c) - 127) for c in codes]
    if u.scale == "nvfp4":
        e4 = get_format("fp8_e4m3fn")
        return [Fraction(float(v)) for v in e4.decode(codes & 0x7F)]
    return [Fraction(int(c)) for c in codes]


def reference_step(u: Unit, w_codes, a_codes, state, xw=None, xa=None) -> list[int]:
    """lowbit's arithmetic for one accumulation: element values from the formats' decode,
    the block sum exact (Fractions, as macsim's "blocks" order), times the block scales, then
    one accumulator step of the exact reference (lowbit.hwmodel.macsim.reference:
    ``float_step`` RNE with Inf on overflow, ``_fixed_step`` RNE then wrap/saturate)."""
    w_codes, a_codes = np.atleast_2d(w_codes), np.atleast_2d(a_codes)
    wv, av = _values(u.w, w_codes), _values(u.a, a_codes)
    n = w_codes.shape[0]
    sw = _scale_values(u, xw) if u.scale != "none" else [Fraction(1)] * n
    sa = _scale_values(u, xa) if u.scale != "none" else [Fraction(1)] * n
    acc = u.accumulator
    out: list[int] = []
    memo: dict = {}
    for i in range(n):
        if u.lanes == 1 and u.scale == "none":  # sequential: a float product keeps −0
            p = float(wv[i, 0]) * float(av[i, 0])  # exact: a product of two ≤ 8-bit values
        else:
            p = sum(
                (
                    Fraction(float(x)) * Fraction(float(y))
                    for x, y in zip(wv[i], av[i], strict=True)
                ),
                Fraction(0),
            )
            p = p * sw[i] * sa[i]
        key = (state[i], p, str(p))  # str keeps −0.0 apart from 0.0
        if key in memo:
            out.append(memo[key])
            continue
        if isinstance(acc, FloatFormat):
            s = float(acc.decode(np.array([state[i]]))[0])
            r, _ = float_step(s, p, acc, "nearest_even")
            out.append(_float_bits(r, acc))
            memo[key] = out[-1]
        else:
            reg = state[i] - (1 << acc.width) if state[i] >> (acc.width - 1) else state[i]
            x = Fraction(p) * Fraction(2) ** acc.frac
            r, _, _ = _fixed_step(reg, x, acc.width, acc.overflow, "nearest_even")
            out.append(r % (1 << acc.width))
            memo[key] = out[-1]
    return out


def _float_bits(r: float, fmt: FloatFormat) -> int:
    from ..macsim.reference import float_register_bits

    return float_register_bits(r, fmt)


# ---- model beside synthesis ----------------------------------------------------------


def standard_configs(
    lanes: tuple[int, ...] = (1, 32), accumulators: tuple[str, ...] = ("fixed", "fp16", "fp32")
) -> list[tuple[str, str, str, int]]:
    """The model-vs-synthesis grid of issue 13: INT2–INT8 and FP8 E2–E5 (fnuz), each format
    times itself, × ``accumulators`` × ``lanes``.

    >>> len(standard_configs()), standard_configs(lanes=(1,))[0]
    (66, ('int2', 'int2', 'fixed', 1))
    """
    fmts = [f"int{b}" for b in range(2, 9)] + [f"fp8_e{e}m{7 - e}fnuz" for e in (2, 3, 4, 5)]
    return [(f, f, acc, k) for k in lanes for acc in accumulators for f in fmts]


def model_side(config, terms: int = 4096, costs: GateCosts = DEFAULT_COSTS) -> dict:
    """The model's numbers for one synthesised unit ``config`` = (weight, activation,
    accumulator, lanes): per-unit combinational gates (without its register, ``specials``
    and per-output ``output`` blocks, which the unit leaves out), register bits, depth and
    the per-group gates.

    >>> model_side(("int2", "int2", "fixed", 1))["registers_model"]
    16
    """
    wf, af, acc, lanes = config
    m = mac_cost(wf, af, acc, terms, lanes=lanes, costs=costs)
    k = m.spec.lanes
    flat = m.cost.flat()
    ff = sum(v for p, v in flat.items() if "/reg" in p)
    spec = sum(v for p, v in flat.items() if p.endswith("/specials"))
    out = sum(v for p, v in flat.items() if "/output/" in p)
    return {
        "weight": m.weight,
        "activation": m.activation,
        "accumulator": m.accumulator,
        "lanes": k,
        "gates_model": (m.total - ff - spec - out) * k,  # per unit, as synthesised
        "registers_model": round(ff / costs.ff * k) if costs.ff else 0,
        "depth_model": m.depth,
        "groups_model": {g: v * k for g, v in m.breakdown().items()},
    }


def model_vs_synthesis(configs, terms: int = 4096, costs: GateCosts = DEFAULT_COSTS) -> list[dict]:
    """Model (:func:`model_side`) vs synthesis (:func:`synthesize_mac`, live) for each
    (weight, activation, accumulator, lanes): per-unit combinational gates, registers, depth,
    and the model/synthesis ratio (:func:`lowbit.hwmodel.synth.synthesis_table` serves the
    committed results instead).

    >>> row = model_vs_synthesis([("int2", "int2", "fixed", 1)])[0]
    >>> row["accumulator"], row["registers_model"], row["registers_synth"]
    ('fixed16 (exact)', 16, 16)
    """
    rows = []
    for wf, af, acc, lanes in configs:
        m = model_side((wf, af, acc, lanes), terms, costs)
        s = synthesize_mac(wf, af, acc, lanes=lanes, terms=terms)
        rows.append(
            {
                **m,
                "gates_synth": s.gates,
                "ratio": m["gates_model"] / s.gates,
                "registers_synth": s.registers,
                "depth_synth": s.depth,
                "seconds": s.seconds,
            }
        )
    return rows
