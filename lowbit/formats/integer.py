"""IntFormat (N-bit integers in four encodings) and BinaryFormat (±1).

Ranges (docs/background.md §2):
    two's complement / offset binary   [-2^(N-1), 2^(N-1) - 1]   narrow: [-(2^(N-1) - 1), …]
    sign-magnitude                     [-(2^(N-1) - 1), 2^(N-1) - 1] (always symmetric; has -0)
    unsigned                           [0, 2^N - 1]                  narrow: [0, 2^N - 2]

Codes: two's complement q mod 2^N; sign-magnitude sign·2^(N-1) | |q|; offset binary q + 2^(N-1);
unsigned q.  Values are the integers themselves; scales live in ``Quantizer`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import _kernels as K
from .base import (
    ENCODING_IDS,
    ENCODINGS,
    Encoding,
    Format,
    FormatError,
    NanPolicy,
    Overflow,
    Rounding,
    as_codes,
    as_float_input,
    check_bool,
    check_choice,
    check_name,
    check_rounding,
    check_seed,
    code_dtype,
    lut_decode,
    out_buffer,
    random_bits,
)


def _check_int_policies(name, rounding, overflow, nan, seed=None):
    mode = check_rounding(name, rounding)
    if overflow is not None:
        check_choice(name, "overflow", overflow, ("saturate",))
    check_choice(name, "nan", nan, ("raise", "zero"))
    check_seed(seed)
    return mode


@dataclass(frozen=True)
class IntFormat(Format):
    """An N-bit integer format, 2 ≤ N ≤ 32.

    >>> from lowbit import IntFormat
    >>> IntFormat(4).encode([-8.0, -1.0, 2.5, 9.0]).tolist()   # saturating, RNE
    [8, 15, 2, 7]
    >>> IntFormat(4, encoding="sign_magnitude").encode([-3.0]).tolist()
    [11]
    """

    family = "integer"

    bits: int
    signed: bool = True
    narrow: bool = False
    encoding: Encoding = "twos_complement"
    name: str = field(default="", compare=False)

    def __post_init__(self):
        b = self.bits
        if not isinstance(b, (int, np.integer)) or isinstance(b, bool):
            raise TypeError(f"IntFormat: bits must be an int, got {b!r}")
        if not 2 <= b <= 32:
            raise FormatError(f"IntFormat: bits={b} is out of range; legal range is 2..32")
        object.__setattr__(self, "bits", int(b))
        object.__setattr__(self, "signed", check_bool("IntFormat", "signed", self.signed))
        object.__setattr__(self, "narrow", check_bool("IntFormat", "narrow", self.narrow))
        check_name("IntFormat", self.name)
        if self.encoding not in ENCODINGS:
            raise FormatError(
                f"IntFormat: encoding={self.encoding!r} is not supported; "
                f"expected one of {', '.join(ENCODINGS)}"
            )
        if not self.signed and self.encoding != "twos_complement":
            raise FormatError(
                "IntFormat: unsigned formats have one encoding; leave encoding as default"
            )
        if not self.name:
            if self.signed:
                n = f"int{b}"
                if self.encoding == "sign_magnitude":
                    n += "_sm"
                elif self.encoding == "offset_binary":
                    n += "_ob"
                if self.narrow and self.encoding != "sign_magnitude":
                    n += "_narrow"
            else:
                n = f"uint{b}" + ("_narrow" if self.narrow else "")
            object.__setattr__(self, "name", n)

    @property
    def qmin(self) -> int:
        if not self.signed:
            return 0
        if self.narrow or self.encoding == "sign_magnitude":
            return -(2 ** (self.bits - 1) - 1)
        return -(2 ** (self.bits - 1))

    @property
    def qmax(self) -> int:
        if not self.signed:
            return 2**self.bits - 1 - (1 if self.narrow else 0)
        return 2 ** (self.bits - 1) - 1

    max = property(lambda self: float(self.qmax), doc="Largest value (qmax).")
    min = property(lambda self: float(self.qmin), doc="Smallest value (qmin).")
    smallest_normal = property(lambda self: 1.0, doc="Smallest positive value, 1.")
    smallest_subnormal = property(lambda self: 1.0, doc="Smallest positive value, 1.")
    eps = property(lambda self: 1.0, doc="Spacing of the grid, 1.")

    @property
    def decode_dtype(self) -> np.dtype:
        return np.dtype(np.float32 if self.bits <= 24 else np.float64)

    def _grid(self) -> tuple[float, float, int]:
        # every integer of magnitude <= 2^p is exact with p significant bits
        m = max(-self.qmin, self.qmax)
        p = (m - 1).bit_length() if m & (m - 1) == 0 else m.bit_length()
        return float(m), 1.0, max(p, 1)

    @property
    def _enc(self) -> int:
        """The kernels' id of the code layout (base.ENCODING_IDS)."""
        return ENCODING_IDS[self.encoding if self.signed else "unsigned"]

    def _describe_extra(self) -> dict:
        return {
            "signed": self.signed,
            "narrow": self.narrow,
            "encoding": self.encoding if self.signed else "unsigned",
            "qmin": self.qmin,
            "qmax": self.qmax,
        }

    def encode(
        self,
        x,
        rounding: Rounding = "nearest_even",
        overflow: Overflow | None = None,
        seed=None,
        nan: NanPolicy = "raise",
    ) -> np.ndarray:
        """Codes of x rounded to an integer and saturated to [qmin, qmax].

        NaN has no integer code: it raises ``ValueError`` unless ``nan="zero"``.
        """
        arr, _ = as_float_input(self.name, x)
        mode = _check_int_policies(self.name, rounding, overflow, nan, seed)
        flat = arr.reshape(-1)
        out = np.empty(flat.shape[0], dtype=code_dtype(self.bits))
        if mode == K.RNE and self._enc != K.ENC_SIGN_MAG:
            offset = 2 ** (self.bits - 1) if self._enc == K.ENC_OFFSET else 0
            nbad = K.pick(K.encode_int_rne, flat.shape[0])(
                flat, out, self.qmin, self.qmax, 2**self.bits - 1, offset
            )
        else:
            rb = random_bits(flat.shape[0], seed) if mode == K.RSR else K.NO_RANDOM
            nbad = K.pick(K.encode_int, flat.shape[0])(
                flat, out, rb, self.qmin, self.qmax, mode, self._enc, self.bits
            )
        if nbad and nan == "raise":
            raise ValueError(f"{self.name}: {nbad} NaN input value(s); integers have no NaN code")
        return out.reshape(arr.shape)

    _writes_out = True

    def _quantize(self, arr, rounding, overflow, seed, nan="raise", out=None):
        mode = _check_int_policies(self.name, rounding, overflow, nan, seed)
        flat = arr.reshape(-1)
        out = out_buffer(out, flat.shape[0], arr.dtype if self.bits <= 24 else np.float64)
        if mode == K.RNE and out.dtype == flat.dtype:
            nbad = K.pick(K.quantize_int_rne, flat.shape[0])(flat, out, self.qmin, self.qmax)
        else:
            rb = random_bits(flat.shape[0], seed) if mode == K.RSR else K.NO_RANDOM
            nbad = K.pick(K.quantize_int, flat.shape[0])(flat, out, rb, self.qmin, self.qmax, mode)
        if nbad and nan == "raise":
            raise ValueError(f"{self.name}: {nbad} NaN input value(s); integers have no NaN code")
        return out.reshape(arr.shape)

    def quantize(
        self,
        x,
        rounding: Rounding = "nearest_even",
        overflow: Overflow | None = None,
        seed=None,
        nan: NanPolicy = "raise",
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Integer grid values of x, saturated to [qmin, qmax].

        The dtype is x's float dtype when it holds every integer in [qmin, qmax], else
        float32 (up to 24 bits) or float64 (``quantize_dtype``).

        ``out``: write the result into this array (x's shape, result dtype) and return it.

        >>> import lowbit
        >>> lowbit.get_format("int4").quantize([2.5, 3.5, -9.0]).tolist()
        [2.0, 4.0, -8.0]
        """
        return super().quantize(
            x, rounding=rounding, overflow=overflow, seed=seed, nan=nan, out=out
        )

    def _code_values(self, c: np.ndarray) -> np.ndarray:
        c = c.astype(np.int64)
        half = 2 ** (self.bits - 1)
        if not self.signed:
            v = c
        elif self.encoding == "twos_complement":
            v = np.where(c >= half, c - 2**self.bits, c)
        elif self.encoding == "sign_magnitude":
            v = np.where(c >= half, -(c - half), c)
        else:
            v = c - half
        return v

    @cached_property
    def _table(self) -> np.ndarray:
        v = self._code_values(np.arange(2**self.bits)).astype(self.decode_dtype)
        # codes outside the (narrow) range decode to NaN: they are not values of the format
        bad = (self._code_values(np.arange(2**self.bits)) < self.qmin) | (
            self._code_values(np.arange(2**self.bits)) > self.qmax
        )
        v[bad] = np.nan
        return v

    def decode(self, codes) -> np.ndarray:
        """Integer values of codes (float32 up to 24 bits, else float64).

        Codes outside [0, 2^bits) raise; in a narrow format the unused code decodes to NaN.
        """
        c = as_codes(self.name, codes, self.bits, check_upper=self.bits > 16)
        flat = c.reshape(-1)
        if self.bits > 16:
            v = self._code_values(flat).astype(self.decode_dtype)
            vi = self._code_values(flat)
            v[(vi < self.qmin) | (vi > self.qmax)] = np.nan
            return v.reshape(c.shape)
        return lut_decode(self.name, flat, self._table, self.bits).reshape(c.shape)

    def values(self) -> np.ndarray:
        """Every value, ascending (at most 2^20 of them)."""
        if self.bits > 20:
            raise ValueError(
                f"{self.name}: values() lists at most 2^20 codes; this has {self.bits} bits"
            )
        return np.arange(self.qmin, self.qmax + 1, dtype=np.float64)


@dataclass(frozen=True)
class BinaryFormat(Format):
    """One bit per element: code 0 is +1, code 1 is -1; x ≥ 0 (and -0) gives +1.

    Stochastic rounding takes +1 with probability (1 + clip(x, -1, 1)) / 2 (BinaryConnect).
    Scales (α = mean|W|) belong to the caller: see ``lowbit.formats.binarize``.
    """

    family = "binary"

    name: str = field(default="binary", compare=False)

    bits = property(lambda self: 1)
    max = property(lambda self: 1.0)
    min = property(lambda self: -1.0)
    smallest_normal = property(lambda self: 1.0)
    smallest_subnormal = property(lambda self: 1.0)
    eps = property(lambda self: 2.0)
    decode_dtype = property(lambda self: np.dtype(np.float32))

    def _signs(self, arr, rounding, overflow, seed, nan):
        check_choice(
            self.name, "rounding", rounding, ("nearest_even", "nearest_away", "stochastic")
        )
        if overflow is not None:  # every value is in range: only the default makes sense
            check_choice(self.name, "overflow", overflow, ("saturate",))
        check_choice(self.name, "nan", nan, ("raise",))
        check_seed(seed)
        if np.isnan(arr).any():
            raise ValueError(f"{self.name}: NaN input has no binary code")
        if rounding == "stochastic":
            u = random_bits(arr.size, seed).reshape(arr.shape) >> np.uint64(11)
            p = (1.0 + np.clip(arr.astype(np.float64), -1.0, 1.0)) * 2.0**52  # P(+1) · 2^53
            return (u >= p).astype(np.uint8)  # 1 (= -1) with probability 1 - P(+1)
        return (arr < 0).astype(np.uint8)

    def encode(
        self,
        x,
        rounding: Rounding = "nearest_even",
        overflow: Overflow | None = None,
        seed=None,
        nan: NanPolicy = "raise",
    ) -> np.ndarray:
        """Codes (uint8): 0 for +1, 1 for -1."""
        arr, _ = as_float_input(self.name, x)
        return self._signs(arr, rounding, overflow, seed, nan)

    def _quantize(self, arr, rounding, overflow, seed, nan="raise"):
        return (1.0 - 2.0 * self._signs(arr, rounding, overflow, seed, nan)).astype(arr.dtype)

    def _grid(self) -> tuple[float, float, int]:
        return 1.0, 1.0, 1

    def decode(self, codes) -> np.ndarray:
        """+1 for code 0, -1 for code 1 (float32); other codes raise."""
        c = as_codes(self.name, codes, 1, check_upper=True)
        return (1.0 - 2.0 * c).astype(np.float32)

    def values(self) -> np.ndarray:
        return np.array([-1.0, 1.0])

    def _describe_extra(self) -> dict:
        return {"codes": "0 → +1, 1 → -1"}


def _weights(who: str, w) -> np.ndarray:
    """float64 copy of ``w``; empty or NaN input raises (neither has a sign to take)."""
    arr, _ = as_float_input(who, w)
    if arr.size == 0:
        raise ValueError(f"{who}: empty input")
    a = arr.astype(np.float64)
    nnan = int(np.count_nonzero(np.isnan(a)))
    if nnan:
        raise ValueError(f"{who}: {nnan} NaN input value(s); NaN has no sign to binarize")
    return a


def binarize(w) -> tuple[np.ndarray, float]:
    """Scaled binary weights (Rastegari et al. 2016): q = sign(w) (+1 for w ≥ 0), α = mean|w|.

    Returns (q as float64 in {-1, +1}, α); the approximation of w is α·q.  NaN raises.

    >>> q, alpha = binarize([0.5, -1.5])
    >>> q.tolist(), alpha
    ([1.0, -1.0], 1.0)
    """
    a = _weights("binarize", w)
    q = np.where(a >= 0, 1.0, -1.0)
    return q, float(np.mean(np.abs(a)))


def ternarize(w, delta_factor: float = 0.7) -> tuple[np.ndarray, float, float]:
    """Ternary weights (TWN, Li & Liu 2016): Δ = 0.7·mean|w|, q = sign(w)·[|w| > Δ],
    α = mean of |w| over |w| > Δ.

    Returns (q as float64 in {-1, 0, +1}, Δ, α); the approximation of w is α·q.  NaN input
    and a ``delta_factor`` outside [0, inf) raise.

    >>> q, delta, alpha = ternarize([1.0, -0.1, -2.0])
    >>> q.tolist(), alpha
    ([1.0, 0.0, -1.0], 1.5)
    """
    if isinstance(delta_factor, (bool, np.bool_)) or not isinstance(
        delta_factor, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"ternarize: delta_factor must be a real number, got {delta_factor!r}")
    if not 0 <= delta_factor < np.inf:
        raise ValueError(
            f"ternarize: delta_factor={delta_factor} is out of range; legal range is [0, inf)"
        )
    a = _weights("ternarize", w)
    delta = float(delta_factor) * float(np.mean(np.abs(a)))
    keep = np.abs(a) > delta
    q = np.where(keep, np.sign(a), 0.0)
    alpha = float(np.mean(np.abs(a[keep]))) if keep.any() else 0.0
    return q, delta, alpha
