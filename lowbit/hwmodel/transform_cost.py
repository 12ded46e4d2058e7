"""Hardware cost of the online part of an outlier transform (the grammar of
:mod:`lowbit.transformspec`), in the model's primitives (:mod:`lowbit.hwmodel.gates`,
:mod:`lowbit.hwmodel.arith`).

Only the activation side runs online: weights are transformed once, offline.

- ``smoothquant``: free online.  x/s is folded into the previous layer's output scale
  (LayerNorm weights or the previous linear layer) and s·w into the weights (Xiao et al.
  2023, arXiv:2211.10438, §4).
- ``hadamard:b``: the fast Walsh–Hadamard network of a b-vector, log2(b) stages of b/2
  butterflies (an adder and a subtractor each): b·log2(b) add/sub per vector.  For
  b = p·m with a Paley factor m (:func:`lowbit.transformspec.hadamard_order`), a dense ±1
  stage of m − 1 add/sub per value comes first, then log2(p) butterfly stages.  Integer
  activations of w bits are summed exactly, the words growing one bit per stage (stage s
  adds w + s bit words); float activations add in a float format (the activation's own by
  default, or ``internal``), each adder a float adder with RNE
  (:func:`~lowbit.hwmodel.datapath.float_accumulate`).  The 1/√b normalisation is folded
  into the weights (x·H · Hᵀ·w/b = x·w), so it costs nothing; a seeded sign diagonal is an
  XOR of the sign (float) or a conditional negation (integer) per element.
- ``rotation:SEED:b``: a dense b × b matrix–vector product per b-vector: b multiplies and
  b − 1 adds per element, coefficients in the activation's format (integers summed exactly
  in an adder tree, floats in a tree of float adders).

Every adder's output is registered (one pipeline stage per butterfly or float-tree level; the
integer tree of a rotation registers its output only), so the network takes one b-vector per
cycle.  Reported: the network of one vector
(``vector``), per element (/ b), and per MAC (/ b / n: each transformed activation feeds the
n outputs of the GEMM); ``depth`` is the combinational critical path through all stages.
The output (w + log2 b bits for integers) goes to the activation quantizer of the GEMM,
which the GEMM needs with or without the transform and is not counted here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..formats import FloatFormat, Format, IntFormat, get_format
from ..transformspec import ORDERS, Step, hadamard_order, parse_transform_steps
from . import arith as A
from .block import adder_tree, fp_mult
from .datapath import Product, float_accumulate
from .gates import DEFAULT_COSTS, Cost, GateCosts


@dataclass(frozen=True)
class StepCost:
    """One step's online network for one vector of ``block`` activations."""

    spec: str
    block: int  # b; 1 for a step with no online network
    vector: Cost
    adds: int  # add/sub operations per vector
    multiplies: int  # multiplies per vector
    stages: int  # pipeline stages (butterfly or tree levels)
    note: str

    @property
    def per_element(self) -> float:
        return self.vector.total / self.block


@dataclass(frozen=True)
class TransformCost:
    """The online cost of a spec: its steps in series, for a GEMM of reduction length
    ``k`` and ``n`` outputs.

    >>> t = transform_cost("hadamard:128", "int8", n=4096)
    >>> t.steps[0].adds, t.stages, round(t.per_element, 1), round(t.per_mac, 4)
    (896, 7, 1204.0, 0.2939)
    """

    spec: str
    activation_format: str
    k: int | None
    n: int
    steps: tuple[StepCost, ...]
    unit: str

    @property
    def per_element(self) -> float:
        """Gates per activation element transformed (one element per cycle)."""
        return sum(s.per_element for s in self.steps)

    @property
    def per_mac(self) -> float:
        """Gates per MAC of the GEMM: per element / n."""
        return self.per_element / self.n

    @property
    def depth(self) -> int:
        """Gate levels through every stage of every step (unpipelined latency)."""
        return sum(s.vector.depth for s in self.steps)

    @property
    def stages(self) -> int:
        return sum(s.stages for s in self.steps)

    def to_dict(self) -> dict:
        return {
            "spec": self.spec,
            "activation_format": self.activation_format,
            "k": self.k,
            "n": self.n,
            "per_element": self.per_element,
            "per_mac": self.per_mac,
            "depth": self.depth,
            "stages": self.stages,
            "unit": self.unit,
            "steps": [
                {
                    "spec": s.spec,
                    "block": s.block,
                    "adds": s.adds,
                    "multiplies": s.multiplies,
                    "per_element": s.per_element,
                    "note": s.note,
                }
                for s in self.steps
            ],
        }


