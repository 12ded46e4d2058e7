"""``quantize(x, out=...)``: written in place of a new array, as numpy ufuncs do."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import lowbit

SCALAR = ["fp8_e4m3fn", "fp8_e5m2", "bf16", "int8", "uint4", "e8m0", "binary"]


def _x(n=1000, dtype=np.float32):
    x = np.random.default_rng(0).standard_normal(n) * 20
    x[:3] = [0.5, -1.5, 1e-9]
    return x.astype(dtype)


@pytest.mark.parametrize("name", SCALAR)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_out_receives_the_result(name, dtype):
    f = lowbit.get_format(name)
    x = np.abs(_x(dtype=dtype)) + dtype(1) if name == "e8m0" else _x(dtype=dtype)
    ref = f.quantize(x)
    out = np.full(x.shape, 7, dtype=ref.dtype)
    got = f.quantize(x, out=out)
    assert got is out
    assert np.array_equal(out, ref, equal_nan=True)


def test_integer_input_writes_float64():
    f = lowbit.get_format("fp8_e4m3fn")
    x = np.arange(-300, 300, dtype=np.int32)
    out = np.empty(x.shape, np.float64)
    f.quantize(x, out=out)
    assert np.array_equal(out, f.quantize(x))


@pytest.mark.parametrize("name", ["fp8_e4m3fn", "int8"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place(name, dtype):
    f = lowbit.get_format(name)
    x = _x(dtype=dtype).reshape(10, 100)
    ref = f.quantize(x)
    assert f.quantize(x, out=x) is x
    assert np.array_equal(x, ref)


def test_non_contiguous_out():
    f = lowbit.get_format("fp8_e4m3fn")
    x = _x().reshape(20, 50)
    big = np.zeros((20, 100), np.float32)
    f.quantize(x, out=big[:, ::2])
    assert np.array_equal(big[:, ::2], f.quantize(x)) and not big[:, 1::2].any()


def test_overlapping_out_reads_the_input_first():
    f = lowbit.get_format("fp8_e4m3fn")
    x = _x()
    ref = f.quantize(x.copy())
    f.quantize(x, out=x[::-1])  # out overlaps x in the other order
    assert np.array_equal(x[::-1], ref)


def test_out_avoids_the_allocation():
    """The kernel writes into out: no array of the result's size is allocated."""
    f = lowbit.get_format("fp8_e4m3fn")
    x = _x(1 << 20)
    out = np.empty_like(x)
    f.quantize(x, out=out)  # compile outside the measurement
    tracemalloc.start()
    try:
        f.quantize(x, out=out)
        with_out = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        f.quantize(x)
        without = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert without >= x.nbytes
    assert with_out < x.nbytes // 16


@pytest.mark.parametrize("name", ["fp8_e4m3fn", "int8", "e8m0"])
def test_wrong_out_is_refused(name):
    f = lowbit.get_format(name)
    x = np.ones(8, np.float32)
    with pytest.raises(TypeError, match=rf"{name}: out has dtype float64.*float32"):
        f.quantize(x, out=np.empty(8, np.float64))
    with pytest.raises(ValueError, match=rf"{name}: out has shape \(4, 2\).*\(8,\)"):
        f.quantize(x, out=np.empty((4, 2), np.float32))
    ro = np.empty(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=rf"{name}: out is read-only"):
        f.quantize(x, out=ro)
    with pytest.raises(TypeError, match=rf"{name}: out must be a numpy array"):
        f.quantize(x, out=[0.0] * 8)


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mx9", "nvfp4"])
def test_block_formats_do_not_take_out(name):
    f = lowbit.get_format(name)
    x = np.ones(32, np.float32)
    with pytest.raises(TypeError, match="out"):
        f.quantize(x, out=np.empty_like(x))
