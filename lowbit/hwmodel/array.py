"""An R×C output-stationary MAC array running a GEMM (M×K)·(K×N): cycles, registers, memory
traffic, area and energy by component (the dataflow of Chen et al., Eyeriss taxonomy, ISCA
2016; every assumption in docs/hwmodel.md, "Energy")."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, replace

import numpy as np

from ..formats import Format, Quantizer, get_format
from .activity import Activity, measure_activity
from .energy import Technology
from .gates import DEFAULT_COSTS, Cost
from .mac import MacCost, mac_cost
from .memory import Traffic, element_format, gemm_traffic, register_bits, tensor_bits

#: largest GEMM/array dimension, and largest M·K·N: counts stay exact in float64 energies
MAX_DIM = 2**32
MAX_MACS = 2**53
#: the format outputs are written in unless told otherwise (a 16-bit inference output)
DEFAULT_OUTPUT = "bf16"
#: energy components, in the order they are reported
COMPONENTS = ("multiplier", "reduction", "accumulator", "registers", "sram", "dram")
_REGISTER = re.compile(r"reg\d+$")


def _dims(value, n: int, what: str) -> tuple[int, ...]:
    if isinstance(value, str):
        parts = value.lower().split("x")
        if any(len(p.strip()) > 20 for p in parts):  # int() of huge strings is slow: refuse
            raise ValueError(f"{what} {value[:40]!r}…: dimensions above {MAX_DIM} (2^32)")
        try:
            value = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"{what} {value!r}: expected {n} integers like " + "x".join(["64"] * n)
            ) from None
    value = tuple(value)
    # numpy integers are integers; bools are not
    ok = (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value)
    if len(value) != n or not all(ok) or any(v <= 0 for v in value):
        raise ValueError(f"{what} {value!r}: expected {n} positive integers")
    value = tuple(int(v) for v in value)
    if max(value) > MAX_DIM:
        raise ValueError(f"{what} {value!r}: dimensions above {MAX_DIM} (2^32) are not supported")
    return value


def _mac_keywords() -> tuple[str, ...]:
    sig = inspect.signature(mac_cost).parameters.values()
    return tuple(p.name for p in sig if p.kind is inspect.Parameter.KEYWORD_ONLY)


class EnergyBreakdown(dict):
    """Energy (pJ) by component (:data:`COMPONENTS` and ``total``).  Callers written before
    the breakdown may still read ``["mac"]`` (multiplier + reduction + accumulator logic) and
    ``["pipeline"]`` (registers); they are not items, so summing the items never double counts."""

    def __missing__(self, key):
        if key == "mac":
            return self["multiplier"] + self["reduction"] + self["accumulator"]
        if key == "pipeline":
            return self["registers"]
        raise KeyError(key)


@dataclass(frozen=True)
class ArrayCost:
    """Result of :func:`array_cost`; every count is for the whole GEMM."""

    mac: MacCost
    gemm: tuple[int, int, int]
    array: tuple[int, int]
    macs: int
    tiles: int
    cycles: int
    utilisation: float
    pipeline_register_bits: int
    accumulator_register_bits: int
    sram_read_bits: int
    sram_write_bits: int
    dram_bits: int
    area_gates: float
    area_um2: float
    energy_pj: EnergyBreakdown
    output_bits: int = 16
    traffic: Traffic | None = None
    activity: Activity | None = None
    area_breakdown_gates: dict | None = None

    def pj_per_mac(self) -> dict[str, float]:
        """Energy per MAC by component (and ``total``)."""
        return {k: v / self.macs for k, v in self.energy_pj.items()}

    def to_dict(self) -> dict:
        skip = ("mac", "traffic", "activity", "energy_pj")
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip}
        d["mac"] = self.mac.to_dict()
        d["gemm"], d["array"] = list(self.gemm), list(self.array)
        d["energy_pj"] = dict(self.energy_pj)
        d["traffic"] = None if self.traffic is None else vars(self.traffic).copy()
        d["activity"] = None if self.activity is None else self.activity.to_dict()
        return d


def _register_gates(node: Cost, costs) -> float:
    """Gates of the flip-flops in a cost tree: leaves named regN or made of FF cells only
    (amortised leaves keep their name but no cell counts)."""
    if not node.parts:
        only_ff = bool(node.cells) and set(node.cells) == {"ff"}
        return node.total if only_ff or _REGISTER.match(node.name) else 0.0
    own = node.gates if set(node.cells) == {"ff"} else 0.0
    return own + sum(_register_gates(p, costs) for p in node.parts)


def mac_components(mac: MacCost, costs=DEFAULT_COSTS) -> dict[str, float]:
    """Gates per MAC of the unit by component: ``multiplier`` (group mpy), ``reduction``
    (group block: adder tree and scale path), ``accumulator`` (every other group:
    align/add, normalise/round, epilogue) and ``registers`` (the unit's flip-flops, taken out of
    the group they sit in).

    >>> mac_components(mac_cost("int8", "int8", "fixed"))
    {'multiplier': 428.0, 'reduction': 0.0, 'accumulator': 144.0, 'registers': 168.0}
    """
    out = dict.fromkeys(("multiplier", "reduction", "accumulator", "registers"), 0.0)
    for part in mac.cost.parts:
        regs = _register_gates(part, costs)
        key = {"mpy": "multiplier", "block": "reduction"}.get(part.name, "accumulator")
        out[key] += part.total - regs
        out["registers"] += regs
    return out


def _activity(spec, wf, af, accumulator, k: int, lanes: int, seed: int, tech) -> Activity:
    if spec is None:  # measured where the simulator runs the pair, else the stated default
        try:
            return measure_activity(wf, af, accumulator, k=k, lanes=lanes, seed=seed)
        except ValueError as exc:
            why = str(exc).split(": ", 2)[-1].split(". Pass")[0]
            a = tech.activity
            return replace(Activity.assumed(a), source=f"assumed {a:g} (Technology): {why}")
    if isinstance(spec, Activity):
        return spec
    if isinstance(spec, str):
        if spec != "measured":
            raise ValueError(f"activity {spec!r}: 'measured', a number in [0, 1] or a MacStats")
        return measure_activity(wf, af, accumulator, k=k, lanes=lanes, seed=seed)
    if hasattr(spec, "toggles") and hasattr(spec, "activity"):
        return Activity.from_stats(spec)
    if isinstance(spec, (int, float, np.integer, np.floating)):
        return Activity.assumed(spec)
    raise ValueError(f"activity {spec!r}: 'measured', a number in [0, 1] or a MacStats")


def _output_bits(output_format, output_bits) -> int:
    if output_bits is not None:
        if output_format is not None:
            raise ValueError("give output_format or output_bits, not both")
        ok = isinstance(output_bits, (int, np.integer)) and not isinstance(output_bits, bool)
        if not ok or output_bits <= 0:
            raise ValueError(f"output_bits must be a positive integer, got {output_bits!r}")
        return int(output_bits)
    fmt = get_format(output_format or DEFAULT_OUTPUT)
    if fmt.has_block_scales:
        raise ValueError(f"output_format {fmt.name}: a scalar format (e.g. bf16, fp16, int8)")
    return int(fmt.bits)


def array_cost(
    weight_format: Format | Quantizer | str,
    activation_format: Format | Quantizer | str,
    accumulator="fixed",
    gemm: tuple[int, int, int] | str = (4096, 4096, 4096),
    array: tuple[int, int] | str = (128, 128),
    *,
    technology: Technology | None = None,
    output_format: Format | str | None = None,
    output_bits: int | None = None,
    activity=None,
    seed: int = 0,
    **mac_kwargs,
) -> ArrayCost:
    """Cost of a GEMM on an R×C output-stationary array: each PE owns one output, weights flow
    down and activations across, so each tile takes K + R + C − 2 cycles (fill and drain).

    Operands are formats or :class:`~lowbit.formats.Quantizer`s (per-channel / per-token
    scales); outputs are written in ``output_format`` (default bf16) or ``output_bits``.
    ``activity``: "measured" (a seeded macsim run, :func:`measure_activity`; ValueError where
    the simulator cannot run the pair), a :class:`~lowbit.hwmodel.macsim.MacStats`, an
    :class:`Activity` or a stated number; None (default): measured, and only where the
    simulator cannot run the pair (operands over 16 bits, binary) ``technology.activity``,
    saying so in ``.activity.source``.

    >>> a = array_cost("int8", "int8", "fixed", gemm=(256, 64, 256), array=(128, 128),
    ...                activity=0.5)
    >>> a.macs, a.tiles, a.cycles, a.output_bits
    (4194304, 4, 1272, 16)
    """
    m, k, n = _dims(gemm, 3, "gemm")
    r, c = _dims(array, 2, "array")
    if m * k * n > MAX_MACS:
        raise ValueError(f"gemm {m}x{k}x{n}: more than 2^53 MACs; counts would not be exact")
    unknown = sorted(set(mac_kwargs) - set(_mac_keywords()))
    if unknown:
        valid = ["technology", "output_format", "output_bits", "activity", "seed"]
        raise TypeError(
            f"array_cost: unknown keyword(s) {unknown}; valid keywords: {valid + list(_mac_keywords())}"
        )
    tech = technology or Technology()
    out_bits = _output_bits(output_format, output_bits)
    wf, af = element_format(weight_format), element_format(activation_format)
    mac = mac_cost(wf, af, accumulator, terms=k, **mac_kwargs)
    act = _activity(
        activity, weight_format, activation_format, accumulator, k, mac.lanes, seed, tech
    )
    tiles = -(-m // r) * -(-n // c)  # integer ceilings: exact for any size
    cycles = tiles * (k + r + c - 2)
    macs, pes = m * k * n, r * c
    op_bits = register_bits(weight_format) + register_bits(activation_format)
    traffic = gemm_traffic(
        tensor_bits(activation_format, m, k, k_axis=1),
        tensor_bits(weight_format, k, n, k_axis=0),
        m,
        n,
        r,
        c,
        m * n * out_bits,
        8 * tech.sram_bytes,
    )
    costs = mac_kwargs.get("costs", DEFAULT_COSTS)
    gates = mac_components(mac, costs)
    unit_ffs = gates["registers"] / costs.ff  # flip-flops per MAC slot (amortised)
    area = dict(gates)
    area["registers"] += op_bits * costs.ff  # operand registers passing data to neighbours
    area_gates = pes * sum(area.values())
    e_op, e_acc = tech.gate_energy_at(act.operands), tech.gate_energy_at(act.accumulator)
    clock = cycles * pes * (unit_ffs + op_bits) * tech.ff_clock_ge * tech.gate_energy_at(0.5)
    energy = EnergyBreakdown(
        multiplier=macs * gates["multiplier"] * e_op,
        reduction=macs * gates["reduction"] * e_op,
        accumulator=macs * gates["accumulator"] * e_acc,
        registers=macs * (gates["registers"] * e_acc + op_bits * costs.ff * e_op) + clock,
        sram=(traffic.sram_read_bits + traffic.sram_write_bits) * tech.sram_pj_per_bit(),
        dram=(traffic.dram_read_bits + traffic.dram_write_bits) * tech.dram_pj_per_bit(),
    )
    energy["total"] = sum(energy[key] for key in COMPONENTS)
    return ArrayCost(
        mac=mac,
        gemm=(m, k, n),
        array=(r, c),
        macs=macs,
        tiles=tiles,
        cycles=cycles,
        utilisation=macs / (cycles * pes),
        pipeline_register_bits=round(pes * op_bits),
        accumulator_register_bits=pes * -(-mac.accumulator_width // mac.lanes),
        sram_read_bits=traffic.sram_read_bits,
        sram_write_bits=traffic.sram_write_bits,
        dram_bits=traffic.dram_read_bits + traffic.dram_write_bits,
        area_gates=area_gates,
        area_um2=area_gates * tech.gate_area_um2,
        energy_pj=energy,
        output_bits=out_bits,
        traffic=traffic,
        activity=act,
        area_breakdown_gates={key: pes * v for key, v in area.items()},
    )
