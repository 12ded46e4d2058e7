"""The Format protocol shared by every family, policy names and input validation.

A format is a frozen value object: it knows its bit width and its value set and turns
values into codes (``encode``), codes into values (``decode``) and values into values
(``quantize`` = ``decode(encode(x))``).  Policies are plain strings validated here, at
the public boundary, before any kernel runs.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

ROUNDING_MODES = ("nearest_even", "nearest_away", "toward_zero", "down", "up", "stochastic")
#: Integer ids passed to the numba kernels (kept in one place).
ROUNDING_IDS = {name: i for i, name in enumerate(ROUNDING_MODES)}
OVERFLOW_POLICIES = ("saturate", "inf", "nan")
NAN_POLICIES = ("raise", "zero", "negzero")


class FormatError(ValueError):
    """Invalid format parameters, names or policies (a ``ValueError``)."""


def check_rounding(fmt_name: str, rounding: str, allowed=ROUNDING_MODES) -> int:
    if not isinstance(rounding, str) or rounding not in allowed:
        raise ValueError(
            f"{fmt_name}: unknown rounding {rounding!r}; expected one of {', '.join(allowed)}"
        )
    return ROUNDING_IDS[rounding]


def check_choice(fmt_name: str, what: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{fmt_name}: {what}={value!r} is not supported; expected one of {', '.join(allowed)}"
        )
    return value


def random_bits(n: int, seed) -> np.ndarray:
    """``n`` uniformly random uint64 words from a seed or a ``numpy.random.Generator``.

    Stochastic rounding draws all its randomness here, so the same seed (or a generator in
    the same state) gives the same result.
    """
    if isinstance(seed, np.random.Generator):
        gen = seed
    elif seed is None or isinstance(seed, (int, np.integer)):
        gen = np.random.default_rng(seed)
    else:
        raise TypeError(
            f"seed must be None, an int or a numpy.random.Generator, not {type(seed).__name__}"
        )
    return gen.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)


def as_float_input(fmt_name: str, x: Any) -> tuple[np.ndarray, np.dtype]:
    """Validate ``x`` and return (contiguous float32-or-float64 array, output float dtype).

    float16 and the ml_dtypes float types are widened exactly to float32; integer and bool
    input to float64 (the output dtype is then float64, as the API promises).
    """
    arr = np.asarray(x)
    if not arr.dtype.isnative:  # big-endian data from a file: kernels need native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    kind = arr.dtype.kind
    # np.asarray(order="C"), not np.ascontiguousarray: the latter turns 0-d into 1-d
    if kind == "f":
        if arr.dtype == np.float64:
            return np.asarray(arr, order="C"), np.dtype(np.float64)
        if arr.dtype == np.float32:
            return np.asarray(arr, order="C"), np.dtype(np.float32)
        if arr.dtype == np.float16:
            return np.asarray(arr, dtype=np.float32, order="C"), np.dtype(np.float16)
        # longdouble: no exact path; refuse rather than lose bits silently.
        raise TypeError(f"{fmt_name}: input dtype {arr.dtype} is not supported (use float64)")
    if kind in "iub":
        return np.asarray(arr, dtype=np.float64, order="C"), np.dtype(np.float64)
    if kind == "V" and arr.dtype.itemsize <= 2 and _is_ml_dtypes_float(arr.dtype):
        # bfloat16 / float8 arrays from ml_dtypes: every value is exact in float32.
        return np.asarray(arr.astype(np.float32), order="C"), np.dtype(np.float32)
    raise TypeError(
        f"{fmt_name}: expected a real numeric array, got dtype {arr.dtype} "
        "(complex, object and string arrays cannot be quantized)"
    )


def _is_ml_dtypes_float(dtype: np.dtype) -> bool:
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - ml_dtypes is a test dependency only
        return False
    try:
        ml_dtypes.finfo(dtype)
    except (TypeError, ValueError):
        return False
    return True


def as_codes(fmt_name: str, codes: Any) -> np.ndarray:
    """Validate a code array: integers only (range is checked by the decode kernels)."""
    arr = np.asarray(codes)
    if arr.dtype.kind in "iu" and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fmt_name}: codes must be an integer array, got dtype {arr.dtype}")
    if arr.dtype.kind == "i":
        if arr.size and arr.min() < 0:
            raise ValueError(f"{fmt_name}: codes must be non-negative")
        arr = arr.view(arr.dtype.str.replace("i", "u"))
    return np.asarray(arr, order="C")


def lut_decode(fmt_name: str, flat: np.ndarray, table: np.ndarray, bits: int) -> np.ndarray:
    """Decode a flat code array through a 2^bits table, checking the code range."""
    from . import _kernels as K

    out = np.empty(flat.shape[0], dtype=table.dtype)
    acc = K.pick(K.decode_lut, flat.shape[0])(flat, table, out, bits)
    if int(acc) >> bits:
        nbad = int(np.count_nonzero(flat >> np.array(bits, dtype=flat.dtype)))
        raise ValueError(f"{fmt_name}: {nbad} code(s) outside [0, 2^{bits})")
    return out


def check_out(fmt_name: str, out, shape: tuple, dtype: np.dtype) -> None:
    """Refuse an ``out=`` array that the result cannot be written into unchanged."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fmt_name}: out must be a numpy array, not {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{fmt_name}: out has dtype {out.dtype}; the result's dtype is {dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fmt_name}: out has shape {out.shape}; the result's shape is {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{fmt_name}: out is read-only")


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def out_buffer(out: np.ndarray | None, n: int, dtype) -> np.ndarray:
    """The flat array a kernel writes: ``out`` itself when it is C-contiguous and of the
    kernel's dtype, else a new array (the caller copies it into ``out``)."""
    if out is not None and out.dtype == dtype and out.flags.c_contiguous:
        return out.reshape(n)
    return np.empty(n, dtype=dtype)


