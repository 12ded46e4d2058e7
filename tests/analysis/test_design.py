"""Format-design sweeps (lowbit.analysis.design): every QSNR against an independent numpy
quantizer written from the specs (OCP MX with each scale rule, the NVFP4 scheme, shared
microexponents), the seed statistics against scipy's t-interval, the INT-vs-FP paired
difference, block clipping against a direct count, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lowbit.analysis import design as D

SHAPE = (8, 512)


def _qsnr(x, q):
    x = x.astype(np.float64)
    return 10 * math.log10(np.sum(x * x) / np.sum((x - q) ** 2))


def _minifloat(v, mbits, emin, vmax):
    """RNE onto a minifloat grid (numpy's round is half-even), saturating."""
    a = np.abs(v)
    e = np.maximum(np.floor(np.log2(np.where(a > 0, a, 1.0))), emin)
    step = np.exp2(e - mbits)
    return np.clip(np.round(v / step) * step, -vmax, vmax)


ELEM = {"fp4_e2m1fn": (1, 0, 6.0, 2), "fp8_e4m3fn": (3, -6, 448.0, 8)}


def _mx_numpy(x, elem, k, rule):
    mb, emin, vmax, emax = ELEM[elem]
    b = x.reshape(-1, k).astype(np.float64)
    amax = np.abs(b).max(1, keepdims=True)
    if rule == "floor":
        se = np.floor(np.log2(amax)) - emax
    elif rule == "ceil":
        se = np.ceil(np.log2(amax)) - emax
    else:  # rceil
        se = np.ceil(np.log2(amax / vmax))
    X = np.exp2(se)
    return (_minifloat(b / X, mb, emin, vmax) * X).reshape(x.shape)


def _nv_numpy(x, k, int_el):
    st = np.float32(np.abs(x).max() / (448 * (7 if int_el else 6)))
    b = x.reshape(-1, k).astype(np.float64)
    amax = np.abs(b).max(1, keepdims=True)
    emax = 7.0 if int_el else 6.0
    sb = _minifloat(amax / emax / float(st), 3, -6, 448.0)
    s = sb * float(st)
    v = b / s
    q = np.clip(np.round(v), -7, 7) if int_el else _minifloat(v, 1, 0, 6.0)
    return (q * s).reshape(x.shape).astype(np.float32)  # lowbit's output is float32


def test_scale_rule_sweep_vs_numpy():
    df = D.scale_rule_sweep(
        ["fp8_e4m3fn", "fp4_e2m1fn"], ["floor", "ceil", "rceil"], tensors=["gaussian", "laplace"],
        seeds=[3, 5], shape=SHAPE, per_seed=True, nv_formats=(),
    )  # fmt: skip
    assert len(df) == 2 * 3 * 2 * 2
    for r in df.itertuples():
        x = D.design_tensor(r.tensor, r.seed, SHAPE)
        assert r.qsnr_db == pytest.approx(
            _qsnr(x, _mx_numpy(x, r.element, 32, r.scale_rule)), abs=1e-9
        )
    # the floor rule clips E4M3 block maxima in [448, 512)·X: ceil/rceil beat it on Gaussian data
    g = (
        df[(df.tensor == "gaussian") & (df.element == "fp8_e4m3fn")]
        .groupby("scale_rule")
        .qsnr_db.mean()
    )
    assert g["rceil"] > g["floor"] + 0.5


def test_block_size_and_crossover_vs_numpy():
    df = D.block_size_sweep(
        ["nvfp4", "nvint4"], [8, 32], tensors=["laplace"], seeds=2, shape=SHAPE, per_seed=True
    )
    for r in df.itertuples():
        x = D.design_tensor(r.tensor, r.seed, SHAPE)
        ref = _nv_numpy(x, r.block_size, r.base == "nvint4")
        assert r.qsnr_db == pytest.approx(_qsnr(x, ref), abs=1e-9)
    cx = D.int_vs_fp_crossover(
        [("nvint4", "nvfp4")], [8, 32], tensors=["laplace"], seeds=2, shape=SHAPE
    )
    for r in cx.itertuples():
        sub = df[df.block_size == r.block_size]
        d = (
            sub[sub.base == "nvint4"].qsnr_db.to_numpy()
            - sub[sub.base == "nvfp4"].qsnr_db.to_numpy()
        )
        lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
        assert (r.diff_db_mean, r.diff_db_ci_low, r.diff_db_ci_high) == pytest.approx(
            (d.mean(), lo, hi)
        )
        assert r.winner == ("within noise" if lo <= 0 <= hi else ("int" if d.mean() > 0 else "fp"))


def test_summary_statistics_vs_scipy():
    df = D.micro_bits_sweep([4], [0, 2], tensors=["heavy_tailed"], seeds=4, shape=SHAPE)
    raw = D.micro_bits_sweep(
        [4], [0, 2], tensors=["heavy_tailed"], seeds=4, shape=SHAPE, per_seed=True
    )
    for r in df.itertuples():
        q = raw[raw.variant == r.variant].qsnr_db.to_numpy()
        lo, hi = stats.t.interval(0.95, 3, loc=q.mean(), scale=stats.sem(q))
        assert (r.qsnr_db_mean, r.qsnr_db_ci_low, r.qsnr_db_ci_high) == pytest.approx(
            (q.mean(), lo, hi)
        )
        assert r.n_seeds == 4 and r.seeds == "0,1,2,3" and r.feasible
    # two micro bits per pair cost 0.5 bit more per element than none, and buy QSNR
    assert df.bits_per_element.tolist() == [5.5, 6.5]
    assert df.qsnr_db_mean.iloc[1] > df.qsnr_db_mean.iloc[0]


def test_infeasible_variant_is_marked_and_not_averaged():
    raw = pd.DataFrame(
        {"variant": ["a"] * 3 + ["b"] * 3, "tensor": ["t"] * 6, "seed": [0, 1, 2] * 2,
         "qsnr_db": [10.0, 11.0, 12.0, 20.0, math.nan, 21.0]}
    )  # fmt: skip
    s = D._summarise(raw)
    assert s.feasible.tolist() == [True, False]
    assert s.qsnr_db_mean.iloc[0] == 11.0 and math.isnan(s.qsnr_db_mean.iloc[1])


def test_scale_format_and_element_sweeps_cover_their_axes():
    sf = D.scale_format_sweep(["fp4_e2m1fn"], [16], tensors=["gaussian"], seeds=2, shape=SHAPE)
    assert sf.scale_format.tolist() == [
        "e8m0",
        "e8m0",
        "fp8_e4m3fn",
        "fp8_e4m3fn",
        "ue5m3fn",
        "ue5m3fn",
    ]
    assert sf.bits_per_element.tolist() == [4.5] * 6  # every scale is 8 bits
    assert sf.tensor_scale.tolist() == ["none", "none", "fp32", "none", "none", "fp32"]
    el = D.element_sweep(tensors=["gaussian"], seeds=2, shape=SHAPE)
    assert el.element.tolist() == [
        "int4_1.2",
        "int8_1.6",
        "fp4_e2m1fn",
        "fp6_e2m3fn",
        "fp6_e3m2fn",
        "fp8_e4m3fn",
        "fp8_e5m2",
    ]
    assert el.feasible.all()


def test_block_clipping_vs_direct_count():
    x = D.design_tensor("gaussian", 0, SHAPE)
    b = np.abs(x.astype(np.float64)).reshape(-1, 32).max(1)
    frac = b / np.exp2(np.floor(np.log2(b)))  # amax's significand in [1, 2)
    # MXFP4, floor rule: a block clips when its significand passes 6/4 = 1.5 (up to 8/6)
    r = D.block_clipping("mxfp4", x)
    assert r["fraction_clipped"] == np.mean(frac > 1.5)
    assert r["max_excess"] == pytest.approx(frac.max() / 1.5 - 1)
    # E4M3: significand above 448/256 = 1.75
    assert D.block_clipping("mxfp8_e4m3", x)["fraction_clipped"] == np.mean(frac > 1.75)
    assert D.block_clipping(D._mx("fp8_e4m3fn", 32, "rceil"), x)["fraction_clipped"] == 0.0
    # NVFP4: E4M3 RNE of the block scale rounds down by at most half an ulp (2^-4 relative)
    nv = D.block_clipping("nvfp4", x)
    assert 0 < nv["fraction_clipped"] < 1 and 0 < nv["max_excess"] <= 1 / 15


def test_bad_input():
    with pytest.raises(ValueError, match="axis='nope'; legal values"):
        D.design_sweep("nope")
    with pytest.raises(ValueError, match="seeds must be a count"):
        D.scale_rule_sweep(seeds=0)
    with pytest.raises(ValueError, match="shape must be two positive ints"):
        D.design_tensor("gaussian", 0, (4,))
    with pytest.raises(ValueError, match="kind='cauchy'"):
        D.design_tensor("cauchy", 0)
    with pytest.raises(ValueError, match="tensors: 'x' is not one of"):
        D.element_sweep(tensors=["x"], seeds=1, shape=SHAPE)
    with pytest.raises(ValueError, match="mx9 has no free block size"):
        D.block_size_sweep(["mx9"], [8], seeds=1, shape=SHAPE)


def test_heavy_tailed_tensor_has_its_outlier_features():
    x = D.design_tensor("heavy_tailed", 1, (64, 4096))
    rms = np.sqrt((x.astype(np.float64) ** 2).mean(0))
    assert np.sum(rms > 10 * np.median(rms)) == 8
    assert np.array_equal(x, D.design_tensor("heavy_tailed", 1, (64, 4096)))  # seeded
