"""Arithmetic blocks as functions of their widths, each returning a :class:`Cost`.

Cell counts follow van Baalen et al. 2023, App. B (the formulas are repeated on each block);
depths are critical paths in gate levels (AND/OR/XOR/MUX one level, an FA carry two).
"""

from __future__ import annotations

import math

from .gates import DEFAULT_COSTS, Cost, GateCosts


def _check(**widths: int) -> None:
    for name, n in widths.items():
        if not isinstance(n, (int,)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"{name} must be a positive integer width, got {n!r}")


def _check_shift(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f"shift range k must be an integer >= 0, got {k!r}")


def _stages(k: int) -> int:
    return math.ceil(math.log2(k + 1)) if k > 0 else 0


def prefix_adder(n: int, carry_in: bool = False, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit Sklansky parallel-prefix adder (Sklansky 1960): N·HA (generate, propagate),
    ⌈log2 N⌉ levels of N/2 (AO21 + AND2) group generate/propagate nodes, N−1 XOR2 sums (N
    with a carry-in, which is one more prefix position); depth 2·⌈log2 N⌉ + 2.

    >>> prefix_adder(8).cells
    {'ha': 8, 'ao21': 12, 'and2': 12, 'xor2': 7}
    """
    _check(n=n)
    m = n + int(carry_in)
    lv = math.ceil(math.log2(m)) if m > 1 else 0
    cells = {"ha": n, "ao21": (m // 2) * lv, "and2": (m // 2) * lv, "xor2": m - 1}
    return Cost.leaf(f"add{n}", cells, depth=2 * lv + 2, costs=costs, width=n + 1)


def ripple_adder(n: int, carry_in: bool = False, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit ripple-carry adder: (N−1)·FA + HA (App. B); with a carry-in the LSB is an FA too.
    A table with ``adder="prefix"`` builds :func:`prefix_adder` instead.

    >>> ripple_adder(8).total
    52.0
    """
    _check(n=n)
    if costs.adder == "prefix":
        return prefix_adder(n, carry_in, costs)
    fa, ha = (n, 0) if carry_in else (n - 1, 1)
    return Cost.leaf(
        f"add{n}", {"fa": fa, "ha": ha}, depth=2 * (n - 1) + 1, costs=costs, width=n + 1
    )


def incrementer(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit incrementer (carry propagation only): N·HA (App. B).

    >>> incrementer(12).total
    36.0

    With ``adder="prefix"``: an AND prefix of the carries (⌈log2 N⌉ levels of N/2 AND2) and
    N XOR2, depth ⌈log2 N⌉ + 1.
    """
    _check(n=n)
    if costs.adder == "prefix":
        lv = math.ceil(math.log2(n)) if n > 1 else 0
        cells = {"and2": (n // 2) * lv, "xor2": n}
        return Cost.leaf(f"inc{n}", cells, depth=lv + 1, costs=costs, width=n)
    return Cost.leaf(f"inc{n}", {"ha": n}, depth=n, costs=costs, width=n)


def array_multiplier(n: int, m: int | None = None, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N×M array multiplier: N·M AND2 partial products, (M−1) rows of N adders, one HA a row.

    For N = M this is App. B's N²·AND2 + (N−1)²·FA + (N−1)·HA.  A Baugh–Wooley signed array
    has the same cell count (inverted partial products and two constant ones).

    >>> array_multiplier(8).total
    428.0
    """
    m = n if m is None else m
    _check(n=n, m=m)
    n, m = max(n, m), min(n, m)
    pp = Cost.leaf("partial_products", {"and2": n * m}, depth=1, costs=costs, width=n * m)
    cells = {"fa": (n - 1) * (m - 1), "ha": m - 1}
    red = Cost.leaf("reduction", cells, depth=2 * (n + m - 2), costs=costs, width=n + m)
    return Cost.group(f"array_mult{n}x{m}", [pp, red], width=n + m)


def dadda_multiplier(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N×N Dadda multiplier: N² AND2, reduction N²−4N+3 FA and N−1 HA, then a 2N−2-bit adder.

    (Dadda 1965; the counts are the standard ones, 35 FA and 7 HA at 8×8.)

    >>> dadda_multiplier(8).find("reduction").cells
    {'fa': 35, 'ha': 7}
    """
    _check(n=n)
    if n < 2:
        return array_multiplier(n, costs=costs)
    pp = Cost.leaf("partial_products", {"and2": n * n}, depth=1, costs=costs, width=n * n)
    levels = 0
    d = 2
    while d < n:  # Dadda heights 2, 3, 4, 6, 9, 13, ...
        d = d * 3 // 2
        levels += 1
    cells = {"fa": n * n - 4 * n + 3, "ha": n - 1}
    # the reduction hands two rows (sum and carry) to the final adder
    red = Cost.leaf("reduction", cells, depth=2 * levels, costs=costs, width=2 * (2 * n - 2))
    cpa = ripple_adder(2 * n - 2, costs=costs)
    return Cost.group(f"dadda_mult{n}x{n}", [pp, red, cpa], width=2 * n)


def left_shifter(n: int, k: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit left barrel shift by [0, k]: N·⌈log2(k+1)⌉·MUX2 − k·(MUX2 − AND2) (App. B).

    >>> left_shifter(14, 13).total
    142.0
    """
    _check(n=n)
    _check_shift(k)
    s = _stages(k)
    # the k bottom cells of a stage shift in zeros: an AND2 instead of a MUX2
    cells = {"mux2": n * s - k, "and2": k}
    return Cost.leaf(f"lshift{n}by{k}", cells, depth=s, costs=costs, width=n)


def right_shifter(n: int, k: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """Signed (arithmetic) N-bit right barrel shift by [0, k]: (N−1)·⌈log2(k+1)⌉·MUX2 (App. B).

    >>> right_shifter(13, 13).total
    144.0
    """
    _check(n=n)
    _check_shift(k)
    s = _stages(k)
    cells = {"mux2": (n - 1) * s}
    return Cost.leaf(f"rshift{n}by{k}", cells, depth=s, costs=costs, width=n)


def widening_left_shifter(n: int, k: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit input to an (N+k)-bit output shifted by [0, k]:
    (N−2)·⌈log2(k+1)⌉·MUX2 + k·(MUX2 + AND2) (App. B).

    >>> widening_left_shifter(8, 28).total
    202.0
    """
    _check(n=n)
    _check_shift(k)
    s = _stages(k)
    cells = {"mux2": max(n - 2, 0) * s + k, "and2": k}
    return Cost.leaf(f"wshift{n}by{k}", cells, depth=s, costs=costs, width=n + k)


def leading_zero_detector(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """Leading-zero counter over N bits as a binary tree (Oklobdzija 1994): ⌈N/2⌉ leaf nodes of
    OR2 + AND2, then at level l ≥ 1 each node is one OR2 (valid) and l MUX2 (count bits).

    >>> leading_zero_detector(16).total
    56.0
    """
    _check(n=n)
    cells = {"or2": 0, "and2": 0, "mux2": 0}
    nodes, level = n, 0
    while nodes > 1:
        nodes = math.ceil(nodes / 2)
        cells["or2"] += nodes
        if level == 0:
            cells["and2"] += nodes
        else:
            cells["mux2"] += nodes * level
        level += 1
    return Cost.leaf(f"lzd{n}", cells, depth=max(level, 1) + 1, costs=costs, width=level + 1)


def xor_bank(n: int, name: str = "xor", costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N XOR2: conditional complement of N bits (with a carry-in, a conditional negation).

    >>> xor_bank(4).total
    12.0
    """
    _check(n=n)
    return Cost.leaf(f"{name}{n}", {"xor2": n}, depth=1, costs=costs, width=n)


def mux_bank(n: int, name: str = "mux", costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N MUX2 selecting between two N-bit words.

    >>> mux_bank(5).total
    15.0
    """
    _check(n=n)
    return Cost.leaf(f"{name}{n}", {"mux2": n}, depth=1, costs=costs, width=n)


def or_tree(n: int, name: str = "or", costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """OR of N bits: N−1 OR2 in a tree (a sticky bit, a nonzero test).

    >>> or_tree(8).total
    7.0
    """
    _check(n=n)
    depth = math.ceil(math.log2(n))
    return Cost.leaf(f"{name}{n}", {"or2": n - 1}, depth=depth, costs=costs, width=1)


def conditional_negate(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """Two's-complement negate N bits on a sign: N·XOR2 then an N-bit increment.

    >>> conditional_negate(8).total
    48.0
    """
    return Cost.group(f"negate{n}", [xor_bank(n, costs=costs), incrementer(n, costs=costs)])


def normaliser(n: int, k: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """Normalise an N-bit sum: leading-zero detect, left shift by [0, k], and a 1-bit right
    shift (N MUX2) for a carry out of the adder.

    >>> normaliser(14, 13).breakdown()
    {'lzd14': 54.0, 'lshift14by13': 142.0, 'carry_rshift14': 42.0}
    """
    return Cost.group(
        f"normalise{n}",
        [
            leading_zero_detector(n, costs=costs),
            left_shifter(n, k, costs=costs),
            mux_bank(n, name="carry_rshift", costs=costs),
        ],
        width=n,
    )


def rne_rounder(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """Round-to-nearest-even of an N-bit significand from guard G, round R, sticky S, lsb L:
    up = G·(L + R + S) → OR2 + OR2... folded to one AO21 + one OR2; then an N-bit increment
    (IEEE 754-2019 §4.3.1 roundTiesToEven).

    >>> rne_rounder(11).total
    36.0
    """
    _check(n=n)
    decide = Cost.leaf("rne_decide", {"ao21": 1, "or2": 1}, depth=2, costs=costs)
    return Cost.group(f"rne{n}", [decide, incrementer(n, costs=costs)])


def comparator(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit magnitude comparator (a ≥ b) as a borrow chain: N·XOR2 + N·AO21.

    >>> comparator(5).total
    25.0
    """
    _check(n=n)
    cells = {"xor2": n, "ao21": n}
    return Cost.leaf(f"cmp{n}", cells, depth=2 * n + 1, costs=costs, width=1)


def register(n: int, costs: GateCosts = DEFAULT_COSTS) -> Cost:
    """N-bit register: N·FF (App. B: FF = 2·MUX2).

    >>> register(27).total
    162.0
    """
    _check(n=n)
    return Cost.leaf(f"reg{n}", {"ff": n}, depth=0, costs=costs, width=n)