def _scaled(cost: Cost, count: int, name: str, costs: GateCosts) -> Cost:
    """``count`` copies of ``cost`` side by side: one leaf, same depth."""
    cells = {c: count * v for c, v in cost.cell_counts().items()}
    return Cost.leaf(name, cells, cost.depth, costs)


def _float_adder(fmt: FloatFormat, costs: GateCosts) -> Cost:
    """A float adder of two ``fmt`` values with RNE and an output register: the float
    accumulate stage with the other addend in ``fmt`` itself."""
    p = Product(fmt.man_bits + 1, False, fmt.exp_bits, fmt.emax - fmt.emin)
    return Cost.group(f"{fmt.name}_add", float_accumulate(p, fmt, "nearest_even", costs))


def _hadamard_int(b: int, m: int, bits: int, costs: GateCosts) -> list[Cost]:
    """Butterfly stages of strides m, 2m, … < b on words of ``bits`` growing a bit a stage."""
    stages = []
    for s in range(1, int(math.log2(b // m)) + 1):
        w = bits + s  # words of bits + s − 1, sign-extended: the sum needs one more bit
        add = A.ripple_adder(w, costs=costs)
        sub = Cost.group(
            "sub", [A.xor_bank(w, costs=costs), A.ripple_adder(w, carry_in=True, costs=costs)]
        )
        regs = _scaled(A.register(w, costs=costs), 2, f"2x_reg{w}", costs)
        bfly = Cost.group("butterfly", [add, sub, regs], depth=sub.depth)
        stages.append(_scaled(bfly, b // 2, f"stage{s}_{b // 2}x_butterfly{w}", costs))
    return stages


def _hadamard_float(b: int, m: int, fmt: FloatFormat, costs: GateCosts) -> list[Cost]:
    add = _float_adder(fmt, costs)
    sub = Cost.group("sub", [Cost.leaf("sign_flip", {"xor2": 1}, 1, costs), add])
    bfly = Cost.group("butterfly", [add, sub], depth=sub.depth)
    return [
        _scaled(bfly, b // 2, f"stage{s}_{b // 2}x_{fmt.name}_butterfly", costs)
        for s in range(1, int(math.log2(b // m)) + 1)
    ]


def _paley(b: int, m: int, fmt: Format, internal: FloatFormat | None, costs) -> tuple[Cost, int]:
    """The dense ±1 stage of a Paley factor H_m on each run of m values: every output sums
    m terms; m(m − 1)/2 of H_m's m² entries are −1 (row 0 all +1; column 0 below it −1; Q
    has (q − 1)/2 of −1 per row), each a negated input.  Returns (cost, output bits)."""
    runs, neg = b // m, m * (m - 1) // 2
    if isinstance(fmt, IntFormat) and internal is None:
        tree, out = adder_tree(m, fmt.bits, True, costs)  # a negation's +1 is a carry-in
        parts = [
            _scaled(
                Cost.group("output", [tree, A.register(out, costs=costs)]), b, "outputs", costs
            ),
            _scaled(A.xor_bank(fmt.bits, costs=costs), runs * neg, "negations", costs),
        ]
        return Cost.group(f"paley{m}", parts, depth=parts[0].depth + 1), out
    f = internal if internal is not None else fmt
    add = _float_adder(f, costs)
    tree = _scaled(add, b * (m - 1), f"{b * (m - 1)}x_{f.name}_add", costs)
    signs = Cost.leaf("negations", {"xor2": runs * neg}, 1, costs)
    return Cost.group(f"paley{m}", [signs, tree], depth=1 + add.depth * math.ceil(math.log2(m))), 0


def _signs(b: int, fmt: Format, costs: GateCosts) -> Cost:
    if isinstance(fmt, FloatFormat):
        return Cost.leaf(f"signs{b}", {"xor2": b}, 1, costs)
    return _scaled(A.conditional_negate(fmt.bits, costs=costs), b, f"signs{b}", costs)


def _hadamard(step: Step, b: int, fmt: Format, internal: FloatFormat | None, costs) -> StepCost:
    p, m = hadamard_order(b)
    parts = [_signs(b, fmt, costs)] if step.seed is not None else []
    bits = fmt.bits
    if m > 1:
        paley, bits = _paley(b, m, fmt, internal, costs)
        parts.append(paley)
    lg = int(math.log2(p))
    if isinstance(fmt, IntFormat) and internal is None:
        parts += _hadamard_int(b, m, bits, costs)
        note = f"exact integer butterflies, {fmt.bits + 1}…{bits + lg} bits"
    else:
        f = internal if internal is not None else fmt
        parts += _hadamard_float(b, m, f, costs)
        note = f"{f.name} butterflies with RNE"
    if m > 1:
        note += f"; a dense ±1 Paley stage of order {m} first"
    adds, stages = b * lg + b * (m - 1), lg + (math.ceil(math.log2(m)) if m > 1 else 0)
    return StepCost(_spec(step), b, Cost.group(f"fwht{b}", parts), adds, 0, stages, note)


def _rotation(step: Step, b: int, fmt: Format, costs: GateCosts) -> StepCost:
    if isinstance(fmt, IntFormat):
        mult = A.array_multiplier(fmt.bits, fmt.bits, costs=costs)
        tree, out = adder_tree(b, 2 * fmt.bits, False, costs)
        tree = Cost.group("tree", [tree, A.register(out, costs=costs)])
        note = f"{fmt.bits}-bit coefficients, exact adder tree to {out} bits"
    else:
        mult = fp_mult(fmt, costs, f"{fmt.name}_mult")
        add = _float_adder(fmt, costs)
        tree = _scaled(add, b - 1, f"tree{b}_{b - 1}x_{fmt.name}_add", costs)
        tree = Cost.group(tree.name, [tree], depth=add.depth * math.ceil(math.log2(b)))
        note = f"{fmt.name} coefficients and adder tree with RNE"
    per_output = Cost.group("output", [_scaled(mult, b, f"{b}x_mult", costs), tree])
    vector = Cost.group(f"rotation{b}", [_scaled(per_output, b, f"{b}x_output", costs)])
    return StepCost(_spec(step), b, vector, b * (b - 1), b * b, math.ceil(math.log2(b)) + 1, note)


def _spec(step: Step) -> str:
    if step.kind == "smoothquant":
        return f"smoothquant:{step.alpha:g}"
    args = [str(step.block)] if step.block else []
    if step.kind == "hadamard":
        return ":".join(
            ["hadamard", *args, *([f"signs={step.seed}"] if step.seed is not None else [])]
        )
    if step.kind == "rotation":
        return ":".join(["rotation", str(step.seed), *args])
    return "none"


def _positive(what: str, v) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{what} must be a positive integer, got {v!r}")
    return int(v)


def _block(step: Step, k: int | None) -> int:
    if step.block is None and k is None:
        raise ValueError(f"{_spec(step)}: the whole-K transform needs k (the GEMM's K)")
    b = k if step.block is None else step.block
    if k is not None and k % b:
        raise ValueError(f"{_spec(step)}: K = {k} is not divisible by the block {b}")
    if step.kind == "hadamard" and hadamard_order(b) is None:
        raise ValueError(f"{_spec(step)}: no Hadamard matrix of order K = {b}; {ORDERS}")
    return b


def transform_cost(
    spec: str,
    activation_format: Format | str = "fp16",
    n: int = 4096,
    k: int | None = None,
    *,
    internal: FloatFormat | str | None = None,
    costs: GateCosts = DEFAULT_COSTS,
) -> TransformCost:
    """Gates of the online network of transform ``spec`` on activations in
    ``activation_format`` (an IntFormat or FloatFormat, the format the transform reads), for
    a GEMM with reduction length ``k`` (needed for a whole-K transform) and ``n`` outputs.
    ``internal``: a FloatFormat the Hadamard butterflies add in (default: exact integer
    butterflies for integer activations, the activation's own format for floats).

    >>> t = transform_cost("smoothquant:0.5+hadamard", "fp16", n=4096, k=4096)
    >>> [round(s.per_element) for s in t.steps], round(t.per_mac, 2), t.stages
    ([0, 11238], 2.74, 12)
    """
    fmt = get_format(activation_format)
    if not isinstance(fmt, (IntFormat, FloatFormat)):
        raise ValueError(
            f"activation format {fmt.name!r}: the transform reads scalar activations "
            "(an IntFormat or FloatFormat, e.g. fp16 or int8); a block format is quantized "
            "after the transform"
        )
    if internal is not None:
        internal = get_format(internal)
        if not isinstance(internal, FloatFormat):
            raise ValueError(f"internal format {internal.name!r} must be a FloatFormat")
    n = _positive("n", n)
    k = None if k is None else _positive("k", k)
    out = []
    for step in parse_transform_steps(spec):
        if step.kind in ("none", "smoothquant"):
            note = "folded offline into the previous layer and the weights: free online"
            out.append(StepCost(_spec(step), 1, Cost.group(step.kind, []), 0, 0, 0, note))
        elif step.kind == "hadamard":
            out.append(_hadamard(step, _block(step, k), fmt, internal, costs))
        else:
            out.append(_rotation(step, _block(step, k), fmt, costs))
    return TransformCost(spec, fmt.name, k, n, tuple(out), costs.unit)
