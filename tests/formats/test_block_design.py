"""Every block-format design axis the sensitivity sweeps vary, bit for bit against oracles:
OCP MX at block sizes 8–128 with each element (FP4/FP6/FP8, INT8, INT4) and each scale
rule against gfloat; the NVFP4 scheme with INT4 or FP elements, E4M3 or UE5M3 scales, with
and without the FP32 tensor scale, against a reference from the definition built on
gfloat's rounding; MX9/6/4-style formats with 0/1/2 micro bits; INT4 with an FP16 scale per
group; MXINT4 and NVINT4 as registered."""

from __future__ import annotations

import dataclasses
import math

import gfloat
import numpy as np
import pytest
from gfloat import formats as gf

import lowbit
from lowbit.formats.block import UE5M3, FixedPointElement, MXFormat, NVFP4Format, SharedExpFormat
from lowbit.formats.integer import IntFormat
from lowbit.formats.scaling import GroupScaledFormat

from .test_block import _shared_exp_ref

G = lowbit.get_format
BLOCK_SIZES = (8, 16, 32, 64, 128)
SAT = dict(rnd=gfloat.RoundMode.TiesToEven, sat=True)

# gfloat descriptions of the elements (MXINT4: OCP's int8 scheme cut to 4 bits, 1.2 fixed
# point; UE5M3: unsigned E5M3, bias 15, the all-ones code NaN as OCP E4M3's)
GF_ELEMENT = {
    "fp8_e4m3fn": gf.format_info_ocp_e4m3,
    "fp8_e5m2": gf.format_info_ocp_e5m2,
    "fp6_e2m3fn": gf.format_info_ocp_e2m3,
    "fp6_e3m2fn": gf.format_info_ocp_e3m2,
    "fp4_e2m1fn": gf.format_info_ocp_e2m1,
    "int8": gf.format_info_ocp_int8,
    "int4": dataclasses.replace(gf.format_info_ocp_int8, name="int4_1.2", k=4, precision=4),
}
GF_UE5M3 = dataclasses.replace(
    gf.format_info_ocp_e4m3, name="ue5m3", k=8, bias=15, is_signed=False, has_nz=False
)


def _mx_element(name):
    if name.startswith("int"):
        b = int(name[3:])
        return FixedPointElement(IntFormat(b, narrow=True), b - 2)
    return G(name)


def _rule_exp(rule, amax, emax, el_max, man_bits):
    """The block's shared exponent under ``rule``, one line of math each."""
    if amax == 0:
        return -127
    lg = math.floor(math.log2(amax))
    if rule == "floor":  # OCP MX v1.0 §6.3
        e = lg - emax
    elif rule == "ceil":
        e = math.ceil(math.log2(amax)) - emax
    elif rule == "even":  # amax rounded to the element's mantissa bits first
        m, ex = math.frexp(amax)
        e = math.floor(math.log2(round(m * 2 ** (man_bits + 1)) / 2 ** (man_bits + 1))) + ex - emax
    else:  # rceil: smallest power of two 2^e with 2^e · max_elem ≥ amax
        e = lg - 40
        while el_max * 2.0**e < amax:
            e += 1
    return max(e, -127)


def _gfloat_mx(gel, x, rule, el):
    """gfloat.quantize_block per row with E8M0 scales from ``rule``; MXINT's -2 code is
    mapped to the -max OCP MX uses (the -128 / -8 code is unused)."""
    fi = gfloat.BlockFormatInfo("mx", gel, x.shape[1], gf.format_info_ocp_e8m0)
    out = []
    for r in x.astype(np.float64):
        amax = float(np.abs(r).max())
        s = 2.0 ** _rule_exp(rule, amax, gel.emax, float(el.max), el.man_bits)
        q = gfloat.quantize_block(fi, r, lambda _e, _v, s=s: s)
        if gel.is_twos_complement:
            q = np.where(q == -2.0 * s, -el.max * s, q)
        out.append(q)
    return np.array(out)


