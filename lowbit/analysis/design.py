"""Format-design sensitivities: how a block format's QSNR moves with one design axis.

Each sweep varies one axis of the :class:`~lowbit.formats.block.BlockFormat` descriptor
(scale rule, block size, scale format, microexponent bits, element format) with the others
held fixed, quantizes seeded synthetic tensors (:func:`design_tensor`: Gaussian, Laplace
and an activation-like heavy-tailed law) and returns a tidy pandas DataFrame: one row per
(variant, tensor) with the QSNR's mean over the seeds and its 95 % t-interval
(``per_seed=True``: one row per seed).  Blocks run along the last axis (the features, the
GEMM's reduction axis); every variant sees the same tensors.  A variant whose output has a
non-finite value is marked ``feasible=False`` and its QSNR is NaN (never ranked).

:func:`int_vs_fp_crossover` pairs INT and FP elements of the same bits and scheme (MXINT4
vs MXFP4, MXINT8 vs MXFP8, NVINT4 vs NVFP4) across block sizes and gives the paired QSNR
difference with its interval (Chen et al. 2025, "INT v.s. FP", arXiv 2510.25602).
:func:`block_clipping` measures how often a scale rule saturates a block's maximum.

>>> df = scale_rule_sweep(["fp4_e2m1fn"], tensors=["gaussian"], seeds=2, shape=(8, 256))
>>> df[["variant", "scale_rule", "n_seeds"]].head(2).to_dict("records")
[{'variant': 'mx_fp4_e2m1fn_b32_floor', 'scale_rule': 'floor', 'n_seeds': 2}, {'variant': 'mx_fp4_e2m1fn_b32_ceil', 'scale_rule': 'ceil', 'n_seeds': 2}]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..formats import get_format
from ..formats.base import Format
from ..formats.block import (
    NVFP4_SCALE_RULES,
    SCALE_RULES,
    UE5M3,
    FixedPointElement,
    MXFormat,
    NVFP4Format,
    SharedExpFormat,
)
from ..formats.integer import IntFormat
from .metrics import sqnr_db

__all__ = [
    "AXES",
    "TENSORS",
    "block_clipping",
    "block_size_sweep",
    "design_sweep",
    "design_tensor",
    "element_sweep",
    "int_vs_fp_crossover",
    "micro_bits_sweep",
    "scale_format_sweep",
    "scale_rule_sweep",
]

#: the seeded synthetic tensors: Gaussian N(0, 1), Laplace (b = 1), heavy-tailed
TENSORS = ("gaussian", "laplace", "heavy_tailed")
#: the block sizes of the sweeps
BLOCK_SIZES = (8, 16, 32, 64, 128)
DEFAULT_SHAPE = (256, 4096)


# -- data --------------------------------------------------------------------------------------
def design_tensor(kind: str, seed: int, shape: tuple[int, int] = DEFAULT_SHAPE) -> np.ndarray:
    """A seeded float32 tensor (rows × features) of law ``kind`` (one of :data:`TENSORS`).

    "heavy_tailed" is activation-like, as the report's block-format study draws it: Student-t
    (ν = 4) values, a log-normal scale per feature (σ = 0.5), and 8 feature columns (or
    cols/512, at least 1) 30 times larger (the outlier channels of LLM activations,
    Dettmers et al. 2022).  The generator is seeded by (seed, index of ``kind``).

    >>> design_tensor("laplace", 0, (2, 3)).shape
    (2, 3)
    """
    if kind not in TENSORS:
        raise ValueError(f"design_tensor: kind={kind!r}; legal values are {TENSORS}")
    rows, cols = _check_shape(shape)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), TENSORS.index(kind)]))
    if kind == "gaussian":
        x = rng.standard_normal((rows, cols))
    elif kind == "laplace":
        x = rng.laplace(size=(rows, cols))
    else:
        x = heavy_tailed(rng, rows, cols, min(cols, max(1, 8 * cols // 4096)), 30.0)
    return np.ascontiguousarray(x, dtype=np.float32)


def heavy_tailed(
    rng: np.random.Generator, rows: int, cols: int, outlier_features: int, outlier_scale: float
) -> np.ndarray:
    """An activation-like tensor (float64, rows × features): Student-t (ν = 4) values, a
    log-normal scale per feature (σ = 0.5), and ``outlier_features`` feature columns
    ``outlier_scale`` times larger (the outlier channels of LLM activations, Dettmers et al.
    2022).  The report's block-format, mitigation and accuracy-vs-cost studies draw it too.

    >>> heavy_tailed(np.random.default_rng(0), 2, 8, 1, 30.0).shape
    (2, 8)
    """
    x = rng.standard_t(4.0, size=(rows, cols))
    x *= np.exp(rng.normal(0.0, 0.5, size=(1, cols)))
    if outlier_features:
        cols_out = rng.choice(cols, size=min(outlier_features, cols), replace=False)
        x[:, cols_out] *= outlier_scale
    return x


def _check_shape(shape) -> tuple[int, int]:
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shape)
        or min(shape) < 1
    ):
        raise ValueError(f"shape must be two positive ints (rows, features), got {shape!r}")
    return int(shape[0]), int(shape[1])


def _seed_list(seeds) -> list[int]:
    """``seeds``: a count n (seeds 0..n-1) or a sequence of ints."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a count ≥ 1 or a list of ints, got {seeds}")
        return list(range(int(seeds)))
    out = list(seeds)
    if not out or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in out
    ):
        raise ValueError(f"seeds must be a count ≥ 1 or a non-empty list of ints, got {seeds!r}")
    return [int(s) for s in out]


