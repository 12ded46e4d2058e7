"""The Format protocol shared by every family, policy names and input validation.

A format is a frozen value object: it knows its bit width and its value set and turns
values into codes (``encode``), codes into values (``decode``) and values into values
(``quantize`` = ``decode(encode(x))``).  Policies are plain strings validated here, at
the public boundary, before any kernel runs.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, get_args

import numpy as np

# Policy names: each Literal alias types the public signatures, and the runtime tuple that
# validation and the CLI use is read from it, so the two cannot drift apart.
#: Rounding modes (IEEE 754-2019 §4.3: the two round-to-nearest modes and the three
#: directed ones; "stochastic" rounds away from zero with probability equal to the
#: discarded fraction of an ulp).
Rounding = Literal["nearest_even", "nearest_away", "toward_zero", "down", "up", "stochastic"]
#: What a finite value beyond the largest finite one becomes (docs/formats-rules.md).
Overflow = Literal["saturate", "inf", "nan"]
#: What NaN input becomes in a format with no NaN code.
NanPolicy = Literal["raise", "zero", "negzero"]
#: A minifloat's special-value rule (IEEE 754-2019 §3.4; OCP OFP8 v1.0 for "fn"/"fnuz").
Specials = Literal["ieee", "fn", "fnuz", "none"]
#: How a signed integer format lays out its codes.
Encoding = Literal["twos_complement", "sign_magnitude", "offset_binary"]

ROUNDING_MODES: tuple[str, ...] = get_args(Rounding)
#: Integer ids the numba kernels take for the rounding modes: the only list of them
#: (lowbit/formats/_kernels/dispatch.py reads its constants from here).
ROUNDING_IDS: dict[str, int] = {name: i for i, name in enumerate(ROUNDING_MODES)}
OVERFLOW_POLICIES: tuple[str, ...] = get_args(Overflow)
NAN_POLICIES: tuple[str, ...] = get_args(NanPolicy)
SPECIALS: tuple[str, ...] = get_args(Specials)
ENCODINGS: tuple[str, ...] = get_args(Encoding)
#: Integer ids the integer kernels take for an encoding; unsigned formats have their own.
ENCODING_IDS: dict[str, int] = {name: i for i, name in enumerate((*ENCODINGS, "unsigned"))}


class FormatError(ValueError):
    """Invalid format parameters, names or policies (a ``ValueError``)."""


def check_rounding(fmt_name: str, rounding: Rounding, allowed=ROUNDING_MODES) -> int:
    """The kernel id of ``rounding``, after checking it is one of ``allowed``.

    >>> check_rounding("fp8", "toward_zero")
    2
    """
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


def check_bool(fmt_name: str, what: str, value: Any) -> bool:
    """``value`` as a bool; only ``True``/``False`` (and numpy bools) are accepted, since a
    truthy string such as ``"no"`` would otherwise silently mean the opposite."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{fmt_name}: {what} must be True or False, got {value!r}")