def _rows(k, seed, n=24):
    """Blocks of k: Gaussian, log-uniform magnitudes, element-grid ties, block maxima
    just below/above the floor rule's saturation point (max_elem · 2^e), a zero block."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)) * np.exp(rng.uniform(-8, 8, (n, 1)))
    x[1] = np.ldexp(rng.integers(-64, 64, k) + 0.5, -5)
    x[2] = 0.0
    x[3, 0], x[4, 0], x[5, 0] = 1.74, 1.76, 7.0 * 64  # around MXINT4's and MXFP4's max
    x[6, 0], x[7, 0] = 450.0, 447.0  # around E4M3's 448
    return x.astype(np.float32)


@pytest.mark.parametrize("k", BLOCK_SIZES)
@pytest.mark.parametrize("element", list(GF_ELEMENT))
def test_mx_block_sizes_and_scale_rules_vs_gfloat(element, k):
    el = _mx_element(element)
    x = _rows(k, k + len(element))
    for rule in ("floor", "ceil", "even", "rceil"):
        f = MXFormat(el, k, rule)
        ref = _gfloat_mx(GF_ELEMENT[element], x, rule, el)
        assert np.array_equal(f.quantize(x).astype(np.float64), ref), (element, k, rule)
        # the general path (float64 input) agrees where the fused kernel runs
        assert np.array_equal(f.quantize(x.astype(np.float64)), ref), (element, k, rule)


def test_floor_rule_saturates_block_maxima_the_other_rules_keep():
    """OCP's floor rule maps amax in [max_elem, 2^(emax+1))·X to max_elem (MXFP8-E4M3:
    [448, 512)); ceil and rceil choose the next scale up and keep it."""
    x = np.full((1, 32), 0.5, np.float32)
    x[0, 0] = 500.0
    floor = MXFormat(G("fp8_e4m3fn"), 32).quantize(x)[0, 0]
    assert floor == 448.0
    for rule in ("ceil", "rceil"):
        assert MXFormat(G("fp8_e4m3fn"), 32, rule).quantize(x)[0, 0] == 512.0  # 500 → 1.0·2^9


def _nv_ref(x, element, scale_gf, st_on, elmax, smax, int_el):
    """The NVFP4 scheme from its definition: s_t = FP32(amax / (max_e · max_s)), s_b =
    RNE_S(amax_b / max_e / s_t) saturating, e = RNE_E(x / (s_b · s_t)) saturating; gfloat
    rounds (INT elements: rint, clipped to ±max)."""
    amax_t = float(np.abs(x).max())
    st = max(float(np.float32(amax_t / (elmax * smax))), 2.0**-149) if (amax_t and st_on) else 1.0
    out = np.empty(x.shape)
    k = element.block_size
    for r in range(x.shape[0]):
        for b0 in range(0, x.shape[1], k):
            blk = x[r, b0 : b0 + k].astype(np.float64)
            sb = gfloat.round_float(scale_gf, float(np.abs(blk).max()) / elmax / st, **SAT)
            den = sb * st
            for j, v in enumerate(blk):
                if den == 0:
                    e = 0.0
                elif int_el:
                    e = float(np.clip(np.rint(v / den), -elmax, elmax))
                else:
                    e = gfloat.round_float(GF_ELEMENT[element.element.name], v / den, **SAT)
                out[r, b0 + j] = e * den
    return out


NV_CASES = [
    # (element, scale format, unsigned scale, tensor scale)
    ("fp4_e2m1fn", "e4m3", False, True),  # NVFP4
    ("int4_narrow", "e4m3", False, True),  # NVINT4
    ("fp4_e2m1fn", "e4m3", False, False),
    ("fp4_e2m1fn", "ue5m3", True, False),
    ("fp4_e2m1fn", "ue5m3", True, True),
    ("int4_narrow", "ue5m3", True, False),
    ("fp8_e4m3fn", "e4m3", False, True),
    ("fp6_e2m3fn", "ue5m3", True, False),
]


@pytest.mark.parametrize(("element", "scale", "unsigned", "ts"), NV_CASES)
@pytest.mark.parametrize("k", (8, 32, 128))
def test_nvfp4_scheme_vs_reference(element, scale, unsigned, ts, k):
    sf = UE5M3 if scale == "ue5m3" else G("fp8_e4m3fn")
    f = NVFP4Format(k, element=element, scale_format=sf, unsigned_scale=unsigned, tensor_scale=ts)
    rng = np.random.default_rng(k)
    x = rng.standard_normal((4, 256)) * np.exp(rng.uniform(-3, 3, (4, 256 // k)).repeat(k, 1))
    x[0, :k] *= 40.0  # the tensor's largest block
    x[1, :k] = 0.0
    x = x.astype(np.float32)
    int_el = element.startswith("int")
    ref = _nv_ref(
        x, f, GF_UE5M3 if scale == "ue5m3" else gf.format_info_ocp_e4m3, ts,
        float(f.element.max), float(sf.max), int_el,
    )  # fmt: skip
    ref = ref.astype(np.float32)
    assert np.array_equal(f.quantize(x), ref)  # fused kernel where it runs
    assert np.array_equal(f.quantize(x.astype(np.float64)).astype(np.float32), ref)
    assert np.array_equal(f.decode(f.encode(x)), ref)
    assert f.scale_bits == 8 and f.bits_per_element == f.element.bits + 8 / k
    assert (f.tensor_scale_format is not None) == ts


def test_ue5m3_is_unsigned_e5m3():
    """UE5M3's value set: the 256 codes of gfloat's unsigned E5M3 (bias 15, one NaN)."""
    ours = UE5M3.decode(np.arange(256)).astype(np.float64)
    theirs = np.array([gfloat.decode_float(GF_UE5M3, c).fval for c in range(256)])
    assert np.array_equal(ours, theirs, equal_nan=True)
    assert UE5M3.max == GF_UE5M3.max == 1.75 * 2.0**16


def test_nvfp4_block_scale_rounds_down_and_clips():
    """RNE of the E4M3 block scale can round down: amax / (s_b · s_t) then passes 6 and the
    block maximum saturates (the docs' NVFP4 note).  A block of amax 6 · 1.0625 · s_t
    (scale 1.0625 → E4M3 1.0, a tie to even) keeps 6 · s_t, 5.9 % below amax."""
    f = G("nvfp4")
    x = np.zeros((2, 16), np.float32)
    x[0, 0] = 2688.0  # the tensor max: s_t = 1
    x[1, 0] = 6.0 * 1.0625
    q = f.quantize(x)
    assert f.encode(x).tensor_scale == 1.0
    assert q[1, 0] == 6.0 and (x[1, 0] - q[1, 0]) / x[1, 0] == pytest.approx(0.0588, abs=1e-4)


@pytest.mark.parametrize("element", ["fp4_e2m1fn", "int4_narrow"])
def test_nvfp4_ceil_scale_rule_vs_reference(element):
    """scale_rule="ceil": s_b = the smallest E4M3 value ≥ amax_b / max_e / s_t (gfloat,
    rounding toward +∞), so no block maximum saturates beyond the FP32 rounding of s_t."""
    f = NVFP4Format(32, "ceil", element=element)
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((6, 128)) * np.exp(rng.uniform(-4, 4, (6, 1)))).astype(np.float32)
    elmax = float(f.element.max)
    amax_t = float(np.abs(x).max())
    st = float(np.float32(amax_t / (elmax * 448.0)))
    ref = np.empty(x.shape)
    up = dict(rnd=gfloat.RoundMode.TowardPositive, sat=True)
    for r in range(6):
        for b0 in range(0, 128, 32):
            blk = x[r, b0 : b0 + 32].astype(np.float64)
            sb = gfloat.round_float(
                gf.format_info_ocp_e4m3, float(np.abs(blk).max()) / elmax / st, **up
            )
            v = blk / (sb * st)
            if element == "int4_narrow":
                e = np.clip(np.rint(v), -7, 7)
            else:
                e = np.array(
                    [gfloat.round_float(gf.format_info_ocp_e2m1, float(t), **SAT) for t in v]
                )
            ref[r, b0 : b0 + 32] = e * sb * st
    assert np.array_equal(f.quantize(x), ref.astype(np.float32))
    assert f.name == f"nv_{f.element.name}_fp8_e4m3fn_b32_ceil"
    assert NVFP4Format(scale_rule="ceil").name == "nvfp4_ceil"


@pytest.mark.parametrize("micro", (0, 1, 2))
@pytest.mark.parametrize(("m", "k", "sub"), [(7, 16, 2), (4, 16, 2), (2, 16, 2), (4, 32, 4)])
def test_shared_exp_micro_bits_vs_reference(m, k, sub, micro):
    f = SharedExpFormat(m, k, sub, micro)
    rng = np.random.default_rng(m * 100 + k + micro)
    x = rng.standard_normal((60, k)) * np.exp(rng.uniform(-6, 6, (60, k)))  # spread pairs
    x[0] = 0.0
    x[1, ::2] = 0.0
    x = x.astype(np.float32)
    ref = np.array([_shared_exp_ref(f, [float(v) for v in r]) for r in x])
    assert np.array_equal(f.quantize(x).astype(np.float64), ref)
    assert f.bits_per_element == m + 1 + 8 / k + (micro / sub if micro else 0)


@pytest.mark.parametrize("k", BLOCK_SIZES)
def test_int4_group_scaled_block_sizes_vs_reference(k):
    """INT4 (symmetric, round to nearest, no zero point) with an FP16 scale per group of k:
    s = FP16(max|x| / 7), q = clip(rint(x / s), -8, 7)."""
    f = GroupScaledFormat("int4", k, "fp16")
    rng = np.random.default_rng(k)
    x = rng.laplace(size=(4, 256)).astype(np.float32)
    ref = np.empty(x.shape)
    for r in range(4):
        for b0 in range(0, 256, k):
            blk = x[r, b0 : b0 + k].astype(np.float64)
            s = gfloat.round_float(gf.format_info_binary16, float(np.abs(blk).max()) / 7.0)
            ref[r, b0 : b0 + k] = np.clip(np.rint(blk / s), -8, 7) * s
    assert np.array_equal(f.quantize(x).astype(np.float64), ref)


def test_registered_mxint4_and_nvint4_are_the_descriptor_lines():
    assert G("mxint4") == MXFormat(_mx_element("int4"), 32)
    assert G("nvint4") == NVFP4Format(element="int4_narrow")
    assert G("nvint4").bits_per_element == 4.5 and G("mxint4").bits_per_element == 4.25
    # descriptor parameters other than the defaults name the format after them
    assert NVFP4Format(32, element="int4_narrow", tensor_scale=False).name == (
        "nv_int4_narrow_fp8_e4m3fn_b32_nots"
    )


def test_nvfp4_scheme_parameter_validation():
    with pytest.raises(TypeError, match="element must be a minifloat FloatFormat or a signed"):
        NVFP4Format(element="uint4")
    with pytest.raises(TypeError, match="scale_format must be a minifloat"):
        NVFP4Format(scale_format="e8m0")
    with pytest.raises(TypeError, match="tensor_scale must be a bool"):
        NVFP4Format(tensor_scale=1)