def code_dtype(bits: int) -> np.dtype:
    """The narrowest unsigned dtype holding a ``bits``-wide code."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if bits <= 8 * np.dtype(dt).itemsize:
            return np.dtype(dt)
    raise FormatError(f"codes of {bits} bits are not supported")


def suggest(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=4, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


class Format:
    """Behaviour shared by all scalar formats.  Subclasses are frozen dataclasses."""

    name: str

    # Subclasses provide bits, max, min, smallest_normal, smallest_subnormal, eps,
    # encode(x, ...), decode(codes), values(), and either quantize(...) or the
    # _quantize(arr, rounding, overflow, seed, **kw) that the shared quantize calls.

    # -- shared --------------------------------------------------------------------------
    @property
    def bits_per_element(self) -> float:
        """Storage per element including amortised scales (scalar formats: ``bits``)."""
        return float(self.bits)

    def quantize(
        self,
        x,
        rounding: str = "nearest_even",
        overflow: str | None = None,
        seed=None,
        out: np.ndarray | None = None,
        **kw,
    ):
        """Round ``x`` to the nearest representable values: ``decode(encode(x))``.

        Returns an array of ``x``'s float dtype (float64 for integer input).  ``out``, as
        for numpy ufuncs: a writable array of ``x``'s shape and that dtype to write the
        result into (and return); ``out=x`` rounds in place.

        >>> import lowbit
        >>> lowbit.get_format("fp8_e4m3fn").quantize([0.3, 500.0], overflow="saturate").tolist()
        [0.3125, 448.0]
        """
        arr, out_dtype = as_float_input(self.name, x)
        if out is None:
            res = self._quantize(arr, rounding, overflow, seed, **kw)
            return res if res.dtype == out_dtype else res.astype(out_dtype)
        check_out(self.name, out, arr.shape, out_dtype)
        # the kernels write out[i] after reading x[i] only: the same buffer is safe, any
        # other overlap is computed aside first
        direct = self._writes_out and (not np.may_share_memory(out, arr) or _same_buffer(out, arr))
        if direct:
            kw["out"] = out
        res = self._quantize(arr, rounding, overflow, seed, **kw)
        if not _same_buffer(res, out):
            np.copyto(out, res, casting="unsafe")
        return out

    #: Whether ``_quantize`` takes ``out=`` and writes into it when dtype and layout allow.
    _writes_out: bool = False

    #: Overflow policies the format allows; the first is not necessarily the default.
    overflow_policies: tuple[str, ...] = ("saturate",)
    #: What values beyond the range become when ``overflow`` is not given.
    default_overflow: str = "saturate"
    #: Whether some code is NaN.
    has_nan: bool = False
    has_inf: bool = False

    @property
    def dynamic_range_db(self) -> float:
        """20·log10(max / smallest positive value)."""
        return float(20.0 * np.log10(self.max / self.smallest_subnormal))

    def describe(self) -> dict:
        """The format's properties as a plain dict (what ``lowbit info`` prints)."""
        d = {
            "name": self.name,
            "family": type(self).__name__,
            "bits": self.bits,
            "max": self.max,
            "min": self.min,
            "smallest_normal": self.smallest_normal,
            "smallest_subnormal": self.smallest_subnormal,
            "eps": self.eps,
            "dynamic_range_db": self.dynamic_range_db,
        }
        d.update(self._describe_extra())
        return d

    def _describe_extra(self) -> dict:
        return {}

    def __str__(self) -> str:
        return self.name
