"""Switching activity for the energy model, measured by the MAC simulator (docs/hwmodel.md).

``accumulator``: bits of the accumulator register that flip per accumulator update
(:attr:`lowbit.hwmodel.macsim.MacStats.activity`); ``operands``: bits of the element codes that
flip between consecutive elements streaming through a PE's operand registers (rows of A and
columns of W along K).  Both come from one seeded simulation of the stated formats,
accumulator and K on Gaussian operands (integer elements scaled per tensor to their largest
code, float elements unscaled unless the tensor exceeds the format's range, then scaled the
same way; block formats through their own scale rules).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np

from ..formats import get_format
from ..formats.block import BlockFormat
from ..formats.integer import IntFormat
from ..formats.scaling import GroupScaledFormat, Quantizer, VSQuant
from .accumulator import parse_accumulator
from .memory import Operand, element_format

#: simulated GEMM: M×N outputs, K capped so one measurement stays well under a second
SIM_ROWS, SIM_COLS, SIM_MAX_K = 8, 8, 4096
Z95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class Activity:
    """Switching activities (toggles per bit per update) and where they come from.

    >>> Activity.assumed(0.5).accumulator, Activity.assumed(0.5).source
    (0.5, 'assumed 0.5')
    """

    accumulator: float
    operands: float
    source: str
    seed: int | None = None
    shape: tuple[int, int, int] | None = None
    accumulator_ci95: tuple[float, float] | None = None
    operands_ci95: tuple[float, float] | None = None
    overflow: int | None = None  # accumulator steps that overflowed in the simulation

    @classmethod
    def assumed(cls, value: float) -> Activity:
        """The same stated activity for every part (the fallback, only when asked)."""
        v = float(value)
        if isinstance(value, bool) or not math.isfinite(v) or not 0 <= v <= 1:
            raise ValueError(f"activity must be 'measured', a MacStats or in [0, 1], got {value!r}")
        return cls(v, v, f"assumed {v:g}")

    @classmethod
    def from_stats(cls, stats, operands: float = 0.5) -> Activity:
        """The accumulator activity of a :class:`~lowbit.hwmodel.macsim.MacStats` (run with
        ``toggles=True``); the operands' activity is stated (default 0.5)."""
        if stats.activity is None:
            raise ValueError("activity: the MacStats has no toggles; run gemm(..., toggles=True)")
        return cls(
            float(stats.activity),
            float(operands),
            f"MacStats (operands assumed {float(operands):g})",
            overflow=int(stats.overflow),
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _codes_toggle_rate(codes: np.ndarray, bits: int, axis: int) -> tuple[float, np.ndarray]:
    """Mean and per-stream flip rate of consecutive codes along ``axis`` (K)."""
    c = np.moveaxis(np.asarray(codes).astype(np.uint32), axis, -1)
    x = (c[..., 1:] ^ c[..., :-1]) & np.uint32((1 << bits) - 1)
    flips = np.unpackbits(np.ascontiguousarray(x, dtype="<u4").view(np.uint8), axis=-1)
    per = flips.sum(axis=-1) / (bits * x.shape[-1])
    return float(per.mean()), per.ravel()


def _operand(op: Operand, x: np.ndarray, side: str):
    """(what gemm takes, its format, element codes with K last, element bits, per-block scales
    or None, block size or None)."""
    kax = 1 if side == "a" else 0
    fmt = get_format(op.format if isinstance(op, Quantizer) else op)
    if isinstance(fmt, GroupScaledFormat):  # the simulator takes its scales as per-block scales
        ba = fmt.encode(x, axis=kax)  # codes (rows, K) and scales (rows, K / block): K last
        scales = np.asarray(fmt.scale_format.decode(np.asarray(ba.scales)), dtype=np.float64)
        codes = np.asarray(ba.codes)
        if side == "b":
            codes_in, scales = np.ascontiguousarray(codes.T), np.ascontiguousarray(scales.T)
        else:
            codes_in = np.ascontiguousarray(codes)
        return codes_in, fmt.element, codes, fmt.element.bits, scales, fmt.block_size
    if isinstance(fmt, BlockFormat):
        enc = fmt
        if isinstance(fmt, VSQuant) and fmt.outer == "per_channel":
            enc = replace(fmt, channel_axis=1 - kax)  # γ per row of A / column of W
        return x, fmt, enc.encode(x, axis=kax).codes, fmt.element.bits, None, None
    amax = np.max(np.abs(x))
    if isinstance(fmt, IntFormat) or amax > fmt.max:  # per-tensor absmax onto the largest value
        x = x * (fmt.max / amax)
    codes = np.ascontiguousarray(fmt.encode(x))
    return codes, fmt, codes if side == "a" else codes.T, fmt.bits, None, None


def measure_activity(
    weight: Operand,
    activation: Operand,
    accumulator: object = "fp32",
    k: int = 4096,
    lanes: int = 1,
    seed: int = 0,
) -> Activity:
    """Activity measured by :func:`lowbit.hwmodel.macsim.gemm` (``toggles=True``) on a seeded
    8×min(K, 4096)×8 Gaussian GEMM; ``lanes`` > 1 adds ``lanes`` products per update (the
    block order of a dot-product unit).  The 95 % intervals are over the 64 outputs (and the
    operand streams).  ValueError when the simulator cannot run the configuration.

    >>> a = measure_activity("int8", "int8", "fp32", k=256)  # doctest: +SKIP
    >>> 0 < a.accumulator < 0.5, a.seed, a.shape  # doctest: +SKIP
    (True, 0, (8, 256, 8))
    """
    key = (weight, activation, accumulator, int(k), int(lanes), int(seed))
    try:
        hash(key)
    except TypeError:
        return _measure(*key)
    return _measure_cached(*key)


@lru_cache(maxsize=256)
def _measure_cached(*key) -> Activity:
    return _measure(*key)


def _measure(weight, activation, accumulator, k, lanes, seed) -> Activity:
    from . import macsim

    if not macsim.available():
        raise ValueError(f"activity='measured' needs the C simulator: {macsim.MISSING_MESSAGE}")
    kk = min(k, SIM_MAX_K)
    rng = np.random.default_rng(seed)
    a_x, w_x = rng.standard_normal((SIM_ROWS, kk)), rng.standard_normal((kk, SIM_COLS))
    a_in, a_fmt, a_codes, a_bits, a_bs, a_blk = _operand(activation, a_x, "a")
    w_in, w_fmt, w_codes, w_bits, w_bs, w_blk = _operand(weight, w_x, "b")
    extra = {}
    if a_bs is not None or w_bs is not None:
        extra = dict(scales=(a_bs, w_bs), scale_block=a_blk or w_blk)
    order = "blocks" if lanes > 1 else "sequential"
    try:
        _, stats = macsim.gemm(
            a_in,
            w_in,
            a_fmt,
            w_fmt,
            accumulator=parse_accumulator(accumulator),
            order=order,
            block=lanes if lanes > 1 else None,
            toggles=True,
            per_output=True,
            **extra,
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"activity='measured': the simulator cannot run {element_format(weight).name} × "
            f"{element_format(activation).name} → {accumulator}: {exc}. Pass activity=0.5 "
            "(or another stated value) or a MacStats"
        ) from None
    per_acc = stats.per_output["toggles"].ravel() / (
        stats.steps / stats.per_output["toggles"].size * stats.register_bits
    )
    a_mean, a_per = _codes_toggle_rate(a_codes, a_bits, 1)
    w_mean, w_per = _codes_toggle_rate(w_codes, w_bits, 1)
    op_per = np.concatenate([a_per, w_per])
    return Activity(
        accumulator=float(stats.activity),
        operands=(a_mean + w_mean) / 2,
        source=f"measured (macsim, {order}, seed {seed})",
        seed=seed,
        shape=(SIM_ROWS, kk, SIM_COLS),
        accumulator_ci95=_ci(per_acc),
        operands_ci95=_ci(op_per),
        overflow=int(stats.overflow),
    )


def _ci(x: np.ndarray) -> tuple[float, float]:
    half = Z95 * float(np.std(x, ddof=1)) / math.sqrt(x.size) if x.size > 1 else 0.0
    return (float(x.mean()) - half, float(x.mean()) + half)
