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
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_dir", "same_file"]


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=parent)
    os.close(fd)
    try:
        yield tmp
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
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
        os.rmdir(old)
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file (through links too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
