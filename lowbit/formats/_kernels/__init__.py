"""numba kernels behind the array paths of the formats, one module per idea:

    dispatch.py   compile options, the chunk runner for lowbit's threads, ``pick``, the
                  rounding/encoding/subnormal ids (read from lowbit/formats/base.py)
    scalar.py     general kernels: minifloat, integer and E8M0 encode/quantize, table decode
    f32.py        branch-free float32 fast paths, tested against scalar.py
    block.py      fused block kernels (OCP MX, MX9/6/4 and BFP, VS-Quant, NVFP4)

Each public kernel is a (serial, threaded) pair from ``dispatch._build``; callers write
``K.pick(K.encode_float, n)(...)`` with ``from . import _kernels as K``.
"""

from __future__ import annotations

from .block import mx_quantize_f32, nvfp4_quantize, sharedexp_quantize, vsq_quantize
from .dispatch import (
    ENC_OFFSET,
    ENC_SIGN_MAG,
    ENC_TWOS,
    ENC_UNSIGNED,
    NO_RANDOM,
    PARALLEL_MIN,
    PIECES_PER_THREAD,
    RDN,
    RNA,
    RNE,
    RSR,
    RTZ,
    RUP,
    SUBN_FLUSH,
    SUBN_OFF,
    SUBN_ON,
    pick,
)
from .f32 import encode_f32_fast, encode_f32_rne, quantize_f32_fast, quantize_f32_rne
from .scalar import (
    decode_lut,
    encode_exp,
    encode_float,
    encode_int,
    encode_int_rne,
    quantize_float,
    quantize_int,
    quantize_int_rne,
)

__all__ = [
    "ENC_OFFSET",
    "ENC_SIGN_MAG",
    "ENC_TWOS",
    "ENC_UNSIGNED",
    "NO_RANDOM",
    "PARALLEL_MIN",
    "PIECES_PER_THREAD",
    "RDN",
    "RNA",
    "RNE",
    "RSR",
    "RTZ",
    "RUP",
    "SUBN_FLUSH",
    "SUBN_OFF",
    "SUBN_ON",
    "decode_lut",
    "encode_exp",
    "encode_f32_fast",
    "encode_f32_rne",
    "encode_float",
    "encode_int",
    "encode_int_rne",
    "mx_quantize_f32",
    "nvfp4_quantize",
    "pick",
    "quantize_f32_fast",
    "quantize_f32_rne",
    "quantize_float",
    "quantize_int",
    "quantize_int_rne",
    "sharedexp_quantize",
    "vsq_quantize",
]
