"""lowbit's thread setting and its threaded kernels: same results, fork-safe, thread-safe."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import lowbit
from lowbit import threads
from lowbit.formats import _kernels as K

# enough values for several pieces (pieces are at least PARALLEL_MIN values)
N = 4 * K.PARALLEL_MIN
needs_two = pytest.mark.skipif(threads.max_threads() < 2, reason="one CPU: no second thread")


@pytest.fixture
def restore_threads():
    old = lowbit.get_num_threads()
    yield
    lowbit.set_num_threads(old)


def _data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32) * np.float32(40)
    # specials and subnormals in every piece
    x[:: K.PARALLEL_MIN // 3] = np.float32(np.inf)
    x[1 :: K.PARALLEL_MIN // 5] = np.float32(1e-40)
    x[2 :: K.PARALLEL_MIN // 7] = -np.float32(1e30)
    return x


def _cases():
    """(name, callable(x) -> array) covering every kernel the runner cuts."""
    e4 = lowbit.get_format("fp8_e4m3fn")
    e5 = lowbit.get_format("fp8_e5m2")
    i8 = lowbit.get_format("int8")
    e8 = lowbit.get_format("e8m0")
    mx = lowbit.get_format("mxfp8_e4m3")
    mx9 = lowbit.get_format("mx9")
    nv = lowbit.get_format("nvfp4")
    fin = lambda x: np.where(np.isfinite(x), x, np.float32(3.0)).astype(np.float32)  # noqa: E731
    return [
        ("quantize_f32_rne", lambda x: e4.quantize(x)),
        ("quantize_f32_fast", lambda x: e5.quantize(x, rounding="nearest_away")),
        ("quantize_float stochastic", lambda x: e4.quantize(x, rounding="stochastic", seed=7)),
        ("quantize_float f64", lambda x: e5.quantize(x.astype(np.float64), rounding="up")),
        ("encode_f32_rne", lambda x: e4.encode(x)),
        ("encode_f32_fast", lambda x: e4.encode(x, rounding="toward_zero")),
        ("encode_float stochastic", lambda x: e5.encode(x, rounding="stochastic", seed=3)),
        ("decode_lut", lambda x: e4.decode(e4.encode(x))),
        ("int quantize rne", lambda x: i8.quantize(x)),
        ("int quantize stochastic", lambda x: i8.quantize(x, rounding="stochastic", seed=1)),
        ("int encode", lambda x: i8.encode(x, rounding="nearest_away")),
        ("int encode rne", lambda x: i8.encode(x)),
        ("e8m0 encode", lambda x: e8.encode(np.abs(fin(x)) + 1)),
        ("mx", lambda x: mx.quantize(fin(x))),
        ("mx9", lambda x: mx9.quantize(fin(x))),
        ("nvfp4", lambda x: nv.quantize(fin(x))),
    ]


@needs_two
@pytest.mark.parametrize("name,fn", _cases(), ids=[c[0] for c in _cases()])
def test_two_threads_give_the_serial_bits(restore_threads, name, fn):
    x = _data()
    lowbit.set_num_threads(1)
    ref = fn(x)
    lowbit.set_num_threads(2)
    got = fn(x)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert np.array_equal(got.view(np.uint8), ref.view(np.uint8)), name


@needs_two
def test_vsquant_per_channel_threaded_per_tensor_serial(restore_threads):
    x = _data(992 * 512).reshape(512, 992)
    x = np.where(np.isfinite(x), x, 1.0).astype(np.float32)
    for outer in ("per_channel", "per_tensor"):
        f = lowbit.VSQuant(outer=outer)
        lowbit.set_num_threads(1)
        ref = f.quantize(x)
        lowbit.set_num_threads(2)
        before = K.vsq_quantize[1].calls
        got = f.quantize(x)
        assert np.array_equal(got, ref), outer
        ran_threaded = K.vsq_quantize[1].calls > before
        assert ran_threaded == (outer == "per_channel")


@needs_two
def test_setting_selects_the_kernel(restore_threads):
    f = lowbit.get_format("fp8_e4m3fn")
    x = _data()
    lowbit.set_num_threads(1)
    assert lowbit.get_num_threads() == 1
    assert K.pick(K.quantize_f32_rne, N) is K.quantize_f32_rne[0]
    before = K.quantize_f32_rne[1].calls
    f.quantize(x)
    assert K.quantize_f32_rne[1].calls == before  # serial kernel, no pieces
    lowbit.set_num_threads(2)
    assert lowbit.get_num_threads() == 2
    assert K.pick(K.quantize_f32_rne, N) is K.quantize_f32_rne[1]
    assert K.pick(K.quantize_f32_rne, K.PARALLEL_MIN) is K.quantize_f32_rne[0]  # short
    f.quantize(x)
    assert K.quantize_f32_rne[1].calls == before + 1


@needs_two
def test_helpers_do_run_pieces(restore_threads):
    # a piece that waits for a second piece to start can only finish with two threads
    started = [threading.Event(), threading.Event()]

    def piece(i):
        started[i].set()
        assert started[1 - i].wait(10), "the other piece never ran alongside"
        return threading.get_ident()

    idents = threads.run_chunks(piece, 2, 2)
    assert idents[0] != idents[1]


def test_piece_errors_reach_the_caller():
    def piece(i):
        if i == 3:
            raise ZeroDivisionError("piece 3")
        return i

    with pytest.raises(ZeroDivisionError, match="piece 3"):
        threads.run_chunks(piece, 6, 2)
    assert threads.run_chunks(lambda i: -i, 3, 1) == [0, -1, -2]


@pytest.mark.parametrize("bad", [0, -1, 10**6])
def test_bad_counts_are_refused(restore_threads, bad):
    with pytest.raises(ValueError, match=rf"1\.\.{threads.max_threads()}"):
        lowbit.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", True, None])
def test_non_integers_are_refused(restore_threads, bad):
    with pytest.raises(TypeError, match="thread count must be an int"):
        lowbit.set_num_threads(bad)


def test_numpy_integers_are_accepted(restore_threads):
    lowbit.set_num_threads(np.int64(1))
    assert lowbit.get_num_threads() == 1 and type(lowbit.get_num_threads()) is int


def _child(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    for k in ("LOWBIT_NUM_THREADS", "NUMBA_NUM_THREADS"):
        full.pop(k, None)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_environment_variable_is_read_at_import():
    code = "import lowbit; print(lowbit.get_num_threads())"
    assert _child(code, {"LOWBIT_NUM_THREADS": "1"}).stdout.strip() == "1"
    # NUMBA_NUM_THREADS is the fallback, LOWBIT_NUM_THREADS wins over it
    assert _child(code, {"NUMBA_NUM_THREADS": "1"}).stdout.strip() == "1"
    hi = threads.max_threads()
    assert _child(code, {}).stdout.strip() == str(hi)
    r = _child(code, {"LOWBIT_NUM_THREADS": str(hi), "NUMBA_NUM_THREADS": "1"})
    assert r.stdout.strip() == str(hi)


@pytest.mark.parametrize("value", ["0", "two", str(10**6)])
def test_bad_environment_variable_is_refused(value):
    r = _child("import lowbit", {"LOWBIT_NUM_THREADS": value})
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "LOWBIT_NUM_THREADS" in r.stderr
    assert f"1..{threads.max_threads()}" in r.stderr


@needs_two
def test_fork_after_threaded_kernel():
    """F3: a fork()ed pool after a threaded call returns the serial result (it used to
    abort in the child, "fork() called from a process already using GNU OpenMP", and
    Pool.map never returned).  Run in a subprocess so a regression fails, not hangs."""
    code = """
        import multiprocessing as mp
        import numpy as np, lowbit
        from lowbit.formats import _kernels as K

        f = lowbit.get_format("fp8_e4m3fn")
        x = (np.random.default_rng(1).standard_normal(1 << 20) * 30).astype(np.float32)
        lowbit.set_num_threads(2)
        q = f.quantize(x)
        assert K.quantize_f32_rne[1].calls == 1, "the parent did not run threaded"

        def work(i):
            before = K.quantize_f32_rne[1].calls
            r = f.quantize(x * np.float32(i))
            return r, K.quantize_f32_rne[1].calls - before

        with mp.get_context("fork").Pool(2) as pool:
            res = pool.map_async(work, [1, 2, 3]).get(timeout=60)
        lowbit.set_num_threads(1)
        for i, (r, threaded) in zip([1, 2, 3], res):
            assert threaded == 1, "the child did not run threaded"
            assert np.array_equal(r.view(np.uint32), f.quantize(x * np.float32(i)).view(np.uint32))
        print("OK", len(res))
    """
    r = _child(code, {}, timeout=150)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "OK 3"


@needs_two
def test_concurrent_calls_from_eight_threads(restore_threads):
    lowbit.set_num_threads(2)
    f = lowbit.get_format("fp8_e4m3fn")
    i8 = lowbit.get_format("int8")
    xs = [_data(seed=s) for s in range(8)]
    lowbit.set_num_threads(1)
    refs = [(f.quantize(x), i8.encode(np.nan_to_num(x, posinf=0.0))) for x in xs]
    lowbit.set_num_threads(2)
    got: list = [None] * 8
    errors: list = []
    barrier = threading.Barrier(8)

    def worker(k):
        try:
            barrier.wait()
            for _ in range(4):
                got[k] = (f.quantize(xs[k]), i8.encode(np.nan_to_num(xs[k], posinf=0.0)))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors and all(not t.is_alive() for t in ts)
    for (q, c), (rq, rc) in zip(got, refs, strict=True):
        assert np.array_equal(q.view(np.uint32), rq.view(np.uint32))
        assert np.array_equal(c, rc)
