"""The block-format descriptor (issue 12 item 1): element, scale_format, block_size,
sub_block_size, micro_bits of every registered block format against the specifications,
E8M0 through ``ExpFormat``, ``family``/``has_block_scales``, ``int4_g128`` as a
group-scaled format (bit for bit the numbers of the ``Quantizer`` it replaces),
``Quantizer`` a procedure, and ``lowbit.formats`` importing no layer above it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import lowbit
from lowbit.formats import (
    BlockArray,
    BlockFormat,
    ExpFormat,
    FixedPointElement,
    Format,
    GroupScaledFormat,
    Quantizer,
)
from lowbit.formats.block import _scale_codes

G = lowbit.get_format

# (name, element, scale_format, block_size, sub_block_size, micro_bits)
#   OCP Microscaling Formats (MX) v1.0, Table 1: k = 32, scale E8M0, elements as named;
#   MX9/MX6/MX4: Rouhani et al., "With shared microexponents, a little shifting goes a long
#   way", ISCA 2023, Table 2: k1 = 16 with an 8-bit shared exponent, k2 = 2 with 1 micro bit,
#   sign + 7/4/2 magnitude bits; NVFP4: NVIDIA "Introducing NVFP4" (2025): E2M1, an E4M3
#   scale per 16, an FP32 tensor scale; VS-Quant: Dai et al., MLSys 2021 §3, vectors of 16,
#   4-/6-bit unsigned per-vector scales, FP32 outer γ.
SPEC = [
    ("mxfp8_e4m3", "fp8_e4m3fn", "e8m0", 32, 32, 0),
    ("mxfp8_e5m2", "fp8_e5m2", "e8m0", 32, 32, 0),
    ("mxfp6_e2m3", "fp6_e2m3fn", "e8m0", 32, 32, 0),
    ("mxfp6_e3m2", "fp6_e3m2fn", "e8m0", 32, 32, 0),
    ("mxfp4", "fp4_e2m1fn", "e8m0", 32, 32, 0),
    ("mx9", "int8_sm", "e8m0", 16, 2, 1),
    ("mx6", "int5_sm", "e8m0", 16, 2, 1),
    ("mx4", "int3_sm", "e8m0", 16, 2, 1),
    ("bfp8_b16", "int8_sm", "e8m0", 16, 2, 0),
    ("nvfp4", "fp4_e2m1fn", "fp8_e4m3fn", 16, 16, 0),
    # NVINT4: Chen et al. 2025, "INT v.s. FP", arXiv 2510.25602: symmetric INT4 (±7) with
    # NVFP4's scales (E4M3 per 16, FP32 per tensor)
    ("nvint4", "int4_narrow", "fp8_e4m3fn", 16, 16, 0),
    ("vsq_int4", "int4_narrow", "uint4", 16, 16, 0),
    ("vsq_int8", "int8_narrow", "uint6", 16, 16, 0),
    ("int4_g128", "int4", "fp16", 128, 128, 0),
]

FAMILY = {
    "IntFormat": "integer",
    "BinaryFormat": "binary",
    "FloatFormat": "minifloat",
    "ExpFormat": "exponent",
    "MXFormat": "mx",
    "SharedExpFormat": "shared_exponent",
    "NVFP4Format": "nvfp4",
    "VSQuant": "vs_quant",
    "GroupScaledFormat": "group_scaled",
}


@pytest.mark.parametrize(("name", "element", "scale", "k", "sub", "micro"), SPEC)
def test_descriptor_matches_the_specification(name, element, scale, k, sub, micro):
    f = G(name)
    assert isinstance(f, BlockFormat)
    assert f.element is G(element)  # the registered object, not a private copy
    assert f.scale_format is G(scale)
    assert (f.block_size, f.sub_block_size, f.micro_bits) == (k, sub, micro)
    assert f.element_bits == G(element).bits and f.scale_bits == G(scale).bits
    assert f.bits_per_element == pytest.approx(
        f.element_bits + f.scale_bits / k + (micro / sub if micro else 0)
    )


def test_mxint8_element_is_a_fixed_point_int8():
    """OCP MX v1.0 §5.3.3: MXINT8's element is 8-bit two's complement read as 1.6 fixed
    point, -128 unused."""
    f = G("mxint8")
    assert isinstance(f.element, FixedPointElement)
    assert f.element.int_format is G("int8_narrow") or f.element.int_format == G("int8_narrow")
    assert (f.element.frac_bits, f.scale_format, f.block_size) == (6, G("e8m0"), 32)


def test_every_registered_block_format_is_in_the_spec_table():
    blocks = {n for n in lowbit.list_formats() if G(n).has_block_scales}
    assert blocks == {s[0] for s in SPEC} | {"mxint8", "mxint4"}


def test_mxint4_element_is_a_symmetric_int4_fixed_point():
    """MXINT4 (Chen et al. 2025): MXINT8's scheme with a ±7 element read as 1.2 fixed point."""
    f = G("mxint4")
    assert isinstance(f.element, FixedPointElement)
    assert f.element.int_format == G("int4_narrow")
    assert (f.element.frac_bits, f.element.max, f.emax_elem) == (2, 1.75, 0)
    assert (f.scale_format, f.block_size, f.bits_per_element) == (G("e8m0"), 32, 4.25)


