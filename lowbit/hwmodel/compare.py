"""Like-for-like comparison of formats: every pair priced on one unit (equal lanes, equal
accumulator, equal K), infeasible units kept but never ranked."""

from __future__ import annotations

from dataclasses import dataclass

from ..formats import Format
from .accumulator import ExactAccumulator, parse_accumulator
from .unit import MacCost, mac_cost_of, make_unit


@dataclass(frozen=True)
class Comparison:
    """Format pairs priced on one unit: equal ``lanes``, ``accumulator`` and K (``terms``);
    ``note`` says so.  ``ranked()`` leaves out the infeasible ones (never ranked)."""

    lanes: int
    accumulator: str
    terms: int
    rows: dict[tuple[str, str], MacCost]

    @property
    def note(self) -> str:
        return (
            f"like-for-like: every pair on a {self.lanes}-lane unit with a {self.accumulator} "
            f"accumulator, K = {self.terms}"
        )

    def ranked(self) -> list[tuple[tuple[str, str], MacCost]]:
        """Feasible rows, cheapest first."""
        ok = [(k, m) for k, m in self.rows.items() if m.feasible]
        return sorted(ok, key=lambda km: km[1].total)


def compare_units(
    formats: list,
    accumulator: object = "fp32",
    lanes: int = 32,
    terms: int = 4096,
    **unit_kwargs,
) -> Comparison:
    """Price every pair of ``formats`` (a name: the format × itself; a tuple: (weight,
    activation)) on the same unit: ``lanes`` (default 32) and ``accumulator`` (default FP32)
    for all, whatever each format's own default.

    >>> c = compare_units(["int8", "mxint8"])
    >>> c.note
    'like-for-like: every pair on a 32-lane unit with a fp32 accumulator, K = 4096'
    >>> [round(m.total) for m in c.rows.values()]
    [623, 621]
    """
    rows: dict[tuple[str, str], MacCost] = {}
    for f in formats:
        w, a = (f, f) if isinstance(f, (str, Format)) else tuple(f)
        m = mac_cost_of(make_unit(w, a, accumulator, lanes, terms, **unit_kwargs))
        rows[(m.weight, m.activation)] = m
    acc = parse_accumulator(accumulator)
    name = getattr(acc, "name", None) or ("exact" if isinstance(acc, ExactAccumulator) else
                                          f"fixed{acc.width}")  # fmt: skip
    return Comparison(lanes, name, terms, rows)
