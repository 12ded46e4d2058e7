"""Named, sourced, replaceable energy/area tables and the :class:`Technology` that applies one.

The default table is Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014, 45 nm, 0.9 V (docs/background.md §6).  Gate-level energy and area are derived
from the table's 8-bit multiplier and the model's own gate count of that multiplier, so no
constant is invented; a user table (another node, a vendor's SRAM compiler, HBM instead of
DDR) is an :class:`EnergyTable` passed as ``Technology(table=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .arith import array_multiplier

#: Horowitz 2014, 45 nm: energy per operation (pJ); SRAM and DRAM per 64-bit access.
HOROWITZ_45NM_PJ = {
    "int8_add": 0.03,
    "int32_add": 0.1,
    "int8_mult": 0.2,
    "int32_mult": 3.1,
    "fp16_add": 0.4,
    "fp32_add": 0.9,
    "fp16_mult": 1.1,
    "fp32_mult": 3.7,
    "sram_8kb_read_64b": 10.0,
    "sram_32kb_read_64b": 20.0,
    "sram_1mb_read_64b": 100.0,
    "dram_read_64b_low": 1300.0,
    "dram_read_64b_high": 2600.0,
}
#: Horowitz 2014, 45 nm: area (µm²).
HOROWITZ_45NM_UM2 = {"int8_add": 36.0, "int32_add": 137.0, "int8_mult": 282.0, "int32_mult": 3495.0}

KB = 1024


def _number(where: str, v) -> float:
    real = isinstance(v, (int, float, np.integer, np.floating))
    if not real or isinstance(v, (bool, np.bool_)) or not math.isfinite(v):
        raise ValueError(f"{where} must be a finite number, got {v!r}")
    return float(v)


def _positive_map(where: str, m: Mapping, key_type: type) -> Mapping:
    if not isinstance(m, Mapping) or not m:
        raise ValueError(f"EnergyTable: {where} must be a non-empty mapping")
    out = {}
    for k, v in m.items():
        if not isinstance(k, key_type) or isinstance(k, bool):
            raise ValueError(f"EnergyTable: {where} keys must be {key_type.__name__}, got {k!r}")
        out[k] = _number(f"EnergyTable: {where}[{k!r}]", v)
        if not out[k] > 0:
            raise ValueError(f"EnergyTable: {where}[{k!r}] must be > 0, got {v!r}")
    return MappingProxyType(out)


@dataclass(frozen=True)
class EnergyTable:
    """A named, sourced table of energies at one node.

    ``op_pj``: energy per operation (pJ), at least ``int8_mult`` (it calibrates the energy of
    one gate equivalent); ``area_um2``: at least ``int8_mult`` (calibrates gate area);
    ``sram_pj_per_64b``: SRAM capacity in bytes → pJ per 64-bit access; ``dram_pj_per_64b``:
    named DRAM cases → pJ per 64 bits.

    >>> HOROWITZ_2014_45NM.sram_pj_per_64b[32 * 1024], HOROWITZ_2014_45NM.dram_pj_per_64b["low"]
    (20.0, 1300.0)
    """

    name: str
    source: str
    node_nm: float
    op_pj: Mapping[str, float]
    area_um2: Mapping[str, float]
    sram_pj_per_64b: Mapping[int, float]
    dram_pj_per_64b: Mapping[str, float]

    def __post_init__(self):
        for what in ("name", "source"):
            if not isinstance(getattr(self, what), str) or not getattr(self, what):
                raise ValueError(f"EnergyTable: {what} must be a non-empty str")
        if not _number("EnergyTable: node_nm", self.node_nm) > 0:
            raise ValueError(f"EnergyTable: node_nm must be > 0, got {self.node_nm}")
        for what, kt in (
            ("op_pj", str),
            ("area_um2", str),
            ("sram_pj_per_64b", int),
            ("dram_pj_per_64b", str),
        ):
            object.__setattr__(self, what, _positive_map(what, getattr(self, what), kt))
        for what in ("op_pj", "area_um2"):
            if "int8_mult" not in getattr(self, what):
                raise ValueError(f"EnergyTable: {what} needs 'int8_mult' (the gate calibration)")


#: Horowitz, ISSCC 2014 (45 nm, 0.9 V): the values of HOROWITZ_45NM_PJ / _UM2 as they are.
HOROWITZ_2014_45NM = EnergyTable(
    name="horowitz2014_45nm",
    source=(
        "M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
        "ISSCC 2014, pp. 10-14; 45 nm, 0.9 V"
    ),
    node_nm=45.0,
    op_pj={k: v for k, v in HOROWITZ_45NM_PJ.items() if not k.startswith(("sram", "dram"))},
    area_um2=HOROWITZ_45NM_UM2,
    sram_pj_per_64b={
        8 * KB: HOROWITZ_45NM_PJ["sram_8kb_read_64b"],
        32 * KB: HOROWITZ_45NM_PJ["sram_32kb_read_64b"],
        KB * KB: HOROWITZ_45NM_PJ["sram_1mb_read_64b"],
    },
    dram_pj_per_64b={
        "low": HOROWITZ_45NM_PJ["dram_read_64b_low"],
        "high": HOROWITZ_45NM_PJ["dram_read_64b_high"],
    },
)

#: the legacy names Technology(sram=..., dram=...) accepted, as (capacity, case)
_LEGACY = {
    "sram_8kb_read_64b": 8 * KB,
    "sram_32kb_read_64b": 32 * KB,
    "sram_1mb_read_64b": KB * KB,
    "dram_read_64b_low": "low",
    "dram_read_64b_high": "high",
}
_SIZES = {"8kb": 8 * KB, "32kb": 32 * KB, "1mb": KB * KB}


def _sram_bytes(spec) -> int:
    if isinstance(spec, str):
        key = spec.lower()
        if key in _SIZES or key in _LEGACY:
            return _SIZES.get(key) or _LEGACY[key]
    elif isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return int(spec)
    raise ValueError(f"sram {spec!r}: a capacity in bytes or one of {list(_SIZES)}")


@dataclass(frozen=True)
class Technology:
    """A node: per-gate area and energy from ``table``, scaled from the table's node.

    Area scales as (node/table node)²; logic and SRAM energy as (node/table node)^
    ``energy_exponent`` (default 1: C·V² with V held, a first-order Dennard-style rule; set it to
    what the target process reports); DRAM energy (off-chip interface) is not node-scaled.
    ``sram``: the on-chip buffer level, "8kb" / "32kb" / "1mb" or a capacity in bytes present in
    the table; its energy per access is the table's and its capacity is the buffer that
    :func:`~lowbit.hwmodel.array_cost` re-fetches against (``buffer_bytes`` overrides the
    capacity only).  ``dram``: a DRAM case of the table ("low"/"high").  ``activity``: the
    default switching activity (``array_cost`` measures it unless told otherwise).
    ``ff_clock_ge``: clock energy of one flip-flop per cycle, in gate-equivalent energies
    (an assumption, docs/hwmodel.md).

    >>> t = Technology(45)
    >>> round(t.gate_area_um2, 3), t.sram_bytes, t.sram_pj_per_bit()
    (0.659, 1048576, 1.5625)
    """

    node_nm: float = 45.0
    energy_exponent: float = 1.0
    activity: float = 0.5
    sram: str | int = "1mb"
    dram: str = "low"
    table: EnergyTable = field(default=HOROWITZ_2014_45NM, repr=False)
    buffer_bytes: int | None = None
    ff_clock_ge: float = 3.0

    def __post_init__(self):
        for what in ("node_nm", "energy_exponent", "activity", "ff_clock_ge"):
            _number(f"Technology: {what}", getattr(self, what))
        if not self.node_nm > 0:
            raise ValueError(f"node_nm must be > 0, got {self.node_nm}")
        if not 0 <= self.activity <= 1:
            raise ValueError(f"activity must be in [0, 1], got {self.activity}")
        if not self.ff_clock_ge >= 0:
            raise ValueError(f"ff_clock_ge must be >= 0, got {self.ff_clock_ge}")
        if not isinstance(self.table, EnergyTable):
            raise ValueError(f"Technology: table must be an EnergyTable, got {self.table!r}")
        size = _sram_bytes(self.sram)
        if size not in self.table.sram_pj_per_64b:
            have = sorted(self.table.sram_pj_per_64b)
            raise ValueError(f"sram {self.sram!r}: table {self.table.name} has sizes {have}")
        dram = _LEGACY.get(self.dram, self.dram)
        if dram not in self.table.dram_pj_per_64b:
            have = list(self.table.dram_pj_per_64b)
            raise ValueError(f"dram {self.dram!r}: table {self.table.name} has {have}")
        b = self.buffer_bytes
        if b is not None and (
            not isinstance(b, (int, np.integer)) or isinstance(b, (bool, np.bool_)) or b <= 0
        ):
            raise ValueError(f"buffer_bytes must be a positive integer, got {b!r}")

    @property
    def _scale(self) -> float:
        return self.node_nm / self.table.node_nm

    @property
    def sram_bytes(self) -> int:
        """Capacity of the on-chip buffer the array re-fetches against (bytes)."""
        return int(self.buffer_bytes or _sram_bytes(self.sram))

    @property
    def gate_area_um2(self) -> float:
        """Area of one 2-input gate equivalent: table int8 mult area / model gates of 8×8."""
        return self.table.area_um2["int8_mult"] / array_multiplier(8).total * self._scale**2

    @property
    def gate_energy_pj(self) -> float:
        """Energy of one gate equivalent per operation at ``activity`` (the table's 8×8
        multiplier energy is taken to be at activity 0.5, random operands)."""
        return self.gate_energy_at(self.activity)

    def gate_energy_at(self, activity: float) -> float:
        """Energy of one gate equivalent per operation at switching ``activity``."""
        per_gate = self.table.op_pj["int8_mult"] / array_multiplier(8).total
        return per_gate * (activity / 0.5) * self._scale**self.energy_exponent

    def sram_pj_per_bit(self) -> float:
        """SRAM energy per bit accessed (the table's 64-bit access / 64), node-scaled."""
        e64 = self.table.sram_pj_per_64b[_sram_bytes(self.sram)]
        return e64 / 64 * self._scale**self.energy_exponent

    def dram_pj_per_bit(self) -> float:
        """DRAM energy per bit: the off-chip interface does not follow the logic node."""
        return self.table.dram_pj_per_64b[_LEGACY.get(self.dram, self.dram)] / 64
