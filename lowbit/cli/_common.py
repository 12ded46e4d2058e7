"""What several ``lowbit`` commands share: the ``--seed`` type and JSON of numpy scalars."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

#: Seeds are 32-bit unsigned, as recipe seeds (numpy's SeedSequence takes any non-negative
#: integer, but a seed that a recipe could not hold would make a run impossible to record).
SEED_MAX = 2**32 - 1


def seed_int(text: str) -> int:
    """argparse ``type=`` for ``--seed``: an integer in [0, 2^32 - 1].

    >>> seed_int("7")
    7
    >>> seed_int("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expected an integer in [0, 4294967295], got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, {SEED_MAX}], got {text!r}")
    return value


def json_default(obj: Any) -> Any:
    """``json.dumps(default=)`` for numpy scalars (``np.float32(1.5)`` → ``1.5``).

    >>> json_default(np.int8(3))
    3
    """
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
