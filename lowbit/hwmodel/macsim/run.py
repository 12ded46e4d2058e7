"""The call into the C core (``csrc/macsim.c`` via the cffi module ``lowbit.hwmodel._macsim``):
loading it, the constants it defines (read from the compiled module, never copied), and
one validated call that fills the result and a :class:`MacStats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

#: why gemm is unavailable when the optional C extension was not compiled at install time
MISSING_MESSAGE = (
    "lowbit's C MAC simulator (lowbit.hwmodel._macsim) is not in this installation: pip "
    "compiles it only when a C compiler is available. Install a C compiler (e.g. gcc) and "
    "reinstall lowbit (pip install --force-reinstall --no-deps <the lowbit sdist or "
    "checkout>; in a checkout, `python csrc/build_macsim.py` builds it in place). "
    "lowbit.hwmodel.macsim.numpy_oracle.gemm_numpy is a slower numpy version for the "
    "sequential order without block scales."
)
#: accumulation orders, in the order of their codes MACSIM_SEQUENTIAL, _BLOCKS, _PAIRWISE
ORDERS = ("sequential", "blocks", "pairwise")


def load_lib() -> Any:
    """The compiled C core; ImportError with :data:`MISSING_MESSAGE` when it is absent."""
    try:
        from .. import _macsim
    except ImportError as exc:
        raise ImportError(MISSING_MESSAGE) from exc
    return _macsim


@dataclass(frozen=True)
class Constants:
    """The C core's constants (``csrc/macsim.h``), as the compiled module defines them."""

    acc_fixed: int
    acc_float: int
    acc_exact: int
    round_code: dict[str, int]
    order_code: dict[str, int]
    max_fixed_width: int
    max_exact_width: int
    max_limbs: int
    max_threads: int


@lru_cache(maxsize=1)
def constants() -> Constants:
    """:class:`Constants` read from ``lib.MACSIM_*`` (ImportError when the core is absent)."""
    lib = load_lib().lib
    return Constants(
        acc_fixed=lib.MACSIM_ACC_FIXED,
        acc_float=lib.MACSIM_ACC_FLOAT,
        acc_exact=lib.MACSIM_ACC_EXACT,
        round_code={
            "nearest_even": lib.MACSIM_RNE,
            "toward_zero": lib.MACSIM_RTZ,
            "down": lib.MACSIM_DOWN,
        },
        order_code={
            "sequential": lib.MACSIM_SEQUENTIAL,
            "blocks": lib.MACSIM_BLOCKS,
            "pairwise": lib.MACSIM_PAIRWISE,
        },
        max_fixed_width=lib.MACSIM_MAX_FIXED_WIDTH,
        max_exact_width=lib.MACSIM_MAX_EXACT_WIDTH,
        max_limbs=lib.MACSIM_MAX_LIMBS,
        max_threads=lib.MACSIM_MAX_THREADS,
    )


@dataclass
class MacStats:
    """What happened in the accumulators of one :func:`gemm` call.

    ``overflow``: steps that wrapped, saturated or went to ±Inf; ``swamping``: steps whose
    exact sum was not representable, so part of the addend was lost; ``absorbed``: steps
    where a nonzero addend was wholly lost; ``toggles``: bits of the accumulator register
    that changed, summed over every step (None unless asked); ``max_abs``: the largest
    |accumulator| after any step; ``macs``: M·N·K; ``steps``: accumulator additions;
    ``fast``: whether a vectorised loop ran; ``per_output``: M×N arrays of the same
    counts (None unless asked).  Indexable like a dict: ``stats["overflow"]``.
    """

    overflow: int
    swamping: int
    absorbed: int
    max_abs: float
    macs: int
    steps: int
    toggles: int | None = None
    fast: bool = False
    per_output: dict[str, np.ndarray] | None = field(default=None, repr=False)
    register_bits: int = 0

    def __getitem__(self, key: str):
        return getattr(self, key)

    @property
    def activity(self) -> float | None:
        """Switching activity of the accumulator register: toggled bits per bit per step
        (``toggles / (steps · register_bits)``), the quantity the energy model's
        ``Technology(activity=…)`` stands for; None unless ``toggles=True`` was asked."""
        if self.toggles is None or not self.steps or not self.register_bits:
            return None
        return self.toggles / (self.steps * self.register_bits)

    def as_dict(self) -> dict:
        """The scalar statistics as a plain dict."""
        keys = ("overflow", "swamping", "absorbed", "toggles", "max_abs", "macs", "steps")
        return {k: getattr(self, k) for k in keys}


