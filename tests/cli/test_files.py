"""What the ``lowbit`` command line reads and writes: outputs replaced only when complete,
the input never overwritten, ``-`` for standard streams, damaged .npy files refused with one
line, every option checked against the format it is given to."""

from __future__ import annotations

import csv
import io
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lowbit
from lowbit import cli
from lowbit.cli import main

from .test_main import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[2]


def lowbit_process(*argv, stdin=b"", fsize=None, cwd=None):
    """Run ``python -m lowbit argv`` in a child process; ``fsize``: RLIMIT_FSIZE in bytes."""

    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "lowbit", *argv],
        input=stdin,
        capture_output=True,
        preexec_fn=limit,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def leftovers(directory: Path, expected: set[str]) -> set[str]:
    """Files in ``directory`` besides ``expected`` (temporary files left behind)."""
    return set(os.listdir(directory)) - expected


@pytest.fixture
def arr(tmp_path):
    x = np.random.default_rng(3).standard_normal((32, 64)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return x, path


# -- F5: an output is replaced only when it is complete --------------------------------
def test_a_write_over_the_file_size_limit_keeps_the_previous_output(tmp_path):
    np.save(tmp_path / "big.npy", np.arange(100_000, dtype=np.float64))
    previous = (tmp_path / "big.npy").read_bytes()
    # a first run fills numba's cache, whose files the size limit would stop instead
    assert (
        lowbit_process(
            "quantize", "fp32", "-i", "big.npy", "-o", "warm.npy", cwd=tmp_path
        ).returncode
        == 0
    )
    (tmp_path / "out.npy").write_bytes(previous)
    proc = lowbit_process(
        "quantize", "fp32", "-i", "big.npy", "-o", "out.npy", fsize=64 * 1024, cwd=tmp_path
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("lowbit: error: writing out.npy failed (") and "Traceback" not in err
    assert err.endswith("); nothing was replaced\n") and err.count("\n") == 1
    assert (tmp_path / "out.npy").read_bytes() == previous  # not a truncated file
    assert leftovers(tmp_path, {"big.npy", "out.npy", "warm.npy"}) == set()


def test_ctrl_c_while_writing_keeps_the_previous_output(capsys, arr, tmp_path, monkeypatch):
    _, src = arr
    out = tmp_path / "out.npy"
    out.write_bytes(b"previous")
    real_save = np.save

    def save_then_interrupt(fh, *args, **kwargs):
        real_save(fh, *args, **kwargs)  # the data is half on disk when Ctrl-C comes
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", save_then_interrupt)
    status, stdout, err = run(capsys, "quantize", "int8", "-i", str(src), "-o", str(out))
    assert status == 130 and stdout == "" and err == "lowbit: interrupted\n"
    assert out.read_bytes() == b"previous"
    assert leftovers(tmp_path, {"x.npy", "out.npy"}) == set()


def test_formats_csv_failure_keeps_the_previous_file(capsys, tmp_path, monkeypatch):
    from lowbit.report import tables

    path = tmp_path / "formats.csv"
    path.write_text("previous\n")
    real = tables.format_records

    def half(names=None):
        yield from real(names)[:3]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tables, "format_records", half)
    assert_one_line_error(*run(capsys, "formats", "--csv", str(path)), "No space left")
    assert path.read_text() == "previous\n"
    assert leftovers(tmp_path, {"formats.csv"}) == set()


# -- F5/F21: the output never overwrites the input -------------------------------------
@pytest.mark.parametrize("how", ["same name", "symlink", "hard link"])
def test_quantize_refuses_to_overwrite_its_input(capsys, arr, tmp_path, how):
    _, src = arr
    before = src.read_bytes()
    out = src
    if how == "symlink":
        out = tmp_path / "link.npy"
        out.symlink_to(src)
    elif how == "hard link":
        out = tmp_path / "hard.npy"
        os.link(src, out)
    status, stdout, err = run(capsys, "quantize", "int8", "-i", str(src), "-o", str(out))
    assert_one_line_error(status, stdout, err, "is the input file", str(src))
    assert src.read_bytes() == before


# -- '-': standard input and output ----------------------------------------------------
def test_quantize_reads_stdin_and_writes_stdout(arr):
    x, src = arr
    proc = lowbit_process("quantize", "fp8_e4m3fn", "-i", "-", "-o", "-", stdin=src.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    got = np.load(io.BytesIO(proc.stdout), allow_pickle=False)
    np.testing.assert_array_equal(got, lowbit.get_format("fp8_e4m3fn").quantize(x))
    assert got.dtype == np.float32
    # the summary goes to stderr: stdout holds the .npy bytes only
    assert proc.stderr.decode() == "fp8_e4m3fn: 2048 values (32, 64) float32 -> -\n"


def test_quantize_reads_a_pipe_through_dev_stdin(arr, tmp_path):
    x, src = arr
    out = tmp_path / "o.npy"
    proc = lowbit_process("quantize", "int8", "-i", "/dev/stdin", "-o", str(out),
                          stdin=src.read_bytes())  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    np.testing.assert_array_equal(np.load(out), lowbit.get_format("int8").quantize(x))


def test_quantize_codes_archive_to_stdout(capsysbinary, arr):
    x, src = arr
    assert main(["quantize", "mxfp4", "-i", str(src), "-o", "-", "--codes"]) == 0
    captured = capsysbinary.readouterr()
    with np.load(io.BytesIO(captured.out)) as z:
        enc = lowbit.get_format("mxfp4").encode(x)
        np.testing.assert_array_equal(z["codes"], enc.codes)
        np.testing.assert_array_equal(z["scales"], enc.scales)
    assert captured.err.decode().startswith("mxfp4: 2048 codes, fields codes, scales -> -")


def test_formats_csv_to_stdout_is_the_csv_alone(capsys, tmp_path):
    status, out, err = run(capsys, "formats", "--csv", "-")
    assert status == 0 and err == ""
    path = tmp_path / "f.csv"
    assert main(["formats", "--csv", str(path)]) == 0
    capsys.readouterr()
    assert out == path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == lowbit.list_formats()


# -- F11: every failure is one line, exit 2 (130 after Ctrl-C) -------------------------
def test_damaged_npy_files_are_one_line_errors(capsys, tmp_path):
    dst = str(tmp_path / "o.npy")

    def quantize(path):
        return run(capsys, "quantize", "int8", "-i", str(path), "-o", dst)

    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    assert_one_line_error(*quantize(empty), "empty.npy is empty (0 bytes), not a .npy file")
    text = tmp_path / "t.npy"
    text.write_text("hello\n")
    status, out, err = quantize(text)
    assert_one_line_error(status, out, err, "t.npy is not a valid .npy file")
    assert "pickle" not in err  # never the invitation to unpickle an untrusted file
    huge = tmp_path / "huge.npy"
    with huge.open("wb") as fh:  # the header claims 10^11 float32, the file has no data
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (10**11,)}
        )
    assert_one_line_error(
        *quantize(huge), "huge.npy: the .npy header claims 400,000,000,000 bytes", "has 0"
    )
    short = tmp_path / "short.npy"
    short.write_bytes(_npy_bytes(np.arange(10.0))[:-8])
    assert_one_line_error(*quantize(short), "claims 80 bytes of data, the file has 72")
    header = tmp_path / "header.npy"
    header.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': 'x'}")
    assert_one_line_error(*quantize(header), "header.npy is not a valid .npy file")
    assert not os.path.exists(dst)


