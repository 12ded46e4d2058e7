"""Every fused block kernel over the whole E8M0 range.

The fused numba kernels (float32 input, whole blocks) are compared with the general path
(float64 input) and, for OCP MX, with gfloat, on blocks whose largest magnitude runs from
the smallest float32 subnormal (2^-149) to 2^127, on blocks mixing huge and tiny values,
and on float32 subnormal input.  Before the fix the MX kernel returned ±(element max)·X for
every small element of a block with a large shared exponent (issue 11, item 1).
"""

from __future__ import annotations

import gfloat
import numpy as np
import pytest
from gfloat import formats as gf

import lowbit

from .test_block import _shared_exp_ref
from .test_block_api import _nvfp4_ref

MX = {
    "mxfp8_e4m3": gf.format_info_mxfp8_e4m3,
    "mxfp8_e5m2": gf.format_info_mxfp8_e5m2,
    "mxfp6_e2m3": gf.format_info_mxfp6_e2m3,
    "mxfp6_e3m2": gf.format_info_mxfp6_e3m2,
    "mxfp4": gf.format_info_mxfp4_e2m1,
    "mxint8": gf.format_info_mxint8,
}
EXPONENTS = range(-149, 128)


def _range_rows(k: int, seed: int) -> np.ndarray:
    """float32 blocks of ``k``: for every exponent e of the float32 range, a block with
    amax in [2^e, 2^(e+1)) and log-uniform smaller members (some below 2^-149, so zero), a
    block [2^e, 1, -1, 0, ±2^-149, subnormals, ...] and a block of amax 2^e plus a sign
    mix of exact element-grid midpoints; and float32 subnormal blocks."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in EXPONENTS:
        mag = np.ldexp(1.0, e) * 2.0 ** rng.uniform(-60, 0, k)
        r = mag * rng.choice([-1.0, 1.0], k)
        r[rng.integers(0, k)] = np.ldexp(rng.uniform(1, 2), e)
        r[rng.integers(0, k, 2)] = 0.0
        rows.append(r)
        mixed = np.ldexp(rng.uniform(-1, 1, k), rng.integers(-149, 128, k))
        mixed[:6] = [np.ldexp(1.0, e), 1.0, -1.0, 0.0, 2.0**-149, -(2.0**-149)]
        rows.append(mixed)
        ties = np.ldexp(rng.integers(-64, 64, k) + 0.5, e - 7)  # midpoints of fine grids
        ties[0] = np.ldexp(1.0, e)
        rows.append(ties)
    rows.append(np.ldexp(rng.uniform(-1, 1, k), -127))  # FP32 subnormals
    rows.append(np.ldexp(rng.integers(-8, 9, k).astype(float), -149))  # smallest ones
    with np.errstate(over="ignore"):
        return np.array(rows).astype(np.float32)


def _assert_fast_equals_general(f, x, **kw):
    fast = f.quantize(x, **kw)
    general = f.quantize(x.astype(np.float64), **kw).astype(np.float32)
    assert fast.dtype == np.float32
    bad = ~((fast == general) | (np.isnan(fast) & np.isnan(general)))
    assert not bad.any(), (x[bad][:4], fast[bad][:4], general[bad][:4])
    # the sign of zero too
    assert np.array_equal(np.signbit(fast), np.signbit(general))
    return fast


def test_mx_large_shared_exponent_regression():
    """Issue 11 item 1: [2^127, 1, -1, 0, ...] through mxfp8_e4m3 gave ±448·2^119."""
    x = np.zeros((1, 32), np.float32)
    x[0, :3] = [2.0**127, 1.0, -1.0]
    q = lowbit.get_format("mxfp8_e4m3").quantize(x)
    assert q[0, 0] == np.float32(2.0**127)
    assert (q[0, 1:] == 0).all() and np.signbit(q[0, 2]) and not np.signbit(q[0, 1])
    # the thresholds of the issue, one per element format: small members round to zero
    for name, lg in (("mxfp8_e4m3", 122), ("mxfp6_e3m2", 113), ("mxfp6_e2m3", 110), ("mxfp4", 108)):
        y = np.zeros((1, 32), np.float32)
        y[0, :2] = [2.0**lg, 1.0]
        assert lowbit.get_format(name).quantize(y)[0, 1:].tolist() == [0.0] * 31, name


def _gfloat_blocks(name, x, compute_scale):
    out = []
    for r in x.astype(np.float64):
        out.append(gfloat.quantize_block(MX[name], r, compute_scale))
    g = np.stack(out)
    if name == "mxint8":
        # gfloat's ocp_int8 keeps code 0x80 = -2.0; OCP MX leaves -128 unused (min -127/64)
        scales = np.array([compute_scale(0, r) for r in x.astype(np.float64)])[:, None]
        g = np.where(g == -2.0 * scales, -127 / 64 * scales, g)
    return g


@pytest.mark.parametrize("name", list(MX))
def test_mx_fused_whole_range_vs_gfloat(name):
    f = lowbit.get_format(name)
    x = _range_rows(32, 1)
    ours = _assert_fast_equals_general(f, x)
    # float32 input keeps the shared exponent ≤ 127, where gfloat's scale clip is not hit
    g = _gfloat_blocks(name, x, gfloat.compute_scale_amax)
    assert np.array_equal(ours.astype(np.float64), g)
    # along axis 0 (the kernel sees a transposed copy)
    assert np.array_equal(f.quantize(x.T.copy(), axis=0), ours.T)


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mx9", "nvfp4"])
def test_fused_whole_range_threaded(name):
    """Arrays of ≥ 2^16 values take the threaded compilation of the same kernels."""
    from lowbit.formats import _kernels as K

    f = lowbit.get_format(name)
    x = _range_rows(f.block_size, 6)
    if name == "nvfp4":
        x = x[:9]  # one tensor scale: keep the blocks small ones can still be seen in
    big = np.tile(x, (-(-K.PARALLEL_MIN // x.size) + 1, 1))
    assert big.size >= K.PARALLEL_MIN
    expect = np.tile(f.quantize(x), (big.shape[0] // x.shape[0], 1))
    got = _assert_fast_equals_general(f, big)
    assert np.array_equal(got, expect, equal_nan=True)


def _rule_exponent(rule, amax, emax, el):
    """The shared exponent of one block under a torchao scale rule, from the definitions."""
    if amax == 0:
        return -127
    m, ex = np.frexp(amax)  # amax = m · 2^ex, m in [0.5, 1)
    lg = ex - 1
    if rule == "ceil":
        return lg + (m != 0.5) - emax
    if rule == "even":
        mb = el.man_bits
        m = np.rint(m * 2.0 ** (mb + 1)) / 2.0 ** (mb + 1)
        return np.frexp(m)[1] - 1 + ex - emax
    k = -200  # rceil: smallest k with 2^k · max_elem ≥ amax
    while np.ldexp(el.max, k) < amax:
        k += 1
    return k


@pytest.mark.parametrize("rule", ["ceil", "even", "rceil"])
@pytest.mark.parametrize("name", list(MX))
def test_mx_scale_rules_whole_range_vs_gfloat(name, rule):
    """The other scale rules (general path) over the whole range: gfloat with the rule's
    scale, and a NaN block where the rule's exponent passes 127 (OCP MX §6.3)."""
    f = lowbit.get_format(name)
    x = _range_rows(32, 2)[::2]
    el, emax = f.element, f.emax_elem
    ours = f.quantize(x, scale_rule=rule)
    exps = [max(_rule_exponent(rule, float(np.abs(r).max()), emax, el), -127) for r in x]
    over = np.array(exps) > 127
    assert np.isnan(ours[over]).all() and not np.isnan(ours[~over]).any()

    def scale_of(_emax, vals):
        return 2.0 ** max(_rule_exponent(rule, float(np.abs(vals).max()), emax, el), -127)

    g = _gfloat_blocks(name, x[~over], scale_of)
    assert np.array_equal(ours[~over].astype(np.float64), g)


