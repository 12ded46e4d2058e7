"""cffi out-of-line API-mode builder for the MAC-array simulator core (macsim.c).

Run ``python csrc/build_macsim.py`` from the repository root to build
``lowbit/hwmodel/_macsim*.so`` in place.  setuptools can build it at install time
through ``cffi_modules=["csrc/build_macsim.py:ffibuilder"]``.

Flags: -O3, C99, and no FMA contraction: the TwoSum in macsim.c must see plain IEEE
double additions.  Never add -ffast-math (or -Ofast).
"""

from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

CDEF = """
typedef struct {
    int kind;
    int width;
    int frac_bits;
    int saturate;
    int man_bits;
    int emin;
    int emax;
    int subnormals;
    int rounding;
} macsim_acc_t;

typedef struct {
    int64_t overflow;
    int64_t inexact;
    int64_t absorbed;
    double max_abs;
} macsim_stats_t;

int macsim_check_acc(const macsim_acc_t *acc);
int macsim_gemm(const uint16_t *a, const uint16_t *b,
                const double *a_table, const double *b_table,
                int64_t m, int64_t k, int64_t n,
                const macsim_acc_t *acc, double *c, int64_t *scratch,
                macsim_stats_t *stats);
"""

EXTRA_COMPILE_ARGS = ["-O3", "-std=c99", "-ffp-contract=off", "-fno-fast-math"]


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
    )
    return builder


ffibuilder = make_builder()

if __name__ == "__main__":
    import shutil

    built = pathlib.Path(
        make_builder(ROOT).compile(tmpdir=str(ROOT / "build" / "macsim"), verbose=True)
    )
    target = ROOT / "lowbit" / "hwmodel" / built.name
    shutil.copy2(built, target)
    print(f"built {target.relative_to(ROOT)}")
