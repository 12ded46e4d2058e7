"""Tensor files (.safetensors, .npz, .npy) read lazily, FP8/BF16 decoded by lowbit's formats,
malformed files refused (F24), tensors in sweeps and metrics, torch/jax-like inputs."""

from __future__ import annotations

import json
import sys
import tracemalloc

import ml_dtypes
import numpy as np
import pytest

import lowbit
from lowbit.analysis import Empirical, Gaussian, as_distribution, mse, sqnr_db, sweep
from lowbit.analysis import tensors as T
from lowbit.analysis.tensors import list_tensors, load_tensor, parse_tensor_spec
from lowbit.cli import main


def write_safetensors(path, tensors, header_extra=None):
    """The safetensors layout by hand: u64 LE header length, JSON header, data."""
    header, blobs, offset = {"__metadata__": {"by": "test"}}, [], 0
    for name, (dtype, raw, shape) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header.update(header_extra or {})
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)  # the spec pads the header to 8 bytes
    path.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(blobs))
    return path


@pytest.fixture(params=["package", "hand"])
def reader(request, monkeypatch):
    """Run each test with the safetensors package, and with lowbit's own memmap reader."""
    if request.param == "hand":
        monkeypatch.setattr(T, "_safetensors_package", lambda: None)
    else:
        pytest.importorskip("safetensors")
    return request.param


ALL_BYTES = np.arange(256, dtype=np.uint8)


def test_fp8_and_bf16_decode_like_ml_dtypes(tmp_path, reader):
    rng = np.random.default_rng(0)
    bf16_bits = rng.integers(0, 1 << 16, 4096, dtype=np.uint16)
    p = write_safetensors(
        tmp_path / "m.safetensors",
        {
            "e4m3": ("F8_E4M3", ALL_BYTES.tobytes(), [16, 16]),
            "e5m2": ("F8_E5M2", ALL_BYTES.tobytes(), [256]),
            "e8m0": ("F8_E8M0", ALL_BYTES.tobytes(), [256]),
            "bf16": ("BF16", bf16_bits.astype("<u2").tobytes(), [64, 64]),
        },
    )
    oracle = {
        "e4m3": ALL_BYTES.view(ml_dtypes.float8_e4m3fn).astype(np.float32).reshape(16, 16),
        "e5m2": ALL_BYTES.view(ml_dtypes.float8_e5m2).astype(np.float32),
        "e8m0": ALL_BYTES.view(ml_dtypes.float8_e8m0fnu).astype(np.float32),
        "bf16": bf16_bits.view(ml_dtypes.bfloat16).astype(np.float32).reshape(64, 64),
    }
    for name, want in oracle.items():
        got = load_tensor(p, name)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


PLAIN = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
         "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}  # fmt: skip


def test_every_plain_dtype_round_trips(tmp_path, reader):
    rng = np.random.default_rng(1)
    arrays = {k: (rng.integers(0, 2, (3, 5)) if k == "BOOL" else rng.integers(-100, 100, (3, 5)) if k[0] == "I" else rng.integers(0, 200, (3, 5)) if k[0] == "U" else rng.standard_normal((3, 5))).astype(v) for k, v in PLAIN.items()}  # fmt: skip
    p = write_safetensors(
        tmp_path / "p.safetensors", {k: (k, a.tobytes(), list(a.shape)) for k, a in arrays.items()}
    )
    for k, a in arrays.items():
        got = load_tensor(p, k)
        assert got.dtype == a.dtype.newbyteorder("=") and got.shape == (3, 5)
        np.testing.assert_array_equal(got, a)
    assert [(t.name, t.dtype, t.shape) for t in list_tensors(p)][:2] == [
        ("F64", "F64", (3, 5)),
        ("F32", "F32", (3, 5)),
    ]


def test_a_file_written_by_the_safetensors_package_reads(tmp_path, reader):
    st = pytest.importorskip("safetensors.numpy")
    w = np.random.default_rng(2).standard_normal((8, 32)).astype(np.float16)
    st.save_file(
        {"layer.weight": w, "layer.bias": np.zeros(8, np.float32)}, tmp_path / "s.safetensors"
    )
    np.testing.assert_array_equal(load_tensor(tmp_path / "s.safetensors", "layer.weight"), w)
    names = {t.name: (t.dtype, t.shape) for t in list_tensors(tmp_path / "s.safetensors")}
    assert names == {"layer.weight": ("F16", (8, 32)), "layer.bias": ("F32", (8,))}


