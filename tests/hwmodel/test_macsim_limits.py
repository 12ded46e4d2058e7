"""macsim.gemm at the edges of its parameters, its memory use, and an install without the
C core (reliability audit of 2026-12-01: fixed-point frac range, block sizes, peak memory)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lowbit import get_format
from lowbit.hwmodel import macsim
from lowbit.hwmodel.macsim import FixedAccumulator, gemm
from lowbit.hwmodel.macsim.reference import gemm_ref

ROOT = Path(__file__).resolve().parents[2]
BUILT = importlib.util.find_spec("lowbit.hwmodel._macsim") is not None
needs_c = pytest.mark.skipif(not BUILT, reason="C extension lowbit.hwmodel._macsim not built")
I8 = get_format("int8")
E4M3 = get_format("fp8_e4m3fn")


# -- fixed-point frac range ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("width", "frac", "lo"),
    [(62, -1100, -962), (32, -2000, -992), (62, -963, -962), (2, 1024, -1022)],
)
def test_fixed_frac_outside_the_exact_range_is_refused_in_plain_words(width, frac, lo):
    with pytest.raises(ValueError) as info:
        FixedAccumulator(width, frac)
    msg = str(info.value)
    assert f"frac={frac} outside {lo}..1023 for width={width}" in msg
    assert "{" not in msg  # no dump of the C core's option dicts


@needs_c
@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero", "down"])
def test_fixed_frac_at_the_lower_end_matches_the_exact_reference(rounding):
    """An LSB of 2^962: every int8 sum rounds to 0 (nearest, toward zero) or, rounding down,
    a negative one to −1 LSB — never NaN, as frac ≤ −1024 gave (0 · inf)."""
    rng = np.random.default_rng(5)
    a = I8.encode(rng.integers(-128, 128, (3, 9)).astype(np.float64))
    b = I8.encode(rng.integers(-128, 128, (9, 4)).astype(np.float64))
    acc = FixedAccumulator(62, -962, "wrap")
    c, st = gemm(
        a.astype(np.uint16), b.astype(np.uint16), I8, I8, accumulator=acc, rounding=rounding
    )
    want, ref = gemm_ref(a, b, I8, I8, accumulator=acc, rounding=rounding)
    assert np.isfinite(c).all()
    np.testing.assert_array_equal(c, want)
    assert st.overflow == ref["overflow"] and st.swamping == ref["swamping"]
    if rounding != "down":
        assert (c == 0).all()
    else:
        steps = c / 2.0**962  # each step floors: −1 per negative sum below one LSB
        assert (steps == np.round(steps)).all() and steps.min() < 0 and steps.max() <= 0


@needs_c
def test_products_below_the_doubles_on_the_register_grid_are_refused():
    """E4M3 products scaled by 2^-100 reach 2^-118; on a grid of 2^1000 (frac = −1000) that
    is 2^-1118, below the smallest double: the rounding could not be decided, so refuse."""
    a = np.array([[1]], np.uint8)  # the smallest subnormal, 2^-9
    scales = (np.full((1, 1), 2.0**-100), None)
    with pytest.raises(ValueError, match="below 2\\^-1074 .* use frac ≥ -956"):
        gemm(a, a, E4M3, E4M3, accumulator=FixedAccumulator(2, -1000), scales=scales, scale_block=1)
    c, _ = gemm(
        a, a, E4M3, E4M3, accumulator=FixedAccumulator(2, -956), scales=scales, scale_block=1
    )
    assert c.tolist() == [[0.0]]


@needs_c
@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"scale_block": 2**63}, ValueError, "scale_block=9223372036854775808 outside 1..2\\^62"),
        ({"scale_block": 0}, ValueError, "scale_block=0 outside"),
        ({"order": "blocks", "block": 2**63}, ValueError, "block=9223372036854775808 outside"),
        ({"order": "blocks", "block": 2.0}, ValueError, "block=2.0 must be a positive int"),
        ({"threads": 65}, ValueError, "threads=65 outside 1..64"),
        ({"threads": True}, TypeError, "threads must be an int"),
        ({"rounding": ["nearest_even"]}, ValueError, "rounding="),
        ({"rounding": "nearest"}, ValueError, "rounding="),
        ({"order": None}, ValueError, "order="),
        ({"accumulator": "fp64"}, ValueError, "accumulator="),
    ],
)
def test_every_parameter_is_checked_before_the_c_core(kwargs, exc, needle):
    a = I8.encode(np.ones((2, 3)))
    with pytest.raises(exc, match=needle):
        gemm(a, a.T.copy(), I8, I8, **kwargs)


# -- memory -------------------------------------------------------------------------------
@needs_c
@pytest.mark.parametrize(
    ("acc", "fast"),
    [
        ({"kind": 2, "man_bits": 10, "emin": -14, "emax": 15, "subnormals": 1}, "f64_exact"),
        ({"kind": 2, "man_bits": 10, "emin": -14, "emax": 15, "subnormals": 1}, "f64_ok"),
        ({"kind": 2, "man_bits": 23, "emin": -126, "emax": 127, "subnormals": 1}, "f32_ok"),
        ({"kind": 1, "width": 40, "frac_bits": 18}, "int_ok"),
    ],
)
def test_fast_loops_work_memory_does_not_grow_with_b(acc, fast):
    """The fast loops decode B a pass of panels at a time (16 MiB), not all of it: for
    8×8192×8192 they asked for 4–8 bytes per element of B (256–512 MiB)."""
    mod = macsim._load_lib()
    opts = {"order": 0, "block": 1, "scale_block": 1, "threads": 1, "fast": 1, fast: 1}
    c_acc, c_opts = mod.ffi.new("macsim_acc_t *", acc), mod.ffi.new("macsim_opts_t *", opts)
    assert mod.lib.macsim_check(c_acc, c_opts) == 0
    nbytes = mod.lib.macsim_work_size(8, 8192, 8192, c_acc, c_opts)
    assert 16 * 2**20 <= nbytes <= 17 * 2**20, nbytes / 2**20
    threads = mod.ffi.new("macsim_opts_t *", {**opts, "threads": 4})
    assert mod.lib.macsim_work_size(8, 8192, 8192, c_acc, threads) <= 4 * 17 * 2**20


@needs_c
@pytest.mark.parametrize("acc", ["fp16", "fp32", FixedAccumulator(40, 18)])
def test_multi_pass_fast_loops_equal_the_generic_loop(acc):
    """K = 33000: one panel of decoded B (K × 64 values) is more than a pass, so every panel
    is a pass of its own; results and statistics equal the generic loop's, bit for bit."""
    rng = np.random.default_rng(1)
    a = E4M3.encode(rng.standard_normal((5, 33000)))
    b = E4M3.encode(rng.standard_normal((33000, 130)))
    c1, s1 = gemm(a, b, E4M3, E4M3, accumulator=acc, threads=2)
    c0, s0 = gemm(a, b, E4M3, E4M3, accumulator=acc, fast=False)
    assert s1.fast and not s0.fast
    np.testing.assert_array_equal(c1.view(np.uint64), c0.view(np.uint64))
    assert s1.as_dict() == s0.as_dict()


