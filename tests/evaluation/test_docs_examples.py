"""The evaluation docstring examples, including those marked SKIP (they need the C core)."""

from __future__ import annotations

import doctest
import importlib
import importlib.util

import pytest


@pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built",
)
@pytest.mark.parametrize("module", ["operands", "gemm", "seeds"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"lowbit.evaluation.{module}")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(mod):
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 3