def test_npy_is_memory_mapped_and_npz_lists_without_loading(tmp_path):
    w = np.arange(12.0).reshape(3, 4)
    np.save(tmp_path / "w.npy", w)
    got = load_tensor(tmp_path / "w.npy")
    assert isinstance(got, np.memmap) and not got.flags.writeable
    np.testing.assert_array_equal(got, w)
    assert list_tensors(tmp_path / "w.npy") == [("w", "float64", (3, 4))]
    np.savez(tmp_path / "z.npz", a=w, b=np.zeros(2, np.int8))
    assert list_tensors(tmp_path / "z.npz") == [("a", "float64", (3, 4)), ("b", "int8", (2,))]
    np.testing.assert_array_equal(load_tensor(tmp_path / "z.npz", "b"), np.zeros(2, np.int8))


def test_reading_one_small_tensor_reads_only_its_bytes(tmp_path, reader):
    big = np.zeros(8 << 20, np.float32)  # 32 MiB
    small = np.arange(16, dtype=np.float32)
    p = write_safetensors(
        tmp_path / "big.safetensors",
        {"big": ("F32", big.tobytes(), [big.size]), "small": ("BF16", (small.view(np.uint32) >> 16).astype("<u2").tobytes(), [16])},
    )  # fmt: skip
    del big
    tracemalloc.start()
    try:
        got = load_tensor(p, "small")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, small)
    assert peak < 1 << 20  # the old reader held the whole 32 MiB file