@needs_c
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gemm_allocates_little_beside_the_codes(dtype):
    """uint8 and uint16 codes are read as they are (no widened copy), non-finite codes are
    looked up in chunks (no full-size mask), and the work memory is one pass: the peak of
    numpy allocations stays far below B's size (it was about 5× B)."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 0x7F, (4, 8192), dtype=dtype)
    b = rng.integers(0, 0x7F, (8192, 4096), dtype=dtype)
    gemm(a[:, :8].copy(), b[:8, :8].copy(), E4M3, E4M3)  # load the module first
    tracemalloc.start()
    try:
        c, st = gemm(a, b, E4M3, E4M3, accumulator="fp32")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert st.fast and peak < 18 * 2**20 < b.nbytes / 1.5, peak / 2**20
    va, vb = E4M3.decode(a[:, :64]).astype(np.float64), E4M3.decode(b[:64, :3]).astype(np.float64)
    c_small, _ = gemm(a[:, :64].copy(), b[:64, :3].copy(), E4M3, E4M3, accumulator="exact")
    np.testing.assert_array_equal(c_small, va @ vb)  # sums of 64 E4M3 products: exact


@needs_c
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, ">u2", np.int64])
@pytest.mark.parametrize(
    "kw",
    [
        {"accumulator": "fp16"},
        {"accumulator": "fp32", "fast": False, "toggles": True},
        {"accumulator": FixedAccumulator(20, 18, "saturate"), "threads": 3},
        {"accumulator": "bf16", "order": "blocks", "block": 8, "per_output": True},
        {"accumulator": "fp16", "order": "pairwise"},
    ],
)
def test_code_dtypes_give_the_same_results_as_uint16(dtype, kw):
    rng = np.random.default_rng(3)
    a16 = E4M3.encode(rng.standard_normal((7, 45)) * 30).astype(np.uint16)
    b16 = E4M3.encode(rng.standard_normal((45, 70))).astype(np.uint16)
    c0, s0 = gemm(a16, b16, E4M3, E4M3, **kw)
    c1, s1 = gemm(a16.astype(dtype), b16.astype(dtype), E4M3, E4M3, **kw)
    c2, s2 = gemm(a16, b16.astype(dtype), E4M3, E4M3, **kw)
    for c, s in ((c1, s1), (c2, s2)):
        np.testing.assert_array_equal(c.view(np.uint64), c0.view(np.uint64))
        assert s.as_dict() == s0.as_dict() and s.fast == s0.fast
    if dtype is np.uint8:  # int8 arrays of non-negative codes are read as uint8
        pos_a, pos_b = a16 & 0x7F, b16 & 0x7E
        c3, s3 = gemm(pos_a.astype(np.int8), pos_b.astype(np.int8), E4M3, E4M3, **kw)
        c4, s4 = gemm(pos_a, pos_b, E4M3, E4M3, **kw)
        np.testing.assert_array_equal(c3.view(np.uint64), c4.view(np.uint64))
        assert s3.as_dict() == s4.as_dict()


# -- an installation without the C core ----------------------------------------------------
@pytest.fixture
def no_c_core(monkeypatch):
    """Imports of lowbit.hwmodel._macsim fail, as in an install built without a compiler."""
    import lowbit.hwmodel

    monkeypatch.delattr(lowbit.hwmodel, "_macsim", raising=False)
    monkeypatch.setitem(sys.modules, "lowbit.hwmodel._macsim", None)


def test_missing_c_core_says_how_to_get_it(no_c_core):
    a = I8.encode(np.ones((2, 2)))
    with pytest.raises(ImportError) as info:
        gemm(a, a, I8, I8)
    msg = str(info.value)
    assert "C compiler" in msg and "reinstall" in msg and "gemm_numpy" in msg
    assert "from the repository root" not in msg


def test_simulate_without_the_c_core_is_a_one_line_error(no_c_core, capsys):
    from lowbit.cli import main

    status = main(["simulate", "--a-format", "int8", "--m", "2", "--k", "2", "--n", "2"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("lowbit: error: lowbit's C MAC simulator") and "C compiler" in err


def _can_build_wheels() -> bool:
    has_bdist = importlib.util.find_spec("wheel") is not None
    try:
        import setuptools

        has_bdist |= tuple(int(x) for x in setuptools.__version__.split(".")[:2]) >= (70, 1)
    except (ImportError, ValueError):
        return False
    return has_bdist and importlib.util.find_spec("cffi") is not None


@pytest.mark.skipif(not _can_build_wheels(), reason="setuptools/wheel/cffi for a local build")
def test_wheel_builds_without_a_c_compiler(tmp_path):
    """CC=false: every compile fails; pip still builds a wheel, without the extension, and
    says why (setup.py's OptionalBuildExt)."""
    src = tmp_path / "src"
    skip = shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "build", "*.egg-info")
    for tree in ("lowbit", "csrc"):
        shutil.copytree(ROOT / tree, src / tree, ignore=skip)
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    env = {"CC": "false", "PATH": "/usr/bin:/bin", "PIP_NO_INDEX": "1", "HOME": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "-v", "--no-deps"]
        + ["--no-build-isolation", "-w", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    wheels = list((tmp_path / "out").glob("lowbit-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "lowbit/hwmodel/macsim/__init__.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd"))], names
    assert "C MAC simulator (lowbit.hwmodel._macsim) was not compiled" in res.stdout + res.stderr
