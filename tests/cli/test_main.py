"""The ``lowbit`` command line, run in-process through ``main([...])``."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

import lowbit
from lowbit.cli import main
from lowbit.report import absmax_accuracy, accuracy_formats, format_table_markdown


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``lowbit argv...``."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, out, err, *needles):
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lowbit: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err


def text_rows(out):
    """name → cells of the plain `lowbit formats` table (columns split on 2+ spaces)."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[2:]]
    return {r[0]: r for r in rows}


# -- --version / --help -------------------------------------------------------------------
def test_version(capsys):
    assert run(capsys, "--version") == (0, f"lowbit {lowbit.__version__}\n", "")


def test_help_lists_the_commands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in ("formats", "info", "quantize", "report"):
        assert command in out


def test_no_command_is_a_usage_error(capsys):
    assert_one_line_error(*run(capsys), "COMMAND")


# -- formats ------------------------------------------------------------------------------
def test_formats_text_table(capsys):
    status, out, err = run(capsys, "formats")
    assert status == 0 and err == ""
    rows = text_rows(out)
    assert list(rows) == lowbit.list_formats()
    header = re.split(r"\s{2,}", out.splitlines()[0])
    assert header[:3] == ["name", "family", "bits"] and header[-1] == "default overflow"
    assert rows["fp8_e4m3fn"] == [
        "fp8_e4m3fn", "minifloat", "8", "-448", "448", "2^-6", "2^-9", "107.2",
        "NaN (S.1111.111)", "nan",
    ]  # fmt: skip
    assert rows["fp8_e5m2"][4] == "57344" and rows["fp8_e5m2"][-2:] == ["Inf, NaN", "inf"]
    assert rows["fp8_e4m3fnuz"][4] == "240" and rows["fp8_e4m3fnuz"][-2] == "NaN = -0 code"
    assert rows["fp4_e2m1fn"][3:7] == ["-6", "6", "1", "2^-1"]
    assert rows["fp4_e2m1fn"][-2:] == ["none", "saturate"]
    assert rows["fp16"][4:7] == ["65504", "2^-14", "2^-24"]
    assert rows["int8"][2:] == ["8", "-128", "127", "1", "—", "42.1", "—", "saturate"]
    assert rows["e8m0"][-2:] == ["NaN (11111111)", "nan"]


def test_formats_markdown(capsys):
    status, out, _ = run(capsys, "formats", "--markdown")
    assert status == 0
    assert out == format_table_markdown()
    assert (
        "| fp8_e5m2 | minifloat | 8 | -57344 | 57344 | 2^-14 | 2^-16 | 191.5 | Inf, NaN | inf |"
        in out
    )
    assert "| --- | --- | ---: |" in out


def test_formats_csv_holds_full_precision(capsys, tmp_path):
    path = tmp_path / "formats.csv"
    status, out, err = run(capsys, "formats", "--csv", str(path))
    assert status == 0 and str(path) in err and "fp8_e4m3fn" in out
    with path.open(newline="", encoding="utf-8") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert list(rows) == lowbit.list_formats()
    for name in ("fp8_e4m3fn", "bf16", "int8", "e8m0"):
        fmt = lowbit.get_format(name)
        assert float(rows[name]["max"]) == fmt.max
        assert float(rows[name]["smallest_subnormal"]) == fmt.smallest_subnormal
        assert float(rows[name]["dynamic_range_db"]) == fmt.dynamic_range_db
    assert float(rows["fp8_e4m3fn"]["max"]) == 448.0
    assert rows["fp8_e4m3fn"]["specials"] == "NaN (S.1111.111)"


# -- info ---------------------------------------------------------------------------------
def info_codes(out):
    """code → value text from the code table of `lowbit info`."""
    table = out.split("codes (")[1].splitlines()[2:]
    return {int(line.split()[0], 16): line.split()[-1] for line in table}


def test_info_fp8_e4m3fn(capsys):
    status, out, err = run(capsys, "info", "fp8_e4m3fn")
    assert status == 0 and err == ""
    props = dict(line.split(None, 1) for line in out.splitlines()[1:] if line.startswith("  "))
    assert props["max"] == "448" and props["min"] == "-448"
    assert props["smallest_subnormal"] == "0.001953125  (2^-9)"
    assert props["bias"] == "7" and props["specials"] == "fn"
    assert props["default_overflow"] == "nan"
    codes = info_codes(out)
    assert len(codes) == 256 and "codes (256):" in out
    assert codes[0x7F] == "NaN" and codes[0xFF] == "NaN"
    assert codes[0x7E] == "448" and codes[0xFE] == "-448"
    assert codes[0x00] == "0" and codes[0x80] == "-0"
    assert codes[0x01] == "0.001953125" and codes[0x38] == "1"
    assert "0x7f  0.1111.111  NaN" in out


