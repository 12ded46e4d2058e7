"""lowbit.formats.blocking: the one way every block and group-scaled format cuts an axis
into blocks (zero-padded partial block) and puts it back."""

from __future__ import annotations

import numpy as np
import pytest

from lowbit.formats import from_blocks, to_blocks
from lowbit.formats.blocking import check_axis, fast_blocks, moved_shape, unblock


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("k", [1, 3, 4, 7])
def test_round_trip_and_padding(axis, k):
    x = np.arange(24.0).reshape(4, 6)
    b, moved, ax, dtype = to_blocks("demo", x, axis, k)
    n = x.shape[axis]
    assert b.shape[-1] == k and b.shape[-2] == -(-n // k) and dtype == np.float64
    assert moved == moved_shape(x.shape, axis)
    flat = unblock(b)
    assert np.all(flat[..., n:] == 0)  # the padding is zeros
    assert np.array_equal(from_blocks(b, moved, ax), x)


def test_zero_rows_and_errors():
    b, moved, ax, _ = to_blocks("demo", np.zeros((0, 5), np.float32), -1, 4)
    assert b.shape == (0, 2, 4) and from_blocks(b, moved, ax).shape == (0, 5)
    with pytest.raises(ValueError, match="demo: block formats need at least one axis"):
        to_blocks("demo", np.float32(1.0), -1, 4)
    with pytest.raises(TypeError, match="demo: block formats take floating-point input"):
        to_blocks("demo", np.ones(4, np.int32), -1, 4)
    with pytest.raises(ValueError, match=r"demo: axis=2 is out of range .* -2\.\.1"):
        check_axis("demo", 2, 2)


def test_fast_blocks_only_for_whole_float32_blocks():
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    xb, finish = fast_blocks(x, 0, 2)
    assert xb.shape == (4, 2) and np.array_equal(finish(xb), x)
    assert fast_blocks(x, -1, 3) is None  # a partial block
    assert fast_blocks(x.astype(np.float64), -1, 2) is None
