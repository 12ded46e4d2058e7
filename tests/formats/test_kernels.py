"""The branch-free float32 fast paths against the general kernels, on random bit patterns,
for every registered minifloat, every rounding mode they serve and every overflow policy."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit
from lowbit.formats import _kernels as K
from lowbit.formats.minifloat import _NAN_ID, _OVF_ID, _SP_ID

FLOATS = [n for n in lowbit.list_formats() if isinstance(lowbit.get_format(n), lowbit.FloatFormat)]
FLOATS += ["custom_e3m0"]


def _fmt(name):
    if name == "custom_e3m0":
        return lowbit.FloatFormat(3, 0, specials="fn")
    return lowbit.get_format(name)


@pytest.mark.parametrize("name", FLOATS)
def test_fast_paths_match_general_kernels(name, random_f32_patterns):
    f = _fmt(name)
    if f.man_bits >= 23:
        pytest.skip("no fast path for 23+ mantissa bits")
    x = np.concatenate(
        [
            random_f32_patterns[:100_000].view(np.uint32),
            np.arange(0, 2**32, 2**16 + 7, dtype=np.uint64).astype(np.uint32),
        ]
    )
    n = x.size
    sp = _SP_ID[f.specials]
    maxb = np.array(f.max, np.float32).view(np.uint32)[()]
    qsub = np.array(f.smallest_subnormal, np.float32).view(np.uint32)[()]
    signpos = f.exp_bits + f.man_bits
    M, emin = f.man_bits, f.emin
    for ovf_name in f.overflow_policies:
        ovf = _OVF_ID[ovf_name]
        nanpols = (
            (_NAN_ID["zero"], _NAN_ID["negzero"]) if f.specials == "none" else (_NAN_ID["raise"],)
        )
        for nanpol in nanpols:
            for mode in (K.RNE, K.RNA, K.RTZ):
                pol = (sp, mode, ovf, nanpol)
                q_ref = np.empty(n, np.uint32)
                c_ref = np.empty(n, np.uint32)
                general = (x, q_ref, K.NO_RANDOM, 23, 127, M, emin)
                K.quantize_float[0](*general, True, int(maxb), int(qsub), *pol)
                general = (x, c_ref, K.NO_RANDOM, 23, 127, M, emin, f.bias)
                K.encode_float[0](*general, True, f.max_mag_code, signpos, *pol)
                for par in (0, 1):
                    q = np.empty(n, np.uint32)
                    c = np.empty(n, np.uint32)
                    K.quantize_f32_fast[par](x, q, M, emin, maxb, qsub, *pol)
                    K.encode_f32_fast[par](x, c, M, emin, f.bias, f.max_mag_code, signpos, *pol)
                    _same(q, q_ref, name, mode)
                    assert np.array_equal(c, c_ref), (name, mode, ovf_name)
                    if mode == K.RNE and M >= 1:
                        K.quantize_f32_rne[par](x, q, M, emin, maxb, sp, ovf, nanpol)
                        K.encode_f32_rne[par](
                            x, c, M, emin, f.max_mag_code, signpos, sp, ovf, nanpol
                        )
                        _same(q, q_ref, name, "rne")
                        assert np.array_equal(c, c_ref), (name, "rne", ovf_name)


def _same(a, b, name, mode):
    fa, fb = a.view(np.float32), b.view(np.float32)
    ok = (a == b) | (np.isnan(fa) & np.isnan(fb))
    assert ok.all(), (name, mode, np.flatnonzero(~ok)[:5])


def test_float32_and_float64_inputs_agree():
    """float32 input takes the fast kernels, float64 input the general ones."""
    x = np.random.default_rng(2).standard_normal(300_000).astype(np.float32) * 100
    for name in ("fp8_e4m3fn", "fp8_e5m2", "fp6_e2m3fn", "bf16", "fp16", "fp8_e2m5fnuz"):
        f = lowbit.get_format(name)
        for rounding in ("nearest_even", "nearest_away", "toward_zero"):
            a = f.encode(x, rounding=rounding, overflow="saturate")
            b = f.encode(x.astype(np.float64), rounding=rounding, overflow="saturate")
            assert np.array_equal(a, b), (name, rounding)
