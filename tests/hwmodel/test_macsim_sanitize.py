"""The C core under AddressSanitizer and UndefinedBehaviorSanitizer.

``csrc/macsim_selftest.c`` drives every loop of ``csrc/macsim.c`` (every accumulator, order,
scale, statistic, 1–3 threads, uint8 and uint16 codes, empty shapes, refused options, B
decoded in passes of one panel) with work memory of exactly
the size the core asks for, and checks the vectorised loops against the generic one.  Built
here with ``-fsanitize=address,undefined -fno-sanitize-recover=all``: any out-of-bounds
access, leak, overflow of a signed integer or bad shift fails the test.  Skips only when no
C compiler with sanitizer runtimes is available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[2] / "csrc"
FLAGS = [
    "-std=c99",
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-ffp-contract=off",
    "-Wall",
    "-Wextra",
    "-Werror",
    # passes of 4 KiB: the fast loops decode B in many passes of one panel each
    "-DMACSIM_PASS_BYTES=4096",
]


@pytest.fixture(scope="module")
def selftest(tmp_path_factory) -> Path:
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path_factory.mktemp("san") / "macsim_selftest"
    cmd = [cc, *FLAGS, f"-I{CSRC}", str(CSRC / "macsim.c"), str(CSRC / "macsim_selftest.c")]
    res = subprocess.run(
        [*cmd, "-lm", "-pthread", "-o", str(exe)], capture_output=True, text=True, timeout=300
    )
    if res.returncode != 0 and "sanitize" in res.stderr and "cannot find" in res.stderr:
        pytest.skip(f"sanitizer runtimes missing: {res.stderr.strip()[:200]}")
    assert res.returncode == 0, res.stderr  # warnings are errors too
    return exe


def test_selftest_clean_under_asan_and_ubsan(selftest):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="")
    res = subprocess.run([str(selftest)], capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "all checks passed" in res.stdout
    assert "runtime error" not in res.stderr and "AddressSanitizer" not in res.stderr
