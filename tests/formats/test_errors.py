"""Bad input gets a clear error naming the format and the legal range."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit
from lowbit import ExpFormat, FloatFormat, IntFormat


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown format 'fp8_e4m3f'.*fp8_e4m3fn"):
        lowbit.get_format("fp8_e4m3f")
    with pytest.raises(TypeError):
        lowbit.get_format(8)


@pytest.mark.parametrize(
    "ctor, match",
    [
        (lambda: IntFormat(1), r"bits=1 .*2\.\.32"),
        (lambda: IntFormat(33), r"2\.\.32"),
        (lambda: IntFormat(4, signed=False, encoding="sign_magnitude"), "unsigned"),
        (lambda: IntFormat(4, encoding="gray"), "encoding"),
        (lambda: FloatFormat(0, 3), r"exp_bits=0 .*1\.\.11"),
        (lambda: FloatFormat(12, 3), r"1\.\.11"),
        (lambda: FloatFormat(8, 24), "at most 32"),
        (lambda: FloatFormat(1, 3, specials="ieee"), "ieee"),
        (lambda: FloatFormat(4, 0, specials="ieee"), "ieee"),
        (lambda: FloatFormat(4, 3, specials="weird"), "specials"),
        (lambda: FloatFormat(4, 3, bias=2000), "bias"),
        (lambda: ExpFormat(1), r"2\.\.10"),
    ],
)
def test_impossible_parameters(ctor, match):
    with pytest.raises(ValueError, match=match):
        ctor()


def test_bad_policies():
    f = lowbit.get_format("fp8_e4m3fn")
    with pytest.raises(ValueError, match="fp8_e4m3fn.*rounding"):
        f.encode([1.0], rounding="nearest")
    with pytest.raises(ValueError, match="fp8_e4m3fn.*no Inf"):
        f.encode([1.0], overflow="inf")
    with pytest.raises(ValueError, match="fp4_e2m1fn.*no NaN"):
        lowbit.get_format("fp4_e2m1fn").encode([1.0], overflow="nan")
    with pytest.raises(ValueError, match="int8"):
        lowbit.get_format("int8").encode([1.0], overflow="inf")
    with pytest.raises(TypeError):
        f.encode([1.0], rounding="stochastic", seed="abc")


def test_nan_in_formats_without_nan():
    fp4 = lowbit.get_format("fp4_e2m1fn")
    with pytest.raises(ValueError, match="fp4_e2m1fn: 1 NaN"):
        fp4.quantize(np.array([1.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="fp4_e2m1fn"):
        fp4.encode([np.nan], rounding="toward_zero")
    assert fp4.encode([np.nan], nan="negzero").tolist() == [0x8]  # what ml_dtypes gives
    assert fp4.encode([np.nan], nan="zero").tolist() == [0x0]
    with pytest.raises(ValueError, match="int8.*NaN"):
        lowbit.get_format("int8").quantize([np.nan])
    with pytest.raises(ValueError, match="negzero"):
        lowbit.get_format("fp8_e4m3fnuz").encode([1.0], nan="negzero")


@pytest.mark.parametrize(
    "bad", [np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object)]
)
def test_non_numeric_arrays(bad):
    for name in ("fp8_e4m3fn", "int8", "e8m0", "binary"):
        with pytest.raises(TypeError, match=name):
            lowbit.get_format(name).quantize(bad)


def test_codes_out_of_range_and_wrong_type():
    f = lowbit.get_format("fp4_e2m1fn")
    with pytest.raises(ValueError, match=r"fp4_e2m1fn: 2 code\(s\) outside \[0, 2\^4\)"):
        f.decode(np.array([1, 16, 255], np.uint8))
    with pytest.raises(ValueError, match="non-negative"):
        f.decode([-1])
    with pytest.raises(TypeError, match="integer"):
        f.decode([1.0])
    with pytest.raises(ValueError):
        lowbit.get_format("fp32").decode(np.array([2**33], np.uint64))
    with pytest.raises(ValueError):
        lowbit.get_format("int4").decode([16])


def test_values_refuses_huge_formats():
    with pytest.raises(ValueError, match="fp32"):
        lowbit.get_format("fp32").values()


def test_shapes_and_dtypes_are_kept():
    f = lowbit.get_format("fp8_e5m2")
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    c = f.encode(x)
    assert c.shape == x.shape and c.dtype == np.uint8
    assert f.quantize(x).dtype == np.float32
    assert f.quantize(x.astype(np.float16)).dtype == np.float16
    assert f.quantize(np.arange(4)).dtype == np.float64
    assert f.quantize(2.0).shape == ()
    xs = x[:, ::2]  # non-contiguous input
    assert np.array_equal(f.quantize(xs), f.quantize(np.ascontiguousarray(xs)))
    assert f.decode(c).shape == x.shape
    assert lowbit.get_format("fp16").encode(x).dtype == np.uint16
    assert f.encode(np.zeros(0)).shape == (0,)


def test_big_endian_and_read_only_input():
    f = lowbit.get_format("fp8_e4m3fn")
    x = np.array([0.3, -1.7, 500.0], dtype=">f4")
    assert f.quantize(x, overflow="saturate").tolist() == [0.3125, -1.75, 448.0]
    assert f.decode(np.array([0x7E], dtype=">u2")).tolist() == [448.0]
    ro = np.arange(5, dtype=np.float32)
    ro.setflags(write=False)
    assert lowbit.get_format("int4").quantize(ro).tolist() == [0, 1, 2, 3, 4]
