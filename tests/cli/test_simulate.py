"""``lowbit simulate``: one GEMM on the MAC simulator, run in-process through ``main``."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from lowbit import get_format
from lowbit.cli import main
from lowbit.cli.simulate import draw, errors, resolve_acc
from lowbit.hwmodel.macsim import FixedAccumulator
from lowbit.hwmodel.macsim.numpy_oracle import gemm_numpy

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built",
)


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys, *argv) -> dict:
    status, out, err = run(capsys, "simulate", *argv, "--json")
    assert status == 0, err
    return json.loads(out)


def operands(fmt_a, fmt_b, m, k, n, dist="gaussian", seed=0, scale=True):
    """The codes and scales simulate draws, rebuilt here from the documented recipe."""
    rng = np.random.default_rng(seed)
    xa, xb = draw(dist, (m, k), rng), draw(dist, (k, n), rng)
    sa = np.abs(xa).max() / fmt_a.max if scale else 1.0
    sb = np.abs(xb).max() / fmt_b.max if scale else 1.0
    a = fmt_a.encode(xa / sa, overflow="saturate")
    b = fmt_b.encode(xb / sb, overflow="saturate")
    return xa, xb, a, b, sa, sb


def test_exact_accumulator_has_no_error_and_reports_quantization_error(capsys):
    r = run_json(
        capsys, "--a-format", "int8", "--acc", "exact", "--m", "8", "--k", "64", "--n", "5"
    )
    assert r["error_vs_exact"] == {"rel_frobenius": 0.0, "max_abs": 0.0, "snr_db": None}  # inf
    i8 = get_format("int8")
    xa, xb, a, b, sa, sb = operands(i8, i8, 8, 64, 5)
    exact = (i8.decode(a).astype(np.float64) @ i8.decode(b).astype(np.float64)) * (sa * sb)
    want = errors(exact, xa @ xb)
    assert r["error_vs_unquantized"] == pytest.approx(want, rel=1e-9)
    assert r["quantization_error"] == pytest.approx(want, rel=1e-9)
    assert 30 < want["snr_db"] < 45  # int8 absmax on N(0, 1): about 6 bits of accuracy
    assert r["stats"]["macs"] == 8 * 64 * 5 and r["stats"]["overflow"] == 0
    assert r["scale_a"] == pytest.approx(sa) and r["scale_b"] == pytest.approx(sb)


def test_narrow_wrapping_register_matches_the_numpy_simulator(capsys):
    r = run_json(
        capsys, "--a-format", "int8", "--acc", "fixed:12:0:wrap", "--m", "6", "--k", "200",
        "--n", "7", "--dist", "laplace", "--seed", "3",
    )  # fmt: skip
    i8 = get_format("int8")
    xa, xb, a, b, sa, sb = operands(i8, i8, 6, 200, 7, "laplace", 3)
    c, st = gemm_numpy(a, b, i8, i8, accumulator=FixedAccumulator(12, 0, "wrap"))
    exact, _ = gemm_numpy(a, b, i8, i8, accumulator="exact")
    for key in ("overflow", "swamping", "absorbed", "max_abs", "macs"):
        assert r["stats"][key] == st[key]
    assert r["stats"]["overflow"] > 0
    assert r["error_vs_exact"] == pytest.approx(errors(c * sa * sb, exact * sa * sb), rel=1e-12)
    assert r["error_vs_exact"]["rel_frobenius"] > 0.1  # wrapped sums are far off


def test_fp16_accumulation_loses_to_fp32_on_long_k(capsys):
    common = ["--a-format", "fp8_e4m3fn", "--m", "4", "--k", "8192", "--n", "4", "--scale", "none"]
    fp16 = run_json(capsys, *common, "--acc", "fp16")
    fp32 = run_json(capsys, *common, "--acc", "fp32")
    e4m3 = get_format("fp8_e4m3fn")
    _, _, a, b, _, _ = operands(e4m3, e4m3, 4, 8192, 4, scale=False)
    c16, st16 = gemm_numpy(a, b, e4m3, e4m3, accumulator="fp16")
    exact, _ = gemm_numpy(a, b, e4m3, e4m3, accumulator="exact")
    assert fp16["error_vs_exact"] == pytest.approx(errors(c16, exact), rel=1e-12)
    assert fp16["stats"]["swamping"] == st16["swamping"] > 0
    assert fp16["error_vs_exact"]["rel_frobenius"] > 100 * fp32["error_vs_exact"]["rel_frobenius"]
    assert fp16["scale_a"] == fp16["scale_b"] == 1.0


def test_fixed_spec_puts_the_binary_point_at_the_product_lsb(capsys):
    r = run_json(capsys, "--a-format", "fp8_e4m3fn", "--acc", "fixed40s", "--k", "32", "--m", "3",
                 "--n", "2")  # fmt: skip
    assert r["accumulator"] == "FixedAccumulator(width=40, frac=18, overflow='saturate')"
    assert r["error_vs_exact"]["max_abs"] == 0.0  # 40 bits hold these 32 products exactly
    assert resolve_acc("fixed32", "int8", "int4") == FixedAccumulator(32, 0, "wrap")
    assert resolve_acc("fixed:24:3:saturate", "int8", "int8") == FixedAccumulator(24, 3, "saturate")
    assert resolve_acc("bf16", "int8", "int8") == get_format("bf16")


def test_text_report(capsys):
    status, out, err = run(
        capsys, "simulate", "--a-format", "fp8_e4m3fn", "--b-format", "int8", "--acc", "fp16",
        "--m", "8", "--k", "128", "--n", "8",
    )  # fmt: skip
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == (
        "fp8_e4m3fn × int8 → fp16 (nearest_even): A 8×128, B 128×8, gaussian, seed 0"
    )
    assert "MAC/s" in lines[2]
    for needle in ("relative Frobenius", "max abs", "SNR dB", "swamping", "absorbed", "overflow"):
        assert needle in out
    macs = next(line for line in lines if line.strip().startswith("macs"))
    assert macs.split()[1] == "8,192"


def test_overflowing_fp16_says_so(capsys):
    r = run_json(
        capsys, "--a-format", "fp8_e4m3fn", "--acc", "fp16", "--m", "2", "--k", "512", "--n", "2"
    )  # fmt: skip  (absmax-scaled E4M3 products reach 2^17)
    assert r["nonfinite_outputs"] > 0 and r["stats"]["overflow"] == r["nonfinite_outputs"]
    assert r["error_vs_exact"]["rel_frobenius"] is None  # inf, as JSON null
    status, out, _ = run(capsys, "simulate", "--a-format", "fp8_e4m3fn", "--acc", "fp16",
                         "--m", "2", "--k", "512", "--n", "2")  # fmt: skip
    assert status == 0 and "the accumulator overflowed" in out and "inf" in out


def test_same_seed_same_numbers(capsys):
    args = ["--a-format", "fp4_e2m1fn", "--acc", "bf16", "--m", "5", "--k", "300", "--n", "3",
            "--dist", "student_t:4", "--seed", "11"]  # fmt: skip
    r1, r2 = run_json(capsys, *args), run_json(capsys, *args)
    for r in (r1, r2):
        r.pop("seconds"), r.pop("macs_per_second")
    assert r1 == r2
    r3 = run_json(capsys, *args[:-1], "12")
    assert r3["error_vs_unquantized"] != r1["error_vs_unquantized"]


def test_draw_distributions():
    rng = np.random.default_rng(0)
    u = draw("uniform", (1000, 10), rng)
    assert u.min() >= -1 and u.max() <= 1 and abs(u.mean()) < 0.02
    t = draw("student_t:2.5", (2000, 10), rng)
    assert np.abs(t).max() > 10  # heavy tails
    lap = draw("laplace", (1000, 10), rng)
    assert lap.var() == pytest.approx(2.0, rel=0.05)
    assert math.isclose(draw("gaussian", (4000, 10), rng).std(), 1.0, rel_tol=0.02)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--a-format", "int8", "--m", "0"], "--m must be a positive integer"),
        (["--a-format", "int8", "--k", "-3"], "--k must be a positive integer"),
        (["--a-format", "nope"], "unknown format"),
        (["--a-format", "int8", "--acc", "fixed:8:x:wrap"], "fixed-point specs"),
        (["--a-format", "int8", "--acc", "fp64"], "--acc 'fp64'"),
        (["--a-format", "int8", "--acc", "fixed:70:0:wrap"], "width"),
        (["--a-format", "int8", "--dist", "cauchy"], "--dist 'cauchy'"),
        (["--a-format", "int8", "--dist", "student_t:-1"], "must be a finite number > 0"),
        (["--a-format", "int8", "--dist", "gaussian:1:2"], "at most 1 parameter"),
        (["--a-format", "int8", "--block", "16"], "--block needs --order blocks"),
        (["--a-format", "int8", "--threads", "0"], "--threads must be a positive"),
        (["--a-format", "fp8_e4m3fn", "--acc", "fp16", "--rounding", "down"], "fixed-point"),
        (["--acc", "fp16"], "--a-format"),
        (["--a-format", "int8", "--m", "two"], "invalid int value"),
    ],
)
def test_bad_arguments_are_one_line_errors(capsys, argv, needle):
    status, out, err = run(capsys, "simulate", *argv)
    assert status == 2 and out == ""
    assert err.startswith("lowbit: error: ") and err.count("\n") == 1, err
    assert needle in err


def test_block_formats_bring_their_own_scales(capsys):
    """--a-format mx9: the draws go to gemm as they are (encoded along K there); the result
    equals gemm on the same draws, and blocks order adds once per 16 products."""
    from lowbit.hwmodel.macsim import gemm

    argv = ("--a-format", "mx9", "--acc", "fp16", "--m", "4", "--k", "64", "--n", "3")
    r = run_json(capsys, *argv, "--order", "blocks")
    rng = np.random.default_rng(0)
    xa, xb = draw("gaussian", (4, 64), rng), draw("gaussian", (64, 3), rng)
    mx9 = get_format("mx9")
    c, st = gemm(xa.astype(np.float32), xb.astype(np.float32), mx9, mx9, "fp16", order="blocks")
    exact, _ = gemm(xa.astype(np.float32), xb.astype(np.float32), mx9, mx9, "exact")
    assert r["stats"]["steps"] == 4 * 3 * 4 == st.steps
    assert r["error_vs_exact"] == pytest.approx(errors(c, exact), rel=1e-12)
    assert r["scale_a"] == 1.0 and r["error_vs_unquantized"]["snr_db"] > 30
    status, out, err = run(capsys, "simulate", *argv[:2], "--acc", "fixed24")
    assert status == 2 and "fixed:W:F" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--seed", "-1"], "--seed must be in 0..4294967295, got -1"),
        (["--seed", "99999999999"], "--seed must be in 0..4294967295, got 99999999999"),
        (["--acc", "fixed:62:-1100:wrap"], "frac=-1100 outside -962..1023 for width=62"),
        (["--acc", "fixed:32:-2000:saturate"], "frac=-2000 outside -992..1023"),
        (
            ["--m", "1", "--k", "1000000000", "--n", "1"],
            "needs about 119 GiB (64 bytes per element of A and B, 80 per output), more than "
            "--max-memory 4 GiB",
        ),
        (
            ["--m", "30000", "--k", "30000", "--n", "30000"],
            "is 27,000,000,000,000 multiply-accumulates, more than --max-macs 8,589,934,592",
        ),
        (["--m", "4", "--k", "8", "--n", "4", "--max-macs", "127"], "raise --max-macs"),
        (["--m", "4", "--k", "8", "--n", "4", "--max-memory", "0"], "--max-memory must be"),
        (["--max-memory", "nan"], "--max-memory must be"),
    ],
)
def test_seed_size_and_frac_limits_are_one_line_errors(capsys, argv, needle):
    status, out, err = run(capsys, "simulate", "--a-format", "int8", *argv)
    assert status == 2 and out == ""
    assert err.startswith("lowbit: error: ") and err.count("\n") == 1, err
    assert needle in err


def test_size_limits_can_be_raised(capsys):
    argv = ("--a-format", "int8", "--m", "4", "--k", "8", "--n", "4", "--acc", "exact")
    assert run(capsys, "simulate", *argv, "--max-macs", "127")[0] == 2
    r = run_json(capsys, *argv, "--max-macs", "128", "--max-memory", "0.001")
    assert r["stats"]["macs"] == 128 and r["error_vs_exact"]["max_abs"] == 0.0


def test_overflowing_draws_name_the_distribution(capsys):
    """Student-t with ν = 0.01 overflows float64: say so, not "int8: 1 NaN input value(s)"."""
    argv = ("--a-format", "int8", "--m", "4", "--k", "1000", "--n", "4")
    status, out, err = run(capsys, "simulate", *argv, "--dist", "student_t:0.01")
    rng = np.random.default_rng(0)
    bad = int(np.count_nonzero(~np.isfinite(draw("student_t:0.01", (4, 1000), rng))))
    assert status == 2 and err.count("\n") == 1 and bad > 0
    assert f"--dist 'student_t:0.01': {bad} of the 4,000 draws of A are not finite" in err
    assert "overflow float64" in err and "NaN" not in err


def test_memory_error_is_a_one_line_error(capsys, monkeypatch):
    from lowbit.cli import simulate as cli_simulate

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli_simulate, "draw", no_memory)
    status, out, err = run(capsys, "simulate", "--a-format", "int8", "--m", "2", "--k", "2")
    assert (
        status == 2
        and err == "lowbit: error: out of memory for --m 2 --k 2 --n 256; choose smaller sizes\n"
    )
