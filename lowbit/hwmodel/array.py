"""An R×C output-stationary MAC array running a GEMM (M×K)·(K×N): cycles, registers, memory
traffic, area and energy (the dataflow of Chen et al., Eyeriss taxonomy, ISCA 2016)."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from ..formats import Format, get_format
from .energy import Technology
from .mac import MacCost, mac_cost

#: largest GEMM/array dimension, and largest M·K·N: counts stay exact in float64 energies
MAX_DIM = 2**32
MAX_MACS = 2**53


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
    energy_pj: dict

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "mac"}
        d["mac"] = self.mac.to_dict()
        d["gemm"], d["array"] = list(self.gemm), list(self.array)
        return d


def array_cost(
    weight_format: Format | str,
    activation_format: Format | str,
    accumulator="fixed",
    gemm: tuple[int, int, int] | str = (4096, 4096, 4096),
    array: tuple[int, int] | str = (128, 128),
    *,
    technology: Technology | None = None,
    output_bits: int | None = None,
    **mac_kwargs,
) -> ArrayCost:
    """Cost of a GEMM on an R×C output-stationary array: each PE owns one output, weights flow
    down and activations across, so each tile takes K + R + C − 2 cycles (fill and drain).

    >>> a = array_cost("int8", "int8", "fixed", gemm=(256, 64, 256), array=(128, 128))
    >>> a.macs, a.tiles, a.cycles
    (4194304, 4, 1272)
    """
    m, k, n = _dims(gemm, 3, "gemm")
    r, c = _dims(array, 2, "array")
    if m * k * n > MAX_MACS:
        raise ValueError(f"gemm {m}x{k}x{n}: more than 2^53 MACs; counts would not be exact")
    unknown = sorted(set(mac_kwargs) - set(_mac_keywords()))
    if unknown:
        valid = ["technology", "output_bits", *_mac_keywords()]
        raise TypeError(f"array_cost: unknown keyword(s) {unknown}; valid keywords: {valid}")
    tech = technology or Technology()
    wf, af = get_format(weight_format), get_format(activation_format)
    mac = mac_cost(wf, af, accumulator, terms=k, **mac_kwargs)
    tiles = -(-m // r) * -(-n // c)  # integer ceilings: exact for any size
    cycles = tiles * (k + r + c - 2)
    macs = m * k * n
    pes = r * c
    pipe_bits = pes * (wf.bits + af.bits)  # operand registers passing data to neighbours
    # a block unit (lanes products per accumulator update) holds one accumulator per lanes MACs
    acc_bits = pes * math.ceil(mac.accumulator_width / mac.lanes)
    out_bits = output_bits or mac.accumulator_width
    # SRAM: every tile streams its R×K activations and K×C weights once; outputs written once
    sram_read = tiles * k * (r * af.bits + c * wf.bits)
    sram_write = m * n * out_bits
    dram = m * k * af.bits + k * n * wf.bits + m * n * out_bits
    pipe_gates = pipe_bits * 6.0  # FF = 6 gates (App. B)
    area_gates = pes * mac.total + pipe_gates
    e_mac = macs * mac.total * tech.gate_energy_pj
    e_pipe = macs * (wf.bits + af.bits) * 6.0 * tech.gate_energy_pj
    e_sram = (sram_read + sram_write) * tech.sram_pj_per_bit()
    e_dram = dram * tech.dram_pj_per_bit()
    energy = {
        "mac": e_mac,
        "pipeline": e_pipe,
        "sram": e_sram,
        "dram": e_dram,
        "total": e_mac + e_pipe + e_sram + e_dram,
    }
    return ArrayCost(
        mac=mac,
        gemm=(m, k, n),
        array=(r, c),
        macs=macs,
        tiles=tiles,
        cycles=cycles,
        utilisation=macs / (cycles * pes),
        pipeline_register_bits=pipe_bits,
        accumulator_register_bits=acc_bits,
        sram_read_bits=sram_read,
        sram_write_bits=sram_write,
        dram_bits=dram,
        area_gates=area_gates,
        area_um2=area_gates * tech.gate_area_um2,
        energy_pj=energy,
    )
