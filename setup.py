"""Only what setuptools needs to build the C MAC simulator (cffi, out-of-line API mode);
everything else is in pyproject.toml.

The simulator is optional: without a working C compiler the install still succeeds, with
a warning, and ``lowbit.hwmodel.macsim.gemm`` then raises ImportError saying how to get
it.  cffi's ``cffi_modules`` hook subclasses whatever ``build_ext`` is registered here
(cffi/setuptools_ext.py, ``_add_c_module``), so the guard below wraps its build.
"""

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

try:  # setuptools ≥ 59 vendors distutils; its errors live here either way
    from distutils.errors import CCompilerError, DistutilsError
except ImportError:  # pragma: no cover - Python ≥ 3.12 without setuptools' shim
    from setuptools.errors import CCompilerError, DistutilsError

WARNING = (
    "\nWARNING: lowbit's C MAC simulator (lowbit.hwmodel._macsim) was not compiled: {}\n"
    "lowbit is installed without it; lowbit.hwmodel.macsim.gemm and `lowbit simulate` will\n"
    "say so.  To get it, install a C compiler (e.g. gcc) and reinstall lowbit.\n"
)


class OptionalBuildExt(build_ext):
    """build_ext that turns a failed compile or link into a warning."""

    def run(self):
        try:
            super().run()
        except (CCompilerError, DistutilsError, OSError) as exc:  # no compiler at all
            sys.stderr.write(WARNING.format(exc))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, DistutilsError, OSError) as exc:
            sys.stderr.write(WARNING.format(exc))


setup(
    cmdclass={"build_ext": OptionalBuildExt},
    cffi_modules=["csrc/build_macsim.py:ffibuilder"],
)
