"""One BlockArray validation for every block format's decode and for macsim.gemm
(issue 11 items 2 and 4; audit F1, F9): every tampered field is refused with a message
naming the format, before numpy or the C simulator reads it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import lowbit
from lowbit.formats.block import BlockArray, validate_block_array

FORMATS = [
    "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8",
    "mx9", "mx6", "mx4", "bfp8_b16", "nvfp4", "vsq_int4", "vsq_int8",
]  # fmt: skip
X = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)


def _tampered(enc: BlockArray, what: str):
    """The tampered copy, or None where the tampering does not apply to the format."""
    f = enc.format
    if what == "scales_oob":
        return replace(enc, scales=np.full(enc.scales.shape, 2**f.scale_bits, np.int64))
    if what == "scales_neg":
        return replace(enc, scales=np.full(enc.scales.shape, -1, np.int64))
    if what == "scales_float":
        return replace(enc, scales=enc.scales.astype(np.float64))
    if what == "scales_wrong_shape":
        return replace(enc, scales=enc.scales[:, :1])
    if what == "scales_too_many":
        return replace(enc, scales=np.concatenate([enc.scales] * 3, axis=-1))
    if what == "scales_empty":
        return replace(enc, scales=np.zeros((0, 0), np.uint8))
    if what == "scales_list":
        return replace(enc, scales=enc.scales.tolist())
    if what == "codes_oob":
        return replace(enc, codes=enc.codes.astype(np.int64) + 2**f.element_bits)
    if what == "codes_neg":
        return replace(enc, codes=enc.codes.astype(np.int64) - 2**f.element_bits)
    if what == "codes_float":
        return replace(enc, codes=enc.codes.astype(np.float32))
    if what == "codes_wrong_shape":
        return replace(enc, codes=enc.codes[:, :10])
    if what == "shape_mismatch":
        return replace(enc, shape=(2, 96))
    if what == "axis_oob":
        return replace(enc, axis=7)
    if what == "axis_float":
        return replace(enc, axis=1.0)
    if what == "micro_none":
        return replace(enc, micro=None) if f.micro_bits else None
    if what == "micro_oob":
        return replace(enc, micro=enc.micro.astype(np.int64) + 100) if f.micro_bits else None
    if what == "micro_wrong_shape":
        return replace(enc, micro=enc.micro[:, :3]) if f.micro_bits else None
    if what == "micro_extra":
        return None if f.micro_bits else replace(enc, micro=np.zeros((2, 32), np.uint8))
    if what == "tensor_scale_none":
        return replace(enc, tensor_scale=None) if enc.tensor_scale is not None else None
    if what == "tensor_scale_nan":
        return replace(enc, tensor_scale=float("nan"))
    if what == "tensor_scale_neg":
        return replace(enc, tensor_scale=-1.0)
    if what == "outer_none":
        return replace(enc, outer_scale=None) if enc.outer_scale is not None else None
    if what == "outer_wrong_size":
        return replace(enc, outer_scale=np.ones(5, np.float32))
    if what == "outer_zero":
        return replace(enc, outer_scale=np.zeros(2, np.float32))
    raise AssertionError(what)


TAMPER = [
    "scales_oob", "scales_neg", "scales_float", "scales_wrong_shape", "scales_too_many",
    "scales_empty", "scales_list", "codes_oob", "codes_neg", "codes_float",
    "codes_wrong_shape", "shape_mismatch", "axis_oob", "axis_float", "micro_none",
    "micro_oob", "micro_wrong_shape", "micro_extra", "tensor_scale_none", "tensor_scale_nan",
    "tensor_scale_neg", "outer_none", "outer_wrong_size", "outer_zero",
]  # fmt: skip


@pytest.mark.parametrize("what", TAMPER)
@pytest.mark.parametrize("name", FORMATS)
def test_decode_refuses_tampered_block_array(name, what):
    f = lowbit.get_format(name)
    enc = f.encode(X)
    assert np.array_equal(f.decode(enc.validate()), f.quantize(X))  # the untouched one decodes
    bad = _tampered(enc, what)
    if bad is None:
        pytest.skip(f"{what} does not apply to {name}")
    with pytest.raises((ValueError, TypeError), match=name):
        f.decode(bad)
    with pytest.raises((ValueError, TypeError), match=name):
        bad.validate()


@pytest.mark.parametrize("name", FORMATS)
def test_decode_refuses_other_formats_arrays_and_plain_arrays(name):
    f = lowbit.get_format(name)
    other = lowbit.get_format("mxfp4" if name != "mxfp4" else "mxfp8_e4m3")
    enc = f.encode(X)
    with pytest.raises(TypeError, match=rf"{other.name}: this BlockArray was made by '{name}'"):
        other.decode(enc)
    with pytest.raises(TypeError, match=rf"{name}: expected a BlockArray"):
        f.decode(enc.codes)


def test_messages_say_what_is_wrong():
    mxfp4 = lowbit.get_format("mxfp4")
    enc = mxfp4.encode(np.ones((4, 64), np.float32))
    with pytest.raises(
        ValueError, match=r"mxfp4: scales have shape \(1, 1\); the codes need \(4, 2\)"
    ):
        mxfp4.decode(replace(enc, scales=enc.scales[:1, :1]))
    with pytest.raises(ValueError, match=r"axis=7 is out of range .* legal range -2\.\.1"):
        mxfp4.decode(replace(enc, axis=7))
    mx9 = lowbit.get_format("mx9")
    y = np.zeros((1, 16), np.float32)
    y[0, :4] = [1.0, 0.5, 0.25, 0.1]
    e9 = mx9.encode(y)
    assert mx9.decode(e9)[0, :4].tolist() == [1.0, 0.5, 0.25, 0.1015625]
    # audit F9: a missing micro was read as zeros, scale codes above 255 gave inf
    with pytest.raises(ValueError, match="mx9: micro is missing"):
        mx9.decode(replace(e9, micro=None))
    with pytest.raises(ValueError, match=r"mx9: scales must lie in \[0, 255\]"):
        mx9.decode(replace(e9, scales=np.array([[300]])))
    with pytest.raises(TypeError, match="made by 'mxfp4'"):
        mx9.decode(enc)
    with pytest.raises(TypeError, match="mx9: expected a BlockArray"):
        mx9.decode(e9.codes)
    # NVFP4 block scales: negative or NaN E4M3 codes are no block scale
    nv = lowbit.get_format("nvfp4")
    en = nv.encode(X)
    with pytest.raises(ValueError, match=r"nvfp4: scales must lie in \[0, 126\]"):
        nv.decode(replace(en, scales=np.full_like(en.scales, 0x7F)))
    with pytest.raises(ValueError, match="nvfp4: tensor_scale must be finite and positive"):
        nv.decode(replace(en, tensor_scale=float("inf")))
    # VS-Quant: γ per channel must match the channel count
    v = lowbit.get_format("vsq_int4")
    ev = v.encode(X)
    with pytest.raises(ValueError, match="vsq_int4: outer_scale has 5 values; shape=.* needs 2"):
        v.decode(replace(ev, outer_scale=np.ones(5, np.float32)))
    assert validate_block_array(ev, v) is ev


def test_from_packed_round_trip_validates():
    f = lowbit.get_format("mx6")
    enc = f.encode(X)
    back = BlockArray.from_packed(f, enc.packed(), enc.shape, enc.axis)
    assert back.validate() is back and np.array_equal(f.decode(back), f.decode(enc))


# ---- gemm: a tampered BlockArray never reaches the C simulator ----------------------------
GEMM = ["mxfp4", "mxfp8_e4m3", "mx9", "bfp8_b16", "nvfp4", "vsq_int4"]
GEMM_TAMPER = [
    "scales_wrong_shape", "scales_empty", "scales_too_many", "scales_oob", "scales_float",
    "codes_wrong_shape", "shape_mismatch", "codes_oob", "micro_none", "micro_wrong_shape",
    "tensor_scale_nan", "outer_none", "outer_wrong_size",
]  # fmt: skip


def _gemm_operands(name):
    rng = np.random.default_rng(1)
    fa = fb = lowbit.get_format(name)
    if name == "vsq_int4":
        fb = replace(fa, channel_axis=1)  # γ per column of B
    a = fa.encode(rng.standard_normal((4, 64)).astype(np.float32), axis=1)
    b = fb.encode(rng.standard_normal((64, 3)).astype(np.float32), axis=0)
    return a, b


@pytest.mark.parametrize("what", GEMM_TAMPER)
@pytest.mark.parametrize("name", GEMM)
def test_gemm_refuses_tampered_block_array(name, what):
    from lowbit.hwmodel.macsim import gemm

    a, b = _gemm_operands(name)
    good, _ = gemm(a, b, accumulator="fp32")
    assert good.shape == (4, 3) and np.isfinite(good).all()
    bad = _tampered(a, what)
    if bad is None:
        pytest.skip(f"{what} does not apply to {name}")
    with pytest.raises((ValueError, TypeError), match=f"macsim: a: {name}"):
        gemm(bad, b, accumulator="fp32")
    bad_b = _tampered(b, what)
    with pytest.raises((ValueError, TypeError), match="macsim: b: "):
        gemm(a, bad_b, accumulator="fp32")


def test_gemm_heap_overflow_repro_is_refused():
    """audit F1: 1 scale for 4 x 2 blocks was read past its end by the C core."""
    from lowbit.hwmodel.macsim import gemm

    a, b = _gemm_operands("mxfp4")
    with pytest.raises(ValueError, match=r"scales have shape \(1, 1\); the codes need \(4, 2\)"):
        gemm(replace(a, scales=a.scales[:1, :1]), b, accumulator="fp32")
