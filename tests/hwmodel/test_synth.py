"""Model vs Yosys for INT2–INT8 and FP8 E2–E5 multipliers; the Verilog checked by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from lowbit import get_format
from lowbit.hwmodel import mac_cost
from lowbit.hwmodel.synth import (
    fp_multiplier_verilog,
    int_multiplier_verilog,
    synthesise,
    yosys_available,
)

pytestmark = pytest.mark.skipif(not yosys_available(), reason="yosys not installed")
RNG_SEED = 5
N_VECTORS = 12


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


@pytest.fixture(scope="module")
def int_runs():
    rng = np.random.default_rng(RNG_SEED)
    out = {}
    for bits in range(2, 9):
        vecs = [{"a": int(a), "b": int(b)} for a, b in rng.integers(0, 1 << bits, (N_VECTORS, 2))]
        out[bits] = (vecs, synthesise(int_multiplier_verilog(bits), "mul", vecs))
    return out


@pytest.fixture(scope="module")
def fp_runs():
    rng = np.random.default_rng(RNG_SEED)
    out = {}
    for e in (2, 3, 4, 5):
        fmt = get_format(f"fp8_e{e}m{7 - e}fnuz")
        codes = rng.integers(0, 256, (N_VECTORS, 2))
        codes[codes == 0x80] = 0x81  # the NaN code has no product
        vecs = [{"a": int(a), "b": int(b)} for a, b in codes]
        run = synthesise(fp_multiplier_verilog(fmt), "fmul", vecs, show=("s", "exp", "sig"))
        out[e] = (fmt, vecs, run)
    return out


def test_int_multiplier_verilog_is_exact(int_runs):
    for bits, (vecs, run) in int_runs.items():
        for vec, res in zip(vecs, run["evals"], strict=True):
            want = _signed(vec["a"], bits) * _signed(vec["b"], bits)
            assert _signed(res["p"], 2 * bits) == want


def test_fp_multiplier_verilog_matches_lowbit_decode(fp_runs):
    for fmt, vecs, run in fp_runs.values():
        for vec, res in zip(vecs, run["evals"], strict=True):
            want = float(fmt.decode(np.array([vec["a"]]))[0]) * float(
                fmt.decode(np.array([vec["b"]]))[0]
            )
            got = (
                (-1) ** res["s"]
                * res["sig"]
                * 2.0 ** (res["exp"] - 2 * fmt.bias - 2 * fmt.man_bits)
            )
            assert got == want


def test_model_within_25_percent_of_yosys_and_same_order(int_runs, fp_runs):
    int_model = [mac_cost(f"int{b}", f"int{b}").breakdown()["mpy"] for b in range(2, 9)]
    int_syn = [int_runs[b][1]["gates"] for b in range(2, 9)]
    fp_model, fp_syn = [], []
    for fmt, _, run in fp_runs.values():
        mpy = mac_cost(fmt, fmt).cost.find("mpy")
        fp_model.append(mpy.total - mpy.breakdown()["specials"])
        fp_syn.append(run["gates"])
    # INT2/INT3 are left out of the band: Yosys 0.70 (the pinned yowasp build) folds their
    # Baugh–Wooley constants into 8 and 28 gates where the array model counts 14 and 43
    for model, syn in zip(int_model[2:] + fp_model, int_syn[2:] + fp_syn, strict=True):
        assert 0.75 <= model / syn <= 1.25, (model, syn)
    assert np.argsort(int_model).tolist() == np.argsort(int_syn).tolist()
    assert np.argsort(fp_model).tolist() == np.argsort(fp_syn).tolist()