def _npy_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


@pytest.mark.parametrize(
    "exc, needle",
    [
        (EOFError("No data left in file"), "No data left in file"),
        (MemoryError(), "out of memory"),
        (MemoryError("Unable to allocate 373. GiB"), "out of memory: Unable to allocate 373. GiB"),
        (ImportError("Unable to find a usable engine; tried using: 'pyarrow'"), "pyarrow"),
        (OverflowError("integer division result too large for a float"), "too large"),
    ],
)
def test_every_expected_failure_is_one_line_exit_2(capsys, monkeypatch, exc, needle):
    def fail(args):
        raise exc

    monkeypatch.setattr(cli.formats, "run", fail)
    assert_one_line_error(*run(capsys, "formats"), needle)


def test_ctrl_c_is_exit_130_without_a_traceback(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.info, "run", interrupted)
    status, out, err = run(capsys, "info", "int8")
    assert (status, out, err) == (130, "", "lowbit: interrupted\n")


def test_parquet_without_pyarrow_is_one_line(capsys, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    import pandas as pd

    from lowbit.fileio import write_table

    with pytest.raises(ImportError, match=r"pip install 'lowbit\[parquet\]'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    assert os.listdir(tmp_path) == []


def test_sweep_to_parquet_without_pyarrow_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    out = tmp_path / "s.parquet"
    status, stdout, err = run(
        capsys, "sweep", "--formats", "int8", "--dist", "gaussian", "-o", str(out)
    )
    assert_one_line_error(status, stdout, err, "pyarrow")
    assert not out.exists()


# -- F20: options checked against the format -------------------------------------------
def test_seed_is_range_checked(capsys, arr, tmp_path):
    x, src = arr
    dst = tmp_path / "o.npy"
    base = ["quantize", "fp6_e3m2fn", "-i", str(src), "-o", str(dst), "--rounding", "stochastic"]
    for bad in ("-1", str(2**32), "1.5"):
        assert_one_line_error(
            *run(capsys, *base, "--seed", bad), "--seed", "[0, 4294967295]", repr(bad)
        )
    assert not dst.exists()
    assert main([*base, "--seed", str(2**32 - 1)]) == 0
    want = lowbit.get_format("fp6_e3m2fn").quantize(x, rounding="stochastic", seed=2**32 - 1)
    np.testing.assert_array_equal(np.load(dst), want)
    capsys.readouterr()


def test_report_seed_is_checked_before_anything_is_built(capsys, tmp_path):
    out = tmp_path / "r" / "s.pdf"
    status, stdout, err = run(
        capsys, "report", str(ROOT / "reports" / "smoke.toml"), "-o", str(out), "--seed", "-1"
    )
    assert_one_line_error(status, stdout, err, "--seed", "[0, 4294967295]")  # no progress lines
    assert not (tmp_path / "r").exists()


def test_rounding_of_a_format_without_rounding_is_refused(capsys, arr, tmp_path):
    x, src = arr
    dst = tmp_path / "o.npy"
    args = ["-i", str(src), "-o", str(dst), "--rounding", "toward_zero"]
    assert_one_line_error(
        *run(capsys, "quantize", "vsq_int4", *args), "vsq_int4 has no rounding option"
    )
    assert main(["quantize", "mxfp4", *args]) == 0  # MX formats do have it
    want = lowbit.get_format("mxfp4").quantize(x, rounding="toward_zero")
    np.testing.assert_array_equal(np.load(dst), want)
    assert not np.array_equal(want, lowbit.get_format("mxfp4").quantize(x))
    capsys.readouterr()


def test_axis_is_refused_for_scalar_formats_and_used_by_block_formats(capsys, arr, tmp_path):
    x, src = arr
    dst = tmp_path / "o.npy"
    assert_one_line_error(
        *run(capsys, "quantize", "int8", "-i", str(src), "-o", str(dst), "--axis", "9"),
        "int8 is a scalar format", "--axis",
    )  # fmt: skip
    # int4_g128 is a group-scaled block format (issue 12): its groups run along --axis
    assert main(["quantize", "int4_g128", "-i", str(src), "-o", str(dst), "--axis", "0"]) == 0
    np.testing.assert_array_equal(np.load(dst), lowbit.get_format("int4_g128").quantize(x, axis=0))
    assert main(["quantize", "mxfp4", "-i", str(src), "-o", str(dst), "--axis", "0"]) == 0
    want = lowbit.get_format("mxfp4").quantize(x, axis=0)
    np.testing.assert_array_equal(np.load(dst), want)
    assert not np.array_equal(want, lowbit.get_format("mxfp4").quantize(x, axis=-1))
    capsys.readouterr()


def test_codes_of_block_formats_need_an_npz_name(capsys, arr, tmp_path):
    x, src = arr
    npy = tmp_path / "codes.npy"
    assert_one_line_error(
        *run(capsys, "quantize", "nvfp4", "-i", str(src), "-o", str(npy), "--codes"),
        "nvfp4 --codes writes an .npz archive", "*.npz",
    )  # fmt: skip
    assert not npy.exists()
    npz = tmp_path / "codes.npz"
    assert main(["quantize", "nvfp4", "-i", str(src), "-o", str(npz), "--codes"]) == 0
    enc = lowbit.get_format("nvfp4").encode(x)
    with np.load(npz) as z:
        assert sorted(z.files) == ["codes", "scales", "tensor_scale"]
        np.testing.assert_array_equal(z["codes"], enc.codes)
        np.testing.assert_array_equal(z["scales"], enc.scales)
        assert float(z["tensor_scale"]) == float(np.float32(enc.tensor_scale))
    capsys.readouterr()
    # and one array is not written under an archive's name
    assert_one_line_error(
        *run(capsys, "quantize", "int8", "-i", str(src), "-o", str(npz)), "name it *.npy"
    )
    capsys.readouterr()


def test_report_names_a_binary_recipe_file(capsys, tmp_path):
    recipe = tmp_path / "weights.toml"
    recipe.write_bytes(_npy_bytes(np.arange(4.0)))
    assert_one_line_error(
        *run(capsys, "report", str(recipe), "-o", str(tmp_path / "r.pdf")),
        str(recipe), "not a TOML recipe", "0x93",
    )  # fmt: skip


def test_errors_name_the_output_not_its_temporary_name(capsys, arr, tmp_path):
    _, src = arr
    missing = tmp_path / "no" / "such" / "dir" / "o.npy"
    status, out, err = run(capsys, "quantize", "int8", "-i", str(src), "-o", str(missing))
    assert_one_line_error(status, out, err, f"No such file or directory: '{missing}'")
    assert ".tmp" not in err
    onto_dir = tmp_path / "d.npy"
    onto_dir.mkdir()
    status, out, err = run(capsys, "quantize", "int8", "-i", str(src), "-o", str(onto_dir))
    assert_one_line_error(status, out, err, f"Is a directory: '{onto_dir}'")
    assert sorted(os.listdir(tmp_path)) == ["d.npy", "x.npy"] and os.listdir(onto_dir) == []


def test_a_failed_folder_swap_puts_the_previous_folder_back(tmp_path, monkeypatch):
    from lowbit import fileio

    data = tmp_path / "rep-data"
    data.mkdir()
    (data / "table-1.csv").write_text("old\n")
    real = os.replace

    def second_rename_fails(a, b):
        if Path(a).name.endswith(".tmp"):  # the new folder onto the old one's name
            raise OSError(5, "Input/output error")
        return real(a, b)

    monkeypatch.setattr(fileio.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="Input/output error"):
        with fileio.atomic_dir(data) as new:
            (new / "table-1.csv").write_text("new\n")
    assert sorted(os.listdir(tmp_path)) == ["rep-data"]
    assert (data / "table-1.csv").read_text() == "old\n"


def test_quantize_reads_one_tensor_of_a_checkpoint(tmp_path):
    """`-i FILE:NAME` quantizes one tensor of a .safetensors file (FP8 decoded by lowbit) or
    of an .npz archive; writing over the checkpoint is refused."""
    import ml_dtypes

    from ..analysis.test_tensors import write_safetensors

    w = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8)
    f8 = w.astype(ml_dtypes.float8_e4m3fn)
    ckpt = tmp_path / "m.safetensors"
    write_safetensors(
        ckpt,
        {
            "a.weight": ("F32", w.tobytes(), list(w.shape)),
            "b.weight": ("F8_E4M3", f8.tobytes(), list(f8.shape)),
        },
    )
    npz = tmp_path / "m.npz"
    np.savez(npz, w=w)
    for spec, want in (
        (f"{ckpt}:a.weight", w),
        (f"{ckpt}:b.weight", f8.astype(np.float32)),
        (f"{npz}:w", w),
    ):
        out = tmp_path / "q.npy"
        assert main(["quantize", "int4", "-i", spec, "-o", str(out)]) == 0
        q = np.load(out)
        np.testing.assert_array_equal(q, lowbit.get_format("int4").quantize(want))
    assert main(["quantize", "int4", "-i", f"{ckpt}:nope", "-o", str(tmp_path / "x.npy")]) == 2
    assert main(["quantize", "int4", "-i", f"{npz}:w", "-o", str(npz)]) == 2
