"""Block and two-level formats: OCP MX against gfloat and the spec's edge rules, MX9/6/4
and BFP against a slow reference from the definition and hand-worked blocks, NVFP4,
VS-Quant against a slow reference, effective bits, packing round trips, bad input."""

from __future__ import annotations

import math

import gfloat
import numpy as np
import pytest
from gfloat import formats as gf

import lowbit
from lowbit.formats import pack, unpack
from lowbit.formats.block import BlockArray

MX = {
    "mxfp8_e4m3": gf.format_info_mxfp8_e4m3,
    "mxfp8_e5m2": gf.format_info_mxfp8_e5m2,
    "mxfp6_e2m3": gf.format_info_mxfp6_e2m3,
    "mxfp6_e3m2": gf.format_info_mxfp6_e3m2,
    "mxfp4": gf.format_info_mxfp4_e2m1,
    "mxint8": gf.format_info_mxint8,
}
BLOCK_NAMES = [
    "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8",
    "mx9", "mx6", "mx4", "bfp8_b16", "nvfp4", "vsq_int4", "vsq_int8",
]  # fmt: skip


def _adversarial_rows(fmt_name, rng):
    """Rows of 32: random magnitudes, element-grid ties, element max, one huge value,
    FP32 subnormals, all zeros."""
    f = lowbit.get_format(fmt_name)
    rows = [rng.standard_normal(32) * np.exp(rng.uniform(-20, 20)) for _ in range(120)]
    el = f.element
    vals = el.quantize(np.linspace(-el.max, el.max, 64)) if hasattr(el, "values") else None
    for e in (-3, 0, 7):
        if vals is not None:
            v = np.unique(np.asarray(vals, dtype=np.float64))
            mids = (v[:-1] + v[1:]) / 2  # ties on the element grid
            r = rng.choice(mids, 32)
            r[0] = el.max  # pins the scale: amax = element max
            rows.append(np.ldexp(r, e))
    r = rng.standard_normal(32) * 1e-3
    r[5] = 1e4
    rows.append(r)
    rows.append(np.ldexp(rng.uniform(-1, 1, 32), -135))  # FP32 subnormals
    r = rng.uniform(-1, 1, 32)
    r[:2] = [1.0, -1.999]  # rounds to the most negative 1.6 code (MXINT8)
    rows.append(r)
    rows.append(np.zeros(32))
    return np.array(rows).astype(np.float32)


@pytest.mark.parametrize("name", list(MX))
def test_mx_matches_gfloat(name):
    f = lowbit.get_format(name)
    x = _adversarial_rows(name, np.random.default_rng(7))
    ours = f.quantize(x)
    g = np.stack(
        [
            gfloat.quantize_block(MX[name], r.astype(np.float64), gfloat.compute_scale_amax)
            for r in x
        ]
    )
    if name == "mxint8":
        # gfloat's ocp_int8 keeps code 0x80 = -2.0; OCP MX leaves -128 unused (min -127/64)
        scale = np.stack([[gfloat.compute_scale_amax(0, r.astype(np.float64))] * 32 for r in x])
        at_min = g == -2.0 * scale
        assert at_min.any()
        g = np.where(at_min, -127 / 64 * scale, g)
    assert np.array_equal(ours.astype(np.float64), g)
    # encode → decode equals quantize, and encoded scales are the E8M0 of 2^e
    enc = f.encode(x)
    assert np.array_equal(f.decode(enc), ours)
    assert enc.scales.shape == (x.shape[0], 1) and enc.scales.dtype == np.uint8


