"""The branch-free float32 fast paths against the general kernels, on random bit patterns,
for every registered minifloat, every rounding mode they serve and every overflow policy."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import lowbit
from lowbit.formats import _kernels as K

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
    maxb = np.array(f.max, np.float32).view(np.uint32)[()]
    qsub = np.array(f.smallest_subnormal, np.float32).view(np.uint32)[()]
    signpos = f.exp_bits + f.man_bits
    M, emin = f.man_bits, f.emin
    for ovf_name in f.overflow_policies:
        nanpols = ("zero", "negzero") if f.specials == "none" else ("raise",)
        for nanpol in nanpols:
            # the special results as the format object hands them to the kernels
            csp = f._special_args(ovf_name, nanpol)
            qsp = f._special_args(ovf_name, nanpol, np.float32)
            for mode in (K.RNE, K.RNA, K.RTZ):
                q_ref = np.empty(n, np.uint32)
                c_ref = np.empty(n, np.uint32)
                general = (x, q_ref, K.NO_RANDOM, 23, 127, M, emin)
                K.quantize_float[0](*general, True, int(maxb), int(qsub), mode, *qsp)
                general = (x, c_ref, K.NO_RANDOM, 23, 127, M, emin, f.bias)
                K.encode_float[0](*general, True, f.code_of_max, signpos, mode, *csp)
                for par in (0, 1):
                    q = np.empty(n, np.uint32)
                    c = np.empty(n, np.uint32)
                    K.quantize_f32_fast[par](x, q, M, emin, maxb, qsub, mode, *qsp)
                    K.encode_f32_fast[par](x, c, M, emin, f.code_of_max, signpos, mode, *csp)
                    _same(q, q_ref, name, mode)
                    assert np.array_equal(c, c_ref), (name, mode, ovf_name)
                    if mode == K.RNE and M >= 1:
                        K.quantize_f32_rne[par](x, q, M, emin, maxb, *qsp, False)
                        K.encode_f32_rne[par](x, c, M, emin, f.code_of_max, signpos, *csp)
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


_CACHE_PROBE = """
import os
import subprocess
import sys

import numpy as np
import lowbit
from lowbit.formats import _kernels as K
lowbit.get_format("fp8_e4m3fn").encode(np.float32([1.0, -0.3]))
s = K.encode_f32_rne[0].stats
print(len(s.cache_hits), len(s.cache_misses))
"""


def test_second_process_loads_kernels_from_cache(tmp_path):
    """numba's ``cache=True`` keys on each kernel's source file: after the package split a
    fresh process must find the first one's compilation on disk."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [
        subprocess.run(
            [sys.executable, "-c", _CACHE_PROBE], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    (hits1, misses1), (hits2, misses2) = (map(int, r.stdout.split()) for r in runs)
    assert (hits1, misses1) == (0, 1)  # compiled, and written to tmp_path
    assert (hits2, misses2) == (1, 0)  # loaded, not compiled
    assert list(tmp_path.rglob("*f32*.nbi")), "index file named after f32.py"
