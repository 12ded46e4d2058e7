"""Block formats at their API edges (issue 11 item 8; audit F12, F13, F19): seeded
stochastic rounding, zero-row tensors, parameter and axis validation, and NVFP4's
torchao block-scale rule against a slow exact reference."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit
from lowbit.formats import unpack
from lowbit.formats.block import MAX_BLOCK_SIZE, MXFormat, NVFP4Format, SharedExpFormat
from lowbit.formats.reference import encode_float_ref, float_code_value

BLOCK = [
    "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8",
    "mx9", "mx6", "mx4", "bfp8_b16", "nvfp4", "vsq_int4", "vsq_int8",
]  # fmt: skip
STOCHASTIC = ["mxfp8_e4m3", "mxfp4", "mxint8", "mx9", "mx4", "bfp8_b16", "nvfp4"]


# ---- F12: seed= for stochastic rounding ------------------------------------------------
def _pinned_rows(name, rows=4000, seed=0):
    """Rows whose scale is pinned by an exact element maximum, so no element saturates and
    stochastic rounding must be unbiased element by element."""
    f = lowbit.get_format(name)
    k = f.block_size
    top = float(f.element.max) if hasattr(f, "element") else 1.0
    if name == "mxint8":
        top = 1.0
    x = np.random.default_rng(seed).uniform(-top, top, (rows, k))
    x[:, 0] = top
    return x.astype(np.float32)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_rounding_is_seeded(name):
    f = lowbit.get_format(name)
    x = _pinned_rows(name, rows=50)
    a = f.quantize(x, rounding="stochastic", seed=1)
    b = f.quantize(x, rounding="stochastic", seed=1)
    c = f.quantize(x, rounding="stochastic", seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    ea, eb = f.encode(x, rounding="stochastic", seed=7), f.encode(x, rounding="stochastic", seed=7)
    assert np.array_equal(ea.codes, eb.codes) and np.array_equal(ea.scales, eb.scales)
    g1 = f.quantize(x, rounding="stochastic", seed=np.random.default_rng(3))
    g2 = f.quantize(x, rounding="stochastic", seed=np.random.default_rng(3))
    assert np.array_equal(g1, g2)
    # decode(encode) equals quantize with the same seed
    assert np.array_equal(f.decode(f.encode(x, rounding="stochastic", seed=5)),
                          f.quantize(x, rounding="stochastic", seed=5))  # fmt: skip
    with pytest.raises(TypeError, match="seed"):
        f.quantize(x, rounding="stochastic", seed="abc")


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_rounding_is_unbiased(name):
    f = lowbit.get_format(name)
    x = _pinned_rows(name).astype(np.float64)
    err = f.quantize(x, rounding="stochastic", seed=11) - x
    rne = f.quantize(x) - x
    n = err.size
    assert abs(err.mean()) < 5 * err.std() / np.sqrt(n)
    # and it is random: not the nearest-even result
    assert (err != rne).mean() > 0.1


# ---- F13: zero-row tensors ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("name", BLOCK + ["int4_g128"])
def test_zero_row_tensors(name, dtype):
    f = lowbit.get_format(name)
    for shape in ((0, 32), (4, 0), (0, 16, 3)):
        x = np.zeros(shape, dtype)
        q = f.quantize(x)
        assert q.shape == shape and q.dtype == np.promote_types(dtype, np.float32)
        if name == "int4_g128":
            continue
        enc = f.encode(x)
        assert enc.codes.size == 0 and enc.shape == shape
        d = f.decode(enc)
        assert d.shape == shape and d.dtype == np.float32


# ---- F19: parameters -------------------------------------------------------------------
def test_mx_element_validation():
    with pytest.raises(TypeError, match="binary point: use FixedPointElement"):
        MXFormat(lowbit.IntFormat(8), 32)
    for el in ("e8m0", "binary", "mxfp4"):
        with pytest.raises(TypeError, match=f"MXFormat: {el} cannot be an MX element"):
            MXFormat(lowbit.get_format(el), 32)
    by_name = MXFormat("fp8_e4m3fn", 32)
    x = np.random.default_rng(0).standard_normal((4, 32)).astype(np.float32)
    assert by_name.element == lowbit.get_format("fp8_e4m3fn")
    assert np.array_equal(by_name.quantize(x), lowbit.get_format("mxfp8_e4m3").quantize(x))
    with pytest.raises(ValueError, match="unknown format .fp8_e9m9."):
        MXFormat("fp8_e9m9", 32)


@pytest.mark.parametrize(
    "make",
    [
        lambda b: MXFormat(lowbit.get_format("fp8_e4m3fn"), b),
        lambda b: SharedExpFormat(7, b, micro_bits=0),
        lambda b: NVFP4Format(block_size=b),
        lambda b: lowbit.VSQuant("int4", b),
        lambda b: lowbit.Quantizer("int4", "per_group", block_size=b),
    ],
)
def test_block_size_validation(make):
    for bad in (0, -16, MAX_BLOCK_SIZE + 1, 10**9):
        with pytest.raises(ValueError, match=rf"legal range is 1\.\.{MAX_BLOCK_SIZE}"):
            make(bad)
    for bad in (16.0, True, "16"):
        with pytest.raises(TypeError, match="must be an int"):
            make(bad)
    make(MAX_BLOCK_SIZE)


def test_huge_block_on_few_values_is_cheap():
    """MXFormat(fp8, 10**9) used to pad 4 values to 10^9 (74.5 GiB); the largest legal
    block pads to 2^16 values."""
    f = MXFormat(lowbit.get_format("fp8_e4m3fn"), MAX_BLOCK_SIZE)
    q = f.quantize(np.array([1.0, 0.3, -2.0, 0.0], np.float32))
    assert q.tolist() == [1.0, 0.3125, -2.0, 0.0]


def test_quantizer_parameter_validation():
    with pytest.raises(TypeError, match="Quantizer: format must be a scalar format.*mxfp4"):
        lowbit.Quantizer("mxfp4")
    with pytest.raises(TypeError, match="Quantizer: percentile must be a number"):
        lowbit.Quantizer("int8", range="percentile", percentile="99")
    with pytest.raises(TypeError, match="Quantizer: axis must be an int"):
        lowbit.Quantizer("int8", "per_channel", axis=1.5)
    q = lowbit.get_format("int4_g128")
    x = np.ones((2, 128), np.float32)
    with pytest.raises(ValueError, match="overflow='x' is not supported"):
        q.quantize(x, seed=1, overflow="x")
    assert np.array_equal(q.quantize(x, seed=1, overflow="saturate"), q.quantize(x))
    with pytest.raises(ValueError, match=r"int8_pc: axis=2 is out of range .* -2\.\.1"):
        lowbit.Quantizer("int8", "per_channel", axis=2).quantize(x)


@pytest.mark.parametrize("name", ["vsq_int4", "int4_g128", "mxfp4", "nvfp4", "mx9"])
def test_integer_and_bool_input_refused(name):
    f = lowbit.get_format(name)
    for x in (np.ones((2, 32), np.int32), np.ones((2, 32), bool), np.ones((2, 32), np.uint8)):
        with pytest.raises(TypeError, match=f"{name}: block formats take floating-point"):
            f.quantize(x)
        if name != "int4_g128":
            with pytest.raises(TypeError, match=name):
                f.encode(x)


def test_vsquant_parameter_validation():
    with pytest.raises(TypeError, match="VSQuant: scale_bits must be an int"):
        lowbit.VSQuant("int4", 16, 4.5)
    with pytest.raises(TypeError, match="VSQuant: channel_axis must be an int"):
        lowbit.VSQuant("int4", 16, 4, channel_axis=0.0)
    f = lowbit.get_format("vsq_int4")
    for dt in (np.float32, np.float64):  # the fused path (float32) used to accept it
        with pytest.raises(TypeError, match="vsq_int4: axis must be an int, got True"):
            f.quantize(np.ones((4, 32), dt), axis=True)
    with pytest.raises(ValueError, match="vsq_int4: channel_axis=0 and axis=0 name the same"):
        f.quantize(np.ones((4, 32), np.float32), axis=0)


def test_unpack_count_validation():
    buf = np.zeros(4, np.uint8)
    with pytest.raises(ValueError, match="unpack: count=-3 must be non-negative"):
        unpack(buf, 4, -3)
    with pytest.raises(TypeError, match="unpack: count must be a non-negative int"):
        unpack(buf, 4, 2.5)
    assert unpack(buf, 4, 0).tolist() == []


# ---- item 8: axis out of range ------------------------------------------------------------
@pytest.mark.parametrize("name", BLOCK)
def test_axis_out_of_range_names_format_and_range(name):
    f = lowbit.get_format(name)
    x = np.ones((4, 32), np.float32)
    for call in (f.quantize, f.encode):
        for dt in (np.float32, np.float64):
            with pytest.raises(ValueError, match=rf"{name}: axis=5 is out of range .* -2\.\.1"):
                call(x.astype(dt), axis=5)
            with pytest.raises(ValueError, match=rf"{name}: axis=-3 is out of range"):
                call(x.astype(dt), axis=-3)
        with pytest.raises(TypeError, match=rf"{name}: axis must be an int"):
            call(x, axis=1.0)
    # numpy integers are ints
    assert f.quantize(x, axis=np.int64(1)).shape == x.shape


# ---- item 9: NVFP4 block-scale rule of torchao --------------------------------------------
E4M3 = lowbit.get_format("fp8_e4m3fn")
E2M1 = lowbit.get_format("fp4_e2m1fn")


def _nvfp4_ref(x, rule):
    """NVFP4 from the definition, value by value, exact E4M3/E2M1 rounding (Fraction
    reference); rule "torchao" clamps amax_b / 6 / s_t below at 2^-6 before the E4M3
    rounding, as torchao's nvfp4_quantize does (torch.clamp(min=finfo(e4m3).tiny))."""
    amax_t = float(np.abs(x).max())
    st = max(float(np.float32(amax_t / 2688.0)), 2.0**-149) if amax_t else 1.0
    out = np.empty(x.shape)
    for r in range(x.shape[0]):
        for b0 in range(0, x.shape[1], 16):
            blk = x[r, b0 : b0 + 16].astype(np.float64)
            s = float(np.abs(blk).max()) / 6.0 / st
            if rule == "torchao":
                s = max(s, 2.0**-6)
            sb = float_code_value(E4M3, encode_float_ref(E4M3, s, overflow="saturate"))
            den = sb * st
            for j, v in enumerate(blk):
                e = 0.0
                if den > 0:
                    e = float_code_value(E2M1, encode_float_ref(E2M1, v / den, overflow="saturate"))
                out[r, b0 + j] = e * den
    return out.astype(np.float32)


