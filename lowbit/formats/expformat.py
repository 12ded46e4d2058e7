"""ExpFormat: unsigned, exponent-only powers of two (E8M0, the OCP MX scale).

Value of code c: 2^(c - bias) for c < 2^E - 1; the all-ones code is NaN.  There is no zero
and no sign (OCP MX v1.0 §5.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import _kernels as K
from .base import (
    Format,
    FormatError,
    NanPolicy,
    Overflow,
    Rounding,
    as_codes,
    as_float_input,
    check_choice,
    check_name,
    check_rounding,
    check_seed,
    code_dtype,
    lut_decode,
    random_bits,
)


@dataclass(frozen=True)
class ExpFormat(Format):
    """Unsigned powers of two 2^-bias … 2^(2^E - 2 - bias), NaN at the all-ones code.

    Rounding is in the value domain: nearest-even takes the larger power at the tie
    1.5·2^k (with no mantissa both neighbours are "odd"; IEEE 754-2019 §4.3.1), as
    ml_dtypes' float8_e8m0fnu cast does.  Zero, negative values and NaN encode to NaN
    (there is no code for them); positive values below the smallest power give the
    smallest power.

    >>> import lowbit
    >>> lowbit.get_format("e8m0").encode([1.0, 3.0, 0.25]).tolist()
    [127, 129, 125]
    """

    family = "exponent"

    exp_bits: int = 8
    bias: int | None = None
    name: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.exp_bits, (int, np.integer)) or isinstance(self.exp_bits, bool):
            raise TypeError(f"ExpFormat: exp_bits must be an int, got {self.exp_bits!r}")
        if not 2 <= self.exp_bits <= 10:
            raise FormatError(
                f"ExpFormat: exp_bits={self.exp_bits} is out of range; legal range is 2..10"
            )
        if self.bias is None:
            object.__setattr__(self, "bias", 2 ** (self.exp_bits - 1) - 1)
        if not isinstance(self.bias, (int, np.integer)) or isinstance(self.bias, bool):
            raise TypeError(f"ExpFormat: bias must be an int, got {self.bias!r}")
        object.__setattr__(self, "bias", int(self.bias))
        check_name("ExpFormat", self.name)
        lo, hi = 2**self.exp_bits - 2 - 1023, 1022
        if not lo <= self.bias <= hi:
            raise FormatError(
                f"ExpFormat: bias={self.bias} is out of range; legal range is {lo}..{hi}"
            )
        if not self.name:
            object.__setattr__(self, "name", f"e{self.exp_bits}m0")

    @property
    def bits(self) -> int:
        return self.exp_bits

    @property
    def max_code(self) -> int:
        return 2**self.exp_bits - 2

    @property
    def code_of_nan(self) -> int:
        """The all-ones code, NaN (0xFF for E8M0: OCP MX v1.0 §5.4)."""
        return 2**self.exp_bits - 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest value (code 0): -bias (-127 for E8M0)."""
        return -self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest value (code 2^E - 2): 127 for E8M0."""
        return self.max_code - self.bias

    def code_of_exponent(self, e) -> np.ndarray:
        """Codes of the powers 2^e, e an integer array in [emin, emax] (the caller clamps:
        block formats decide what a shared exponent beyond the range means).

        >>> import lowbit
        >>> lowbit.get_format("e8m0").code_of_exponent([-127, 0, 127]).tolist()
        [0, 127, 254]
        """
        e = np.asarray(e, dtype=np.int64)
        if e.size and (e.min() < self.emin or e.max() > self.emax):
            raise ValueError(
                f"{self.name}: exponents must lie in [{self.emin}, {self.emax}], "
                f"got [{int(e.min())}, {int(e.max())}]"
            )
        return (e + self.bias).astype(code_dtype(self.bits))

    def exponent_of(self, codes) -> np.ndarray:
        """The exponents (int64) of codes: code - bias; the NaN code's is meaningless
        (test ``codes == code_of_nan``).

        >>> import lowbit
        >>> lowbit.get_format("e8m0").exponent_of([0, 127, 255]).tolist()
        [-127, 0, 128]
        """
        return np.asarray(codes).astype(np.int64) - self.bias

    max = property(
        lambda self: float(np.ldexp(1.0, self.max_code - self.bias)), doc="2^(2^E-2-bias)"
    )
    smallest_normal = property(lambda self: float(np.ldexp(1.0, -self.bias)), doc="2^-bias")
    smallest_subnormal = smallest_normal
    min = smallest_normal
    eps = property(lambda self: 1.0, doc="Spacing at 1 relative to 1: the next value is 2.")

    @property
    def decode_dtype(self) -> np.dtype:
        ok = self.max <= float(np.finfo(np.float32).max) and self.smallest_normal >= 2.0**-149
        return np.dtype(np.float32 if ok else np.float64)

    def _describe_extra(self) -> dict:
        return {
            "exp_bits": self.exp_bits,
            "bias": self.bias,
            "specials": "NaN = all ones; no zero, no sign",
        }

    def _policies(self, rounding, overflow, nan, seed):
        mode = check_rounding(self.name, rounding)
        overflow = "nan" if overflow is None else overflow
        check_choice(self.name, "overflow", overflow, ("saturate", "nan"))
        # NaN input has a code (the NaN code): ``nan`` has nothing to choose, and only its
        # default is accepted so that a misspelt or meaningless value does not pass unseen
        check_choice(self.name, "nan", nan, ("raise",))
        check_seed(seed)
        # the code beyond-range values and +Inf get: the largest power, or NaN
        return mode, (self.max_code if overflow == "saturate" else self.max_code + 1)

    def encode(
        self,
        x,
        rounding: Rounding = "nearest_even",
        overflow: Overflow | None = None,
        seed=None,
        nan: NanPolicy = "raise",
    ) -> np.ndarray:
        """Codes of x; overflow is "nan" (default, as ml_dtypes) or "saturate"."""
        arr, _ = as_float_input(self.name, x)
        mode, ovfcode = self._policies(rounding, overflow, nan, seed)
        with np.errstate(invalid="ignore"):  # signalling NaNs widen to quiet NaNs
            flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1).view(np.uint64)
        out = np.empty(flat.shape[0], dtype=code_dtype(self.bits))
        rb = random_bits(flat.shape[0], seed) if mode == K.RSR else K.NO_RANDOM
        K.pick(K.encode_exp, flat.shape[0])(
            flat, out, rb, 52, 1023, self.bias, self.max_code, self.max_code + 1, mode, ovfcode
        )
        return out.reshape(arr.shape)

    overflow_policies = ("saturate", "nan")
    default_overflow = "nan"
    has_nan = True

    def _quantize(self, arr, rounding, overflow, seed, nan="raise"):
        return self.decode(self.encode(arr, rounding, overflow, seed, nan))

    def _grid(self) -> tuple[float, float, int]:
        return self.max, self.smallest_normal, 1

    @cached_property
    def _table(self) -> np.ndarray:
        c = np.arange(2**self.exp_bits)
        v = np.ldexp(1.0, c - self.bias)
        v[-1] = np.nan
        return v.astype(self.decode_dtype)

    def decode(self, codes) -> np.ndarray:
        """2^(code - bias); the all-ones code is NaN."""
        c = as_codes(self.name, codes, self.bits)
        flat = c.reshape(-1)
        return lut_decode(self.name, flat, self._table, self.bits).reshape(c.shape)

    def values(self) -> np.ndarray:
        return self._table[:-1].astype(np.float64)


#: E8M0, the OCP MX scale (OCP MX v1.0 §5.4: bias 127, 2^-127 … 2^127, NaN = 0xFF): the
#: object the registry holds as "e8m0" and every E8M0-scaled block format's ``scale_format``.
E8M0 = ExpFormat(8, name="e8m0")