def test_mx_spec_edges():
    fp8 = lowbit.get_format("mxfp8_e4m3")
    # all-zero block: scale 2^-127 (code 0), elements 0
    e = fp8.encode(np.zeros((1, 32), np.float32))
    assert e.scales.tolist() == [[0]] and not e.codes.any()
    # NaN or Inf anywhere in a block: NaN scale, the whole block NaN; other blocks intact
    x = np.ones((1, 64), np.float32)
    x[0, 3] = np.nan
    x[0, 40] = np.inf
    q = fp8.quantize(x.reshape(2, 32))
    assert np.isnan(q).all()
    x = np.ones(64, np.float32)
    x[3] = np.inf
    q = fp8.quantize(x)
    assert np.isnan(q[:32]).all() and (q[32:] == 1).all()
    assert fp8.encode(x).scales.tolist() == [255, 127 - 8]  # X = 2^(0 - emax), emax 8
    # FP32-subnormal amax: a block of 2^-130 comes back exactly (microxcaling's answer)
    assert (fp8.quantize(np.full(32, 2.0**-130, np.float32)) == np.float32(2.0**-130)).all()
    # shared exponent above 127: NaN scale (the spec; gfloat clips to 2^127 instead)
    q = lowbit.get_format("mxfp4").quantize(np.full(32, 1e300))
    assert np.isnan(q).all()
    # MXFP4 example of peers.md: amax 7 → X = 1: 7 → 6, 0.3 → 0.5
    x = np.zeros(32)
    x[:2] = [7.0, 0.3]
    fp4 = lowbit.get_format("mxfp4")
    assert fp4.quantize(x)[:2].tolist() == [6.0, 0.5]
    for rule in ("ceil", "even", "rceil"):
        e = fp4.encode(x, scale_rule=rule)
        assert e.scales.tolist() == [128]
        assert fp4.quantize(x, scale_rule=rule)[:2].tolist() == [8.0, 0.0]
    # MXINT8 saturates at 127/64 and never uses -128
    xi = np.zeros(32)
    xi[:4] = [1.9999, -1.9999, 0.015625, 0.0078125]  # 1/128 is a tie: RNE to 0
    assert lowbit.get_format("mxint8").quantize(xi)[:4].tolist() == [127 / 64, -127 / 64, 1 / 64, 0]


def test_partial_blocks_and_axis():
    f = lowbit.get_format("mxfp6_e3m2")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 45, 2)).astype(np.float32)
    q = f.quantize(x, axis=1)
    assert q.shape == x.shape and q.dtype == np.float32
    # the same as padding the axis by hand to 64 with zeros
    pad = np.concatenate([x, np.zeros((3, 19, 2), np.float32)], axis=1)
    assert np.array_equal(q, f.quantize(pad, axis=1)[:, :45])
    # axis=1 equals moving the axis last
    assert np.array_equal(q, np.moveaxis(f.quantize(np.moveaxis(x, 1, -1)), -1, 1))
    enc = f.encode(x, axis=1)
    assert enc.codes.shape == (3, 2, 45) and enc.scales.shape == (3, 2, 2)
    assert np.array_equal(f.decode(enc), q)


def _shared_exp_ref(fmt, block):
    """One block, element by element, from Rouhani et al.'s definition."""
    m = fmt.man_bits
    qmax = 2**m - 1
    amax = max(abs(v) for v in block)
    if not all(math.isfinite(v) for v in block):
        return [math.nan] * len(block)
    eb = -127 if amax == 0 else max(math.frexp(amax)[1] - 1, -127)
    if eb > 127:
        return [math.nan] * len(block)
    out = []
    s = fmt.sub_block_size
    for i in range(0, len(block), s):
        pair = block[i : i + s]
        d = 0
        if fmt.micro_bits:
            pm = max(abs(v) for v in pair)
            es = math.frexp(pm)[1] - 1 if pm > 0 else -(10**6)
            d = min(max(eb - es, 0), 2**fmt.micro_bits - 1)
        for v in pair:
            t = v / 2.0 ** (eb - d) * 2 ** (m - 1)
            q = round(t)  # Python's round is ties-to-even
            q = max(-qmax, min(qmax, q))
            out.append(q / 2 ** (m - 1) * 2.0 ** (eb - d))
    return out


@pytest.mark.parametrize("name", ["mx9", "mx6", "mx4", "bfp8_b16"])
def test_shared_exp_vs_reference(name):
    f = lowbit.get_format(name)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 16)) * np.exp(rng.uniform(-10, 10, (200, 1)))
    x[0] = 0.0
    x[1, ::2] = 0.0  # zero pairs members
    x[2] = np.ldexp(np.round(rng.uniform(-64, 64, 16)) + 0.5, -6)  # grid ties
    x = x.astype(np.float32)
    ours = f.quantize(x)
    ref = np.array([_shared_exp_ref(f, [float(v) for v in r]) for r in x])
    assert np.array_equal(ours.astype(np.float64), ref)


