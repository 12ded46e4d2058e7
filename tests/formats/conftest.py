"""Fixtures shared by the format tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def random_f32_patterns() -> np.ndarray:
    """10^6 seeded random float32 bit patterns (every class: NaN, Inf, subnormal, normal)."""
    rng = np.random.default_rng(20261122)
    return rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)


@pytest.fixture(scope="session")
def all_f16() -> np.ndarray:
    return np.arange(2**16, dtype=np.uint16).view(np.float16)


@pytest.fixture(scope="session")
def all_bf16_as_f32() -> np.ndarray:
    return (np.arange(2**16, dtype=np.uint32) << 16).view(np.float32)
