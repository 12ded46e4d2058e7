"""Distributions: the scipy.stats protocol, closed-form partial moments, loading tensors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from lowbit.analysis import (
    Clipped,
    Empirical,
    Gaussian,
    Laplace,
    OutlierMixture,
    ScipyDistribution,
    StudentT,
    Uniform,
    as_distribution,
    load_tensor,
)

REFERENCE = [
    (Gaussian(1.7), stats.norm(scale=1.7)),
    (Laplace(0.6), stats.laplace(scale=0.6)),
    (StudentT(3, 0.5), stats.t(3, scale=0.5)),
    (StudentT(7.5), stats.t(7.5)),
    (Uniform(-1, 3), stats.uniform(-1, 4)),
]


@pytest.mark.parametrize(("dist", "ref"), REFERENCE, ids=repr)
def test_pdf_cdf_ppf_var_match_scipy(dist, ref):
    x = np.linspace(-4, 4, 41)
    np.testing.assert_allclose(dist.pdf(x), ref.pdf(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(dist.cdf(x), ref.cdf(x), rtol=1e-12)
    q = np.linspace(0.01, 0.99, 9)
    np.testing.assert_allclose(dist.ppf(q), ref.ppf(q), rtol=1e-10)
    assert dist.var() == pytest.approx(ref.var(), rel=1e-12)


@pytest.mark.parametrize(("dist", "ref"), REFERENCE, ids=repr)
@pytest.mark.parametrize(("a", "b"), [(-math.inf, -0.3), (-0.2, 0.9), (1.1, math.inf), (2.0, 2.5)])
def test_partial_moments_match_quadrature(dist, ref, a, b):
    got = dist.partial_moments(np.array([a]), np.array([b]))
    for k in range(3):
        want = integrate.quad(lambda x, k=k: x**k * ref.pdf(x), a, b, epsabs=1e-14)[0]
        assert float(got[k][0]) == pytest.approx(want, rel=1e-8, abs=1e-13)


def test_rvs_is_seeded_and_shaped():
    d = StudentT(3)
    a, b = d.rvs(size=(2, 5), random_state=7), d.rvs(size=(2, 5), random_state=7)
    assert a.shape == (2, 5)
    np.testing.assert_array_equal(a, b)
    assert np.isscalar(Gaussian().rvs(random_state=1))


def test_outlier_mixture_moments_and_sampling():
    d = OutlierMixture(Gaussian(1.0), 10.0, 0.01)
    assert d.var() == pytest.approx(0.99 + 0.01 * 100)
    x = d.rvs(size=400_000, random_state=3)
    assert np.var(x) == pytest.approx(d.var(), rel=0.05)
    assert float(d.cdf(d.ppf(0.999))) == pytest.approx(0.999, abs=1e-10)
    m0, _, m2 = d.partial_moments(np.array([-math.inf]), np.array([math.inf]))
    assert (float(m0[0]), float(m2[0])) == pytest.approx((1.0, 1.99))


def test_clipped_has_atoms_at_its_bounds():
    d = Clipped(Gaussian(1.0), -1.0, 2.0)
    assert [x for x, _ in d.atoms] == [-1.0, 2.0]
    assert d.atoms[0][1] == pytest.approx(stats.norm.cdf(-1.0))
    x = d.rvs(size=200_000, random_state=0)
    assert x.min() == -1.0 and x.max() == 2.0
    assert np.mean(x == -1.0) == pytest.approx(stats.norm.cdf(-1.0), abs=0.004)
    assert d.mean() == pytest.approx(np.mean(x), abs=0.005)


def test_empirical_cdf_ppf_and_mean():
    e = Empirical(np.array([[3.0, 1.0], [2.0, 4.0]]))
    assert e.cdf(2.5) == 0.5
    assert float(e.ppf(0.5)) == 2.0
    assert e.mean() == 2.5 and e.var() == 1.25


def test_scipy_frozen_distributions_plug_in():
    assert isinstance(as_distribution(stats.t(4, scale=2.0)), StudentT)
    assert isinstance(as_distribution(stats.uniform(-1, 2)), Uniform)
    other = as_distribution(stats.logistic(scale=0.5))
    assert isinstance(other, ScipyDistribution)
    assert other.var() == pytest.approx(stats.logistic(scale=0.5).var())
    assert isinstance(as_distribution(stats.norm(loc=1.0)), ScipyDistribution)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Gaussian(0.0),
        lambda: Gaussian(-1.0),
        lambda: Laplace(math.nan),
        lambda: StudentT(0.0),
        lambda: StudentT(3, scale=math.inf),
        lambda: Uniform(1.0, 1.0),
        lambda: OutlierMixture(Gaussian(), 10.0, 1.5),
        lambda: OutlierMixture(Gaussian(), -2.0, 0.1),
        lambda: Clipped(Gaussian(), 1.0, -1.0),
        lambda: Empirical([]),
        lambda: Empirical([1.0, math.nan]),
        lambda: Empirical(["a"]),
    ],
)
def test_invalid_parameters_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_as_distribution_rejects_other_objects():
    with pytest.raises(TypeError):
        as_distribution("gaussian")
    with pytest.raises(TypeError):
        as_distribution(stats.poisson(3))


def _write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"by": "test"}}, [], 0
    for name, (dtype, arr_bytes, shape) in tensors.items():
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + len(arr_bytes)],
        }
        blobs.append(arr_bytes)
        offset += len(arr_bytes)
    head = json.dumps(header).encode()
    path.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(blobs))


def test_load_npy_npz_and_safetensors(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    np.save(tmp_path / "w.npy", w)
    np.savez(tmp_path / "w.npz", a=w, b=w * 2)
    bf16 = (w.view(np.uint32) >> 16).astype("<u2").tobytes()  # exact: these fit in bf16
    _write_safetensors(
        tmp_path / "w.safetensors",
        {"f32": ("F32", w.astype("<f4").tobytes(), [2, 3]), "bf16": ("BF16", bf16, [2, 3])},
    )
    np.testing.assert_array_equal(load_tensor(tmp_path / "w.npy"), w)
    np.testing.assert_array_equal(load_tensor(tmp_path / "w.npz", "b"), w * 2)
    np.testing.assert_array_equal(load_tensor(tmp_path / "w.safetensors", "f32"), w)
    np.testing.assert_array_equal(load_tensor(tmp_path / "w.safetensors", "bf16"), w)
    e = Empirical.from_file(tmp_path / "w.safetensors", key="bf16")
    assert e.samples.tolist() == sorted(w.ravel().tolist())
    with pytest.raises(ValueError, match="2 tensors"):
        load_tensor(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="no tensor"):
        load_tensor(tmp_path / "w.safetensors", "nope")
    with pytest.raises(ValueError, match="unsupported"):
        load_tensor(tmp_path / "w.txt")