# -- statistics --------------------------------------------------------------------------------
def _mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean (NaN bounds for one value)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half


# -- the engine ---------------------------------------------------------------------------------
def _describe(fmt: Format) -> dict[str, Any]:
    """The descriptor columns of one variant."""
    el = getattr(fmt, "element", None)
    sf = getattr(fmt, "scale_format", None)
    ts = getattr(fmt, "tensor_scale_format", None)
    return {
        "format_class": type(fmt).__name__,
        "element": getattr(el, "name", None),
        "scale_format": ("u" if getattr(fmt, "unsigned_scale", False) else "")
        + getattr(sf, "name", ""),
        "tensor_scale": getattr(ts, "name", "none"),
        "block_size": fmt.block_size,
        "scale_rule": getattr(fmt, "scale_rule", None),
        "micro_bits": fmt.micro_bits,
        "sub_block_size": fmt.sub_block_size if fmt.micro_bits else None,
        "bits_per_element": float(fmt.bits_per_element),
    }


def _qsnr(fmt: Format, x: np.ndarray) -> float:
    """QSNR (dB) of ``fmt`` on ``x`` (blocks along the last axis); NaN when not finite."""
    q = np.asarray(fmt.quantize(x, axis=-1), dtype=np.float64)
    if not np.isfinite(q).all():
        return math.nan
    return float(sqnr_db(x.astype(np.float64), q))


def _run(
    variants: Sequence[tuple[dict[str, Any], Format]],
    tensors: Iterable[str],
    seeds,
    shape,
    per_seed: bool,
) -> pd.DataFrame:
    """QSNR of every variant on every (tensor, seed); summarised over seeds unless
    ``per_seed``.  ``variants``: (axis columns, format) pairs."""
    seeds = _seed_list(seeds)
    tensors = list(tensors)
    for t in tensors:
        if t not in TENSORS:
            raise ValueError(f"tensors: {t!r} is not one of {TENSORS}")
    rows = []
    for t in tensors:
        for s in seeds:
            x = design_tensor(t, s, shape)
            for cols, fmt in variants:
                rows.append(
                    {"variant": fmt.name, **cols, **_describe(fmt), "tensor": t, "seed": s,
                     "qsnr_db": _qsnr(fmt, x)}
                )  # fmt: skip
    raw = pd.DataFrame(rows)
    return raw if per_seed else _summarise(raw)


