"""Bit-exact GEMM simulator: a finite accumulator applied at every MAC step.

C = A · B with A (M×K) and B (K×N) given as element codes of lowbit formats of at most
16 bits (or as float arrays, encoded here), optionally with per-row/per-column scales or
per-block scales along K (OCP MX operands bring theirs).  Each product is exact (checked
here, from the format tables); each addition into the accumulator rounds (floating point),
wraps or saturates (fixed point), or is exact (Kulisch), in the stated order along K
(docs/macsim.md):

* ``order="sequential"``: acc ← round(acc + p_k), k = 0, 1, …
* ``order="blocks"``: the products of each block of ``block`` consecutive k are summed
  exactly, and each block sum is added with one rounding (MX dot products, tensor cores);
* ``order="pairwise"``: a tree of adders of the accumulator format: level by level,
  neighbours are added (one rounding each); an odd last entry moves up unchanged; the
  leaves are the exact products (a single product still passes one adder, 0 + p).

The core is C (``csrc/macsim.c``) behind two option structs validated here and once more
in C before any loop runs (the cpfloat boundary: ``options.py`` validates and builds them,
``run.py`` calls the core); it vectorises across outputs and runs row ranges on
``threads`` threads.  ``reference.gemm_ref`` is the slow exact Python reference it is
tested against and ``numpy_oracle.gemm_numpy`` a second, vectorised oracle; ``tables.py``
holds the value-table analysis all three share.  Examples calling the C core are marked
SKIP so that a checkout without the built extension passes ``--doctest-modules``;
``tests/hwmodel/test_macsim.py`` runs them.

>>> import numpy as np
>>> from lowbit import get_format
>>> e4m3 = get_format("fp8_e4m3fn")
>>> a = e4m3.encode(np.array([[1.0, 0.25, 0.25]]))
>>> b = e4m3.encode(np.array([[1.0], [2**-9], [2**-9]]))
>>> c, stats = gemm(a, b, e4m3, e4m3, accumulator="fp16")  # doctest: +SKIP
>>> c.tolist(), stats.absorbed  # 1 + 2^-11 + 2^-11: two ties, both lost  # doctest: +SKIP
([[1.0]], 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..accumulator import ExactAccumulator, FixedAccumulator, parse_accumulator
from .operands import OUTER_SCALES
from .options import build
from .run import MISSING_MESSAGE, ORDERS, MacStats, call
from .run import load_lib as _load_lib
from .tables import TableInfo, value_table


def available() -> bool:
    """Whether the compiled C core (``lowbit.hwmodel._macsim``) is installed, so that
    :func:`gemm` runs; :data:`MISSING_MESSAGE` says how to get it.

    >>> isinstance(available(), bool)
    True
    """
    try:
        _load_lib()
    except ImportError:
        return False
    return True


def gemm(
    a: Any,
    b: Any,
    a_format: Any = None,
    b_format: Any = None,
    accumulator: Any = "fp32",
    rounding: str = "nearest_even",
    order: str = "sequential",
    block: int | None = None,
    scales: Any = None,
    scale_block: int | None = None,
    toggles: bool = False,
    per_output: bool = False,
    threads: int = 1,
    fast: bool = True,
    outer_scales: str = "epilogue",
) -> tuple[np.ndarray, MacStats]:
    """C = A · B, each addend added into a finite accumulator in the given order along K.

    ``a`` (M×K), ``b`` (K×N): integer arrays of codes of ``a_format``/``b_format``, float
    arrays (encoded here with the format's defaults), or OCP MX :class:`BlockArray`s with
    blocks along K (``a`` encoded with axis=1, ``b`` with axis=0).  ``accumulator``:
    any spec of :func:`~lowbit.hwmodel.accumulator.parse_accumulator`: "fp16", "bf16",
    "fp32" or any IEEE-style FloatFormat up to FP32; ``FixedAccumulator(width, frac,
    overflow)`` with width 2..62 ("fixed:W:F:saturate"; frac=None: the binary point at the
    products' LSB); or "exact" (a Kulisch register as wide as the data needs).
    ``rounding``: "nearest_even" or "toward_zero"; for fixed point also "down" (dropping
    the low bits of two's complement) — a fixed-point register with fewer fractional bits
    than the products rounds each sum acc + p onto its grid, then wraps or saturates.  ``order``:
    "sequential", "blocks" (``block`` products summed exactly per addition; default the MX
    block size or 32) or "pairwise".  ``scales=(a_scales, b_scales)``: each None, a 1-D
    vector (per row of A / per column of B: multiplies C afterwards, in float64) or 2-D per-block
    scales of shape (M, ⌈K/scale_block⌉) / (⌈K/scale_block⌉, N) that multiply each product
    exactly.  ``toggles``: count accumulator bit flips; ``per_output``: M×N statistics;
    ``threads``: threads over rows of C; ``fast=False`` forces the generic loop.
    ``outer_scales``: where per-row/per-column scales (1-D ``scales=``, NVFP4's FP32 tensor
    scale, VS-Quant's γ) go.  "epilogue" (default): they multiply C after accumulation, as
    the hardware these formats were designed for applies them (NVFP4: the E4M3 block scales
    enter the dot product and the FP32 tensor scale is the GEMM's output scale — NVIDIA PTX
    ISA 9.0 ``mma.sync … .block_scale`` with ``.kind::mxf4nvf4`` takes only ``.f32``
    accumulators; VS-Quant: γ after the integer accumulation, Dai et al. 2021 §4), so the
    accumulator holds the scaled domain: NVFP4's block-scaled elements reach 6 · 448 and
    an FP16 accumulator overflows on such operands, a property of that pairing.  "fold_pow2": the power-of-two part of each such scale
    multiplies the products (an exponent add, exact) and only its significand in [1, 2)
    is left to the epilogue (:func:`~lowbit.hwmodel.macsim.operands.fold_pow2`), so the
    accumulator holds values within 4× of the true output — a unit that does this
    judges a narrow float accumulator on real-domain values.

    Returns (C as float64, :class:`MacStats`).  Fixed and exact results are the register
    value n · 2^-frac rounded to the nearest double (exact below 2^53).

    >>> import numpy as np
    >>> from lowbit import get_format
    >>> i8 = get_format("int8")
    >>> a = i8.encode(np.full((1, 4), 100.0)); b = i8.encode(np.full((4, 1), 100.0))
    >>> c, st = gemm(a, b, i8, i8, accumulator="fixed:16:0:saturate")  # doctest: +SKIP
    >>> c.tolist(), st.overflow  # doctest: +SKIP
    ([[32767.0]], 1)
    """
    return call(
        build(
            a,
            b,
            a_format,
            b_format,
            accumulator,
            rounding,
            order,
            block,
            scales,
            scale_block,
            toggles,
            per_output,
            threads,
            fast,
            outer_scales,
        )
    )


__all__ = [
    "MISSING_MESSAGE",
    "ORDERS",
    "OUTER_SCALES",
    "ExactAccumulator",
    "FixedAccumulator",
    "MacStats",
    "TableInfo",
    "available",
    "gemm",
    "parse_accumulator",
    "value_table",
]
