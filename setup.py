"""Only what setuptools needs to build the C MAC simulator (cffi, out-of-line API mode);
everything else is in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["csrc/build_macsim.py:ffibuilder"])