@pytest.mark.parametrize("name", ["mx9", "mx6", "mx4", "bfp8_b16"])
def test_shared_exp_fused_whole_range(name):
    f = lowbit.get_format(name)
    x = _range_rows(16, 3)
    ours = _assert_fast_equals_general(f, x)
    ref = np.array([_shared_exp_ref(f, [float(v) for v in r]) for r in x])
    assert np.array_equal(ours.astype(np.float64), ref.astype(np.float32).astype(np.float64))


def test_nvfp4_fused_whole_range():
    """NVFP4 quantizes a whole tensor with one FP32 scale: one tensor per exponent."""
    f = lowbit.get_format("nvfp4")
    x = _range_rows(16, 4)
    for i in range(0, x.shape[0], 3):
        t = x[i : i + 3]
        if not np.abs(t).max():
            continue
        fast = _assert_fast_equals_general(f, t)
        assert np.isfinite(fast).all()
        assert np.array_equal(f.decode(f.encode(t)), fast)
        assert np.array_equal(fast, _nvfp4_ref(t, "subnormal"))


@pytest.mark.parametrize("outer", ["per_channel", "per_tensor"])
def test_vsquant_fused_whole_range(outer):
    f = lowbit.VSQuant("int4", 16, 4, outer=outer)
    x = _range_rows(64, 5)
    fast = _assert_fast_equals_general(f, x)
    assert np.isfinite(fast).all()
    if outer == "per_channel":
        assert np.array_equal(fast.astype(np.float64), _vsq_ref(f, x).astype(np.float32))