def test_tensor_and_outer_scales():
    assert G("nvfp4").tensor_scale_format is G("fp32")
    assert G("vsq_int4").outer_scale_format is G("fp32")
    for n in ("mxfp4", "mx9", "int4_g128", "vsq_int8"):
        assert G(n).tensor_scale_format is None
    for n in ("mxfp4", "mx9", "int4_g128", "nvfp4"):
        assert G(n).outer_scale_format is None


def test_nvfp4_range_comes_from_its_element_and_scale():
    f = G("nvfp4")
    assert f.max == f.element.max * f.scale_format.max == 6.0 * 448.0
    assert f.smallest_subnormal == 0.5 * 2.0**-9 and f.eps == 0.5
    assert f.scale_code_max == 0x7E  # E4M3 scales: positive, finite


def test_e8m0_facts_live_in_expformat():
    e = G("e8m0")
    assert isinstance(e, ExpFormat)
    assert (e.bias, e.emin, e.emax, e.code_of_nan, e.bits) == (127, -127, 127, 0xFF, 8)
    assert G("mxfp4").max == 6.0 * 2.0**127 and G("mx9").max == 127 / 64 * 2.0**127
    assert G("mxfp4").smallest_subnormal == 0.5 * 2.0**-127
    assert G("mx9").smallest_subnormal == 2.0 ** (-127 - 1 - 6)


