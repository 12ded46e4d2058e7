"""The ``lowbit`` command line: one module per command, registered here.

``formats``, ``info``, ``quantize``, ``report``, ``hw``, ``sweep``, ``tensors``,
``simulate`` and ``model`` each live in ``lowbit/cli/<command>.py``, which holds
``add_parser(sub)`` (its options) and ``run(args)`` (the command). This module builds the parser and runs the command.

``main(argv)`` returns the exit status: 0 on success, 2 for bad input (unknown format or
policy, unreadable file, bad arguments, a failed write, too little memory), reported as one
line ``lowbit: error: ...``, and 130 after Ctrl-C (the shell's code for SIGINT).
``lowbit sweep`` returns 1 when its file was written but some rows failed.

Every output is written to a temporary name and renamed when complete
(:func:`lowbit.fileio.open_output`): a failure leaves the previous output as it was. ``-o -``
is standard output; an output that names the input file is refused.

The command modules import what they need inside ``run``: ``lowbit --version`` and
``lowbit --help`` load neither pandas, matplotlib nor the report.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from . import formats, hw, info, model, quantize, report, simulate, sweep, tensors
from ._common import SEED_MAX, seed_int

__all__ = ["SEED_MAX", "main", "seed_int"]

#: The commands in the order ``lowbit --help`` lists them.
COMMANDS = (formats, info, quantize, report, hw, sweep, tensors, simulate, model)


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so errors stay one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's hook for every parse error
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lowbit", description="Bit-exact low-precision number formats.")
    parser.add_argument("--version", action="version", version=f"lowbit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    >>> main(["--version"])  # doctest: +ELLIPSIS
    lowbit ...
    0
    """
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
        return args.run(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `lowbit info int8 | head`: the reader left; not an error
        _silence_stdout()
        return 0
    except KeyboardInterrupt:  # Ctrl-C: outputs are left as they were (lowbit.fileio)
        print("lowbit: interrupted", file=sys.stderr)
        return 130
    except _EXPECTED as exc:
        print(f"lowbit: error: {_one_line(exc)}", file=sys.stderr)
        return 2


#: What a user's input or machine can cause; anything else is a bug and keeps its traceback.
#: EOFError: a truncated file; MemoryError: a size beyond this machine; ImportError: an
#: optional dependency (pyarrow) missing; OverflowError: a number beyond float range.
_EXPECTED = (
    _UsageError,
    ValueError,
    TypeError,
    OSError,
    EOFError,
    MemoryError,
    ImportError,
    OverflowError,
)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, MemoryError):
        return f"out of memory: {text}" if text else "out of memory"
    if isinstance(exc, OverflowError):
        return f"a number is too large: {text}" if text else "a number is too large"
    return text.splitlines()[0] if text else type(exc).__name__


def _silence_stdout() -> None:
    # Python's advice for SIGPIPE: point stdout at devnull so the flush at exit cannot fail.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
