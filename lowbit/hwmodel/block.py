"""Pieces of the block-format units (MX, MX9/6/4 and BFP, NVFP4, VS-Quant, group-scaled INT):
what the hardware sees of a block format (:func:`block_spec`), the exact adder tree, the FP32
multiply and integer → FP32 conversion of the output epilogue, per-MAC amortisation, and the
binary (XNOR-popcount) MAC.  The unit they are assembled into is ``unit.py``; docs/hwmodel.md
derives the widths.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..formats import (
    BinaryFormat,
    FixedPointElement,
    FloatFormat,
    Format,
    GroupScaledFormat,
    IntFormat,
    MXFormat,
    NVFP4Format,
    SharedExpFormat,
    VSQuant,
)
from ..formats.expformat import E8M0
from . import arith as A
from .datapath import multiply, operand
from .gates import Cost, GateCosts

SUPPORTED_PAIRS = (
    "scalar × scalar (IntFormat / FloatFormat, any mix); binary × binary; block × scalar "
    "(int4_g128 × fp16, mxfp4 × fp8_e4m3fn, ...); and block × block of one family with equal "
    "block sizes: MX × MX (any elements, e.g. mxfp8_e4m3 × mxfp4), MX9/MX6/MX4/BFP × each "
    "other, nvfp4 × nvfp4, VS-Quant × VS-Quant, group-scaled INT × group-scaled INT"
)
E8M0_SPAN = E8M0.emax - E8M0.emin  # E8M0 scales 2^-127 … 2^127: 254
FP32 = FloatFormat(8, 23, name="fp32")


@dataclass(frozen=True)
class BlockSpec:
    """What the hardware sees of a block format."""

    family: str
    element: Format  # IntFormat, FloatFormat, or (SharedExp) a sign-magnitude IntFormat
    k: int  # elements per block (products summed by the tree)
    sub: int = 1  # sub-block size sharing a microexponent
    micro_bits: int = 0
    scale: str = "none"  # "pow2" (8-bit shared exponent) | "float" | "int" | "none"
    scale_format: FloatFormat | None = None
    scale_bits: int = 0
    outer: int = 0  # FP32 scales per output (γ per channel: 1; per tensor: 0)
    per_tensor: bool = False  # an FP32 per-tensor scale (NVFP4)


def block_spec(fmt: Format) -> BlockSpec | None:
    """The :class:`BlockSpec` of a block format, or None for a scalar format."""
    if isinstance(fmt, MXFormat):
        el = fmt.element
        if isinstance(el, FixedPointElement):  # MXINT8: a 1.6 fixed point on an int8 grid
            el = el.int_format
        return BlockSpec("mx", el, fmt.block_size, scale="pow2")
    if isinstance(fmt, SharedExpFormat):
        return BlockSpec(
            "shared_exp",
            fmt.element,
            fmt.block_size,
            sub=fmt.sub_block_size if fmt.micro_bits else 1,
            micro_bits=fmt.micro_bits,
            scale="pow2",
        )
    if isinstance(fmt, NVFP4Format):
        return BlockSpec(
            "nvfp4",
            fmt.element,
            fmt.block_size,
            scale="float",
            scale_format=fmt.scale_format,
            per_tensor=True,
        )
    if isinstance(fmt, VSQuant):
        return BlockSpec(
            "vsquant",
            fmt.element,
            fmt.block_size,
            scale="int",
            scale_bits=fmt.scale_bits,
            outer=int(fmt.outer == "per_channel"),
        )
    if isinstance(fmt, GroupScaledFormat):
        if not isinstance(fmt.element, IntFormat):
            raise ValueError(
                f"{fmt.name}: only group-scaled integer formats have a MAC model; "
                f"supported pairs: {SUPPORTED_PAIRS}"
            )
        sf = fmt.scale_format
        if not isinstance(sf, FloatFormat):
            raise ValueError(f"{fmt.name}: group scale {sf!r} is not a FloatFormat")
        return BlockSpec("group_int", fmt.element, fmt.block_size, scale="float", scale_format=sf)
    return None


def amortise(cost: Cost, n: int) -> Cost:
    """``cost`` divided by ``n`` (shared by n MACs); the tree keeps its names and depths, the
    leaves keep their gates (fractional) but no integer cell counts."""
    if n == 1:
        return cost
    return dataclasses.replace(
        cost,
        gates=cost.gates / n,
        cells={},
        parts=tuple(amortise(p, n) for p in cost.parts),
        share=cost.share * n,
    )


def adder_tree(k: int, width: int, carry_in: bool, costs: GateCosts) -> tuple[Cost, int]:
    """Exact two's-complement adder tree over ``k`` words of ``width`` bits: level l has
    ⌈k/2^l⌉ adders of width + l bits (sign-extended); returns (cost, output width).  With
    ``carry_in`` every adder takes one operand's +1 of a sign-magnitude → two's-complement
    conversion as its carry-in (k − 1 adders; the k-th +1 enters the accumulator's adder)."""
    parts, n, w = [], k, width
    level = 0
    while n > 1:
        level += 1
        pairs, n = n // 2, math.ceil(n / 2)
        w += 1
        add = A.ripple_adder(w, carry_in=carry_in, costs=costs)
        cells = {c: pairs * v for c, v in add.cells.items()}
        parts.append(Cost.leaf(f"level{level}_{pairs}x_add{w}", cells, add.depth, costs))
    if not parts:
        return Cost.group(f"tree{k}", []), width
    depth = None  # "summed": each level's full carry chain after the previous one's
    if costs.tree_depth == "wavefront":
        # ripple adders in a tree overlap: a level's bit i waits only for bit i of the level
        # below, so the carry wavefronts follow each other two gate levels apart
        depth = parts[-1].depth + 2 * (len(parts) - 1)
    return Cost.group(f"tree{k}x{width}", parts, depth=depth), w


def fp_mult(fmt: FloatFormat, costs: GateCosts, name: str) -> Cost:
    """A float × float multiply with RNE back to ``fmt``: S×S significands, E-bit exponent
    add, 1-bit normalise (S MUX2), RNE (decision + S-bit incrementer)."""
    s = fmt.man_bits + 1
    return Cost.group(
        name,
        [
            A.array_multiplier(s, s, costs=costs),
            A.ripple_adder(fmt.exp_bits, costs=costs),
            A.mux_bank(s, name="normalise", costs=costs),
            A.rne_rounder(s, costs=costs),
            Cost.leaf("sign_xor", {"xor2": 1}, 1, costs),
        ],
    )


def to_float(width: int, costs: GateCosts, fmt: FloatFormat = FP32) -> Cost:
    """Two's-complement integer of ``width`` bits to ``fmt``: negate, LZD, left shift by
    [0, width − 1], exponent from the count (an E-bit adder), RNE."""
    return Cost.group(
        f"int{width}_to_{fmt.name}",
        [
            A.conditional_negate(width, costs=costs),
            A.leading_zero_detector(width, costs=costs),
            A.left_shifter(width, width - 1, costs=costs),
            A.ripple_adder(fmt.exp_bits, costs=costs),
            A.rne_rounder(fmt.man_bits + 1, costs=costs),
        ],
    )


def scale_path(sw, sa, t: int, costs: GateCosts) -> tuple[list[Cost], int, int, int]:
    """Per-block scale arithmetic on a ``t``-bit block sum: (parts, width, exponent bits,
    exponent span) of the scaled block value.  A side without a scale (``none``) adds
    nothing; two power-of-two scales add exponents; float scales multiply the sum's integer
    by the scale significand(s); integer (VS-Quant) scales multiply it by the scale integer."""
    kinds = {sw.scale, sa.scale} - {"none"}
    parts: list[Cost] = []
    sides = [s for s in (sw, sa) if s.scale != "none"]
    if not kinds:
        return parts, t, 0, 0
    kind = kinds.pop()
    if kind == "pow2":
        nan = Cost.leaf("nan_scale_detect", {"and2": 7 * len(sides), "or2": 1, "ff": 1}, 3, costs)
        if len(sides) == 2:
            parts.append(A.ripple_adder(8, costs=costs))  # E8M0 + E8M0 → 9-bit exponent
            parts.append(nan)
            return parts, t, 9, 2 * E8M0_SPAN
        return [nan], t, 8, E8M0_SPAN
    if kind == "float":
        if len(sides) == 2:
            smpy, sprod = multiply(
                operand(sw.scale_format), operand(sa.scale_format), "array", costs
            )
            parts.append(Cost.group("scale_mult", list(smpy.parts)))
            sbits, eb, span = sprod.width, sprod.exp_bits, sprod.exp_span
        else:
            so = operand(sides[0].scale_format)
            sbits, eb, span = so.mag_bits, so.exp_bits, so.exp_span
        parts.append(A.array_multiplier(t, sbits, costs=costs))  # sum × scale significand(s)
        parts.append(Cost.leaf("sum_sign_xor", {"xor2": 1}, 1, costs))
        return parts, t + sbits, eb, span
    ss = sum(s.scale_bits for s in sides)
    if len(sides) == 2:
        parts.append(A.array_multiplier(sw.scale_bits, sa.scale_bits, costs=costs))
    parts.append(A.array_multiplier(t, ss, costs=costs))  # vector sum × scale product
    return parts, t + ss, 0, 0


def quantize_on_the_fly(
    af: Format, src: FloatFormat, costs: GateCosts
) -> tuple[list[Cost], list[Cost]]:
    """On-the-fly quantisation of ``src`` activations to block format ``af``: per block an amax
    tree of k − 1 magnitude comparators and muxes and the scale (E8M0: amax exponent − element
    emax, an 8-bit adder; a float scale: an FP multiply by 1/emax and RNE to the scale format);
    per element an exponent subtract, a right shift onto the element grid, RNE and a clamp
    (OCP MX v1.0 §6.3).  Returns (per-element parts, per-block parts)."""
    spec = block_spec(af)
    mag = src.bits - 1
    cmp = A.comparator(mag, costs=costs)
    mux = A.mux_bank(mag, name="amax_mux", costs=costs)
    levels = math.ceil(math.log2(spec.k))
    amax = Cost.leaf(
        f"amax{spec.k}",
        {c: (spec.k - 1) * n for c, n in {**cmp.cells, **mux.cells}.items()},
        levels * (cmp.depth + 1),
        costs,
        width=mag,
    )
    if spec.scale == "pow2":
        scale = [A.ripple_adder(8, costs=costs)]
    else:
        scale = [fp_mult(src, costs, "amax_div"), A.rne_rounder(spec.scale_format.man_bits + 1,
                                                                   costs=costs)]  # fmt: skip
    el = operand(spec.element)
    per_el = [
        A.ripple_adder(src.exp_bits, costs=costs),
        A.right_shifter(src.man_bits + 2, el.mag_bits + 2, costs=costs),
        A.rne_rounder(el.mag_bits, costs=costs),
        A.mux_bank(el.bits, name="clamp", costs=costs),
    ]
    return per_el, [amax, *scale]


def binary_mac(terms: int, costs: GateCosts) -> tuple[Cost, int, str]:
    """±1 × ±1 as XNOR (one XOR2 with an inverted output) and a popcount: the sum of K products
    is 2·popcount − K, so the accumulator counts agreements in ⌈log2(K+1)⌉ bits (an
    incrementer and a register); the final 2·c − K is per output (left out)."""
    width = max(1, math.ceil(math.log2(terms + 1)))
    root = Cost.group(
        "mac",
        [
            Cost.group("mpy", [Cost.leaf("xnor", {"xor2": 1}, 1, costs)]),
            Cost.group("alignadd", [A.incrementer(width, costs=costs)]),
            Cost.group("normacc", [A.register(width, costs=costs)]),
        ],
    )
    return root, width, f"fixed{width} (popcount)"


def is_binary(fmt: Format) -> bool:
    return isinstance(fmt, BinaryFormat)