def test_shared_exp_hand_worked():
    x = np.zeros(16)
    x[:4] = [1.0, 0.5, 0.25, 0.1]
    # e_block = 0; pair (1.0, 0.5) keeps the block scale, pair (0.25, 0.1) takes 2^-1
    mx9 = lowbit.get_format("mx9")
    assert mx9.quantize(x)[:4].tolist() == [1.0, 0.5, 0.25, 13 / 64 / 2]
    assert mx9.encode(x).micro[:2].tolist() == [0, 1]
    # without microexponents (BFP) 0.1 → 6/64
    assert lowbit.get_format("bfp8_b16").quantize(x)[3] == 6 / 64
    # saturation at 127/64, 15/8, 3/2
    y = np.zeros(16)
    y[0] = 1.999
    for name, top in (("mx9", 127 / 64), ("mx6", 15 / 8), ("mx4", 1.5)):
        assert lowbit.get_format(name).quantize(y)[0] == top
    # MX6 0.3 in a shifted pair → 0.3125; MX4 0.26 in an unshifted pair → 0.5
    z = np.zeros(16)
    z[:4] = [1.0, 0.0, 0.3, 0.01]
    assert lowbit.get_format("mx6").quantize(z)[2] == 0.3125
    w = np.zeros(16)
    w[:2] = [1.0, 0.26]
    assert lowbit.get_format("mx4").quantize(w)[1] == 0.5


def test_nvfp4():
    f = lowbit.get_format("nvfp4")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    enc = f.encode(x)
    st = np.float32(np.abs(x).max() / (448 * 6))
    assert enc.tensor_scale == float(st)
    e4m3 = lowbit.get_format("fp8_e4m3fn")
    fp4 = lowbit.get_format("fp4_e2m1fn")
    blocks = x.reshape(8, 4, 16).astype(np.float64)
    sb = e4m3.quantize(np.abs(blocks).max(-1) / 6 / float(st), overflow="saturate")
    ref = fp4.quantize(blocks / (sb[..., None] * float(st))) * sb[..., None] * float(st)
    assert np.array_equal(f.quantize(x), ref.reshape(8, 64).astype(np.float32))
    with pytest.raises(ValueError, match="nvfp4"):
        f.quantize(np.array([1.0, np.nan], np.float32))


def _vsq_ref(f, w):
    """VS-Quant two-level calibration per docs/background.md §4, channel = row, vectors along columns."""
    smax = 2**f.scale_bits - 1
    out = np.empty_like(w, dtype=np.float64)
    V = f.block_size
    for c in range(w.shape[0]):
        vecs = [w[c, i : i + V].astype(np.float64) for i in range(0, w.shape[1], V)]
        sv = [np.abs(v).max() / f.qmax for v in vecs]
        gamma = float(np.float32(max(sv) / smax)) if max(sv) > 0 else 1.0
        for j, v in enumerate(vecs):
            sq = min(max(round(sv[j] / gamma), 1), smax)
            q = np.clip(np.rint(v / (gamma * sq)), -f.qmax, f.qmax)
            out[c, j * V : j * V + len(v)] = q * gamma * sq
    return out


@pytest.mark.parametrize("name", ["vsq_int4", "vsq_int8"])
def test_vsquant_vs_reference(name):
    f = lowbit.get_format(name)
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((12, 70)) * rng.uniform(0.01, 10, (12, 1))).astype(np.float32)
    w[3] = 0.0
    assert np.array_equal(f.quantize(w).astype(np.float64), _vsq_ref(f, w).astype(np.float32))
    per_tensor = lowbit.VSQuant("int4", 16, 4, outer="per_tensor")
    assert per_tensor.encode(w).outer_scale.shape == (1,)
    assert f.encode(w).outer_scale.shape == (12,)


def test_effective_bits_table():
    """docs/background.md §4 effective bits, from the formats themselves."""
    bpe = {n: lowbit.get_format(n).bits_per_element for n in BLOCK_NAMES + ["int4_g128"]}
    assert bpe["mxfp8_e4m3"] == bpe["mxint8"] == 8.25
    assert bpe["mxfp6_e2m3"] == 6.25 and bpe["mxfp4"] == 4.25
    assert (bpe["mx9"], bpe["mx6"], bpe["mx4"]) == (9.0, 6.0, 4.0)
    assert bpe["nvfp4"] == 4.5 and bpe["vsq_int4"] == 4.25 and bpe["int4_g128"] == 4.125
    pc = lowbit.Quantizer("int4", "per_channel", axis=0, scale_format="fp16")
    n = 512
    assert 4 + pc.overhead_bits((64, n)) == 4 + 16 / n


