"""gemm_error: per-seed rows reproduce quantized_gemm on the documented draws; the summary
is the Student-t interval (checked against scipy.stats.t)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from scipy import stats as st

from lowbit.analysis import Gaussian, Laplace
from lowbit.evaluation import gemm_error, quantized_gemm

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built (run: python csrc/build_macsim.py)",
)


def test_rows_and_summary():
    t = gemm_error(Laplace(1.0), Gaussian(0.1), "int8:per_token", "int8:per_channel",
                   shape=(4, 64, 3), seeds=[3, 5, 8, 13], accumulator="fp16")  # fmt: skip
    assert list(t.rows["seed"]) == [3, 5, 8, 13] and t.feasible
    # seed 8's row is quantized_gemm on the draws the docstring names
    x = Laplace(1.0).rvs((4, 64), random_state=np.random.default_rng([8, 0]))
    w = Gaussian(0.1).rvs((64, 3), random_state=np.random.default_rng([8, 1]))
    r = quantized_gemm(x, w, "int8:per_token", "int8:per_channel", accumulator="fp16")
    assert t.rows.loc[2, "sqnr_db"] == r.metrics["sqnr_db"]
    v = t.rows["sqnr_db"].to_numpy()
    mean, half = t.value("sqnr_db")
    lo, hi = st.t.interval(0.95, 3, loc=v.mean(), scale=st.sem(v))
    assert (mean - half, mean + half) == pytest.approx((lo, hi), rel=1e-12)
    s = t.summary.set_index("metric")
    assert s.loc["sqnr_db", "n"] == 4 and s.loc["overflow", "mean"] == 0


def test_callable_and_fixed_operands():
    w = np.random.default_rng(0).standard_normal((32, 2))

    def draw(rng, shape):
        return rng.uniform(-1, 1, shape)

    t = gemm_error(draw, w, "fp8_e4m3fn:per_token", "fp8_e4m3fn:per_channel",
                   shape=(2, 32, 2), seeds=range(3))  # fmt: skip
    assert len(t.rows) == 3 and t.rows["sqnr_db"].nunique() == 3
    with pytest.raises(ValueError, match="shape"):
        gemm_error(draw, w, "int8", "int8", seeds=[0])
    with pytest.raises(ValueError, match="returned shape"):
        gemm_error(lambda rng, s: np.ones(3), w, "int8", "int8", shape=(2, 32, 2), seeds=[0])
    with pytest.raises(ValueError, match="both operands are fixed"):
        gemm_error(np.ones((2, 32)), w, "int8", "int8", seeds=[0, 1])
    assert len(gemm_error(np.ones((2, 32)), w, "int8", "int8", seeds=[4]).rows) == 1
    with pytest.raises(ValueError, match="at least one seed"):
        gemm_error(draw, w, "int8", "int8", shape=(2, 32, 2), seeds=[])


def test_infeasible_configuration_has_no_mean():
    t = gemm_error(Gaussian(1.0), Gaussian(1.0), "nvfp4", "nvfp4", shape=(4, 128, 4),
                   seeds=range(2), accumulator="fp16")  # fmt: skip
    assert not t.feasible and not t.rows["feasible"].any()
    assert math.isnan(t.value("sqnr_db")[0])
    assert t.value("nonfinite_frac") == (1.0, 0.0)


def test_exact_accumulator_summary_is_inf_not_nan():
    t = gemm_error(Gaussian(1.0), Gaussian(1.0), "int8:per_token", "int8:per_channel",
                   shape=(2, 32, 2), seeds=range(2), accumulator="exact")  # fmt: skip
    assert t.value("acc_sqnr_db") == (math.inf, 0.0)


def test_sweep_rows_are_gemm_error_summaries():
    from lowbit.evaluation import gemm_sweep

    cfgs = [
        dict(x_spec="mxfp4", w_spec="mxfp4", accumulator="fp16", order="sequential"),
        dict(x_spec="nvfp4", w_spec="nvfp4", accumulator="fp16"),
    ]
    t = gemm_sweep(cfgs, Gaussian(1.0), Gaussian(1.0), (2, 64, 2), seeds=range(3))
    one = gemm_error(Gaussian(1.0), Gaussian(1.0), "mxfp4", "mxfp4", (2, 64, 2), range(3),
                     accumulator="fp16", order="sequential")  # fmt: skip
    assert (t.loc[0, "sqnr_db"], t.loc[0, "sqnr_db_ci"]) == one.value("sqnr_db")
    assert list(t["feasible"]) == [True, False] and t.loc[1, "infeasible_seeds"] == 3
    assert t.loc[0, "lanes"] is None or math.isnan(t.loc[0, "lanes"])  # sequential: no lanes
    with pytest.raises(ValueError, match="x_spec and w_spec"):
        gemm_sweep([dict(x_spec="int8")], Gaussian(1.0), Gaussian(1.0), (2, 8, 2), seeds=[0])