def test_info_code_table_matches_decode(capsys):
    for name in ("fp8_e5m2", "fp6_e3m2fn", "fp4_e2m1fn", "int4", "uint3"):
        status, out, _ = run(capsys, "info", name)
        assert status == 0
        fmt = lowbit.get_format(name)
        codes = info_codes(out)
        decoded = fmt.decode(np.arange(2**fmt.bits)).astype(np.float64)
        assert len(codes) == 2**fmt.bits
        for code, text in codes.items():
            want = decoded[code]
            if math.isnan(want):
                assert text == "NaN"
            elif math.isinf(want):
                assert text == ("Inf" if want > 0 else "-Inf")
            else:
                assert float(text) == want and text.startswith("-") == (math.copysign(1, want) < 0)
    assert info_codes(run(capsys, "info", "fp8_e5m2")[1])[0xFC] == "-Inf"


def test_info_special_codes_of_other_families(capsys):
    narrow = info_codes(run(capsys, "info", "int4_narrow")[1])
    assert narrow[0x8] == "unused" and narrow[0x9] == "-7" and narrow[0x7] == "7"
    e8m0 = info_codes(run(capsys, "info", "e8m0")[1])
    assert e8m0[127] == "1" and e8m0[0] == "2^-127" and e8m0[254] == "2^127" and e8m0[255] == "NaN"
    fnuz = info_codes(run(capsys, "info", "fp8_e4m3fnuz")[1])
    assert fnuz[0x80] == "NaN" and fnuz[0x7F] == "240"


def test_info_json(capsys):
    status, out, _ = run(capsys, "info", "fp8_e4m3fn", "--json")
    assert status == 0
    doc = json.loads(out)  # strict JSON: NaN travels as a string
    assert doc["properties"] == lowbit.get_format("fp8_e4m3fn").describe()
    assert doc["properties"]["max"] == 448.0
    codes = doc["codes"]
    assert [c["code"] for c in codes] == list(range(256))
    assert codes[0x7F] == {"code": 127, "hex": "0x7f", "binary": "0.1111.111", "value": "NaN"}
    assert codes[0x7E]["value"] == 448.0
    assert codes[0x80]["value"] == 0.0 and math.copysign(1, codes[0x80]["value"]) == -1
    e5m2 = json.loads(run(capsys, "info", "fp8_e5m2", "--json")[1])["codes"]
    assert e5m2[0x7C]["value"] == "Inf" and e5m2[0xFC]["value"] == "-Inf"


def test_info_wide_formats_have_no_code_table(capsys):
    status, out, _ = run(capsys, "info", "bf16")
    assert status == 0 and "codes (" not in out and "no code table" in out
    assert "65504" in run(capsys, "info", "fp16")[1]
    doc = json.loads(run(capsys, "info", "int16", "--json")[1])
    assert "codes" not in doc and doc["properties"]["qmin"] == -32768


def test_unknown_format_names_close_matches(capsys):
    status, out, err = run(capsys, "info", "fp8_e4m3f")
    assert_one_line_error(status, out, err, "unknown format 'fp8_e4m3f'", "did you mean")
    assert "fp8_e4m3fn" in err and "fp8_e4m3" in err


# -- quantize -----------------------------------------------------------------------------
@pytest.fixture
def saved_array(tmp_path):
    x = (np.random.default_rng(7).standard_normal((40, 25)) * 100).astype(np.float32)
    x[0, :4] = [0.0, -0.0, 1e9, -1e9]
    path = tmp_path / "in.npy"
    np.save(path, x)
    return x, path


def test_quantize_matches_the_library(capsys, saved_array, tmp_path):
    x, src = saved_array
    dst = tmp_path / "out.npy"
    status, out, err = run(
        capsys, "quantize", "fp8_e4m3fn", "--input", str(src), "--output", str(dst),
        "--overflow", "saturate",
    )  # fmt: skip
    assert status == 0 and err == "" and str(dst) in out
    got = np.load(dst)
    want = lowbit.get_format("fp8_e4m3fn").quantize(x, overflow="saturate")
    assert got.dtype == np.float32 and got.shape == (40, 25)
    np.testing.assert_array_equal(got, want)
    assert got[0, 2] == 448.0 and got[0, 3] == -448.0


def test_quantize_codes_and_rounding(capsys, saved_array, tmp_path):
    x, src = saved_array
    dst = tmp_path / "codes.npy"
    assert main(["quantize", "int8", "-i", str(src), "-o", str(dst), "--codes"]) == 0
    codes = np.load(dst)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, lowbit.get_format("int8").encode(x))
    assert codes[0, 2] == 127 and codes[0, 3] == 128  # saturated to +127 and -128
    args = ["quantize", "fp6_e3m2fn", "-i", str(src), "-o", str(dst)]
    assert main([*args, "--rounding", "toward_zero"]) == 0
    fmt = lowbit.get_format("fp6_e3m2fn")
    np.testing.assert_array_equal(np.load(dst), fmt.quantize(x, rounding="toward_zero"))
    assert main([*args, "--rounding", "stochastic", "--seed", "3"]) == 0
    np.testing.assert_array_equal(np.load(dst), fmt.quantize(x, rounding="stochastic", seed=3))
    capsys.readouterr()


