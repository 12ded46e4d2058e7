"""Outlier transforms: the product is unchanged, the matrices are what the papers define, the
fast transform equals scipy's dense Hadamard matrix, and a rotation rescues per-tensor INT8."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import hadamard as dense_hadamard

from lowbit import get_format
from lowbit.analysis.hadamard import fwht, paley_matrix
from lowbit.analysis.metrics import sqnr_db
from lowbit.analysis.transforms import (
    Chain,
    Hadamard,
    Rotation,
    SmoothQuant,
    haar_orthogonal,
    parse_transform,
)
from lowbit.transformspec import hadamard_order, is_paley_order

SPECS = [
    "none",
    "smoothquant",
    "smoothquant:0.3",
    "hadamard",
    "hadamard:16",
    "hadamard:16:signs=2",
    "hadamard:signs=5",
    "rotation:3",
    "rotation:4:8",
    "smoothquant:0.5+hadamard:32:signs=1",
    "rotation:1:16+hadamard:8+smoothquant:1",
]


def _operands(seed=0, k=64, n=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(4, size=(2, 10, k)) * np.exp(rng.normal(0, 1, k))
    return x, rng.standard_normal((k, n))


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 1024])
def test_fwht_equals_the_dense_sylvester_matrix(n):
    x = np.random.default_rng(n).standard_normal((3, n))
    h = dense_hadamard(n).astype(np.float64)
    np.testing.assert_allclose(fwht(x, normalize=False), x @ h, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fwht(x), x @ h / np.sqrt(n), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fwht(x.T, axis=0), (x @ h).T / np.sqrt(n), rtol=0, atol=1e-12)


def test_paley_matrices_are_hadamard():
    orders = [m for m in range(2, 200) if is_paley_order(m)]
    assert orders[:8] == [4, 8, 12, 20, 24, 32, 44, 48]
    for m in orders:
        h = paley_matrix(m)
        assert set(np.unique(h)) == {-1, 1}
        np.testing.assert_array_equal(h @ h.T, m * np.eye(m, dtype=np.int64))
    with pytest.raises(ValueError, match="prime"):
        paley_matrix(28)


@pytest.mark.parametrize(("b", "p", "m"), [(12, 1, 12), (40, 2, 20), (96, 8, 12)])
def test_fwht_of_a_paley_order_is_sylvester_kron_paley(b, p, m):
    assert hadamard_order(b) == (p, m)
    x = np.random.default_rng(b).standard_normal((3, 2 * b))
    h = np.kron(dense_hadamard(p), paley_matrix(m)).astype(np.float64)
    want = np.hstack([x[:, :b] @ h, x[:, b:] @ h])
    np.testing.assert_allclose(fwht(x, block=b, normalize=False), want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        fwht(x, block=b, transpose=True), x @ np.kron(np.eye(2), h.T) / np.sqrt(b), atol=1e-12
    )


def test_blockwise_fwht_is_block_diagonal():
    x = np.random.default_rng(1).standard_normal((5, 48))
    h = dense_hadamard(16) / 4.0
    want = np.kron(np.eye(3), h)
    np.testing.assert_allclose(fwht(x, block=16), x @ want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("spec", "k"),
    [(s, 64) for s in SPECS] + [("hadamard", 80), ("hadamard:20:signs=4", 80), ("hadamard:12", 48)],
)
def test_product_is_unchanged_to_float64_precision(spec, k):
    x, w = _operands(k=k)
    f = parse_transform(spec).fit(x, w)
    xt, wt = f.apply(x, w)
    y = x @ w
    assert xt.shape == x.shape and wt.shape == w.shape
    err = np.abs(xt @ wt - y).max() / np.abs(y).max()
    assert err < 1e-13, err
    np.testing.assert_allclose(f.restore_x(xt), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("spec", "k"),
    [("hadamard:16:signs=2", 64), ("rotation:4:8", 64), ("hadamard", 64), ("rotation:3", 64)]
    + [("hadamard", 80), ("hadamard:24:signs=1", 48)],
)
def test_rotations_are_orthogonal(spec, k):
    f = parse_transform(spec).fit(np.zeros((1, k)), np.eye(k))
    q = f.apply_x(np.eye(k))  # the matrix T with x' = x·T
    np.testing.assert_allclose(q @ q.T, np.eye(k), rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.apply_w(np.eye(k)), q.T, rtol=0, atol=1e-12)


def test_randomized_hadamard_is_signs_then_block_diagonal_hadamard():
    k, b, seed = 32, 8, 9
    f = Hadamard(b, signs=seed).fit(np.zeros((1, k)), np.eye(k))
    d = np.random.default_rng(seed).integers(0, 2, size=k) * 2.0 - 1.0
    want = np.diag(d) @ np.kron(np.eye(k // b), dense_hadamard(b) / np.sqrt(b))
    np.testing.assert_allclose(f.apply_x(np.eye(k)), want, rtol=0, atol=1e-12)
    assert set(np.unique(f.signs)) == {-1.0, 1.0}


def test_haar_sign_fix():
    # LAPACK's Householder QR of a Gaussian matrix gives Q[0, 0] < 0 always; Mezzadri's
    # sign fix makes Q Haar, so E[Q00] = 0 and det = ±1 equally often
    q = np.array([haar_orthogonal(2, s) for s in range(2000)])
    q00 = q[:, 0, 0]
    assert abs(q00.mean()) < 4 * q00.std() / np.sqrt(q00.size)
    dets = np.linalg.det(q)
    np.testing.assert_allclose(np.abs(dets), 1.0, atol=1e-12)
    assert 0.45 < (dets > 0).mean() < 0.55


def test_seeded_reproducibility():
    x, w = _operands()
    for spec, other in [("rotation:3", "rotation:4"), ("hadamard:signs=1", "hadamard:signs=2")]:
        a = parse_transform(spec).fit(x, w).apply_x(x)
        np.testing.assert_array_equal(a, parse_transform(spec).fit(x, w).apply_x(x))
        assert not np.allclose(a, parse_transform(other).fit(x, w).apply_x(x))


def test_smoothquant_scales_by_hand():
    x = np.array([[4.0, 1.0, 0.0], [-2.0, 0.5, 0.0]])
    w = np.array([[1.0, 1.0], [0.25, -0.5], [3.0, 0.0]])
    np.testing.assert_allclose(SmoothQuant(0.5).fit(x, w).s, [2.0, np.sqrt(2.0), 1.0])
    np.testing.assert_allclose(SmoothQuant(1.0).fit(x, w).s, [4.0, 1.0, 1.0])
    np.testing.assert_allclose(SmoothQuant(0.0).fit(x, w).s, [1.0, 2.0, 1.0])
    s = SmoothQuant(0.25).fit(x, w).s
    np.testing.assert_allclose(s[:2], [4**0.25 / 1**0.75, 1**0.25 / 0.5**0.75])
    # calibration and evaluation are different data: the scales are calibration's
    xe = np.array([[100.0, -7.0, 1.0]])
    xt, wt = SmoothQuant(0.5).fit(x, w).apply(xe, w)
    np.testing.assert_allclose(xt, xe / [2.0, np.sqrt(2.0), 1.0])
    np.testing.assert_allclose(wt, w * np.array([[2.0], [np.sqrt(2.0)], [1.0]]))


def test_smoothquant_balances_the_channel_maxima():
    # at α = 0.5 both operands' channel maxima become sqrt(max|x_j|·max|w_j|)
    x, w = _operands(3)
    xt, wt = SmoothQuant(0.5).fit(x, w).apply(x, w)
    mx, mw = np.abs(xt).reshape(-1, 64).max(0), np.abs(wt).max(1)
    np.testing.assert_allclose(mx, mw, rtol=1e-12)


def _int8_per_tensor(x: np.ndarray) -> np.ndarray:
    s = np.abs(x).max() / 127.0
    q = get_format("int8").quantize((x / s).astype(np.float32), overflow="saturate")
    return np.asarray(q, np.float64) * s


def test_hadamard_rescues_per_tensor_int8_on_a_heavy_tailed_tensor():
    # Student-t (ν = 4) features with log-normal scales and 8 feature columns × 30: the
    # outlier channels of LLM activations (Dettmers et al. 2022)
    rng = np.random.default_rng(2024)
    x = rng.standard_t(4.0, size=(128, 1024)) * np.exp(rng.normal(0, 0.5, 1024))
    x[:, rng.choice(1024, 8, replace=False)] *= 30.0
    w = np.eye(1024)
    before = sqnr_db(x, _int8_per_tensor(x))
    f = parse_transform("hadamard").fit(x, w)
    after = sqnr_db(x, f.restore_x(_int8_per_tensor(f.apply_x(x))))
    assert after - before > 15.0, (before, after)
    sq = SmoothQuant(0.5).fit(x, np.ones((1024, 1)))
    smooth = sqnr_db(x, sq.restore_x(_int8_per_tensor(sq.apply_x(x))))
    assert smooth - before > 5.0, (before, smooth)


def test_specs_round_trip_and_compose():
    for spec in SPECS:
        assert parse_transform(parse_transform(spec).spec).spec == parse_transform(spec).spec
    t = parse_transform("smoothquant+hadamard:128:signs=7")
    assert t == Chain((SmoothQuant(0.5), Hadamard(128, 7)))
    assert t.spec == "smoothquant:0.5+hadamard:128:signs=7"
    assert parse_transform("rotation:3:16") == Rotation(3, 16)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("", "non-empty"),
        ("hadamard:28", "no Hadamard matrix of order 28"),
        ("hadamard:0", "no Hadamard matrix of order 0"),
        ("hadamard:16:17", "bad hadamard argument"),
        ("hadamard:signs=x", "signs must be an integer"),
        ("smoothquant:1.5", r"\[0, 1\]"),
        ("smoothquant:-0.1", r"\[0, 1\]"),
        ("smoothquant:a", "α must be a number"),
        ("rotation", "cannot read step"),
        ("rotation:-1", "must be >= 0"),
        ("rotation:1:0", "block must be >= 1"),
        ("quarot", "cannot read step"),
        ("none:1", "cannot read step"),
        ("hadamard+", "cannot read step"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_transform(spec)


def test_bad_operands_and_shapes():
    x, w = _operands(k=56)  # 56 = 2·28: no Sylvester or Sylvester ⊗ Paley I order
    with pytest.raises(ValueError, match="not divisible by the block 16"):
        parse_transform("hadamard:16").fit(x, w)
    with pytest.raises(ValueError, match="no Hadamard matrix of order K = 56"):
        parse_transform("hadamard").fit(x, w)
    with pytest.raises(ValueError, match="not divisible by the block 5"):
        parse_transform("rotation:0:5").fit(x, w)
    with pytest.raises(ValueError, match="last axis must be K"):
        parse_transform("none").fit(x[..., :8], w)
    with pytest.raises(ValueError, match="w must be 2-D"):
        parse_transform("none").fit(x, w[:, 0])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        parse_transform("smoothquant").fit(bad, w)
    f = parse_transform("hadamard:8").fit(x, w)
    with pytest.raises(ValueError, match="fitted for K = 56"):
        f.apply(x[..., :16], w[:16])
    with pytest.raises(ValueError, match=r"α must be a number in \[0, 1\]"):
        SmoothQuant(2.0)
    with pytest.raises(ValueError, match="seed"):
        Rotation(-3)
    with pytest.raises(ValueError, match="no Hadamard matrix of order 28"):
        fwht(np.ones(28))
    with pytest.raises(ValueError, match="whole number of blocks"):
        fwht(np.ones(12), block=8)


def test_fwht_leaves_its_input_alone():
    x = np.random.default_rng(4).standard_normal((3, 32))
    keep = x.copy()
    fwht(x)
    fwht(x, normalize=False, block=1)
    np.testing.assert_array_equal(x, keep)
    assert not np.shares_memory(fwht(x, normalize=False, block=1), x)