def _summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, tensor): mean, 95 % t-interval and SD of the QSNR over seeds;
    ``feasible`` is False when any seed gave a non-finite output."""
    keys = [c for c in raw.columns if c not in ("seed", "qsnr_db")]
    out = []
    for _, g in raw.groupby(["variant", "tensor"], sort=False):
        row = g.iloc[0][keys].to_dict()
        q = g.qsnr_db.to_numpy()
        ok = bool(np.isfinite(q).all())
        m, lo, hi = _mean_ci(q) if ok else (math.nan,) * 3
        row.update(
            feasible=ok,
            n_seeds=len(q),
            seeds=",".join(str(s) for s in g.seed),
            qsnr_db_mean=m,
            qsnr_db_ci_low=lo,
            qsnr_db_ci_high=hi,
            qsnr_db_sd=float(np.std(q, ddof=1)) if ok and len(q) > 1 else math.nan,
        )
        out.append(row)
    return pd.DataFrame(out)


# -- formats of the axes -------------------------------------------------------------------------
def _mx_element(name: str):
    """An MX element by name: a registered minifloat, or "int4"/"int8" (MXINT: symmetric
    integer read as 1.(b-2) fixed point, as OCP MX §5.3.3 defines MXINT8)."""
    if name in ("int4", "int8"):
        b = int(name[3:])
        return FixedPointElement(IntFormat(b, narrow=True), b - 2)
    return get_format(name)


def _mx(element: str, block_size: int = 32, scale_rule: str = "floor") -> MXFormat:
    el = _mx_element(element)
    return MXFormat(el, block_size, scale_rule, name=f"mx_{el.name}_b{block_size}_{scale_rule}")


def _with_block_size(fmt: Format, k: int) -> Format:
    """``fmt`` with block size ``k`` (same descriptor otherwise), named ``<name>_b<k>``."""
    if not hasattr(fmt, "block_size") or isinstance(fmt, SharedExpFormat):
        raise ValueError(
            f"block_size_sweep: {fmt.name} has no free block size (MX, NVFP4-scheme and "
            "group-scaled formats have one; MX9/6/4 are micro_bits_sweep's)"
        )
    return dataclasses.replace(fmt, block_size=k, name=f"{fmt.name}_b{k}")


# -- the sweeps ---------------------------------------------------------------------------------
def scale_rule_sweep(
    elements: Sequence[str] = ("fp8_e4m3fn", "fp6_e2m3fn", "fp4_e2m1fn", "int8"),
    rules: Sequence[str] = SCALE_RULES,
    block_size: int = 32,
    tensors: Iterable[str] = TENSORS,
    seeds=8,
    shape=DEFAULT_SHAPE,
    per_seed: bool = False,
    nv_formats: Sequence[str] = ("nvfp4",),
    nv_rules: Sequence[str] = ("subnormal", "ceil"),
) -> pd.DataFrame:
    """OCP MX (E8M0 scale) with each scale rule of :data:`lowbit.formats.block.SCALE_RULES`,
    and the NVFP4-scheme formats ``nv_formats`` with each block-scale rule ``nv_rules``
    (:data:`~lowbit.formats.block.NVFP4_SCALE_RULES`: "subnormal" rounds s_b to nearest,
    so a block maximum can clip by up to 6.25 %; "ceil" rounds it up and never clips).

    With amax the block's largest magnitude and e_max the element's largest exponent, the
    shared exponent is (OCP MX v1.0 §6.3 is "floor"; the others as torchao):

    * floor: ⌊log2 amax⌋ − e_max (block maxima in [max_elem, 2^(e_max+1))·X saturate);
    * ceil: ⌈log2 amax⌉ − e_max;
    * even: ⌊log2 RNE_m(amax)⌋ − e_max (amax first rounded to the element's mantissa bits);
    * rceil: ⌈log2(amax / max_elem)⌉ (the smallest power-of-two scale that clips nothing).

    ``elements``: registered minifloats or "int4"/"int8" (MXINT).

    >>> df = scale_rule_sweep(["fp8_e4m3fn"], ["floor", "rceil"], tensors=["gaussian"],
    ...                       seeds=2, shape=(4, 64), nv_formats=())
    >>> df.scale_rule.tolist(), bool(df.feasible.all())
    (['floor', 'rceil'], True)
    """
    variants = [({"axis": "scale_rule"}, _mx(e, block_size, r)) for e in elements for r in rules]
    for nv in nv_formats:
        base = get_format(nv)
        if not isinstance(base, NVFP4Format):
            raise ValueError(f"scale_rule_sweep: {base.name} is not an NVFP4-scheme format")
        for r in nv_rules:
            if r not in NVFP4_SCALE_RULES:
                raise ValueError(
                    f"scale_rule_sweep: nv_rules: {r!r} is not one of {NVFP4_SCALE_RULES}"
                )
            v = dataclasses.replace(base, scale_rule=r, name=f"{base.name}_{r}")
            variants.append(({"axis": "scale_rule"}, v))
    return _run(variants, tensors, seeds, shape, per_seed)


#: the families of :func:`block_size_sweep`: MX (FP4, FP8, INT4, INT8), NVFP4-scheme
#: (FP4, INT4) and INT4 with an FP16 scale per group
BLOCK_FAMILIES = ("mxfp4", "mxfp8_e4m3", "mxint4", "mxint8", "nvfp4", "nvint4", "int4_g128")


def block_size_sweep(
    formats: Sequence[str | Format] = BLOCK_FAMILIES,
    block_sizes: Sequence[int] = BLOCK_SIZES,
    tensors: Iterable[str] = TENSORS,
    seeds=8,
    shape=DEFAULT_SHAPE,
    per_seed: bool = False,
) -> pd.DataFrame:
    """Each format of ``formats`` at each block size (its descriptor otherwise unchanged).

    >>> df = block_size_sweep(["mxfp4"], [16, 32], tensors=["gaussian"], seeds=2, shape=(4, 64))
    >>> df[["variant", "block_size", "bits_per_element"]].to_dict("records")
    [{'variant': 'mxfp4_b16', 'block_size': 16, 'bits_per_element': 4.5}, {'variant': 'mxfp4_b32', 'block_size': 32, 'bits_per_element': 4.25}]
    """
    variants = [
        ({"axis": "block_size", "base": get_format(f).name}, _with_block_size(get_format(f), k))
        for f in formats
        for k in block_sizes
    ]
    return _run(variants, tensors, seeds, shape, per_seed)


def _scale_format_variants(element: str, block_size: int) -> list[Format]:
    el = get_format(element)
    e4m3 = get_format("fp8_e4m3fn")
    k = block_size
    return [
        MXFormat(el, k, "floor", name=f"{el.name}_b{k}_e8m0_floor"),
        MXFormat(el, k, "rceil", name=f"{el.name}_b{k}_e8m0_rceil"),
        NVFP4Format(k, element=el, scale_format=e4m3, name=f"{el.name}_b{k}_e4m3_fp32"),
        NVFP4Format(k, element=el, scale_format=e4m3, tensor_scale=False,
                    name=f"{el.name}_b{k}_e4m3"),
        NVFP4Format(k, element=el, scale_format=UE5M3, unsigned_scale=True,
                    tensor_scale=False, name=f"{el.name}_b{k}_ue5m3"),
        NVFP4Format(k, element=el, scale_format=UE5M3, unsigned_scale=True,
                    name=f"{el.name}_b{k}_ue5m3_fp32"),
    ]  # fmt: skip


def scale_format_sweep(
    elements: Sequence[str] = ("fp4_e2m1fn", "fp8_e4m3fn"),
    block_sizes: Sequence[int] = (16, 32),
    tensors: Iterable[str] = TENSORS,
    seeds=8,
    shape=DEFAULT_SHAPE,
    per_seed: bool = False,
) -> pd.DataFrame:
    """One element and block size, six ways to store its block scale: E8M0 (OCP MX, floor
    and rceil rules), E4M3 with and without the FP32 tensor scale (NVFP4's scheme), UE5M3
    (unsigned E5M3, 8 bits) with and without it.  A minifloat scale is
    RNE(amax / max_elem / s_t) (:class:`~lowbit.formats.block.NVFP4Format`).

    >>> df = scale_format_sweep(["fp4_e2m1fn"], [16], tensors=["gaussian"], seeds=2, shape=(4, 64))
    >>> df.scale_format.tolist()
    ['e8m0', 'e8m0', 'fp8_e4m3fn', 'fp8_e4m3fn', 'ue5m3fn', 'ue5m3fn']
    """
    variants = [
        ({"axis": "scale_format"}, f)
        for e in elements
        for k in block_sizes
        for f in _scale_format_variants(e, k)
    ]
    return _run(variants, tensors, seeds, shape, per_seed)


def micro_bits_sweep(
    man_bits: Sequence[int] = (7, 4, 2),
    micro_bits: Sequence[int] = (0, 1, 2),
    block_size: int = 16,
    sub_block_size: int = 2,
    tensors: Iterable[str] = TENSORS,
    seeds=8,
    shape=DEFAULT_SHAPE,
    per_seed: bool = False,
) -> pd.DataFrame:
    """Shared-microexponent formats (Rouhani et al., ISCA 2023: MX9/6/4 are man_bits 7/4/2
    with 1 micro bit per pair in blocks of 16) with 0, 1, 2… micro bits per sub-block.

    >>> df = micro_bits_sweep([4], [0, 1], tensors=["gaussian"], seeds=2, shape=(4, 64))
    >>> df[["variant", "bits_per_element"]].to_dict("records")
    [{'variant': 'bfp5_b16', 'bits_per_element': 5.5}, {'variant': 'bfp5_b16_s2u1', 'bits_per_element': 6.0}]
    """
    variants = [
        ({"axis": "micro_bits"}, SharedExpFormat(m, block_size, sub_block_size, u))
        for m in man_bits
        for u in micro_bits
    ]
    return _run(variants, tensors, seeds, shape, per_seed)


#: the element formats of :func:`element_sweep`
ELEMENTS = ("int4", "int8", "fp4_e2m1fn", "fp6_e2m3fn", "fp6_e3m2fn", "fp8_e4m3fn", "fp8_e5m2")


def element_sweep(
    elements: Sequence[str] = ELEMENTS,
    block_size: int = 32,
    scale_rule: str = "floor",
    tensors: Iterable[str] = TENSORS,
    seeds=8,
    shape=DEFAULT_SHAPE,
    per_seed: bool = False,
) -> pd.DataFrame:
    """OCP MX with each element format (E8M0 scale per ``block_size``, ``scale_rule``).

    >>> df = element_sweep(["int4", "fp4_e2m1fn"], tensors=["gaussian"], seeds=2, shape=(4, 64))
    >>> df.element.tolist()
    ['int4_1.2', 'fp4_e2m1fn']
    """
    variants = [({"axis": "element"}, _mx(e, block_size, scale_rule)) for e in elements]
    return _run(variants, tensors, seeds, shape, per_seed)


#: (INT, FP) pairs of :func:`int_vs_fp_crossover`: same bits, same scale scheme
CROSSOVER_PAIRS = (("mxint4", "mxfp4"), ("mxint8", "mxfp8_e4m3"), ("nvint4", "nvfp4"))


def int_vs_fp_crossover(
    pairs: Sequence[tuple[str, str]] = CROSSOVER_PAIRS,
    block_sizes: Sequence[int] = BLOCK_SIZES,
    tensors: Iterable[str] = TENSORS,
    seeds=8,
    shape=DEFAULT_SHAPE,
) -> pd.DataFrame:
    """INT minus FP QSNR (dB) for each (INT, FP) pair at each block size, paired over seeds
    (both formats see the same tensors): the difference's mean and 95 % t-interval, each
    side's mean, and ``winner`` ("int", "fp", or "within noise" when the interval holds 0).

    >>> df = int_vs_fp_crossover([("mxint8", "mxfp8_e4m3")], [32], tensors=["gaussian"],
    ...                          seeds=3, shape=(4, 256))
    >>> df.winner.tolist()
    ['int']
    """
    rows = []
    for a, b in pairs:
        raw = block_size_sweep([a, b], block_sizes, tensors, seeds, shape, per_seed=True)
        for (k, t), g in raw.groupby(["block_size", "tensor"], sort=False):
            qi = g[g.base == get_format(a).name].set_index("seed").qsnr_db
            qf = g[g.base == get_format(b).name].set_index("seed").qsnr_db
            d = (qi - qf).to_numpy()
            ok = bool(np.isfinite(d).all())
            m, lo, hi = _mean_ci(d) if ok else (math.nan,) * 3
            win = "within noise"
            if ok and len(d) > 1 and not lo <= 0 <= hi:
                win = "int" if m > 0 else "fp"
            rows.append(
                {"int_format": a, "fp_format": b, "block_size": int(k), "tensor": t,
                 "n_seeds": len(d), "seeds": ",".join(str(s) for s in qi.index),
                 "int_qsnr_db_mean": float(qi.mean()), "fp_qsnr_db_mean": float(qf.mean()),
                 "diff_db_mean": m, "diff_db_ci_low": lo, "diff_db_ci_high": hi,
                 "feasible": ok, "winner": win}
            )  # fmt: skip
    return pd.DataFrame(rows)


#: the axes of :func:`design_sweep` and the sweep each runs
AXES: dict[str, Callable[..., pd.DataFrame]] = {
    "scale_rule": scale_rule_sweep,
    "block_size": block_size_sweep,
    "scale_format": scale_format_sweep,
    "micro_bits": micro_bits_sweep,
    "element": element_sweep,
}


def design_sweep(axis: str, **options: Any) -> pd.DataFrame:
    """The sweep of one design ``axis`` (a key of :data:`AXES`) with its ``options``.

    >>> design_sweep("micro_bits", man_bits=[2], micro_bits=[1], tensors=["laplace"],
    ...              seeds=2, shape=(4, 64)).variant.tolist()
    ['bfp3_b16_s2u1']
    """
    if axis not in AXES:
        raise ValueError(f"design_sweep: axis={axis!r}; legal values are {sorted(AXES)}")
    return AXES[axis](**options)


# -- clipping -------------------------------------------------------------------------------------
def _block_bounds(fmt: Format, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(amax, largest magnitude the block's scale can represent) per block of ``x``
    (blocks along the last axis, whole blocks), from the format's own encoding."""
    k = fmt.block_size
    if x.shape[-1] % k:
        raise ValueError(f"block_clipping: {x.shape[-1]} features is not a multiple of {k}")
    enc = fmt.encode(x, axis=-1)
    amax = np.abs(x.astype(np.float64)).reshape(*x.shape[:-1], -1, k).max(axis=-1)
    if isinstance(fmt, SharedExpFormat):
        # the sub-block holding amax has no micro shift: its bound is elem_max · 2^e_block
        scale = np.ldexp(1.0, fmt.scale_format.exponent_of(enc.scales))
        return amax, fmt.elem_max * scale
    scale = fmt.scale_format.decode(enc.scales).astype(np.float64)
    if getattr(enc, "tensor_scale", None) is not None:
        scale = scale * enc.tensor_scale
    return amax, float(fmt.element.max) * scale


def block_clipping(fmt: str | Format, x: np.ndarray) -> dict[str, float]:
    """How a block format's scale saturates block maxima on ``x`` (blocks along the last
    axis): the fraction of blocks whose amax exceeds the largest magnitude its scale can
    represent, and the largest and mean relative excess amax / bound − 1 over those blocks.

    >>> r = block_clipping("mxfp4", np.array([[7.0] + [0.0] * 31]))
    >>> r["fraction_clipped"], round(r["max_excess"], 4)
    (1.0, 0.1667)
    """
    fmt = get_format(fmt)
    amax, bound = _block_bounds(fmt, np.asarray(x))
    pos = amax > 0
    over = pos & (amax > bound)
    excess = np.where(over, amax / np.where(over, bound, 1.0) - 1.0, 0.0)
    n = int(pos.sum())
    return {
        "blocks": n,
        "fraction_clipped": float(over.sum() / n) if n else 0.0,
        "max_excess": float(excess.max()) if over.any() else 0.0,
        "mean_excess_clipped": float(excess[over].mean()) if over.any() else 0.0,
    }
