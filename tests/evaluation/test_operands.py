"""lowbit.evaluation.operands: specs, and quantized operands against lowbit.Quantizer and
the block formats' own decode (independent implementations of the same rules)."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit
from lowbit.evaluation.operands import OperandSpec, parse_spec, quantize_operand

RNG = np.random.default_rng(0)
X = RNG.standard_t(4, (6, 64))  # activations M×K
W = RNG.standard_normal((64, 5)) * 0.1  # weights K×N


@pytest.mark.parametrize(
    "spec, role, qz",
    [
        ("int8:per_channel", "weight", dict(granularity="per_channel", axis=1)),
        ("int8:per_token", "activation", dict(granularity="per_channel", axis=0)),
        ("int8:per_tensor", "weight", dict()),
        ("int8", "activation", dict()),
        ("fp8_e4m3fn:per_token:mse", "activation", dict(granularity="per_channel", range="mse")),
        ("int4:per_channel:mse:fp16", "weight",
         dict(granularity="per_channel", axis=1, range="mse", scale_format="fp16")),
        ("int8:per_token:p99.9", "activation",
         dict(granularity="per_channel", range="percentile", percentile=99.9)),
        ("int4:per_channel:aciq", "weight", dict(granularity="per_channel", axis=1, range="aciq")),
        ("int8:per_token:octav", "activation", dict(granularity="per_channel", range="octav")),
        ("int8:per_channel:kl", "weight", dict(granularity="per_channel", axis=1, range="kl")),
        ("int8:g16", "activation", dict(granularity="per_group", block_size=16, axis=1)),
        ("fp8_e4m3fn:g32:minmax:bf16", "weight",
         dict(granularity="per_group", block_size=32, axis=0, scale_format="bf16")),
    ],
)  # fmt: skip
def test_scalar_operands_match_quantizer(spec, role, qz):
    x = X if role == "activation" else W
    s = parse_spec(spec)
    q = quantize_operand(x, s, role)
    ref = lowbit.Quantizer(s.format, **qz).quantize(x)
    np.testing.assert_array_equal(q.values, ref)
    # codes × scales give the values, in the layout the simulator takes
    v = np.asarray(s.format.decode(q.data), dtype=np.float64)
    if s.granularity == "per_group":
        axis = 1 if role == "activation" else 0
        v = v * np.repeat(q.scales, s.group, axis=axis)
        assert q.scale_block == s.group
    else:
        v = v * (q.scales[:, None] if role == "activation" else q.scales[None, :])
    np.testing.assert_array_equal(v, q.values)


def test_unscaled_format_is_its_own_encoding():
    q = quantize_operand(X, "fp16", "activation")
    assert q.scales is None
    np.testing.assert_array_equal(q.values, lowbit.get_format("fp16").quantize(X))


@pytest.mark.parametrize("name", ["mxfp4", "mxfp8_e4m3", "mx9", "int4_g128", "nvfp4"])
@pytest.mark.parametrize("role", ["activation", "weight"])
def test_block_operands_match_format_decode(name, role):
    x = np.random.default_rng(1).standard_normal((4, 256) if role == "activation" else (256, 4))
    q = quantize_operand(x, name, role)
    fmt = lowbit.get_format(name)
    axis = 1 if role == "activation" else 0
    assert q.data.axis == axis and q.scales is None
    # decode is float32: exact for these except NVFP4 (2+4+24 significant bits)
    ref = np.asarray(fmt.decode(fmt.encode(x, axis=axis)), dtype=np.float64)
    if name == "nvfp4":
        np.testing.assert_allclose(q.values, ref, rtol=2**-24, atol=0)
    else:
        np.testing.assert_array_equal(q.values, ref)


def test_vsquant_gamma_per_output():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 64)), rng.standard_normal((64, 4))
    qa, qb = (
        quantize_operand(x, "vsq_int4", "activation"),
        quantize_operand(w, "vsq_int4", "weight"),
    )
    assert qa.data.outer_scale.shape == (3,) and qb.data.outer_scale.shape == (4,)
    for q, v in ((qa, x), (qb, w)):
        ref = np.asarray(q.data.format.decode(q.data), dtype=np.float64)
        np.testing.assert_allclose(q.values, ref, rtol=2**-24, atol=0)
        assert np.abs(q.values - v).max() < 0.2 * np.abs(v).max()


@pytest.mark.parametrize(
    "spec",
    ["int8:per_tensor:minmax:fp32", "fp8_e4m3fn:per_token:mse:fp32", "int8:g32:p99.5:fp16",
     "fp16:none", "mxfp4", "int4_g128"],
)  # fmt: skip
def test_describe_round_trips(spec):
    assert parse_spec(spec).describe() == spec
    assert parse_spec(parse_spec(spec).describe()) == parse_spec(spec)


def test_defaults_and_aliases():
    assert parse_spec("int8").granularity == "per_tensor"
    assert parse_spec("bf16").granularity == "none"
    assert parse_spec("fp8_e4m3fn").granularity == "per_tensor"
    assert parse_spec("int8:per_token:absmax").range == "minmax"
    assert OperandSpec("int8", "per_group", group=8).describe() == "int8:g8:minmax:fp32"


@pytest.mark.parametrize(
    "spec, role, err, match",
    [
        ("int8:per_channel", "activation", ValueError, "vary along K"),
        ("int8:per_token", "weight", ValueError, "vary along K"),
        ("mxfp4:per_channel", "weight", ValueError, "block format"),
        ("nvfp4::mse", "weight", ValueError, "its own scales"),
        ("int8:per_row", "weight", ValueError, "granularity"),
        ("int8:per_tensor:best", "weight", ValueError, "range"),
        ("int8:g0", "weight", ValueError, "granularity"),
        ("int8:g7", "weight", ValueError, "multiple of the group"),
        ("int8:a:b:c:d", "weight", ValueError, "4 fields"),
        ("no_such_format", "weight", ValueError, "no_such_format"),
        ("fp16:none:mse", "weight", ValueError, "no scale"),
        ("int8:per_channel", "bias", ValueError, "role"),
        ("int8:per_tensor:minmax:mxfp4", "weight", ValueError, "scalar format"),
    ],
)
def test_bad_specs(spec, role, err, match):
    with pytest.raises(err, match=match):
        quantize_operand(W, spec, role)


def test_bad_arrays():
    with pytest.raises(TypeError, match="2-D float"):
        quantize_operand(np.ones(4), "int8", "weight")
    with pytest.raises(TypeError, match="2-D float"):
        quantize_operand(np.ones((2, 2), dtype=int), "int8", "weight")
    with pytest.raises(ValueError, match="NaN"):
        quantize_operand(np.full((2, 2), np.nan), "int8", "weight")
