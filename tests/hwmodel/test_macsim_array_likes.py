"""gemm takes operands as the formats do: numpy arrays, ``__array__`` objects and DLPack
producers (torch, jax...), with the same results (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

from lowbit.hwmodel.macsim import gemm


class OnlyArray:
    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return self.a


class OnlyDLPack:
    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kw):
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


@pytest.mark.parametrize("wrap", [OnlyArray, OnlyDLPack])
@pytest.mark.parametrize("fmt", ["fp8_e4m3fn", "int8", "mxfp4", "nvfp4"])
def test_array_likes_give_the_numpy_result(wrap, fmt):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 64)).astype(np.float32)
    b = rng.standard_normal((64, 2)).astype(np.float32)
    want, _ = gemm(a, b, fmt, fmt, accumulator="fp32")
    got, _ = gemm(wrap(a), wrap(b), fmt, fmt, accumulator="fp32")
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(want).all() and np.abs(want).sum() > 0


def test_codes_through_dlpack():
    codes = np.arange(16, dtype=np.uint8).reshape(4, 4)
    want, _ = gemm(codes, codes, "int8", "int8", accumulator="exact")
    got, _ = gemm(OnlyDLPack(codes), OnlyArray(codes), "int8", "int8", accumulator="exact")
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, codes.astype(np.int64) @ codes.astype(np.int64))
