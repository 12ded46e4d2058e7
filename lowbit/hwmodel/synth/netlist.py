"""A gate-level netlist from Yosys' ``write_json`` (after mapping to 2-input cells), its
weighted size and logic depth, and a bit-sliced numpy simulator of it.

The simulator packs 64 input vectors into each uint64 word and evaluates the cells level by
level, one numpy operation per cell type and level.  A ``$_DFF_P_`` is state: its Q is read
from ``state`` and its D is the next state, so one :meth:`Netlist.step` is one clock edge
(one accumulation).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..gates import DEFAULT_COSTS, GateCosts

#: two-input cell functions of Yosys' internal gate library (yosys/techlibs/common/simcells.v)
_OPS = {
    "$_AND_": lambda a, b: a & b,
    "$_NAND_": lambda a, b: ~(a & b),
    "$_OR_": lambda a, b: a | b,
    "$_NOR_": lambda a, b: ~(a | b),
    "$_XOR_": lambda a, b: a ^ b,
    "$_XNOR_": lambda a, b: ~(a ^ b),
    "$_ANDNOT_": lambda a, b: a & ~b,
    "$_ORNOT_": lambda a, b: a | ~b,
}
_UNARY = {"$_NOT_": lambda a: ~a, "$_BUF_": lambda a: a}
_DFF = "$_DFF_P_"


def weighted_gates(cells: dict[str, int], costs: GateCosts = DEFAULT_COSTS) -> float:
    """The model's weighting of mapped cells: XOR/XNOR an XOR2, every other 2-input cell an
    AND2, inverters and buffers free; registers are not gates (counted apart).

    >>> weighted_gates({"XOR": 2, "NAND": 3, "NOT": 5, "DFF_P": 4})
    9.0
    """
    w = 0.0
    for name, n in cells.items():
        if name in ("XOR", "XNOR"):
            w += n * costs.xor2
        elif name not in ("NOT", "BUF") and not name.startswith("DFF"):
            w += n * costs.and2
    return float(w)


@dataclass
class Netlist:
    """One flattened module: ports (name → net ids, LSB first) and cells in level order."""

    inputs: dict[str, list]
    outputs: dict[str, list]
    cells: dict[str, int]
    depth: int
    n_nets: int
    _levels: list = field(repr=False)
    _dffs: list = field(repr=False)  # (q net, d net)

    @classmethod
    def from_json(cls, doc: dict, top: str) -> Netlist:
        """Read module ``top`` of a Yosys JSON netlist; ValueError for a cell it cannot
        simulate (anything but the mapped 2-input cells, NOT/BUF and a plain DFF)."""
        mod = doc["modules"][top]
        ins = {n: p["bits"] for n, p in mod["ports"].items() if p["direction"] == "input"}
        outs = {n: p["bits"] for n, p in mod["ports"].items() if p["direction"] == "output"}
        gates, dffs, counts = [], [], Counter()
        top_id = 1
        for c in mod["cells"].values():
            t, con = c["type"], c["connections"]
            counts[t.strip("$_")] += 1
            for bits in con.values():
                top_id = max([top_id, *(b for b in bits if isinstance(b, int))])
            if t == _DFF:
                dffs.append((con["Q"][0], con["D"][0]))
            elif t in _OPS:
                gates.append((t, (con["A"][0], con["B"][0]), con["Y"][0]))
            elif t in _UNARY:
                gates.append((t, (con["A"][0],), con["Y"][0]))
            else:
                raise ValueError(f"netlist cell {t}: not a mapped 2-input cell, NOT or DFF")
        for bits in [*ins.values(), *outs.values()]:
            top_id = max([top_id, *(b for b in bits if isinstance(b, int))])
        levels, depth = _levelise(gates, top_id + 1)
        return cls(ins, outs, dict(counts), depth, top_id + 1, levels, dffs)

    @property
    def registers(self) -> int:
        return len(self._dffs)

    def gates(self, costs: GateCosts = DEFAULT_COSTS) -> float:
        return weighted_gates(self.cells, costs)

    def step(self, inputs: dict[str, np.ndarray], state: np.ndarray | None = None) -> dict:
        """Evaluate ``n`` vectors at once.  ``inputs``: port → bool array (n, port width),
        LSB first; ``state``: bool (n, registers) in the order of :meth:`register_q`.
        Returns every output port's bits and ``"@next"``: the state after the clock edge."""
        n = next(iter(inputs.values())).shape[0] if inputs else len(state)
        words = (n + 63) // 64
        vals = np.zeros((self.n_nets + 2, words), np.uint64)
        one = self.n_nets + 1
        vals[one] = ~np.uint64(0)

        def load(nets, bits):
            bits = np.asarray(bits, bool)
            packed = np.packbits(bits, axis=0, bitorder="little")  # (ceil(n/8), width)
            pad = np.zeros((words * 8, bits.shape[1]), np.uint8)
            pad[: packed.shape[0]] = packed
            as64 = pad.T.copy().view(np.uint64)  # (width, words)
            for j, net in enumerate(nets):
                if isinstance(net, int):
                    vals[net] = as64[j]

        for name, nets in self.inputs.items():
            if name in inputs:
                load(nets, inputs[name])
        if self._dffs:
            if state is None:
                raise ValueError("this netlist has registers: pass their state")
            load([q for q, _ in self._dffs], state)
        for ops in self._levels:
            for t, src, dst in ops:
                if len(src) == 2:
                    vals[dst] = _OPS[t](vals[src[0]], vals[src[1]])
                else:
                    vals[dst] = _UNARY[t](vals[src[0]])

        def read(nets):
            idx = [
                one if b == "1" else (self.n_nets if not isinstance(b, int) else b) for b in nets
            ]
            w = vals[idx]  # (width, words)
            raw = np.unpackbits(w.view(np.uint8), axis=1, bitorder="little")[:, :n]
            return raw.T.astype(bool)

        out = {name: read(nets) for name, nets in self.outputs.items()}
        out["@next"] = read([d for _, d in self._dffs])
        return out

    def register_q(self) -> list:
        """Q net of each register, in the order :meth:`step` takes and returns state."""
        return [q for q, _ in self._dffs]


