"""Cutting an array into blocks along one axis and putting it back.

Every block and group-scaled format (``block.py``, ``scaling.py``) splits its input the
same way: ``axis`` moved last, a trailing partial block zero-padded (for the scale
computation only), the result reshaped to (..., n_blocks, block_size).  ``from_blocks``
undoes it, dropping the padding, so outputs keep the input's shape.

>>> import numpy as np
>>> b, moved, axis, dtype = to_blocks("demo", np.arange(5.0), -1, 2)
>>> b.tolist(), moved
([[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]], (5,))
>>> from_blocks(b, moved, axis).tolist()
[0.0, 1.0, 2.0, 3.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import FormatError, as_float_input

#: Largest block (or group) size: far above every published format (16-128), and small
#: enough that padding one partial block costs at most a few MiB.
MAX_BLOCK_SIZE = 1 << 16


def check_block_size(name: str, what: str, v, limit: int = MAX_BLOCK_SIZE) -> int:
    """``v`` as an int in [1, limit], else TypeError/ValueError naming the legal range.

    >>> check_block_size("demo", "block_size", 32)
    32
    """
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: {what} must be an int in 1..{limit}, got {v!r}")
    if not 1 <= v <= limit:
        raise FormatError(f"{name}: {what}={v}; legal range is 1..{limit}")
    return int(v)


def check_float_array(name: str, x) -> tuple[np.ndarray, np.dtype]:
    """(x as an array, the result dtype) for block and scaled formats, which take
    floating-point arrays only (their scales come from the data; an integer tensor is a
    code array, not data): TypeError otherwise.

    >>> check_float_array("demo", np.ones(2, np.float16))[1]
    dtype('float32')
    """
    kind = np.asarray(x).dtype.kind
    if kind in "iub":
        raise TypeError(
            f"{name}: block formats take floating-point input, got {np.asarray(x).dtype} "
            "(convert with .astype(np.float32))"
        )
    arr, dtype = as_float_input(name, x)
    # A block value is an element times its scales, which float16 cannot always hold (it
    # would round or overflow in the final cast): results are at least float32, the dtype
    # decode returns (issue 11, F17).
    return arr, np.promote_types(dtype, np.float32)


def check_axis(name: str, axis, ndim: int, what: str = "axis") -> int:
    """``axis`` normalised to [0, ndim), else TypeError (not an int) or ValueError naming
    the legal range (never numpy's AxisError).

    >>> check_axis("demo", -1, 3)
    2
    """
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: {what} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}: {what}={axis} is out of range for a {ndim}-d array; "
            f"legal range is {-ndim}..{ndim - 1}"
        )
    return int(axis) % ndim


def moved_shape(shape, axis: int) -> tuple[int, ...]:
    """``shape`` with ``axis`` moved last (the layout of a BlockArray's codes).

    >>> moved_shape((2, 3, 4), 1)
    (2, 4, 3)
    """
    shape = tuple(shape)
    axis = axis % len(shape)
    return shape[:axis] + shape[axis + 1 :] + (shape[axis],)


def to_blocks(name: str, x, axis: int, k: int):
    """(float64 array (..., n_blocks, k) zero-padded, moved shape, normalised axis, dtype).

    ``dtype`` is the result dtype of :func:`check_float_array`; see the module example.
    """
    arr, out_dtype = check_float_array(name, x)
    if arr.ndim == 0:
        raise ValueError(f"{name}: block formats need at least one axis, got a 0-d array")
    axis = check_axis(name, axis, arr.ndim)
    with np.errstate(invalid="ignore"):
        a = np.moveaxis(arr, axis, -1).astype(np.float64)
    n = a.shape[-1]
    nb = -(-n // k)
    if nb * k != n:
        a = np.concatenate([a, np.zeros(a.shape[:-1] + (nb * k - n,))], axis=-1)
    return a.reshape(a.shape[:-1] + (nb, k)), a.shape[:-1] + (n,), axis, out_dtype


def unblock(v: np.ndarray) -> np.ndarray:
    """(..., n_blocks, k) → (..., n_blocks · k); explicit sizes, so zero-row input works
    (numpy cannot infer -1 for an empty array).

    >>> unblock(np.zeros((3, 2, 4))).shape
    (3, 8)
    """
    return v.reshape(v.shape[:-2] + (v.shape[-2] * v.shape[-1],))


def from_blocks(v: np.ndarray, moved: tuple[int, ...], axis: int) -> np.ndarray:
    """Undo :func:`to_blocks`: drop the padding, move the last axis back to ``axis``
    (see the module example)."""
    n = moved[-1]
    v = unblock(v)[..., :n]
    return np.moveaxis(v, -1, axis)


def fast_blocks(x, axis, k) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
    """For float32 input whose ``axis`` length is a multiple of ``k``: the input as a
    contiguous (n_blocks, k) float32 array and a function putting results back in shape.
    None when the general path must run (other dtypes, partial blocks, bad axis).

    >>> xb, finish = fast_blocks(np.ones((2, 4), np.float32), 0, 2)
    >>> xb.shape, finish(xb).shape
    ((4, 2), (2, 4))
    """
    arr = np.asarray(x)
    if arr.dtype != np.float32 or arr.ndim == 0 or not arr.dtype.isnative:
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        return None
    if not -arr.ndim <= axis < arr.ndim or arr.shape[axis] % k or arr.size == 0:
        return None
    moved = np.moveaxis(arr, axis, -1)
    xb = np.ascontiguousarray(moved).reshape(-1, k)

    def finish(out):
        return np.moveaxis(out.reshape(moved.shape), -1, axis)

    return xb, finish
