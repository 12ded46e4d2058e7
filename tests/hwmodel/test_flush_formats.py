"""Formats with ``subnormals="flush"`` have no subnormal values, like ``subnormals=False``:
the hardware model prices them without subnormal logic and the simulator flushes results
below 2^emin (issue 11: the flag is a string, and a truthy check took it for True)."""

from __future__ import annotations

import numpy as np

from lowbit import FloatFormat
from lowbit.hwmodel import mac_cost
from lowbit.hwmodel.macsim import gemm
from lowbit.hwmodel.macsim.reference import gemm_ref


def test_flush_operands_cost_the_same_as_no_subnormals():
    flush, off, on = (FloatFormat(4, 3, subnormals=s) for s in ("flush", False, True))
    assert mac_cost(flush, flush, "fp32").total == mac_cost(off, off, "fp32").total
    assert mac_cost(on, on, "fp32").total != mac_cost(off, off, "fp32").total


def test_flush_accumulator_flushes_results_like_no_subnormals():
    acc_flush, acc_off = (
        FloatFormat(5, 10, subnormals="flush"),
        FloatFormat(5, 10, subnormals=False),
    )
    e4m3 = FloatFormat(4, 3, specials="fn")
    # products of 2^-9 (the smallest E4M3 subnormal) are 2^-18: FP16 subnormals
    a = np.full((2, 4), 0x01, np.uint8)
    b = np.full((4, 3), 0x01, np.uint8)
    c_flush, _ = gemm(a, b, e4m3, e4m3, accumulator=acc_flush)
    c_off, _ = gemm(a, b, e4m3, e4m3, accumulator=acc_off)
    c_on, _ = gemm(a, b, e4m3, e4m3, accumulator=FloatFormat(5, 10))
    np.testing.assert_array_equal(c_flush, c_off)
    np.testing.assert_array_equal(c_flush, 0.0)
    np.testing.assert_array_equal(c_on, 4 * 2.0**-18)
    ref, _ = gemm_ref(a, b, e4m3, e4m3, accumulator=acc_flush)
    np.testing.assert_array_equal(np.asarray(ref, np.float64), c_flush)