def test_nvfp4_torchao_scale_rule_vs_reference():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((6, 64)) * np.exp(rng.uniform(-12, 0, (6, 4)).repeat(16, axis=1))
    x[0, :16] = 1000.0 * rng.standard_normal(16)  # the tensor max: other blocks are small
    x[1, 16:32] = 0.0
    x[2, 32:48] = 1e-3
    x = x.astype(np.float32)
    default = lowbit.get_format("nvfp4")
    torchao = NVFP4Format(scale_rule="torchao")
    assert torchao.name == "nvfp4_torchao"
    for f, rule in ((default, "subnormal"), (torchao, "torchao")):
        ref = _nvfp4_ref(x, rule)
        assert np.array_equal(f.quantize(x), ref)  # fused kernel
        assert np.array_equal(f.quantize(x.astype(np.float64)).astype(np.float32), ref)
        assert np.array_equal(f.decode(f.encode(x)), ref)
    # the rules differ where amax_b / 6 / s_t < 2^-6: E4M3 subnormal (or zero) scales
    assert not np.array_equal(default.quantize(x), torchao.quantize(x))
    assert torchao.encode(x).scales.min() >= 8  # 2^-6 is E4M3 code 8
    assert default.encode(x).scales.min() < 8
    with pytest.raises(ValueError, match="scale_rule='rceil' is not supported"):
        NVFP4Format(scale_rule="rceil")
