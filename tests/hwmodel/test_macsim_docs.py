"""docs/macsim.md: its examples run, and print the numbers the page shows."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "macsim.md"


@pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built",
)
def test_macsim_md_examples():
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted >= 20
