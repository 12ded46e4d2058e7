"""Timing of a priced unit: its critical path, and the area it needs to run at a stated clock.

A :class:`~lowbit.hwmodel.unit.MacCost` is a combinational datapath of ``depth`` gate levels.
:func:`pipelined` cuts it into stages of at most ``stage_depth`` levels (the clock period in
gate levels) and adds the registers the cuts need, so that two units compared at one
``stage_depth`` run at the same frequency and the same throughput (``lanes`` MACs a cycle):
"area at equal throughput and frequency".  The model (docs/hwmodel.md, "Timing"):

* the feed-forward path (``quantize``, ``mpy``, ``block``, ``output``) is a chain of blocks in
  series; a cut between two blocks holds the earlier block's output ``width`` (a block that
  states none — a decision, a flag — passes the width before it on); a block deeper than a
  stage is cut inside, each internal cut holding its output width (an estimate);
* the accumulator loop (``alignadd`` + ``normacc``) cannot be cut without changing the result
  of the next addition, so a loop deeper than a stage is C-slowed (Leiserson & Saxe 1991):
  ⌈loop depth / stage_depth⌉ partial sums in flight, each a register of the accumulator width,
  merged once per output;
* a register shared by n MACs (a block's tree, the accumulator of an n-lane unit, the epilogue
  over K) is divided by n, like its logic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .gates import DEFAULT_COSTS, Cost, GateCosts
from .unit import MacCost

LOOP = ("alignadd", "normacc")


@dataclass(frozen=True)
class Pipelined:
    """A unit cut into stages of at most ``stage_depth`` gate levels.

    ``register_bits``: pipeline register bits per MAC (shared registers divided by the MACs
    sharing them); ``total``: logic + pipeline registers per MAC; ``stages``: feed-forward
    stages; ``interleave``: partial sums the accumulator loop keeps in flight; ``latency``:
    cycles from operands to the accumulator.
    """

    mac: MacCost
    stage_depth: int
    stages: int
    interleave: int
    latency: int
    register_bits: float
    register_gates: float

    @property
    def logic(self) -> float:
        """The unit's gates without pipeline registers."""
        return self.mac.total - sum(p.total for p in self.mac.cost.parts if p.name == "pipeline")

    @property
    def total(self) -> float:
        return self.logic + self.register_gates

    def to_dict(self) -> dict:
        return {
            "stage_depth": self.stage_depth,
            "stages": self.stages,
            "interleave": self.interleave,
            "latency": self.latency,
            "register_bits": self.register_bits,
            "register_gates": self.register_gates,
            "logic": self.logic,
            "total": self.total,
        }


def segments(cost: Cost, share: float = 1) -> list[tuple[int, int, float]]:
    """The series chain of ``cost`` as (depth, output width, MACs sharing it) per block: a
    group in series is opened, a group of parallel parts (or a leaf) is one segment.

    >>> from lowbit.hwmodel import arith as A
    >>> segments(A.conditional_negate(8))
    [(1, 8, 1), (8, 8, 1)]
    """
    share = max(share, cost.share)
    if cost.parts and cost.series:
        out: list[tuple[int, int, float]] = []
        for p in cost.parts:
            out += segments(p, share)
        return out
    if cost.depth == 0:
        return []
    return [(cost.depth, cost.width, share)]


def _cut(chain: list[tuple[int, int, float]], stage_depth: int) -> tuple[int, float]:
    """(stages, register bits per MAC) of cutting ``chain`` greedily at ``stage_depth``."""
    stages, used, bits = 1, 0, 0.0
    prev: tuple[int, int, float] | None = None
    width = 0
    for d, w, share in chain:
        width = w or width  # a block that states no width passes the datapath's width on
        if used + d > stage_depth and used > 0:  # cut before this block
            bits += prev[1] / prev[2]
            stages, used = stages + 1, 0
        inner = math.ceil(d / stage_depth) - 1  # cuts inside a block deeper than a stage
        bits += inner * width / share
        stages += inner
        used += d - inner * stage_depth
        prev = (d, width, share)
    return stages, bits


def pipelined(mac: MacCost, stage_depth: int, costs: GateCosts = DEFAULT_COSTS) -> Pipelined:
    """``mac`` pipelined to at most ``stage_depth`` gate levels a stage.

    >>> from lowbit.hwmodel import mac_cost
    >>> p = pipelined(mac_cost("int8", "int8", "fixed"), 40)
    >>> p.stages, p.interleave, p.register_bits
    (1, 2, 28.0)
    """
    if not isinstance(stage_depth, int) or isinstance(stage_depth, bool) or stage_depth <= 0:
        raise ValueError(
            f"stage_depth must be a positive integer (gate levels), got {stage_depth!r}"
        )
    feed: list[tuple[int, int, float]] = []
    loop_depth, loop_share = 0, 1.0
    epilogue: list[tuple[int, int, float]] = []
    for part in mac.cost.parts:
        if part.name in LOOP:
            loop_depth += part.depth
            loop_share = max([loop_share, *(s for _, _, s in segments(part))])
        elif part.name == "output":
            epilogue += segments(part)
        else:
            feed += segments(part)
    stages, bits = _cut(feed, stage_depth) if feed else (0, 0.0)
    interleave = max(1, math.ceil(loop_depth / stage_depth))
    # C-slow: interleave − 1 more partial-sum registers of the accumulator's width, and a
    # register feeding the loop (the value entering the accumulator adder)
    bits += (interleave - 1) * mac.accumulator_width / loop_share
    ep_stages, ep_bits = _cut(epilogue, stage_depth) if epilogue else (0, 0.0)
    bits += ep_bits
    return Pipelined(
        mac=mac,
        stage_depth=stage_depth,
        stages=stages,
        interleave=interleave,
        latency=stages + interleave + max(ep_stages - 1, 0),
        register_bits=bits,
        register_gates=bits * costs.ff,
    )


def equal_clock(macs: list[MacCost], stage_depth: int | None = None) -> list[Pipelined]:
    """Each unit of ``macs`` pipelined to one clock: ``stage_depth`` gate levels, by default
    the depth of the shallowest unit's accumulator loop (the fastest clock at which every unit
    still accumulates once a cycle per partial sum).

    >>> from lowbit.hwmodel import mac_cost
    >>> [p.stage_depth for p in equal_clock([mac_cost("int8", "int8", lanes=32),
    ...                                      mac_cost("fp8_e4m3fn", "fp8_e4m3fn", lanes=32)])]
    [48, 48]
    """
    if not macs:
        raise ValueError("equal_clock: no units given")
    if stage_depth is None:
        loops = [sum(p.depth for p in m.cost.parts if p.name in LOOP) for m in macs]
        stage_depth = max(1, min(loops))
    return [pipelined(m, stage_depth) for m in macs]