@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_pack_round_trip(name):
    f = lowbit.get_format(name)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 77)).astype(np.float32)
    enc = f.encode(x)
    packed = enc.packed()
    back = BlockArray.from_packed(f, packed, enc.shape, enc.axis, enc.tensor_scale, enc.outer_scale)
    assert np.array_equal(f.decode(back), f.quantize(x))
    raw = sum(p.nbytes for p in packed.values())
    assert enc.nbytes == raw + (4 if enc.tensor_scale is not None else 0) + (
        0 if enc.outer_scale is None else 4 * enc.outer_scale.size
    )


@pytest.mark.parametrize("bits", range(1, 17))
def test_pack_unpack_codes(bits):
    rng = np.random.default_rng(bits)
    c = rng.integers(0, 2**bits, 1001)
    buf = pack(c, bits)
    assert buf.dtype == np.uint8 and buf.size == (1001 * bits + 7) // 8
    assert np.array_equal(unpack(buf, bits, 1001), c)
    assert pack([0xF, 0x1], 4).tolist() == [0x1F]
    with pytest.raises(ValueError):
        pack([2**bits], bits)


def test_block_bad_input():
    f = lowbit.get_format("mxfp8_e4m3")
    with pytest.raises(ValueError, match="axis=2"):
        f.quantize(np.ones((4, 4), np.float32), axis=2)
    with pytest.raises(TypeError, match="floating-point"):
        f.quantize(np.ones(32, np.int32))
    with pytest.raises(TypeError, match="mxfp8_e4m3"):
        f.quantize(np.ones(32, complex))
    with pytest.raises(ValueError, match="block_size"):
        lowbit.MXFormat(lowbit.get_format("fp8_e4m3fn"), 0)
    with pytest.raises(ValueError, match="scale_rule"):
        f.quantize(np.ones(32, np.float32), scale_rule="round")
    with pytest.raises(ValueError, match="sub_block_size"):
        lowbit.SharedExpFormat(7, 16, 3, 1)
    with pytest.raises(TypeError, match="BlockArray"):
        f.decode(np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="0-d"):
        f.quantize(np.float32(1.0))


@pytest.mark.parametrize(
    "name",
    ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp4", "mxint8", "mx9", "mx6", "mx4", "bfp8_b16"],
)
def test_fused_kernel_equals_general_path(name):
    """float32 input with whole blocks takes the fused numba kernel; float64 input the
    general numpy path: both must give the same values (NaN/Inf blocks, zeros, subnormals)."""
    f = lowbit.get_format(name)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((400, 64)) * np.exp(rng.uniform(-30, 30, (400, 1)))
    x[0] = 0.0
    x[1, 5] = np.nan
    x[2, 7] = -np.inf
    x[3] = np.ldexp(rng.uniform(-1, 1, 64), -140)
    x[4, ::2] = 0.0
    x = x.astype(np.float32)
    fast = f.quantize(x)
    general = f.quantize(x.astype(np.float64)).astype(np.float32)
    assert np.array_equal(fast, general, equal_nan=True)
    assert np.array_equal(
        f.quantize(x, axis=0), np.moveaxis(f.quantize(x.T.copy()), -1, 0), equal_nan=True
    )


@pytest.mark.parametrize("outer", ["per_channel", "per_tensor"])
def test_vsquant_fused_kernel_equals_general_path(outer):
    f = lowbit.VSQuant("int4", 16, 4, outer=outer)
    rng = np.random.default_rng(10)
    w = (rng.standard_normal((50, 96)) * rng.uniform(1e-3, 1e3, (50, 1))).astype(np.float32)
    w[7] = 0.0
    fast = f.quantize(w)
    general = f.decode(f.encode(w))
    assert np.array_equal(fast, general)


def test_nvfp4_fused_kernel_equals_general_path():
    f = lowbit.get_format("nvfp4")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((300, 64)) * np.exp(rng.uniform(-12, 12, (300, 1)))
    x[0] = 0.0
    x[1, :16] = 1e-30
    x = x.astype(np.float32)
    assert np.array_equal(f.quantize(x), f.decode(f.encode(x)))
