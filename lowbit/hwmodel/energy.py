"""Per-operation energy and area tables and technology scaling.

Source: M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
45 nm, 0.9 V (docs/background.md §6).  Gate-level energy and area are derived from the table's 8-bit
multiplier and the model's own gate count of that multiplier, so no constant is invented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arith import array_multiplier

#: Horowitz 2014, 45 nm: energy per operation (pJ).
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
    "sram_1mb_read_64b": 100.0,
    "dram_read_64b_low": 1300.0,
    "dram_read_64b_high": 2600.0,
}
#: Horowitz 2014, 45 nm: area (µm²).
HOROWITZ_45NM_UM2 = {"int8_add": 36.0, "int32_add": 137.0, "int8_mult": 282.0, "int32_mult": 3495.0}


@dataclass(frozen=True)
class Technology:
    """A technology node: per-gate area and energy scaled from 45 nm.

    Area scales as (node/45)²; energy as (node/45)^``energy_exponent`` (default 1: C·V² with
    V held, a first-order Dennard-style rule; set it to what the target process reports).

    >>> round(Technology(45).gate_area_um2, 3)
    0.659
    """

    node_nm: float = 45.0
    energy_exponent: float = 1.0
    activity: float = 0.5  # toggle activity relative to Horowitz's measured multiplier
    sram: str = "sram_8kb_read_64b"
    dram: str = "dram_read_64b_low"

    def __post_init__(self):
        for what in ("node_nm", "energy_exponent", "activity"):
            v = getattr(self, what)
            real = isinstance(v, (int, float, np.integer, np.floating))
            if not real or isinstance(v, (bool, np.bool_)) or not math.isfinite(v):
                raise ValueError(f"Technology: {what} must be a finite number, got {v!r}")
        if not self.node_nm > 0:
            raise ValueError(f"node_nm must be > 0, got {self.node_nm}")
        if not 0 <= self.activity <= 1:
            raise ValueError(f"activity must be in [0, 1], got {self.activity}")
        for what in ("sram", "dram"):
            if not isinstance(getattr(self, what), str):
                raise ValueError(f"Technology: {what} must be a memory name (a str)")
        for key in (self.sram, self.dram):
            if key not in HOROWITZ_45NM_PJ:
                raise ValueError(f"unknown memory {key!r}; supported: {list(HOROWITZ_45NM_PJ)}")

    @property
    def _scale(self) -> float:
        return self.node_nm / 45.0

    @property
    def gate_area_um2(self) -> float:
        """Area of one 2-input gate equivalent: Horowitz int8 mult area / model gates of 8×8."""
        return HOROWITZ_45NM_UM2["int8_mult"] / array_multiplier(8).total * self._scale**2

    @property
    def gate_energy_pj(self) -> float:
        """Energy of one gate equivalent per operation at activity 0.5 (the 8×8 multiplier's)."""
        per_gate = HOROWITZ_45NM_PJ["int8_mult"] / array_multiplier(8).total
        return per_gate * (self.activity / 0.5) * self._scale**self.energy_exponent

    def sram_pj_per_bit(self) -> float:
        return HOROWITZ_45NM_PJ[self.sram] / 64 * self._scale**self.energy_exponent

    def dram_pj_per_bit(self) -> float:
        # DRAM interface energy does not follow the logic node
        return HOROWITZ_45NM_PJ[self.dram] / 64