def test_e8m0_decode_equals_the_old_hard_coded_rule_over_all_codes():
    """Bias 127, NaN at 0xFF: the rule block.py wrote out 15 times before issue 12."""
    codes = np.arange(256, dtype=np.uint8)
    old = np.where(codes == 0xFF, np.nan, np.ldexp(1.0, codes.astype(np.int64) - 127))
    e8 = G("e8m0")
    assert np.array_equal(e8.decode(codes).astype(np.float64), old, equal_nan=True)
    assert np.array_equal(e8.exponent_of(codes), codes.astype(np.int64) - 127)
    ok = codes[codes != 0xFF]
    assert np.array_equal(e8.code_of_exponent(e8.exponent_of(ok)), ok)
    with pytest.raises(ValueError, match="e8m0: exponents must lie in"):
        e8.code_of_exponent([128])
    # through the block formats: one element of value 1 per block decodes to its scale
    for name, one in (("mxfp8_e4m3", 0x38), ("mx9", 64)):
        f = G(name)
        n = f.block_size
        ecodes = np.zeros((256, n), np.uint8)
        ecodes[:, 0] = one
        micro = np.zeros((256, n // f.sub_block_size), np.uint8) if f.micro_bits else None
        enc = BlockArray(f, ecodes, codes[:, None].copy(), (256, n), -1, micro)
        assert np.array_equal(f.decode(enc)[:, 0].astype(np.float64), old, equal_nan=True), name


def test_shared_exponent_encode_equals_the_old_hard_coded_rule():
    e = np.arange(-300, 300)
    pos = np.ones(e.shape, bool)
    pos[::7] = False
    bad = np.zeros(e.shape, bool)
    bad[::11] = True
    old_e = np.maximum(np.where(pos, e, -127), -127)
    nan = bad | (old_e > 127)
    old_codes = np.where(nan, 0xFF, np.where(nan, 0, old_e) + 127).astype(np.uint8)
    codes, got_e = _scale_codes(G("e8m0"), e, pos, bad)
    assert codes.dtype == np.uint8 and np.array_equal(codes, old_codes)
    assert np.array_equal(got_e, np.where(nan, 0, old_e))


def test_family_and_has_block_scales_of_every_registered_format():
    for name in lowbit.list_formats():
        f = G(name)
        assert f.family == FAMILY[type(f).__name__], name
        assert f.has_block_scales == isinstance(f, BlockFormat), name
        assert f.has_block_scales == (
            f.family in ("mx", "shared_exponent", "nvfp4", "vs_quant", "group_scaled")
        )


def test_block_size_is_the_one_name_for_a_scale_run():
    assert G("vsq_int4").block_size == 16
    assert Quantizer("int4", "per_group", block_size=64).block_size == 64
    assert G("int4_g128").block_size == 128
    assert not hasattr(G("int4_g128"), "group_size")


# -- int4_g128: a group-scaled format -------------------------------------------------------
OLD_INT4_G128 = Quantizer("int4", "per_group", axis=-1, block_size=128, scale_format="fp16")


def _adversarial() -> list[np.ndarray]:
    rng = np.random.default_rng(12)
    ties = (np.arange(-8, 8) + 0.5).repeat(8)[None, :] / 7  # x/s on .5 after scaling by max
    ties[0, 0] = 8 / 7
    out = [
        rng.standard_normal((3, 300)),
        rng.standard_normal((4, 256)).astype(np.float32),
        rng.standard_normal((2, 128)).astype(np.float16),
        rng.laplace(size=(5, 130)) * 1e4,
        np.zeros((2, 128)),
        np.array([1e300, 1.0] * 64).reshape(1, 128),  # scale saturates at FP16's max
        np.array([1e-30, -1e-31] * 64).reshape(1, 128),  # scale below FP16's smallest
        np.full((1, 128), -0.0),
        ties,
        np.array([[70000.0 * 7] + [0.0] * 127]),
        rng.standard_normal((1, 1)),
    ]
    return out


@pytest.mark.parametrize("i", range(11))
def test_int4_g128_is_bit_for_bit_the_old_quantizer(i):
    x = _adversarial()[i]
    f = G("int4_g128")
    new = f.quantize(x)
    old = OLD_INT4_G128.quantize(x)
    assert new.dtype == old.dtype and new.shape == old.shape
    assert np.array_equal(new.view(np.uint8), old.view(np.uint8))  # bits, sign of zero too
    enc = f.encode(x)
    assert isinstance(enc, BlockArray) and enc.scales.dtype == np.uint16
    assert enc.codes.dtype == np.uint8 and enc.codes.shape == x.shape
    assert np.array_equal(f.decode(enc), new)  # == : ±0 may differ
    assert f.decode(enc).dtype == np.float32


def test_int4_g128_axis_and_codes():
    x = np.random.default_rng(3).standard_normal((256, 3))
    f = G("int4_g128")
    q0 = f.quantize(x, axis=0)
    assert np.array_equal(q0, replace(OLD_INT4_G128, axis=0).quantize(x))
    enc = f.encode(x, axis=0)
    assert enc.codes.shape == (3, 256) and enc.scales.shape == (3, 2)
    s = G("fp16").decode(enc.scales).astype(np.float64)
    amax = np.abs(x.T.reshape(3, 2, 128)).max(axis=-1)
    assert np.array_equal(s, G("fp16").quantize(amax / 7).astype(np.float64))
    assert enc.validate() is enc


def test_int4_g128_nan_input_raises_in_encode_and_quantize():
    f = G("int4_g128")
    x = np.ones((1, 128))
    x[0, 3] = np.nan
    for fn in (f.encode, f.quantize):
        with pytest.raises(ValueError, match="int4_g128: NaN or Inf input cannot set a scale"):
            fn(x)


def test_block_array_validation_covers_int4_g128():
    f = G("int4_g128")
    enc = f.encode(np.ones((2, 200), np.float32))
    with pytest.raises(ValueError, match=r"int4_g128: scales have shape \(2, 1\)"):
        f.decode(replace(enc, scales=enc.scales[:, :1]))
    with pytest.raises(ValueError, match=r"scales must lie in \[0, 31743\]"):
        f.decode(replace(enc, scales=np.full_like(enc.scales, 0x7C00)))  # +inf
    with pytest.raises(ValueError, match="micro must be None"):
        f.decode(replace(enc, micro=np.zeros((2, 2), np.uint8)))
    with pytest.raises(ValueError, match="tensor_scale must be None"):
        f.decode(replace(enc, tensor_scale=1.0))
    with pytest.raises(TypeError, match="made by 'mxfp4'"):
        f.decode(G("mxfp4").encode(np.ones((2, 256), np.float32)))


def test_group_scaled_format_parameters():
    g = GroupScaledFormat("int8", 32, "bf16")
    assert g.name == "int8_g32_bf16" and g.bits_per_element == 8 + 16 / 32
    with pytest.raises(TypeError, match="scale_format must be an integer or minifloat"):
        GroupScaledFormat("int4", 128, "e8m0")
    with pytest.raises(ValueError, match="element must be signed"):
        GroupScaledFormat("uint4", 128, "fp16")
    with pytest.raises(ValueError, match=r"legal range is 1\.\."):
        GroupScaledFormat("int4", 0, "fp16")


# -- Quantizer: a procedure -----------------------------------------------------------------
def test_quantizer_is_not_a_format():
    qz = Quantizer("int8", "per_channel", axis=0)
    assert not isinstance(qz, Format)
    assert not hasattr(qz, "encode") and not hasattr(qz, "decode")
    assert all(not isinstance(G(n), Quantizer) for n in lowbit.list_formats())
    with pytest.raises(TypeError, match="register: expected a Format"):
        lowbit.register(qz, name="zz_quantizer")
    x = np.array([[1.0, -0.5], [0.25, 0.125]])
    s = np.array([[1.0], [0.25]]) / 127
    s = s.astype(np.float32).astype(np.float64)  # the FP32 scale, per channel
    assert np.array_equal(qz.quantize(x), np.rint(x / s) * s)


# -- layering -------------------------------------------------------------------------------
def test_importing_formats_loads_no_layer_above_it():
    """lowbit.formats imports nothing from lowbit outside it (issue 12 item 3); the numba
    kernels take lowbit.threads, a leaf with no lowbit imports of its own."""
    code = (
        "import sys, lowbit.formats, lowbit.formats.calibration;"
        "print(sorted(m for m in sys.modules if m.startswith('lowbit')"
        " and not m.startswith('lowbit.formats')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['lowbit', 'lowbit.threads']"


def test_analysis_ranges_re_exports_the_sample_setters():
    from lowbit.analysis import ranges
    from lowbit.formats import calibration

    for name in ("aciq_mse", "sample_clip", "samples_of", "kl_threshold", "mse_rows"):
        assert getattr(ranges, name) is getattr(calibration, name)
    assert ranges.METHODS is calibration.METHODS