def register_bits(opts_acc: dict) -> int:
    """Bits of the simulated accumulator register (sign, exponent, mantissa for floats)."""
    if opts_acc["kind"] != constants().acc_float:
        return int(opts_acc["width"])
    top = opts_acc["emax"] - opts_acc["emin"] + 2  # the biased Inf/NaN exponent
    return 1 + top.bit_length() + opts_acc["man_bits"]


def call(plan: Any) -> tuple[np.ndarray, MacStats]:
    """Run the C core on a validated :class:`~lowbit.hwmodel.macsim.options.Plan`; returns
    (C as float64, :class:`MacStats`)."""
    mod = load_lib()
    ffi, lib = mod.ffi, mod.lib
    m, k, n = plan.shape
    toggles, per_output = bool(plan.opts["toggles"]), bool(plan.opts["per_output"])
    c_acc = ffi.new("macsim_acc_t *", plan.opts_acc)
    c_opts = ffi.new("macsim_opts_t *", plan.opts)
    if lib.macsim_check(c_acc, c_opts) != 0:  # pragma: no cover - Python validated already
        raise ValueError(
            f"macsim: the C core refused accumulator={plan.acc}, options {plan.opts}: "
            "a gap in lowbit's own checks, please report it"
        )
    nbytes = lib.macsim_work_size(m, k, n, c_acc, c_opts)
    work = np.empty(max(int(nbytes), 64), dtype=np.uint8)
    out = np.empty((m, n), dtype=np.float64)
    po_arrays = None
    c_po = ffi.new("macsim_outstats_t *")
    if per_output:
        po_arrays = {key: np.zeros((m, n), np.int64) for key in _COUNTS}
        po_arrays["max_abs"] = np.zeros((m, n), np.float64)
        for key in _COUNTS:  # the same names on both sides of the boundary
            setattr(c_po, key, ffi.from_buffer("int64_t[]", po_arrays[key], True))
        c_po.max_abs = ffi.from_buffer("double[]", po_arrays["max_abs"], True)

    def buf(kind, arr, writable=False):
        if arr is None:
            return ffi.NULL
        return ffi.from_buffer(kind, arr, require_writable=writable)

    a_codes, b_codes = plan.a.codes, plan.b.codes
    stats = ffi.new("macsim_stats_t *")
    rc = lib.macsim_gemm(
        buf(f"uint{8 * a_codes.itemsize}_t[]", a_codes),
        buf(f"uint{8 * b_codes.itemsize}_t[]", b_codes),
        buf("double[]", np.ascontiguousarray(plan.ta.values)),
        buf("double[]", np.ascontiguousarray(plan.tb.values)),
        buf("int32_t[]", plan.a_int),
        buf("int32_t[]", plan.b_int),
        buf("double[]", plan.a_bs),
        buf("double[]", plan.b_bs),
        m,
        k,
        n,
        c_acc,
        c_opts,
        buf("double[]", out, True),
        buf("uint8_t[]", work, True),
        work.size,
        stats,
        c_po,
    )
    if rc != 0:  # pragma: no cover
        raise RuntimeError(f"macsim: C core returned {rc}")
    if plan.exact and stats.overflow:
        raise AssertionError("macsim: exact accumulator overflowed")  # pragma: no cover
    if plan.row_scales is not None:
        out *= plan.row_scales[:, None]
    if plan.col_scales is not None:
        out *= plan.col_scales[None, :]
    if po_arrays is not None and not toggles:
        po_arrays.pop("toggles")
    return out, MacStats(
        overflow=int(stats.overflow),
        swamping=int(stats.swamping),
        absorbed=int(stats.absorbed),
        max_abs=float(stats.max_abs),
        macs=m * n * k,
        steps=plan.steps,
        toggles=int(stats.toggles) if toggles else None,
        fast=bool(stats.fast),
        per_output=po_arrays,
        register_bits=register_bits(plan.opts_acc),
    )


#: the per-output counters, named as in ``macsim_outstats_t``
_COUNTS = ("overflow", "swamping", "absorbed", "toggles")