def _vsq_ref(f, w):
    """VS-Quant per channel (row), vectors along the row, from the documented rule: γ is
    the FP32 of max_v s_v / (2^S − 1), floored at FP32's smallest subnormal."""
    smax = 2**f.scale_bits - 1
    out = np.empty_like(w, dtype=np.float64)
    V = f.block_size
    for c in range(w.shape[0]):
        vecs = [w[c, i : i + V].astype(np.float64) for i in range(0, w.shape[1], V)]
        sv = [np.abs(v).max() / f.qmax for v in vecs]
        gamma = max(float(np.float32(max(sv) / smax)), 2.0**-149) if max(sv) > 0 else 1.0
        for j, v in enumerate(vecs):
            sq = min(max(round(sv[j] / gamma), 1), smax)
            q = np.clip(np.rint(v / (gamma * sq)), -f.qmax, f.qmax)
            out[c, j * V : j * V + len(v)] = q * gamma * sq
    return out


# ---- FP32 scales of float64 data beyond float32's range (audit F6) ----------------------
BIG = np.array([1e41, 3.0, -2.0, 1e40] * 8)
TINY = np.array([1e-44, 3e-45, -2e-45, 0.0] * 8)
S_MIN = 2.0**-149  # FP32's smallest subnormal


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda: lowbit.Quantizer("int8"), BIG),
        (lambda: lowbit.Quantizer("int8", "per_channel", axis=0), BIG.reshape(2, 16)),
        (lambda: lowbit.Quantizer("int8", "per_group", block_size=8), BIG),
        (lambda: lowbit.Quantizer("int8", symmetric=False), BIG),
        (lambda: lowbit.get_format("nvfp4"), np.array([1e300, 1.0] * 16).reshape(1, 32)),
        (lambda: lowbit.get_format("vsq_int4"), np.array([1e300, 1.0] * 16).reshape(1, 32)),
    ],
)
def test_fp32_scale_overflow_raises(make, x):
    f = make()
    with pytest.raises(ValueError, match=rf"{f.name}: values exceed the FP32 scale range"):
        f.quantize(x)


def test_fp32_scale_underflow_saturates_quantizer():
    """A scale below FP32's range becomes 2^-149: no NaN, no blame on NaN input, and an
    exact zero stays zero."""
    q = lowbit.Quantizer("int8").quantize(TINY)
    assert np.array_equal(q[:4], np.rint(TINY[:4] / S_MIN) * S_MIN)
    assert q[:4].tolist() == [7 * S_MIN, 2 * S_MIN, -1 * S_MIN, 0.0]
    q8 = lowbit.Quantizer("fp8_e4m3fn").quantize(TINY)
    e4m3 = lowbit.get_format("fp8_e4m3fn")
    assert np.array_equal(q8, e4m3.quantize(TINY / S_MIN) * S_MIN)
    assert q8[3] == 0.0 and not np.isnan(q8).any()
    qa = lowbit.Quantizer("int8", symmetric=False).quantize(TINY)
    assert np.isfinite(qa).all() and qa[3] == 0.0


def test_fp32_scale_underflow_nvfp4_vsquant():
    x = np.array([1e-300, -3e-301] * 16).reshape(1, 32)
    for name in ("nvfp4", "vsq_int4"):
        q = lowbit.get_format(name).quantize(x)
        assert q.tolist() == [[0.0, -0.0] * 16] or q.tolist() == [[0.0] * 32], name
    # float32 subnormal data: NVFP4's s_t and VS-Quant's γ would be 0 without the floor
    y = np.ldexp(np.arange(-16, 16, dtype=np.float64), -149).astype(np.float32).reshape(1, 32)
    enc = lowbit.get_format("nvfp4").encode(y)
    assert enc.tensor_scale == S_MIN
    v = lowbit.get_format("vsq_int4")
    ev = v.encode(y)
    assert ev.outer_scale.tolist() == [S_MIN]
    assert np.array_equal(v.quantize(y), v.decode(ev))
    # γ = 2^-149, s_v = 16·2^-149/7 → s_q = 2, steps of 2^-148: each value to the nearest
    # even multiple of 2^-149 (ties to even quotient), all finite
    assert np.isfinite(v.quantize(y)).all()


def test_int4_g128_scale_saturates_at_fp16_max():
    """An explicit scale format keeps its own overflow rule: FP16 saturates at 65504."""
    x = np.array([1e300, 1.0] * 64).reshape(1, 128)
    q = lowbit.get_format("int4_g128").quantize(x)
    assert q[0, 0] == 7 * 65504.0 and q[0, 1] == 0.0
