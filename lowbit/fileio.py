"""Output files that are never left half-written.

Every file lowbit writes goes first to a temporary name in the destination's own directory
and is renamed over the destination only when the writer finished without an exception
(``os.replace`` is atomic on POSIX file systems). A failure, a full disk or Ctrl-C therefore
leaves the previous output untouched and no temporary file behind.

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "out.txt")
>>> with atomic_path(p) as tmp:
...     with open(tmp, "w") as fh:
...         _ = fh.write("done")
>>> open(p).read(), sorted(os.listdir(d))
('done', ['out.txt'])
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "STDOUT",
    "atomic_path",
    "atomic_dir",
    "check_output",
    "open_output",
    "same_file",
    "write_table",
]

#: The output name that means standard output (``-o -``), as in most Unix tools.
STDOUT = "-"
_KEPT = "nothing was replaced"


class _WriteError(OSError):
    """An OSError raised while writing an output, its message naming that output."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; rename it onto ``path`` on success.

    ``suffix`` (default: ``path``'s own) keeps writers that look at the extension
    (``np.save``, matplotlib) from changing it. The temporary file is removed on any
    exception, ``KeyboardInterrupt`` included, and the exception propagates.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if suffix is None:
        suffix = path.suffix
    with _naming(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=parent)
    try:
        # mkstemp makes the file private (0600); the output gets the mode open() would give
        # it (0666 less the umask), or keeps the mode of the file it replaces
        os.close(fd)
        os.chmod(tmp, _mode_of(path, 0o666))
        yield tmp
        with _naming(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty directory beside ``path``; swap it in for ``path`` on success.

    Whatever ``path`` held before (stale files of an earlier run included) is removed only
    once the new contents are complete; on failure the old directory stays as it was.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    with _naming(path):
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        os.chmod(tmp, _mode_of(path, 0o777))  # mkdtemp's 0700, as for atomic_path
        yield tmp
        old = _swap_in(tmp, path, parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _swap_in(new: Path, path: Path, parent: Path) -> Path | None:
    """Rename ``new`` to ``path``, moving an existing ``path`` aside first (two renames: a
    directory cannot replace a non-empty one); return where the old one went."""
    old = None
    with _naming(path):
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.rmdir(old)
            os.replace(path, old)
        try:
            os.replace(new, path)
        except BaseException:
            if old is not None:  # put the previous folder back
                os.replace(old, path)
            raise
    return old


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    # an OSError about the temporary name would puzzle the user: name the output instead
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None


def _mode_of(path: Path, default: int) -> int:
    """Permission bits for a new ``path``: those of the file it replaces, else ``default``
    less the process umask (what ``open``/``mkdir`` would give)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)  # the only way to read the umask is to set it
        os.umask(umask)
        return default & ~umask


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file (through links too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) -> None:
    """Raise ``ValueError`` when the output ``path`` names one of the ``inputs``.

    Writing the result over its own input (also through a symbolic or hard link) would
    destroy the data it was computed from; ``None`` and ``"-"`` (standard streams) are
    skipped.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy"); _ = open(p, "w").write("x")
    >>> check_output(p, [p])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: output ...x.npy is the input file ...x.npy; choose another output name
    """
    for src in inputs:
        if src is None or str(src) == STDOUT or str(path) == STDOUT:
            continue
        if same_file(path, src):
            raise ValueError(f"output {path} is the input file {src}; choose another output name")


@contextlib.contextmanager
def open_output(
    path: str | os.PathLike,
    mode: str = "w",
    inputs: Iterable[str | os.PathLike | None] = (),
    **open_kw: Any,
) -> Iterator[IO]:
    """Open an output for writing: ``"-"`` is standard output, any other name is written
    to a temporary file beside it and renamed onto it when the ``with`` block succeeds.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes; standard output's binary buffer).
    ``inputs`` are the files the output is computed from: naming one of them as the output
    raises ``ValueError`` before anything is written (:func:`check_output`). On an
    exception (Ctrl-C included) a previous file at ``path`` stays as it was.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> with open_output(p, newline="") as fh:
    ...     _ = fh.write("a,b\\n")
    >>> open(p).read()
    'a,b\\n'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"open_output: mode must be 'w' or 'wb', got {mode!r}")
    check_output(path, inputs)
    if str(path) == STDOUT:
        sys.stdout.flush()  # text printed before must come out before the bytes
        stream = sys.stdout if mode == "w" else sys.stdout.buffer
        yield stream
        stream.flush()
        return
    with atomic_path(path) as tmp, open(tmp, mode, **open_kw) as fh:
        try:
            yield fh
        except _WriteError:  # an output opened inside this one failed: already named
            raise
        except OSError as exc:
            # numpy's short-write error ("100000 requested and 1008 written") names no file
            message = f"writing {path} failed ({exc.strerror or exc}); {_KEPT}"
            raise (_WriteError(exc.errno, message) if exc.errno else _WriteError(message)) from None


def write_table(
    df: Any, path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()
) -> None:
    """Write a pandas DataFrame as Parquet (``*.parquet``) or CSV (any other name; ``"-"``:
    CSV on standard output), through :func:`open_output`.

    Parquet needs pyarrow, the ``lowbit[parquet]`` extra: without it this raises
    ``ImportError`` saying so, before anything is written.

    >>> import tempfile, os, pandas as pd
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> write_table(pd.DataFrame({"a": [1, 2]}), p); open(p).read()
    'a\\n1\\n2\\n'
    """
    if Path(path).suffix.lower() == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise ImportError(
                f"writing {path} (Parquet) needs pyarrow: pip install 'lowbit[parquet]', "
                "or name a .csv output"
            )
        with open_output(path, "wb", inputs) as fh:
            df.to_parquet(fh, index=False)
        return
    with open_output(path, "w", inputs, newline="", encoding="utf-8") as fh:
        df.to_csv(fh, index=False, lineterminator="\n")
