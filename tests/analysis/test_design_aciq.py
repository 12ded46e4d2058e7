"""The two quantizer conventions behind docs/analysis.md's ACIQ paragraph, each optimum
computed by lowbit (``mse_clip`` on ``uniform_grid``) and by an independent quadrature.

ACIQ (Banner et al. 2019) cuts [−α, α] into 2^M bins with levels at the bin centres, so its
outermost level sits at α(1 − 2^−M); ``mse_clip`` reports the outermost level.  On
Laplace(1) the exact-MSE optimum is *below* ACIQ's model clip when the clip is read as the
outermost level, and *above* it when read as ACIQ's range edge α."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize

from lowbit.analysis import Laplace, aciq, uniform_grid
from lowbit.analysis.ranges import mse_clip

# (M, ACIQ's model clip, exact optimum as outermost level, as ACIQ's range edge α)
DOC = [(2, 2.831, 2.307, 3.076), (3, 3.897, 3.618, 4.135), (4, 5.029, 4.890, 5.216)]


def _quad_mse(levels):
    """Exact MSE of nearest-level quantization of Laplace(1) by quadrature."""
    edges = np.concatenate([[-np.inf], (levels[:-1] + levels[1:]) / 2, [np.inf]])
    pdf = lambda x: 0.5 * np.exp(-abs(x))  # noqa: E731
    return sum(
        integrate.quad(lambda x, q=q: (x - q) ** 2 * pdf(x), lo, hi, limit=200)[0]
        for q, lo, hi in zip(levels, edges[:-1], edges[1:], strict=True)
    )


@pytest.mark.parametrize(("m", "model", "outer", "edge"), DOC)
def test_both_conventions_vs_quadrature(m, model, outer, edge):
    assert aciq(m, Laplace(1.0)) == pytest.approx(model, abs=5e-4)
    c = mse_clip(uniform_grid(m), Laplace(1.0))[0]
    assert c == pytest.approx(outer, abs=5e-4)
    assert c * 2**m / (2**m - 1) == pytest.approx(edge, abs=5e-4)
    n = 2**m
    # ACIQ's convention: bins of 2α/n over [−α, α], levels at their centres
    r = optimize.minimize_scalar(
        lambda a: _quad_mse(a * (2 * np.arange(n) - (n - 1)) / n),
        bounds=(0.5, 20), method="bounded", options={"xatol": 1e-6},
    )  # fmt: skip
    assert r.x == pytest.approx(edge, abs=2e-3)
    assert outer < model < edge
