"""Integer, binary and ternary formats against the exact reference, and the worked
examples of docs/background.md §2."""

from __future__ import annotations

import numpy as np
import pytest

import lowbit
from lowbit import IntFormat
from lowbit.formats import reference as R

MODES = ["nearest_even", "nearest_away", "toward_zero", "down", "up"]
FORMATS = [
    IntFormat(b, signed=s, narrow=n, encoding=e)
    for b in (2, 3, 4, 8)
    for s, n, e in [
        (True, False, "twos_complement"),
        (True, True, "twos_complement"),
        (True, False, "sign_magnitude"),
        (True, False, "offset_binary"),
        (True, True, "offset_binary"),
        (False, False, "twos_complement"),
        (False, True, "twos_complement"),
    ]
]


def _dense(fmt):
    v = np.arange(fmt.qmin - 3, fmt.qmax + 4, dtype=np.float64)
    x = np.concatenate(
        [
            v,
            v + 0.5,
            v + 0.25,
            v - 0.25,
            np.nextafter(v + 0.5, np.inf),
            np.nextafter(v + 0.5, -np.inf),
        ]
    )
    return np.concatenate([x, [0.0, -0.0, np.inf, -np.inf, 1e30, -1e30, 1e-300, -1e-300]])


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_decode_every_code(fmt):
    codes = np.arange(2**fmt.bits)
    ours = fmt.decode(codes).astype(np.float64)
    ref = np.array([R.int_code_value(fmt, int(c)) for c in codes])
    assert np.array_equal(ours, ref, equal_nan=True)
    assert np.array_equal(np.unique(ours[~np.isnan(ours)]), fmt.values())


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("rounding", MODES)
def test_encode_dense_vs_reference(fmt, rounding):
    x = _dense(fmt)
    for dtype in (np.float64, np.float32):
        xi = x.astype(dtype)
        ours = fmt.encode(xi, rounding=rounding)
        ref = np.array([R.encode_int_ref(fmt, float(v), rounding) for v in xi])
        bad = np.flatnonzero(ours.astype(np.int64) != ref)
        assert bad.size == 0, (fmt.name, rounding, xi[bad[:4]], ours[bad[:4]], ref[bad[:4]])
        q = fmt.quantize(xi, rounding=rounding)
        assert q.dtype == dtype
        assert np.array_equal(q, fmt.decode(ours).astype(dtype))
        assert not np.signbit(q[q == 0]).any()  # an integer grid has one zero


def test_registered_ranges():
    assert (lowbit.get_format("int2").qmin, lowbit.get_format("int2").qmax) == (-2, 1)
    assert lowbit.get_format("int8_narrow").qmin == -127
    assert lowbit.get_format("uint8").qmax == 255
    assert lowbit.get_format("int4_sm").encode([-3.0, -0.0, 7.5]).tolist() == [0b1011, 0, 7]
    assert lowbit.get_format("int16").encode([-1.0]).dtype == np.uint16
    assert lowbit.get_format("int32").encode([-1.0]).tolist() == [2**32 - 1]
    t = lowbit.get_format("ternary")
    assert t.values().tolist() == [-1.0, 0.0, 1.0]
    assert lowbit.get_format("int4").quantize(np.array([2.5, 3.5, -2.5, 7.6, 8.0, -9.0], np.float32)).tolist() == [
        2, 4, -2, 7, 7, -8,
    ]  # fmt: skip


def test_binary_format():
    b = lowbit.get_format("binary")
    assert b.bits == 1
    assert b.encode([0.5, -0.0, 0.0, -3.0]).tolist() == [0, 0, 0, 1]
    assert b.quantize([0.5, -0.0, -3.0]).tolist() == [1.0, 1.0, -1.0]
    assert b.decode([0, 1]).tolist() == [1.0, -1.0]
    with pytest.raises(ValueError):
        b.decode([2])
    # stochastic binarisation is unbiased on [-1, 1]
    x = np.full(200_000, 0.3)
    m = b.quantize(x, rounding="stochastic", seed=1).mean()
    assert abs(m - 0.3) < 5 * np.sqrt((1 - 0.3**2) / x.size)


W = np.array(
    [
        [2.09, -0.98, 1.48, 0.09],
        [0.05, -0.14, -1.08, 2.12],
        [-0.91, 1.92, 0, -1.03],
        [1.87, 0, 1.53, 1.49],
    ]
)


def test_worked_example_2bit_per_tensor_and_per_row():
    """docs/background.md §2: 2-bit symmetric narrow range, S = max|W| / qmax."""
    fmt = lowbit.get_format("int2_narrow")
    s = np.abs(W).max() / fmt.qmax
    assert s == 2.12
    err_tensor = np.linalg.norm(W - s * fmt.quantize(W / s))
    rows = np.abs(W).max(axis=1, keepdims=True) / fmt.qmax
    err_rows = np.linalg.norm(W - rows * fmt.quantize(W / rows))
    assert round(err_tensor, 2) == 2.28
    assert round(err_rows, 2) == 2.08


def test_worked_example_binary_and_ternary():
    q, alpha = lowbit.binarize(W)
    assert round(alpha, 2) == 1.05
    assert round(float(np.sum((W - q) ** 2)), 2) == 9.28
    # 9.245 with α = 1.04875 exactly; docs/background.md quotes "≈ 9.24"
    assert float(np.sum((W - alpha * q) ** 2)) == pytest.approx(9.24, abs=0.01)
    q3, delta, rt = lowbit.ternarize(W)
    assert round(delta, 2) == 0.73
    assert rt == pytest.approx(1.5, abs=0.005)
    assert set(np.unique(q3)) <= {-1.0, 0.0, 1.0}
    # the ternary codes are those of the registered format
    t = lowbit.get_format("ternary")
    assert np.array_equal(t.decode(t.encode(q3)), q3.astype(np.float32))
