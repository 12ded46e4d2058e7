"""Group-scaled operands (int4_g128) and ``outer_scales="fold_pow2"`` in the MAC simulator,
against the exact Fraction reference ``gemm_ref``."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from lowbit import get_format
from lowbit.hwmodel.macsim import gemm
from lowbit.hwmodel.macsim.operands import fold_pow2
from lowbit.hwmodel.macsim.reference import gemm_ref

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built (run: python csrc/build_macsim.py)",
)
FP16, INT4, INT8 = get_format("fp16"), get_format("int4"), get_format("int8")
G128 = get_format("int4_g128")


def _w4a16(seed=0, m=2, k=256, n=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k))
    w = rng.standard_normal((k, n)) * 0.05
    return FP16.encode(x), G128.encode(w, axis=0)


@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp32"])
@pytest.mark.parametrize("order", ["sequential", "blocks"])
def test_int4_g128_weights_bit_exact(acc, order):
    a, wb = _w4a16()
    c, st = gemm(a, wb, FP16, accumulator=acc, order=order, block=32)
    # the same GEMM from the BlockArray's fields: int4 codes (K×N) and FP16 group scales
    # blocks along axis 0 are stored K-last: codes (N, K), scales (N, K/128)
    scales = FP16.decode(wb.scales).astype(np.float64).T
    ref, rst = gemm_ref(
        a, wb.codes.T, FP16, INT4, acc, order=order, block=32,
        block_scales=(None, scales), scale_block=128,
    )  # fmt: skip
    assert np.array_equal(c, ref)
    assert (st.swamping, st.absorbed, st.overflow) == (
        rst["swamping"], rst["absorbed"], rst["overflow"],
    )  # fmt: skip


def test_int4_g128_exact_equals_dequantized_product():
    a, wb = _w4a16(1)
    c, _ = gemm(a, wb, FP16, accumulator="exact")
    xv = FP16.decode(a).astype(np.float64)
    wv = G128.decode(wb).astype(np.float64)  # float32 holds int4 · FP16 scale exactly
    from fractions import Fraction

    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            exact = sum(
                Fraction(float(p)) * Fraction(float(q))
                for p, q in zip(xv[i], wv[:, j], strict=True)
            )
            assert c[i, j] == float(exact)


def test_int4_g128_float_input_is_encoded_along_k():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 128)), rng.standard_normal((128, 2))
    c1, _ = gemm(x, w, "fp16", "int4_g128", accumulator="exact")
    c2, _ = gemm(FP16.encode(x), G128.encode(w, axis=0), FP16, accumulator="exact")
    assert np.array_equal(c1, c2)
    with pytest.raises(ValueError, match="blocks along K"):
        gemm(FP16.encode(x), G128.encode(w, axis=1), FP16)


def test_fold_pow2_splits_scales():
    bs, m = fold_pow2(np.array([0.75, -3.0, 0.0, 1.0]), np.full((2, 4), 2.0), 4, 8, "b")
    assert bs.tolist() == [[1.0, 4.0, 2.0, 2.0]] * 2  # 2 · (2^-1, 2^1, 1 unfolded, 2^0)
    assert m.tolist() == [1.5, -1.5, 0.0, 1.0]
    assert fold_pow2(None, None, 4, 8, "a") == (None, None)


def test_fold_pow2_w8a8_into_fp16():
    """INT8 codes with per-token × per-channel scales: summed as codes, FP16 overflows;
    with the scales' exponents folded into the products it holds real-domain values."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 1024)), rng.standard_normal((1024, 4))
    sx = np.abs(x).max(axis=1) / 127
    sw = np.abs(w).max(axis=0) / 127
    a = INT8.encode(np.round(x / sx[:, None]))
    b = INT8.encode(np.round(w / sw[None, :]))
    ce, ste = gemm(a, b, INT8, INT8, accumulator="fp16", scales=(sx, sw))
    cf, stf = gemm(a, b, INT8, INT8, accumulator="fp16", scales=(sx, sw), outer_scales="fold_pow2")
    assert ste.overflow > 0 and not np.isfinite(ce).all()
    assert stf.overflow == 0 and np.isfinite(cf).all()
    # the folded run is gemm_ref with 2^e per row/column multiplying each product and the
    # significands applied afterwards
    ex, ey = np.frexp(sx)[1] - 1, np.frexp(sw)[1] - 1
    bsa, bsb = np.ldexp(1.0, ex)[:, None], np.ldexp(1.0, ey)[None, :]
    ref, _ = gemm_ref(a, b, INT8, INT8, "fp16", block_scales=(bsa, bsb), scale_block=1024)
    ref = ref * (sx / np.ldexp(1.0, ex))[:, None] * (sw / np.ldexp(1.0, ey))[None, :]
    assert np.array_equal(cf, ref)


def test_fold_pow2_nvfp4_exact_is_unchanged():
    nv = get_format("nvfp4")
    rng = np.random.default_rng(4)
    a = nv.encode(rng.standard_normal((2, 64)), axis=1)
    b = nv.encode(rng.standard_normal((64, 2)), axis=0)
    ce, _ = gemm(a, b, accumulator="exact")
    cf, _ = gemm(a, b, accumulator="exact", outer_scales="fold_pow2")
    np.testing.assert_allclose(cf, ce, rtol=4e-16, atol=0)
    h, st = gemm(a, b, accumulator="fp16")
    assert st.overflow > 0  # the scaled domain: elements up to 6 · 448
    h, st = gemm(a, b, accumulator="fp16", outer_scales="fold_pow2")
    assert st.overflow == 0 and np.isfinite(h).all()


def test_outer_scales_checked():
    a = INT8.encode(np.ones((1, 4)))
    with pytest.raises(ValueError, match="outer_scales"):
        gemm(a, a.T.copy(), INT8, INT8, outer_scales="prologue")
