"""cffi out-of-line API-mode builder for the MAC-array simulator core (macsim.c).

Run ``python csrc/build_macsim.py`` from the repository root to build
``lowbit/hwmodel/_macsim*.so`` in place.  setuptools builds it at install time through
``cffi_modules=["csrc/build_macsim.py:ffibuilder"]``; setup.py makes that build optional
(without a C compiler lowbit installs without the simulator, with a warning).

Flags: -O3, C99, and no FMA contraction: the TwoSum in macsim.c must see plain IEEE
double additions.  Never add -ffast-math (or -Ofast).
"""

from __future__ import annotations

import pathlib
import re

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def _cdef() -> str:
    """The declarations of macsim.h (one source of truth), without guards and includes."""
    text = (HERE / "macsim.h").read_text(encoding="utf-8")
    body = text.split("#include <stdint.h>", 1)[1]
    body = body.rsplit("#endif", 1)[0]
    # cffi reads only plain integer macros: "(-1)" → "-1"
    return re.sub(r"#define (\w+) \((-\d+)\)", r"#define \1 \2", body)


CDEF = _cdef()

EXTRA_COMPILE_ARGS = ["-O3", "-std=c99", "-ffp-contract=off", "-fno-fast-math", "-pthread"]


def make_builder(base: pathlib.Path | None = None) -> FFI:
    """The builder; paths relative to the repository root unless ``base`` is given.

    setuptools wants relative source paths (it runs from the root); a standalone
    build passes the absolute root because cffi compiles from inside its tmpdir.
    """
    csrc = (base / "csrc") if base is not None else pathlib.Path("csrc")
    builder = FFI()
    builder.cdef(CDEF)
    builder.set_source(
        "lowbit.hwmodel._macsim",
        '#include "macsim.h"',
        sources=[str(csrc / "macsim.c")],
        include_dirs=[str(csrc)],
        extra_compile_args=EXTRA_COMPILE_ARGS,
        libraries=["m"],
        extra_link_args=["-pthread"],
    )
    return builder


ffibuilder = make_builder()

if __name__ == "__main__":
    import os
    import shutil

    built = pathlib.Path(
        make_builder(ROOT).compile(tmpdir=str(ROOT / "build" / "macsim"), verbose=True)
    )
    target = ROOT / "lowbit" / "hwmodel" / built.name
    tmp = target.with_name(target.name + ".tmp")
    shutil.copy2(built, tmp)
    os.replace(tmp, target)  # a new file: processes that have the old one mapped keep it
    print(f"built {target.relative_to(ROOT)}")