def test_quantize_default_overflow_is_the_formats(capsys, saved_array, tmp_path):
    _, src = saved_array
    dst = tmp_path / "out.npy"
    assert main(["quantize", "fp8_e5m2", "-i", str(src), "-o", str(dst)]) == 0
    got = np.load(dst)
    assert got[0, 2] == np.inf and got[0, 3] == -np.inf
    capsys.readouterr()


def test_quantize_bad_input_is_one_line_exit_2(capsys, saved_array, tmp_path):
    _, src = saved_array
    dst = str(tmp_path / "out.npy")
    base = ["quantize", "int8", "-i", str(src), "-o", dst]
    assert_one_line_error(*run(capsys, *base, "--rounding", "banker"), "--rounding", "banker")
    assert_one_line_error(
        *run(capsys, "quantize", "fp8_e4m3fn", "-i", str(src), "-o", dst, "--overflow", "inf"),
        "fp8_e4m3fn", "overflow='inf'",
    )  # fmt: skip
    assert_one_line_error(*run(capsys, "quantize", "int08", "-i", str(src), "-o", dst), "int8")
    assert_one_line_error(*run(capsys, *base, "--seed", "x"), "--seed")
    missing = str(tmp_path / "missing.npy")
    assert_one_line_error(*run(capsys, "quantize", "int8", "-i", missing, "-o", dst), "missing.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    bad = ["quantize", "int8", "-i", str(tmp_path / "obj.npy"), "-o", dst]
    assert_one_line_error(*run(capsys, *bad), "pickle")
    np.savez(tmp_path / "arch.npz", x=np.ones(3), y=np.ones(2))  # two tensors: name one
    npz = ["quantize", "int8", "-i", str(tmp_path / "arch.npz"), "-o", dst]
    assert_one_line_error(*run(capsys, *npz), "arch.npz")
    np.save(tmp_path / "nan.npy", np.array([1.0, np.nan]))
    nan = ["quantize", "int8", "-i", str(tmp_path / "nan.npy"), "-o", dst]
    assert_one_line_error(*run(capsys, *nan), "NaN")
    np.save(tmp_path / "c.npy", np.array([1 + 2j]))
    cplx = ["quantize", "int8", "-i", str(tmp_path / "c.npy"), "-o", dst]
    assert_one_line_error(*run(capsys, *cplx), "complex")
    assert not (tmp_path / "out.npy").exists()


# -- report -------------------------------------------------------------------------------
def test_report_writes_the_tables(capsys, tmp_path):
    out_dir = tmp_path / "rep"
    status, out, err = run(capsys, "report", "--tables", "-o", str(out_dir), "--samples", "50000")
    assert status == 0
    names = ["formats.md", "formats.csv", "format-accuracy.md", "format-accuracy.csv"]
    assert out.splitlines()[-4:] == [f"  {out_dir / n}" for n in names]
    assert "50,000" in out.splitlines()[0]
    assert len(err.splitlines()) == len(accuracy_formats())  # one progress line per format
    assert (out_dir / "formats.md").read_text(encoding="utf-8") == format_table_markdown()
    with (out_dir / "format-accuracy.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert list(rows) == accuracy_formats()
    assert not {"fp32", "e8m0", "int16", "int32", "binary", "ternary", "int2"} & set(rows)
    assert {"int3", "int15", "fp8_e4m3fn", "fp4_e2m1fn", "fp16", "bf16"} <= set(rows)
    sqnr = {name: float(r["sqnr_db"]) for name, r in rows.items()}
    assert 35 < sqnr["int8"] < 45
    assert 28 < sqnr["fp8_e4m3fn"] < 35 and 22 < sqnr["fp8_e5m2"] < 29
    assert sqnr["int4"] < sqnr["int8"] < sqnr["int12"]
    assert 2 < sqnr["uint8"] < 4  # the negative half clips to zero
    md = (out_dir / "format-accuracy.md").read_text(encoding="utf-8")
    assert (
        f"| int8 | 8 | 8 | {sqnr['int8']:.2f} | {float(rows['int8']['accuracy_bits']):.2f} |" in md
    )


def test_absmax_accuracy_matches_a_direct_computation():
    x = np.random.default_rng(1).standard_normal(200_000).astype(np.float32)
    r = absmax_accuracy("int8", x)
    s = np.float32(np.abs(x).max() / 127.0)
    q = np.clip(np.round(x / s), -128, 127) * s  # np.round is round-half-even
    err = x.astype(np.float64) - q.astype(np.float64)
    assert r.scale == float(s)
    assert r.mse == pytest.approx(np.mean(err**2), rel=1e-12)
    assert r.sqnr_db == pytest.approx(10 * np.log10(np.mean(x.astype(np.float64) ** 2) / r.mse))
    assert r.accuracy_bits == pytest.approx(np.log2(x.std(dtype=np.float64) / np.sqrt(r.mse)))


def test_report_bad_samples_is_exit_2(capsys, tmp_path):
    assert_one_line_error(
        *run(capsys, "report", "--tables", "-o", str(tmp_path), "--samples", "1"), "n=1"
    )