def check_name(family: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{family}: name must be a str, got {name!r}")


def check_seed(seed: Any) -> None:
    """Refuse a seed that ``numpy.random.default_rng`` would refuse, naming ``seed``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be None, an int or a numpy.random.Generator, not {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"seed={seed} is negative; a seed must be an int >= 0")


def random_bits(n: int, seed) -> np.ndarray:
    """``n`` uniformly random uint64 words from a seed or a ``numpy.random.Generator``.

    Stochastic rounding draws all its randomness here, so the same seed (or a generator in
    the same state) gives the same result.
    """
    check_seed(seed)
    gen = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return gen.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)


def to_numpy(fmt_name: str, x: Any) -> np.ndarray:
    """``x`` as a numpy array: arrays, sequences, ``__array__`` objects (jax, cupy on host,
    pandas) and DLPack producers (torch, jax, ...) are accepted.

    >>> to_numpy("fp8", [1.0, 2.0]).tolist()
    [1.0, 2.0]
    """
    if isinstance(x, np.ndarray):
        return x
    if not hasattr(x, "__array__") and hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, ValueError, RuntimeError) as e:
            # e.g. torch.bfloat16: DLPack carries it, numpy has no such dtype
            raise TypeError(
                f"{fmt_name}: numpy cannot import this {type(x).__name__} through DLPack "
                f"({e}); convert it to float32 first (bfloat16 and float8 tensors included)"
            ) from None
    try:
        return np.asarray(x)
    except ValueError as e:  # ragged nested lists: numpy's "inhomogeneous shape"
        raise ValueError(
            f"{fmt_name}: input is not a rectangular array (nested sequences of unequal "
            f"lengths?): {e}"
        ) from None


def as_float_input(fmt_name: str, x: Any) -> tuple[np.ndarray, np.dtype]:
    """Validate ``x`` and return (contiguous float32-or-float64 array, x's float dtype).

    float16 and the ml_dtypes float types are widened exactly to float32 (ml_dtypes input
    reports float32 as its dtype); integer and bool input (ml_dtypes int4/uint4/int2/... too)
    to float64, reported as float64.  Integers beyond 2^53 are converted with round-to-odd,
    so that the one rounding a format then does is still correct (see ``_int_to_float64``).
    """
    arr = to_numpy(fmt_name, x)
    if not arr.dtype.isnative:  # big-endian data from a file: kernels need native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    kind = arr.dtype.kind
    # np.asarray(order="C"), not np.ascontiguousarray: the latter turns 0-d into 1-d
    if arr.dtype == np.float64:
        return np.asarray(arr, order="C"), np.dtype(np.float64)
    if arr.dtype == np.float32:
        return np.asarray(arr, order="C"), np.dtype(np.float32)
    if arr.dtype == np.float16:
        return np.asarray(arr, dtype=np.float32, order="C"), np.dtype(np.float16)
    ml = _ml_dtypes_kind(arr.dtype)
    if ml == "float":
        # bfloat16 / float8 / float6 / float4 arrays from ml_dtypes (ml_dtypes 0.7 gives
        # float8_e5m2 numpy kind 'f', the others 'V'): every value is exact in float32.
        return np.asarray(arr.astype(np.float32), order="C"), np.dtype(np.float32)
    if ml == "int":  # ml_dtypes int1/int2/int4/uint*: small integers, exact in int64
        return _int_to_float64(arr.astype(np.int64)), np.dtype(np.float64)
    if kind in "iub":
        return _int_to_float64(arr), np.dtype(np.float64)
    if kind == "f":
        # longdouble: no exact path; refuse rather than lose bits silently.
        raise TypeError(f"{fmt_name}: input dtype {arr.dtype} is not supported (use float64)")
    raise TypeError(
        f"{fmt_name}: expected a real numeric array, got dtype {arr.dtype} "
        "(complex, object and string arrays cannot be quantized)"
    )


def _int_to_float64(arr: np.ndarray) -> np.ndarray:
    """Integer array to float64: exact up to 2^53, round-to-odd beyond.

    Round-to-odd (truncate, then set the last bit when anything was cut off) to 53 bits
    keeps every later rounding to p <= 51 bits correct, nearest and directed alike (Boldo
    and Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
    rounding to odd", IEEE Trans. Computers 57(4), 2008).  Every format rounds to at
    most 31 significant bits, so int64/uint64 input above 2^53 is rounded once, correctly,
    instead of twice (a plain cast rounds to nearest first).
    """
    out = np.asarray(arr, dtype=np.float64, order="C")
    if arr.dtype.kind == "b" or arr.dtype.itemsize < 8 or arr.size == 0:
        return out  # at most 32-bit integers: the cast is exact
    if arr.dtype.kind == "i":
        big = (arr > 2**53) | (arr < -(2**53))
    else:
        big = arr > np.uint64(2**53)
    if not big.any():
        return out
    v = arr[big]
    neg = v < 0 if arr.dtype.kind == "i" else np.zeros(v.shape, bool)
    mag = np.where(neg, (~v.astype(np.uint64)) + np.uint64(1), v.astype(np.uint64))
    # bit length from the float exponent; the rounded cast can be one too high
    length = np.frexp(mag.astype(np.float64))[1].astype(np.uint64)
    length -= (mag >> (length - np.uint64(1))) == 0
    shift = length - np.uint64(53)
    top = mag >> shift
    sticky = (mag & ((np.uint64(1) << shift) - np.uint64(1))) != 0
    r = np.ldexp((top | sticky.astype(np.uint64)).astype(np.float64), shift.astype(np.int64))
    out[big] = np.where(neg, -r, r)
    return out


def _ml_dtypes_kind(dtype: np.dtype) -> str | None:
    """ "float" / "int" for ml_dtypes' real float / integer types, else None."""
    if getattr(dtype.type, "__module__", "") != "ml_dtypes":
        return None
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - the dtype came from somewhere
        return None
    if "complex" in dtype.name:
        return None
    for kind, info in (("float", ml_dtypes.finfo), ("int", ml_dtypes.iinfo)):
        try:
            info(dtype)
        except (TypeError, ValueError):
            continue
        return kind
    return None


def float_dtype_holds(dtype: np.dtype, vmax: float, quantum: float, precision: int) -> bool:
    """Whether the float ``dtype`` holds exactly every multiple of ``quantum`` (a power of
    two) of magnitude <= ``vmax`` that has at most ``precision`` significant bits."""
    fi = np.finfo(dtype)
    return (
        precision <= fi.nmant + 1
        and vmax <= float(fi.max)
        and quantum >= float(fi.smallest_subnormal)
    )


def narrowest_float(fmt: Format) -> np.dtype:
    """float32 when every value of ``fmt`` is a float32, else float64."""
    return np.dtype(np.float32 if fmt.holds_values(np.dtype(np.float32)) else np.float64)


def as_codes(fmt_name: str, codes: Any, bits: int, check_upper: bool = False) -> np.ndarray:
    """Validate a code array: integers in [0, 2^bits), as an unsigned C-contiguous array.

    Negative codes raise here; codes >= 2^bits raise here with ``check_upper``, else the
    LUT decoders check them in their kernel while they read the codes (one pass).
    """
    arr = to_numpy(fmt_name, codes)
    if arr.dtype.kind in "iu" and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fmt_name}: codes must be an integer array, got dtype {arr.dtype}")
    if arr.dtype.kind == "i":
        nneg = int(np.count_nonzero(arr < 0)) if arr.size else 0
        if nneg:
            raise ValueError(
                f"{fmt_name}: codes must be non-negative; {nneg} code(s) outside [0, 2^{bits})"
            )
        arr = arr.view(arr.dtype.str.replace("i", "u"))
    arr = np.asarray(arr, order="C")
    if check_upper and arr.size and int(arr.max()) >> bits:
        raise ValueError(f"{fmt_name}: {_count_above(arr, bits)} code(s) outside [0, 2^{bits})")
    return arr


def _count_above(flat: np.ndarray, bits: int) -> int:
    if bits >= 8 * flat.dtype.itemsize:
        return 0
    return int(np.count_nonzero(flat >> np.array(bits, dtype=flat.dtype)))


def lut_decode(fmt_name: str, flat: np.ndarray, table: np.ndarray, bits: int) -> np.ndarray:
    """Decode a flat code array through a 2^bits table, checking the code range."""
    from . import _kernels as K

    out = np.empty(flat.shape[0], dtype=table.dtype)
    acc = K.pick(K.decode_lut, flat.shape[0])(flat, table, out, bits)
    if int(acc) >> bits:
        raise ValueError(f"{fmt_name}: {_count_above(flat, bits)} code(s) outside [0, 2^{bits})")
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

    #: What kind of format this is, one word from one vocabulary (what report, CLI, hwmodel
    #: and analysis ask instead of testing classes): "integer" (IntFormat), "binary"
    #: (BinaryFormat), "minifloat" (FloatFormat), "exponent" (ExpFormat), "mx" (MXFormat),
    #: "shared_exponent" (SharedExpFormat: MX9/6/4, BFP), "nvfp4" (NVFP4Format), "vs_quant"
    #: (VSQuant), "group_scaled" (GroupScaledFormat).  Each class sets it.
    family: str = ""

    @property
    def has_block_scales(self) -> bool:
        """True when the format's values carry scales of their own, per block or group
        (its ``encode`` returns a ``BlockArray``); False for scalar formats.

        >>> import lowbit
        >>> lowbit.get_format("int8").has_block_scales, lowbit.get_format("mxfp4").has_block_scales
        (False, True)
        """
        return False

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
        rounding: Rounding = "nearest_even",
        overflow: Overflow | None = None,
        seed=None,
        out: np.ndarray | None = None,
        **kw,
    ):
        """Round ``x`` to the nearest representable values: ``decode(encode(x))``.

        Returns x's float dtype when that holds every value of the format exactly, else the
        narrowest of float32/float64 that does (``quantize_dtype``), so the result is never
        changed by a final cast.  Integer input gives float64, ml_dtypes input float32.
        ``out``, as for numpy ufuncs: a writable array of ``x``'s shape and that dtype to
        write the result into (and return); ``out=x`` rounds in place.

        >>> import lowbit
        >>> lowbit.get_format("fp8_e4m3fn").quantize([0.3, 500.0], overflow="saturate").tolist()
        [0.3125, 448.0]
        """
        arr, in_dtype = as_float_input(self.name, x)
        want = self._quantize_dtype(in_dtype)
        if out is None:
            res = self._quantize(arr, rounding, overflow, seed, **kw)
            return res if res.dtype == want else res.astype(want)
        check_out(self.name, out, arr.shape, want)
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

    def quantize_dtype(self, dtype) -> np.dtype:
        """The dtype ``quantize`` returns for input of ``dtype``.

        >>> import numpy as np, lowbit
        >>> str(lowbit.get_format("bf16").quantize_dtype(np.float16))
        'float32'
        """
        d = np.dtype(dtype)
        if d.kind in "iub" or _ml_dtypes_kind(d) == "int":
            return self._quantize_dtype(np.dtype(np.float64))
        if _ml_dtypes_kind(d) == "float":
            return self._quantize_dtype(np.dtype(np.float32))
        if d.kind == "f" and d.itemsize <= 8:
            return self._quantize_dtype(d)
        raise TypeError(f"{self.name}: input dtype {d} is not supported")

    def _quantize_dtype(self, in_dtype: np.dtype) -> np.dtype:
        # per-instance cache: formats are frozen, and this runs on every quantize call
        cache = self.__dict__.setdefault("_qdtype_cache", {})
        out = cache.get(in_dtype)
        if out is None:
            out = in_dtype if self.holds_values(in_dtype) else narrowest_float(self)
            cache[in_dtype] = out
        return out

    def holds_values(self, dtype: np.dtype) -> bool:
        """Whether the float ``dtype`` holds every value of the format exactly."""
        vmax, quantum, precision = self._grid()
        return float_dtype_holds(np.dtype(dtype), vmax, quantum, precision)

    def _grid(self) -> tuple[float, float, int]:
        """(largest magnitude, smallest step (a power of two), significant bits)."""
        raise NotImplementedError(
            f"{self.name}: values depend on per-block scales; there is no fixed value grid"
        )

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
            "family": self.family,
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
