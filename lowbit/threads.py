"""How many threads lowbit's array kernels use, and the small pool that runs them.

lowbit's kernels are compiled serially (no ``parallel=True``); a long array is cut into
chunks that the calling thread and up to n - 1 helper threads take from a shared counter,
each chunk running the serial, GIL-free kernel on its own slice.  Why not numba's threading
layers: GNU OpenMP aborts a ``fork()``ed child that uses it, the workqueue layer aborts the
process when two Python threads launch parallel regions at once, TBB is an extra binary
dependency, and all three split the work into fixed per-thread shares, so one thread that
the OS does not schedule (a busy machine) holds up the whole call.  Here the caller works
too: if the helpers are not scheduled, it takes every chunk itself, so a call is never much
slower than the serial kernel.  Nothing numba-global is changed (threading layer, thread
count), so a program's own numba code is unaffected.

Fork safety: a child process gets a fresh, empty pool (``os.register_at_fork``); the
helpers of the parent do not exist there and are started again when needed.

The setting: ``LOWBIT_NUM_THREADS`` read at import, else ``NUMBA_NUM_THREADS`` if set,
else the number of CPUs this process may run on; ``set_num_threads`` changes it at run
time for every thread of the process.  1 means the serial kernels always.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

__all__ = ["get_num_threads", "max_threads", "run_chunks", "set_num_threads"]

ENV_VAR = "LOWBIT_NUM_THREADS"


def max_threads() -> int:
    """The largest legal thread count: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _check(n, source: str) -> int:
    hi = max_threads()
    if isinstance(n, bool) or not isinstance(n, int):
        try:
            import numpy as np

            ok = isinstance(n, np.integer)
        except ImportError:  # pragma: no cover - numpy is a dependency
            ok = False
        if not ok:
            raise TypeError(f"{source}: the thread count must be an int in 1..{hi}, got {n!r}")
    n = int(n)
    if not 1 <= n <= hi:
        raise ValueError(
            f"{source}: the thread count must lie in 1..{hi} (the CPUs this process may use), "
            f"got {n}"
        )
    return n


def _from_env() -> int:
    raw = os.environ.get(ENV_VAR)
    if raw is not None and raw.strip():
        try:
            n = int(raw.strip())
        except ValueError:
            raise ValueError(
                f"{ENV_VAR}={raw!r} is not an integer; legal range 1..{max_threads()}"
            ) from None
        return _check(n, ENV_VAR)
    numba_n = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if numba_n.isdigit() and int(numba_n) >= 1:
        return min(int(numba_n), max_threads())
    return max_threads()


_num_threads = _from_env()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (1..the CPUs this process may run on) in lowbit's array kernels.

    Applies to every thread of the process from the next call on; 1 means the serial
    kernels always.  Results never depend on it.

    >>> import lowbit
    >>> old = lowbit.get_num_threads()
    >>> lowbit.set_num_threads(1); lowbit.get_num_threads()
    1
    >>> lowbit.set_num_threads(old)
    """
    global _num_threads
    _num_threads = _check(n, "lowbit.set_num_threads")


def get_num_threads() -> int:
    """The number of threads lowbit's array kernels use (see :func:`set_num_threads`).

    >>> import lowbit
    >>> 1 <= lowbit.get_num_threads()
    True
    """
    return _num_threads


# --------------------------------------------------------------------------- the pool


class _Job:
    """One call cut into ``nchunks`` pieces; any thread may take the next piece."""

    def __init__(self, run: Callable[[int], object], nchunks: int):
        self.run = run
        self.nchunks = nchunks
        self.results: list[object] = [None] * nchunks
        self.error: BaseException | None = None
        self._claimed = 0
        self._left = nchunks
        self._lock = threading.Lock()
        self.done = threading.Event()

    def work(self) -> None:
        while True:
            with self._lock:
                i = self._claimed
                self._claimed += 1
            if i >= self.nchunks:
                return
            try:
                self.results[i] = self.run(i)
            except BaseException as e:  # re-raised in the calling thread
                self.error = self.error or e
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self.done.set()


class _Pool:
    """Helper threads that wait for job tokens on one queue."""

    def __init__(self):
        self.tokens: queue.SimpleQueue = queue.SimpleQueue()
        self.helpers: list[threading.Thread] = []
        self.lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            self.tokens.get().work()

    def offer(self, job: _Job, helpers: int) -> None:
        with self.lock:
            while len(self.helpers) < helpers:
                t = threading.Thread(target=self._loop, name="lowbit-helper", daemon=True)
                t.start()
                self.helpers.append(t)
        for _ in range(helpers):
            self.tokens.put(job)


_pool = _Pool()


def _fresh_pool() -> None:
    # after fork() only the forking thread exists: the parent's helpers, queue and locks
    # (possibly held by a thread that is gone) must not be used
    global _pool
    _pool = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_pool)


def run_chunks(run: Callable[[int], object], nchunks: int, threads: int) -> list[object]:
    """``[run(0), ..., run(nchunks - 1)]``, computed by the caller and ``threads - 1`` helpers.

    ``run`` must release the GIL for the pieces to overlap (lowbit's kernels are ``nogil``).

    >>> run_chunks(lambda i: i * i, 4, 2)
    [0, 1, 4, 9]
    """
    helpers = min(threads, nchunks) - 1
    if helpers <= 0:
        return [run(i) for i in range(nchunks)]
    job = _Job(run, nchunks)
    _pool.offer(job, helpers)
    job.work()
    job.done.wait()
    if job.error is not None:
        raise job.error
    return job.results