BAD_HEADERS = {
    "negative offsets": ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, "data_offsets must be"),
    "missing offsets": ({"t": {"dtype": "F32", "shape": [2]}}, "has no 'data_offsets'"),
    "shape -1": ({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, "shape must be a list of integers >= 0"),
    "list header": ([1, 2], "header is a list, not a dict"),
    "entry not a dict": ({"t": 3}, "header entry is a int, not a dict"),
    "data shorter than shape": ({"t": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 8]}}, "needs 4000 bytes"),
    "offsets past the end": ({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, "run past the end"),
    "unknown dtype": ({"t": {"dtype": "F7", "shape": [2], "data_offsets": [0, 8]}}, "unsupported dtype 'F7'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_malformed_safetensors_name_the_file_and_the_problem(tmp_path, case, reader):
    header, message = BAD_HEADERS[case]
    head = json.dumps(header).encode()
    p = tmp_path / "bad.safetensors"
    p.write_bytes(len(head).to_bytes(8, "little") + head + b"\0" * 8)
    with pytest.raises(ValueError, match=message) as err:
        load_tensor(p, "t")
    assert str(p) in str(err.value)
    if case != "list header":
        with pytest.raises(ValueError, match=message):
            list_tensors(p)


def test_absurd_header_length_and_short_files(tmp_path):
    p = tmp_path / "huge.safetensors"
    p.write_bytes((10**15).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="header length 1000000000000000 exceeds the file"):
        load_tensor(p)
    p.write_bytes(b"\1\0")
    with pytest.raises(ValueError, match="too short to be a safetensors file"):
        list_tensors(p)
    with pytest.raises(ValueError, match="no such file"):
        load_tensor(tmp_path / "missing.safetensors")


def test_parse_tensor_spec(tmp_path):
    assert parse_tensor_spec("m.safetensors:model.layers.0.q_proj.weight") == (
        "m.safetensors",
        "model.layers.0.q_proj.weight",
    )
    assert parse_tensor_spec("w.npy") == ("w.npy", None)
    odd = tmp_path / "a:b.npy"  # an existing file whose name holds a colon
    np.save(odd, np.zeros(2))
    assert parse_tensor_spec(str(odd)) == (str(odd), None)
    with pytest.raises(ValueError, match="FILE:NAME"):
        parse_tensor_spec(":w")


def test_lowbit_exports_the_reader():
    assert lowbit.load_tensor is load_tensor and lowbit.list_tensors is list_tensors


# -- tensors in sweeps -------------------------------------------------------------------
def _heteroscedastic(rows=8, cols=64):
    rng = np.random.default_rng(5)
    return (rng.standard_normal((rows, cols)) * np.logspace(-3, 0, rows)[:, None]).astype(
        np.float32
    )


def test_block_formats_measure_the_tensors_own_blocks_along_the_axis(tmp_path):
    w = _heteroscedastic()
    p = write_safetensors(tmp_path / "w.safetensors", {"w": ("F32", w.tobytes(), [8, 64])})
    e = Empirical.from_file(p, "w")
    assert e.label == "w.safetensors:w" and e.shape == (8, 64)
    df = sweep(["mxfp4", "int8"], [e], ranges=["mse", "minmax"])
    assert list(df.format) == ["mxfp4", "int8", "int8"]  # one block row, not one per range
    block = df.iloc[0]
    assert block.range == "block" and block.method == "tensor" and block.samples == w.size
    assert block.tensor == "w.safetensors:w" and block.distribution == "empirical"
    x = w.astype(np.float64)
    fmt = lowbit.get_format("mxfp4")
    assert block.mse == pytest.approx(np.mean((x - fmt.quantize(x, axis=-1)) ** 2), rel=1e-12)
    # blocks along rows (axis 1) share a row's scale; along columns (axis 0: 8 < 32) refused
    by_cols = sweep(["mxfp4"], [Empirical(w.T.copy(), label="wT", axis=0)])
    assert by_cols.mse[0] == pytest.approx(block.mse, rel=1e-12)
    short = sweep(["mxfp4"], [e], axis=0)
    assert "axis 0 has 8 values, fewer than one mxfp4 block of 32" in short.error[0]
    # a block row on a tensor is the same with samples=n: the tensor, never resamples
    assert sweep(["mxfp4"], [e], samples=10_000).mse[0] == block.mse


def test_cli_sweep_and_tensors_take_files(tmp_path, capsys):
    w = _heteroscedastic()
    p = write_safetensors(
        tmp_path / "w.safetensors",
        {"a": ("F32", w.tobytes(), [8, 64]), "b": ("BF16", (w.view(np.uint32) >> 16).astype("<u2").tobytes(), [8, 64])},
    )  # fmt: skip
    assert main(["tensors", str(p)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["a", "F32", "[8,", "64]", "512"] and out[2].split()[:2] == [
        "b",
        "BF16",
    ]
    assert main(["tensors", str(p), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[1] == {
        "name": "b",
        "dtype": "BF16",
        "shape": [8, 64],
    }
    csv = tmp_path / "s.csv"
    rc = main(["sweep", "--formats", "int8,nvfp4", "--tensor", f"{p}:a", "--tensor", f"{p}:b",
               "-o", str(csv)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    import pandas as pd

    df = pd.read_csv(csv)
    assert list(df.tensor) == ["w.safetensors:a", "w.safetensors:b"] * 2
    assert main(["tensors", str(tmp_path / "nope.npz")]) == 2
    assert "no such file" in capsys.readouterr().err


# -- torch/jax-like inputs (__array__, DLPack) ---------------------------------------------
class OnlyArray:
    def __init__(self, a):
        self._a = np.asarray(a)

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


class OnlyDLPack:
    def __init__(self, a):
        self._a = np.asarray(a)

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class TensorWithDist(OnlyArray):
    """Like a torch tensor: it has a ``.dist`` attribute (torch.Tensor.dist is a method)."""

    def dist(self, other):
        return 0.0


@pytest.mark.parametrize("wrap", [OnlyArray, OnlyDLPack, TensorWithDist])
def test_array_likes_are_tensors_everywhere(wrap):
    x = np.random.default_rng(3).standard_normal(1000)
    d = as_distribution(wrap(x))
    assert isinstance(d, Empirical) and np.array_equal(d.values, x)
    q = np.round(x * 4) / 4
    assert mse(wrap(x), wrap(q)) == pytest.approx(np.mean((x - q) ** 2), rel=1e-15)
    assert sqnr_db(wrap(x), q) == pytest.approx(sqnr_db(x, q), rel=1e-15)
    ref = sweep(["int8"], [Empirical(x)], ranges=["minmax"])
    for dists in ([wrap(x)], wrap(x)):
        df = sweep(["int8"], dists, ranges=["minmax"])
        assert df.error[0] == "" and df.mse[0] == ref.mse[0]


def test_a_sweep_of_unusable_objects_raises_instead_of_error_rows():
    with pytest.raises(TypeError, match="expected a Distribution"):
        sweep(["int8"], [object()])
    sw = sys.modules["lowbit.analysis.sweep"]

    class Broken(Gaussian):
        def cdf(self, x):
            raise TypeError("broken cdf")

    with pytest.raises(TypeError, match="every configuration failed: TypeError: broken cdf"):
        sw.sweep(["int8"], [Broken()], ranges=["percentile"])
