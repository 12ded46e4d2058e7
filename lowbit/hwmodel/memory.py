"""Bits an operand occupies in memory (scales included) and the DRAM/SRAM traffic of a GEMM
on an R×C output-stationary array with one on-chip buffer (docs/hwmodel.md, "Energy").

Operands: A (activations, M×K) and W (weights, K×N), blocks along K.  Stored bits of a tensor
(:func:`tensor_bits`): elements at ``bits_per_element`` of the format — block formats carry their
block scales (MX E8M0, MX9/6/4 shared and micro exponents, NVFP4 E4M3, int4_g128 FP16,
VS-Quant per-vector scales), a partial block along K stored padded to a whole block — plus the
per-tensor / per-channel scales of the tensor (NVFP4's FP32 tensor scale, VS-Quant's γ, a
:class:`~lowbit.formats.Quantizer`'s scales and zero points).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..formats import Format, Quantizer, get_format
from ..formats.block import BlockFormat, NVFP4Format
from ..formats.scaling import VSQuant

Operand = Format | Quantizer | str


def element_format(op: Operand) -> Format:
    """The format a multiplier sees: a Quantizer's scalar format, else the format itself."""
    return op.format if isinstance(op, Quantizer) else get_format(op)


def _scale_count(q: Quantizer, rows: int, cols: int, axis_len: dict) -> int:
    """Scales a Quantizer stores for a rows×cols tensor (axis 0 = rows, 1 = cols)."""
    if q.granularity == "per_tensor":
        return 1
    ax = q.axis % 2
    if q.granularity == "per_channel":
        return axis_len[ax]
    along, other = axis_len[ax], axis_len[1 - ax]
    return other * -(-along // q.block_size)


def tensor_bits(op: Operand, rows: int, cols: int, k_axis: int) -> int:
    """Stored bits of a rows×cols tensor of ``op`` whose blocks run along axis ``k_axis``.

    >>> tensor_bits("mx4", 2, 32, k_axis=1)  # 4 bits per element: 2 blocks of 16 per row
    256
    >>> tensor_bits("int4_g128", 1, 256, k_axis=1)  # 2 × (128·4 + 16)
    1056
    """
    if isinstance(op, Quantizer):
        sb = (32 if op.scale_format is None else op.scale_format.bits) + (
            0 if op.symmetric else op.format.bits
        )  # as Quantizer.overhead_bits counts them
        lens = {0: rows, 1: cols}
        return rows * cols * op.format.bits + sb * _scale_count(op, rows, cols, lens)
    fmt = get_format(op)
    if not isinstance(fmt, BlockFormat):
        return rows * cols * fmt.bits
    k = fmt.block_size
    per_block = fmt.bits_per_element * k
    if per_block != int(per_block):  # pragma: no cover - every registered block is whole bits
        raise ValueError(f"{fmt.name}: {per_block} bits per block is not an integer")
    along, other = (cols, rows) if k_axis == 1 else (rows, cols)
    bits = other * -(-along // k) * int(per_block)
    if isinstance(fmt, NVFP4Format):
        bits += fmt.tensor_scale_format.bits
    if isinstance(fmt, VSQuant):  # γ in FP32: one per tensor or per output channel (row of A,
        bits += 32 * (1 if fmt.outer == "per_tensor" else other)  # column of W)
    return bits


def register_bits(op: Operand) -> float:
    """Bits per element that travel through the array's operand registers: element and
    block-scale bits (``bits_per_element``); per-tensor/channel scales stay in the epilogue."""
    if isinstance(op, Quantizer):
        return float(op.format.bits)
    return float(get_format(op).bits_per_element)


@dataclass(frozen=True)
class Traffic:
    """Bits moved for one GEMM; ``schedule`` names which operand stays in the buffer."""

    a_bits: int
    w_bits: int
    out_bits: int
    dram_read_bits: int
    dram_write_bits: int
    sram_read_bits: int
    sram_write_bits: int
    schedule: str


def gemm_traffic(
    a_bits: int, w_bits: int, m: int, n: int, r: int, c: int, out_bits: int, buffer_bits: int
) -> Traffic:
    """Traffic of an output-stationary GEMM with one on-chip buffer of ``buffer_bits``.

    Tile (i, j) streams row panel i of A (≤ R rows × K) and column panel j of W (K × ≤ C
    columns) from the buffer into the array; row panels are revisited ⌈N/C⌉ = t_n times and
    column panels ⌈M/R⌉ = t_m times, so SRAM reads = t_n·A + t_m·W + outputs.  DRAM reads take
    the cheaper of two schedules (the streamed operand's staging is not counted): keep
    p = min(t_m, ⌊buffer / A panel⌋) row panels of A resident and stream W once per group of
    p panels → A + ⌈t_m / p⌉·W; or the same with W's column panels → W + ⌈t_n / p⌉·A; when not
    even one panel fits, t_n·A + t_m·W.  Every DRAM read is written into the buffer once;
    outputs are written to the buffer, read back and written to DRAM once (partial sums never
    leave the PEs: output stationary).

    >>> t = gemm_traffic(8 * 64, 8 * 64, 8, 8, 4, 4, 16 * 64, buffer_bits=10**6)
    >>> t.dram_read_bits, t.sram_read_bits, t.schedule
    (1024, 3072, 'A: 2 of 2 row panels resident')
    >>> gemm_traffic(8 * 64, 8 * 64, 8, 8, 4, 4, 16 * 64, buffer_bits=300).dram_read_bits
    1536
    """
    tm, tn = -(-m // r), -(-n // c)
    a_panel, w_panel = -(-a_bits // tm), -(-w_bits // tn)  # the largest panel
    options = [("nothing resident", tn * a_bits + tm * w_bits)]
    pa, pw = min(tm, buffer_bits // a_panel), min(tn, buffer_bits // w_panel)
    if pa:
        options.append((f"A: {pa} of {tm} row panels resident", a_bits + -(-tm // pa) * w_bits))
    if pw:
        options.append((f"W: {pw} of {tn} column panels resident", w_bits + -(-tn // pw) * a_bits))
    schedule, dram_read = min(options, key=lambda o: o[1])
    return Traffic(
        a_bits=a_bits,
        w_bits=w_bits,
        out_bits=out_bits,
        dram_read_bits=dram_read,
        dram_write_bits=out_bits,
        sram_read_bits=tn * a_bits + tm * w_bits + out_bits,
        sram_write_bits=dram_read + out_bits,
        schedule=schedule,
    )
