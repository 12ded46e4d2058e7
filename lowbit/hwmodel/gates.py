"""Primitive cell costs in 2-input gate equivalents, and the cost tree every block returns.

The default table is App. B of van Baalen et al. 2023, "FP8 versus INT8 for efficient deep
learning inference" (arXiv:2303.17951): AND2/OR2 = 1, AO21 = 2, MUX2 = XOR2 = HA = 3,
FA = 2·HA + OR2 = 7, FF = 2·MUX2 = 6.  Any other cell library (NAND2 equivalents, µm² per cell)
is a different :class:`GateCosts`; every block takes ``costs=`` so the table is swappable.
``SYNTH_CALIBRATED`` is the table fitted to whole units synthesised with Yosys (its structure:
ripple adders, full-width float adder, wavefront adder-tree depth; docs/hwmodel.md, "Model
beside synthesis").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

#: The primitive cells every block is built from.
PRIMITIVES = ("and2", "or2", "ao21", "mux2", "xor2", "ha", "fa", "ff")
#: structural choices a cost table makes, and their legal values
_STRUCTURE = {
    "adder": ("ripple", "prefix"),
    "float_adder": ("mantissa", "full"),
    "tree_depth": ("summed", "wavefront"),
}


@dataclass(frozen=True)
class GateCosts:
    """Cost of each primitive cell, in ``unit`` (default: 2-input gate equivalents).

    >>> GateCosts().fa
    7.0
    """

    and2: float = 1.0
    or2: float = 1.0
    ao21: float = 2.0
    mux2: float = 3.0
    xor2: float = 3.0
    ha: float = 3.0
    fa: float = 7.0
    ff: float = 6.0
    unit: str = "2-input gates"
    #: carry-propagate adders and incrementers: "ripple" (App. B) or "prefix" (a Sklansky
    #: parallel-prefix adder, Sklansky 1960: log-depth, what Yosys/ABC builds from ``+``)
    adder: str = "ripple"
    #: float accumulator adder: "mantissa" (App. B / Fig. 2: accumulator significand + 3
    #: bits) or "full" (the product's full width + guard/round/sticky, the product
    #: normalised first: a correctly rounding unit, lowbit.hwmodel.synth.units)
    float_adder: str = "mantissa"
    #: depth of an adder tree: "summed" (each level's carry chain after the previous one's)
    #: or "wavefront" (ripple carries of successive levels overlap, two gate levels apart)
    tree_depth: str = "summed"

    def __post_init__(self):
        for f in fields(self):
            if f.name in _STRUCTURE or f.name == "unit":
                continue
            if not getattr(self, f.name) >= 0:
                raise ValueError(f"GateCosts.{f.name} must be >= 0, got {getattr(self, f.name)}")
        for name, legal in _STRUCTURE.items():
            if getattr(self, name) not in legal:
                raise ValueError(
                    f"GateCosts.{name} must be one of {list(legal)}, got {getattr(self, name)!r}"
                )

    @classmethod
    def from_mapping(cls, table: Mapping[str, float], unit: str = "user units") -> GateCosts:
        """A table from a user mapping cell → cost; every cell of PRIMITIVES is required.

        >>> GateCosts.from_mapping({p: 1 for p in PRIMITIVES}, unit="cells").ff
        1.0
        """
        missing = [p for p in PRIMITIVES if p not in table]
        extra = [k for k in table if k not in PRIMITIVES]
        if missing or extra:
            raise ValueError(
                f"gate table: missing {missing}, unknown {extra}; cells are {list(PRIMITIVES)}"
            )
        return cls(**{p: float(table[p]) for p in PRIMITIVES}, unit=unit)

    def price(self, cells: Mapping[str, int]) -> float:
        """Total cost of a cell count mapping."""
        return float(sum(n * getattr(self, p) for p, n in cells.items()))


#: van Baalen et al. 2023, App. B.
VAN_BAALEN_2023 = GateCosts()
DEFAULT_COSTS = VAN_BAALEN_2023
#: calibrated to whole units synthesised with Yosys (lowbit/hwmodel/data/synthesis.json):
#: ripple adders (what ABC builds from ``+``: depth 2N − 1), the full-width float adder,
#: and per-cell costs that minimise the largest |model/synthesis − 1| on a training subset,
#: each at least half its App. B cost (docs/hwmodel.md, "Model beside synthesis"; refit with
#: ``bench/bench_hw.py --fit``).
SYNTH_CALIBRATED = GateCosts(
    and2=0.5,
    or2=0.5,
    ao21=1.0,
    mux2=1.5,
    xor2=4.6396,
    ha=6.3439,
    fa=9.0498,
    ff=6.0,
    unit="2-input gates (synthesis-calibrated)",
    adder="ripple",
    float_adder="full",
    tree_depth="wavefront",
)


@dataclass(frozen=True)
class Cost:
    """A block's cost: its own cells, its sub-blocks and its critical path in gate levels.

    ``total`` is in the unit of the table the block was priced with; ``width`` is the bits the
    block hands on (what a pipeline register cut after it holds, 0 if not stated); ``share``
    the number of MACs the block is shared by (its gates are already divided by it).

    >>> c = Cost.leaf("adder", {"fa": 7, "ha": 1}, depth=15)
    >>> c.total, c.depth
    (52.0, 15)
    """

    name: str
    gates: float = 0.0
    depth: int = 0
    parts: tuple[Cost, ...] = ()
    cells: Mapping[str, int] = field(default_factory=dict)
    width: int = 0
    share: float = 1

    @classmethod
    def leaf(
        cls,
        name: str,
        cells: Mapping[str, int],
        depth: int,
        costs: GateCosts = DEFAULT_COSTS,
        width: int = 0,
    ) -> Cost:
        cells = {p: int(n) for p, n in cells.items() if n}
        return cls(
            name=name, gates=costs.price(cells), depth=int(depth), cells=cells, width=int(width)
        )

    @classmethod
    def group(
        cls, name: str, parts: list[Cost], depth: int | None = None, width: int | None = None
    ) -> Cost:
        """Blocks in series: depth is the sum of the parts' depths unless given (a given depth
        marks parts side by side); width is the last part's unless given."""
        d = sum(p.depth for p in parts) if depth is None else depth
        w = (parts[-1].width if parts else 0) if width is None else width
        return cls(name=name, depth=int(d), parts=tuple(parts), width=int(w))

    @property
    def series(self) -> bool:
        """True when the parts are in series (depth = sum of theirs)."""
        return bool(self.parts) and self.depth == sum(p.depth for p in self.parts)

    @property
    def total(self) -> float:
        return self.gates + sum(p.total for p in self.parts)

    def breakdown(self) -> dict[str, float]:
        """Totals of the direct sub-blocks by name."""
        return {p.name: p.total for p in self.parts}

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Totals of every leaf block, keyed by its path ``group/sub/leaf``."""
        path = f"{prefix}/{self.name}" if prefix else self.name
        if not self.parts:
            return {path: self.total}
        out: dict[str, float] = {}
        if self.gates:
            out[path] = self.gates
        for p in self.parts:
            out.update(p.flat(path))
        return out

    def cell_counts(self) -> dict[str, int]:
        """Number of each primitive cell in the whole tree."""
        out: dict[str, int] = dict(self.cells)
        for p in self.parts:
            for k, n in p.cell_counts().items():
                out[k] = out.get(k, 0) + n
        return out

    def find(self, name: str) -> Cost:
        """The first sub-block (depth first) called ``name``."""
        if self.name == name:
            return self
        for p in self.parts:
            try:
                return p.find(name)
            except KeyError:
                pass
        raise KeyError(name)