def _levelise(gates: list, n_nets: int) -> tuple[list, int]:
    """Cells grouped by level (inputs and register outputs at level 0) as vectorised index
    arrays, and the depth: the most 2-input cells on any path (inverters and buffers add
    no level, as they are free in the weighting)."""
    level = np.zeros(n_nets + 2, np.int64)
    driver = {dst: (t, src) for t, src, dst in gates}
    order: list = []
    seen: set = set()
    for _, _, dst in gates:  # iterative DFS topological order
        stack = [(dst, False)]
        while stack:
            net, done = stack.pop()
            if net in seen or net not in driver:
                continue
            if done:
                seen.add(net)
                order.append(net)
                continue
            stack.append((net, True))
            stack.extend((s, False) for s in driver[net][1] if isinstance(s, int))
    for net in order:
        t, src = driver[net]
        lv = max((level[s] for s in src if isinstance(s, int)), default=0)
        level[net] = lv + (0 if t in _UNARY else 1)
    # evaluation order: a topological rank (inverters share the level count of their input,
    # so evaluation uses the rank, not the depth)
    rank = np.zeros(n_nets + 2, np.int64)
    for net in order:
        src = driver[net][1]
        rank[net] = 1 + max((rank[s] for s in src if isinstance(s, int)), default=0)
    groups: dict = {}
    for net in order:
        t, src = driver[net]
        groups.setdefault(int(rank[net]), {}).setdefault(t, []).append((src, net))
    levels = []
    for r in sorted(groups):
        ops = []
        for t, items in groups[r].items():
            srcs = tuple(
                np.array([_net(s[i], n_nets) for s, _ in items]) for i in range(len(items[0][0]))
            )
            ops.append((t, srcs, np.array([d for _, d in items])))
        levels.append(ops)
    depth = int(level.max()) if order else 0
    return levels, depth


def _net(b, n_nets: int) -> int:
    """A net id; constant '0'/'x'/'z' read the all-zero row, '1' the all-ones row."""
    if isinstance(b, int):
        return b
    return n_nets + 1 if b == "1" else n_nets
