"""How lowbit's numba kernels are compiled and run: compile options, the chunk runner
that cuts an array call into pieces for lowbit's threads, the serial/threaded pick, and the
integer ids the kernels take for a rounding mode, a subnormal rule or an integer encoding.

The ids are read from the policy lists in lowbit/formats/base.py (the only copy); the
kernels compare against these module constants, which numba freezes into the compiled
code.  numba's on-disk cache (``cache=True``) is keyed on each kernel's own source file,
so a change of base.ROUNDING_MODES' order needs the ``__pycache__/*.nbi``/``*.nbc`` files
of this package removed (the order is part of the public Literal and does not change).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ... import threads as _threads
from ..base import ENCODING_IDS, ROUNDING_IDS

# rounding ids (base.ROUNDING_IDS)
RNE = ROUNDING_IDS["nearest_even"]
RNA = ROUNDING_IDS["nearest_away"]
RTZ = ROUNDING_IDS["toward_zero"]
RDN = ROUNDING_IDS["down"]
RUP = ROUNDING_IDS["up"]
RSR = ROUNDING_IDS["stochastic"]
# integer encodings (base.ENCODING_IDS)
ENC_TWOS = ENCODING_IDS["twos_complement"]
ENC_SIGN_MAG = ENCODING_IDS["sign_magnitude"]
ENC_OFFSET = ENCODING_IDS["offset_binary"]
ENC_UNSIGNED = ENCODING_IDS["unsigned"]
# subnormal rules (FloatFormat.subnormals False / True / "flush")
SUBN_OFF, SUBN_ON, SUBN_FLUSH = 0, 1, 2

_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)


def _build(fn, split=(0, 1), combine="sum", serial_if=None):
    """(serial kernel, threaded runner) for ``fn``.

    Only the serial compilation exists: the runner cuts the arguments at positions
    ``split`` along their first axis (those whose first axis has the data's length, so a
    one-word ``NO_RANDOM`` passes whole) and runs the serial kernel on the pieces in
    lowbit's threads (lowbit/threads.py explains why not numba's ``parallel=True``).
    ``combine`` merges the pieces' return values ("sum", "max" or None);
    ``serial_if(args)`` true means this call cannot be cut (the kernel needs all rows).
    """
    serial = nb.njit(**_OPTS)(fn)
    return serial, _Chunked(serial, split, combine, serial_if)


#: Arrays shorter than this run serially, and no piece is shorter: below ~2^16 values the
#: hand-over to a helper thread costs more than the helper saves.
PARALLEL_MIN = 1 << 16
#: Pieces per thread: small pieces let the caller take over the work of a helper that the
#: OS does not schedule (busy machine); each piece costs a few microseconds of dispatch.
PIECES_PER_THREAD = 8


class _Chunked:
    """Calls a serial kernel on row ranges of its array arguments in lowbit's threads."""

    def __init__(self, kernel, split, combine, serial_if):
        self.kernel = kernel
        self.split = split
        self.combine = combine
        self.serial_if = serial_if
        #: threaded calls so far (tests observe which path ran)
        self.calls = 0

    def __call__(self, *args):
        threads = _threads.get_num_threads()
        lead = args[self.split[0]]
        rows = lead.shape[0]
        if threads < 2 or rows == 0 or (self.serial_if is not None and self.serial_if(args)):
            return self.kernel(*args)
        per_row = max(lead.size // rows, 1)
        step = max(-(-PARALLEL_MIN // per_row), -(-rows // (threads * PIECES_PER_THREAD)))
        if per_row < 16:
            step = -(-step // 16) * 16  # whole cache lines of a 1-D output at every cut
        nchunks = -(-rows // step)
        if nchunks < 2:
            return self.kernel(*args)
        self.calls += 1
        cut = [
            i
            for i in self.split
            if isinstance(args[i], np.ndarray) and args[i].ndim and args[i].shape[0] == rows
        ]

        def piece(c):
            a = list(args)
            for i in cut:
                a[i] = args[i][c * step : (c + 1) * step]
            return self.kernel(*a)

        res = _threads.run_chunks(piece, nchunks, threads)
        if res[0] is None:  # the kernel returns nothing
            return None
        if self.combine == "sum":
            return sum(res)
        if self.combine == "max":
            return max(res)
        return None


def pick(kernels, n: int):
    """The serial kernel for short arrays or one thread, else the threaded runner."""
    if n >= 2 * PARALLEL_MIN and _threads.get_num_threads() > 1:
        return kernels[1]
    return kernels[0]


NO_RANDOM = np.zeros(1, dtype=np.uint64)
