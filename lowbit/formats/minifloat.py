"""FloatFormat: sign, E exponent bits, M mantissa bits, a bias and a special-value rule.

Value of a code (sign s, biased exponent e, mantissa m):
    normal    (e > 0):  (-1)^s · 2^(e - bias) · (1 + m / 2^M)
    subnormal (e = 0):  (-1)^s · 2^(1 - bias) · (m / 2^M)

Special-value rules (``specials``):
    "ieee"  IEEE 754: exponent all ones is Inf (m = 0) or NaN (m != 0)         e5m2, fp16
    "fn"    finite + NaN: only S.1…1.1…1 is NaN, the rest of the top binade is finite  e4m3fn
    "fnuz"  finite, unsigned zero: the -0 code (1000…0) is the single NaN      e4m3fnuz
    "none"  every code is a finite number (no Inf, no NaN)                     e2m1fn
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import _kernels as K
from .base import (
    NAN_POLICIES,
    OVERFLOW_POLICIES,
    SPECIALS,
    Format,
    FormatError,
    NanPolicy,
    Overflow,
    Rounding,
    Specials,
    as_codes,
    as_float_input,
    check_choice,
    check_name,
    check_rounding,
    check_seed,
    code_dtype,
    lut_decode,
    out_buffer,
    random_bits,
)

#: ``subnormals`` settings and the id the kernels take for each.
_SUBN_ID = {True: K.SUBN_ON, False: K.SUBN_OFF, "flush": K.SUBN_FLUSH}
SUBNORMAL_RULES = tuple(_SUBN_ID)


@dataclass(frozen=True)
class FloatFormat(Format):
    """A signed minifloat of any exponent/mantissa split up to 32 bits.

    ``bias`` defaults to 2^(E-1) - 1 ("ieee", "fn", "none") or 2^(E-1) ("fnuz").

    ``subnormals``: True (exponent field 0 holds subnormals), False (no subnormals: values
    round onto the grid {0, ±2^emin, ...}, so |x| just below 2^emin rounds to 2^emin) or
    "flush" (no subnormals, and |x| < 2^emin becomes ±0 before rounding, as microxcaling's
    elementwise quantizer does with ``allow_denorm=False``).

    >>> from lowbit import FloatFormat
    >>> e4m3 = FloatFormat(4, 3, specials="fn")
    >>> e4m3.max, e4m3.smallest_subnormal
    (448.0, 0.001953125)
    >>> e4m3.encode([1.0, -0.3]).tolist()
    [56, 170]
    """

    family = "minifloat"

    exp_bits: int
    man_bits: int
    bias: int | None = None
    specials: Specials = "ieee"
    subnormals: bool | str = True
    name: str = field(default="", compare=False)

    def __post_init__(self):
        E, M = self.exp_bits, self.man_bits
        for what, v in (("exp_bits", E), ("man_bits", M)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"FloatFormat: {what} must be an int, got {v!r}")
        object.__setattr__(self, "exp_bits", int(E))
        object.__setattr__(self, "man_bits", int(M))
        sub = self.subnormals
        if isinstance(sub, np.bool_):
            sub = bool(sub)
        if not (isinstance(sub, bool) or sub == "flush"):
            raise TypeError(f"FloatFormat: subnormals must be True, False or 'flush', got {sub!r}")
        object.__setattr__(self, "subnormals", sub)
        check_name("FloatFormat", self.name)
        if self.specials not in SPECIALS:
            raise FormatError(
                f"FloatFormat: specials={self.specials!r} is not supported; "
                f"expected one of {', '.join(SPECIALS)}"
            )
        if not 1 <= E <= 11:
            raise FormatError(f"FloatFormat: exp_bits={E} is out of range; legal range is 1..11")
        if not 0 <= M <= 30:
            raise FormatError(f"FloatFormat: man_bits={M} is out of range; legal range is 0..30")
        if 1 + E + M > 32:
            raise FormatError(
                f"FloatFormat: 1 + exp_bits + man_bits = {1 + E + M} bits; at most 32 are supported"
            )
        if self.specials == "ieee" and (E < 2 or M < 1):
            raise FormatError(
                "FloatFormat: specials='ieee' needs exp_bits >= 2 (a finite binade besides the "
                "Inf/NaN one) and man_bits >= 1 (to tell NaN from Inf)"
            )
        if self.specials == "fn" and E + M < 2:
            raise FormatError("FloatFormat: specials='fn' needs exp_bits + man_bits >= 2")
        bias = self.bias
        if bias is None:
            bias = 2 ** (E - 1) if self.specials == "fnuz" else 2 ** (E - 1) - 1
            object.__setattr__(self, "bias", bias)
        if not isinstance(bias, (int, np.integer)) or isinstance(bias, bool):
            raise TypeError(f"FloatFormat: bias must be an int, got {bias!r}")
        object.__setattr__(self, "bias", int(bias))
        # Every value must be an exact float64 normal or subnormal, and normals must be
        # float64 normals (the kernels rely on it).
        if not -1022 <= 1 - self.bias:
            raise FormatError(f"FloatFormat: bias={self.bias} too large; legal range is ..1023")
        if self._emax_field - self.bias > 1023:
            raise FormatError(
                f"FloatFormat: bias={self.bias} too small for exp_bits={E}: the largest value "
                f"would exceed float64; legal range is {self._emax_field - 1023}..1023"
            )
        if not self.name:
            object.__setattr__(self, "name", self._default_name())

    # -- structure ----------------------------------------------------------------------
    def _default_name(self) -> str:
        suffix = {"ieee": "", "fn": "fn", "fnuz": "fnuz", "none": "fn"}[self.specials]
        n = f"fp{self.bits}_e{self.exp_bits}m{self.man_bits}{suffix}"
        default_bias = 2 ** (self.exp_bits - 1) - (0 if self.specials == "fnuz" else 1)
        if self.bias != default_bias:
            n += f"_b{self.bias}"
        if self.subnormals is False:
            n += "_nosub"
        elif self.subnormals == "flush":
            n += "_flush"
        return n

    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal value."""
        return 1 - self.bias

    @property
    def _emax_field(self) -> int:
        """Largest exponent field that holds finite values."""
        top = 2**self.exp_bits - 1
        if self.specials == "ieee":
            return top - 1
        if self.specials == "fn" and self.man_bits == 0:
            return top - 1
        return top

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest finite value."""
        return self._emax_field - self.bias

    # -- special codes (as gfloat's FormatInfo.code_of_*): the only place they are derived;
    # the kernels, the exact reference and decode take them from here (cached: encode reads
    # them on every call, and the format is frozen) -----------------------------------------
    @cached_property
    def sign_bit(self) -> int:
        """The sign bit of a code, 2^(E+M): code | sign_bit negates (IEEE 754-2019 §3.4).

        >>> FloatFormat(4, 3, specials="fn").sign_bit
        128
        """
        return 1 << (self.exp_bits + self.man_bits)

    @cached_property
    def code_of_max(self) -> int:
        """The code of the largest finite value (sign bit clear).

        "ieee": the exponent field below all ones, mantissa all ones (IEEE 754-2019 §3.4);
        "fn": the top binade is finite except its all-ones mantissa, the NaN (OCP OFP8 v1.0
        §5.3, E4M3); "fnuz" and "none": every code below the sign bit is finite.

        >>> hex(FloatFormat(4, 3, specials="fn").code_of_max), hex(FloatFormat(5, 2).code_of_max)
        ('0x7e', '0x7b')
        """
        M = self.man_bits
        if self.specials == "ieee":
            return (self._emax_field << M) | ((1 << M) - 1)
        if self.specials == "fn":
            if M == 0:
                return self._emax_field
            return (self._emax_field << M) | ((1 << M) - 2)
        return self.sign_bit - 1

    @cached_property
    def code_of_inf(self) -> int | None:
        """The code of +Inf, None without Inf: exponent all ones, mantissa 0 ("ieee" only,
        IEEE 754-2019 §3.4).

        >>> hex(FloatFormat(5, 2).code_of_inf), FloatFormat(4, 3, specials="fn").code_of_inf
        ('0x7c', None)
        """
        if self.specials != "ieee":
            return None
        return ((1 << self.exp_bits) - 1) << self.man_bits

    @cached_property
    def code_of_nan(self) -> int | None:
        """The canonical NaN code, None when the format has no NaN.

        "ieee": the quiet NaN, exponent all ones and the mantissa's top bit (IEEE 754-2019
        §6.2.1, what numpy and ml_dtypes produce); "fn": S.1111.111, the only NaN
        magnitude (OCP OFP8 v1.0 §5.3); "fnuz": 1000…0, the -0 code, the only NaN (so it
        has the sign bit set; Graphcore/AMD FNUZ, ml_dtypes ``float8_e4m3fnuz``).

        >>> [hex(FloatFormat(*em, specials=sp).code_of_nan) for em, sp in
        ...  (((5, 2), "ieee"), ((4, 3), "fn"), ((4, 3), "fnuz"))]
        ['0x7e', '0x7f', '0x80']
        """
        if self.specials == "ieee":
            return self.code_of_inf | (1 << (self.man_bits - 1))
        if self.specials == "fn":
            return self.sign_bit - 1
        if self.specials == "fnuz":
            return self.sign_bit
        return None

    def code_of_overflow(self, overflow: Overflow | None = None) -> int:
        """The code a positive value beyond ``max`` encodes to under ``overflow`` (the
        format's ``default_overflow`` when None); a negative one gets its sign bit too,
        except fnuz's NaN, which is unsigned.  Rounding toward zero never overflows: it
        gives ``code_of_max`` whatever the policy (IEEE 754-2019 §7.4).

        >>> f = FloatFormat(5, 2)
        >>> hex(f.code_of_overflow()), hex(f.code_of_overflow("saturate"))
        ('0x7c', '0x7b')
        """
        overflow = self.default_overflow if overflow is None else overflow
        code = {"saturate": self.code_of_max, "inf": self.code_of_inf, "nan": self.code_of_nan}
        if code.get(overflow) is None:
            raise ValueError(
                f"{self.name}: overflow={overflow!r} is impossible; "
                f"legal: {', '.join(self.overflow_policies)}"
            )
        return code[overflow]

    def code_of_nan_input(self, nan: NanPolicy = "raise") -> int:
        """The code NaN input encodes to: ``code_of_nan`` (with the input's sign where the
        NaN has a sign, "ieee" and "fn") when the format has a NaN; else +0 for "zero" (and
        "raise", which raises before the code is used) and the -0 code for "negzero", the
        code ml_dtypes' cast gives (e2m1fn and friends).

        >>> FloatFormat(2, 1, specials="none").code_of_nan_input("negzero")
        8
        """
        if self.code_of_nan is not None:
            return self.code_of_nan
        return self.sign_bit if nan == "negzero" else 0

    def _special_args(self, overflow: str, nan: str, ftype=None) -> tuple:
        """(nan base, nan sign mask, overflow base, overflow sign mask, signed zero): the
        special results as the kernels take them, ``base | (input sign & mask)``.

        Codes for ``ftype`` None; else the bit patterns of the codes' values in float32 or
        float64 (the value-domain kernels).  Cached per instance: it runs on every call.
        """
        cache = self.__dict__.setdefault("_special_cache", {})
        key = (overflow, nan, ftype)
        args = cache.get(key)
        if args is None:
            sb = self.sign_bit
            nan_c = self.code_of_nan_input(nan)
            ovf_c = self.code_of_overflow(overflow)
            # a result whose code carries no sign of its own takes the input's sign; a NaN
            # stands in for no value when the format has none (nan="zero"/"negzero")
            nan_s = sb if self.has_nan and not nan_c & sb else 0
            ovf_s = 0 if ovf_c & sb else sb
            if ftype is None:
                args = (nan_c, nan_s, ovf_c, ovf_s, self.has_negative_zero)
            else:
                utype = np.uint32 if ftype == np.float32 else np.uint64
                fsb = int(np.array(-0.0, ftype).view(utype))
                val = self._decode_arith(np.array([nan_c, ovf_c], np.uint64)).astype(ftype)
                nan_v, ovf_v = (int(v) for v in val.view(utype))
                args = (nan_v, fsb if nan_s else 0, ovf_v, fsb if ovf_s else 0)
                args += (self.has_negative_zero,)
            cache[key] = args
        return args

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials != "none"

    @property
    def has_negative_zero(self) -> bool:
        return self.specials != "fnuz"

    @property
    def max(self) -> float:
        """Largest finite value: 2^emax · (1 + m_max / 2^M)."""
        mmax = self.code_of_max & ((1 << self.man_bits) - 1)
        return float(np.ldexp(1.0 + mmax / 2**self.man_bits, self.emax))

    @property
    def min(self) -> float:
        """Most negative finite value (= -max)."""
        return -self.max

    @property
    def smallest_normal(self) -> float:
        """2^(1 - bias)."""
        return float(np.ldexp(1.0, self.emin))

    @property
    def has_subnormals(self) -> bool:
        """Whether exponent field 0 holds subnormal values (``subnormals=True``); False for
        both ``subnormals=False`` and ``"flush"``, which differ only in how inputs round.

        >>> import lowbit
        >>> lowbit.FloatFormat(4, 3, subnormals="flush").has_subnormals
        False
        """
        return self.subnormals is True

    @property
    def smallest_subnormal(self) -> float:
        """2^(1 - bias - M) with subnormals, else the smallest normal."""
        if self.subnormals is not True or self.man_bits == 0:
            return self.smallest_normal
        return float(np.ldexp(1.0, self.emin - self.man_bits))

    @property
    def eps(self) -> float:
        """Spacing of values in [1, 2) relative to 1: 2^-M (as numpy.finfo.eps)."""
        return float(np.ldexp(1.0, -self.man_bits))

    @property
    def fits_float32(self) -> bool:
        """True when every value is exactly a float32 (decode then returns float32)."""
        return self.holds_values(np.dtype(np.float32))

    def _grid(self) -> tuple[float, float, int]:
        # the finest step is 2^(emin - M) whether or not subnormals exist (the emin binade)
        return self.max, float(np.ldexp(1.0, self.emin - self.man_bits)), self.man_bits + 1

    @property
    def _subn(self) -> int:
        return _SUBN_ID[self.subnormals]

    @property
    def decode_dtype(self) -> np.dtype:
        return np.dtype(np.float32 if self.fits_float32 else np.float64)

    def _describe_extra(self) -> dict:
        return {
            "exp_bits": self.exp_bits,
            "man_bits": self.man_bits,
            "bias": self.bias,
            "specials": self.specials,
            "subnormals": self.subnormals,
            "has_inf": self.has_inf,
            "has_nan": self.has_nan,
            "has_negative_zero": self.has_negative_zero,
            "default_overflow": self.default_overflow,
        }

    # -- policies -------------------------------------------------------------------------
    @property
    def overflow_policies(self) -> tuple[str, ...]:
        """Overflow policies this format allows."""
        out = ["saturate"]
        if self.has_inf:
            out.append("inf")
        if self.has_nan:
            out.append("nan")
        return tuple(out)

    @property
    def default_overflow(self) -> Overflow:
        """As ml_dtypes casts: Inf for IEEE types, NaN for fn/fnuz, saturate without specials."""
        return {"ieee": "inf", "fn": "nan", "fnuz": "nan", "none": "saturate"}[self.specials]

    def _policies(self, rounding, overflow, nan, seed=None):
        mode = check_rounding(self.name, rounding)
        check_seed(seed)
        if overflow is None:
            overflow = self.default_overflow
        check_choice(self.name, "overflow", overflow, OVERFLOW_POLICIES)
        if overflow not in self.overflow_policies:
            raise ValueError(
                f"{self.name}: overflow={overflow!r} is impossible (the format has "
                f"{'no Inf' if overflow == 'inf' else 'no NaN'}); "
                f"legal: {', '.join(self.overflow_policies)}"
            )
        check_choice(self.name, "nan", nan, NAN_POLICIES)
        if nan == "negzero" and not self.has_negative_zero:
            raise ValueError(f"{self.name}: nan='negzero' needs a -0 code; legal: raise, zero")
        return mode, overflow

    def _kernel_input(self, arr: np.ndarray):
        """(bit-pattern view, frac bits, exponent bias) for the kernels."""
        if arr.dtype == np.float32 and self.fits_float32 and self.emin >= -126:
            return arr.reshape(-1).view(np.uint32), 23, 127
        with np.errstate(invalid="ignore"):  # signalling NaNs widen to quiet NaNs
            arr64 = np.ascontiguousarray(arr, dtype=np.float64)
        return arr64.reshape(-1).view(np.uint64), 52, 1023

    def _fast_ok(self, frac: int, mode: int, any_nearest: bool = False) -> bool:
        """Whether the branch-free float32 kernels apply (they are tested against the
        general kernels): float32 input, subnormals on, M < 23; RNE, or with
        ``any_nearest`` also ties-away and toward-zero."""
        if frac != 23 or self.subnormals is not True or self.man_bits >= 23:
            return False
        if any_nearest:
            return mode in (K.RNE, K.RNA, K.RTZ)
        # with M = 0 a tie goes to the larger magnitude (no mantissa to be even), which the
        # add-and-mask trick of the RNE kernel would not do
        return mode == K.RNE and self.man_bits >= 1

    def _raise_nan(self, nbad, nan):
        if nbad and nan == "raise" and not self.has_nan:
            raise ValueError(
                f"{self.name}: {nbad} NaN input value(s), and the format has no NaN code; "
                "pass nan='zero' or nan='negzero' to choose what NaN becomes"
            )

    # -- codecs -------------------------------------------------------------------------
    def encode(
        self,
        x,
        rounding: Rounding = "nearest_even",
        overflow: Overflow | None = None,
        seed=None,
        nan: NanPolicy = "raise",
    ) -> np.ndarray:
        """Codes of ``x`` (narrowest unsigned dtype), rounded and with overflow as asked.

        ``nan`` matters only for formats without a NaN code: "raise" (default), "zero"
        (+0 code) or "negzero" (the -0 code, what ml_dtypes produces).
        """
        arr, _ = as_float_input(self.name, x)
        mode, overflow = self._policies(rounding, overflow, nan, seed)
        bits, frac, ebias = self._kernel_input(arr)
        n = bits.shape[0]
        out = np.empty(n, dtype=code_dtype(self.bits))
        special = self._special_args(overflow, nan)
        signpos = self.exp_bits + self.man_bits
        M, emin, maxc = self.man_bits, self.emin, self.code_of_max
        if self._fast_ok(frac, mode):
            nbad = K.pick(K.encode_f32_rne, n)(bits, out, M, emin, maxc, signpos, *special)
        elif self._fast_ok(frac, mode, any_nearest=True):
            nbad = K.pick(K.encode_f32_fast, n)(bits, out, M, emin, maxc, signpos, mode, *special)
        else:
            rb = random_bits(n, seed) if mode == K.RSR else K.NO_RANDOM
            nbad = K.pick(K.encode_float, n)(
                bits, out, rb, frac, ebias, M, emin, self.bias, self._subn, maxc, signpos,
                mode, *special,
            )  # fmt: skip
        self._raise_nan(nbad, nan)
        return out.reshape(arr.shape)

    _writes_out = True

    def _quantize(self, arr, rounding, overflow, seed, nan="raise", out=None):
        mode, overflow = self._policies(rounding, overflow, nan, seed)
        bits, frac, ebias = self._kernel_input(arr)
        n = bits.shape[0]
        ftype = np.float32 if frac == 23 else np.float64
        out = out_buffer(out, n, ftype)
        utype = np.uint32 if ftype == np.float32 else np.uint64
        qsub = np.array(self.smallest_subnormal, dtype=ftype).view(utype)[()]
        maxb = np.array(self.max, dtype=ftype).view(utype)[()]
        special = self._special_args(overflow, nan, ftype)
        ov = out.view(utype)
        M, emin = self.man_bits, self.emin
        if self._fast_ok(frac, mode):
            # count NaNs only when they raise: the reduction costs the RNE kernel ~10%
            count = nan == "raise" and not self.has_nan
            nbad = K.pick(K.quantize_f32_rne, n)(bits, ov, M, emin, maxb, *special, count)
        elif self._fast_ok(frac, mode, any_nearest=True):
            nbad = K.pick(K.quantize_f32_fast, n)(bits, ov, M, emin, maxb, qsub, mode, *special)
        else:
            rb = random_bits(n, seed) if mode == K.RSR else K.NO_RANDOM
            nbad = K.pick(K.quantize_float, n)(
                bits, ov, rb, frac, ebias, M, emin, self._subn, int(maxb), int(qsub), mode,
                *special,
            )  # fmt: skip
        self._raise_nan(nbad, nan)
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
        """Round ``x`` to this format's values (``decode(encode(x))``).

        The dtype is x's float dtype when it holds every value of the format, else float32
        or float64 (``quantize_dtype``): bf16 of float16 input is float32.

        ``out``: write the result into this array of x's shape and result dtype (as numpy
        ufuncs do) and return it; ``out=x`` rounds in place.

        >>> import lowbit
        >>> lowbit.get_format("fp8_e4m3fn").quantize([0.3, 500.0], overflow="saturate").tolist()
        [0.3125, 448.0]
        """
        return super().quantize(
            x, rounding=rounding, overflow=overflow, seed=seed, nan=nan, out=out
        )

    @cached_property
    def _table(self) -> np.ndarray:
        return self._decode_arith(np.arange(2**self.bits, dtype=np.uint64))

    def _decode_arith(self, codes: np.ndarray) -> np.ndarray:
        """Exact decode from the definition, vectorised in float64 (any width)."""
        E, M = self.exp_bits, self.man_bits
        c = codes.astype(np.uint64)
        s = (c >> np.uint64(E + M)) & np.uint64(1)
        e = ((c >> np.uint64(M)) & np.uint64(2**E - 1)).astype(np.int64)
        m = (c & np.uint64(2**M - 1)).astype(np.float64)
        with np.errstate(over="ignore"):
            normal = np.ldexp(1.0 + m / 2.0**M, e - self.bias)
            sub = np.ldexp(m / 2.0**M, self.emin)
            if self.subnormals is not True:
                sub = np.zeros_like(m)
        v = np.where(e > 0, normal, sub)
        mag = (c & np.uint64(2 ** (E + M) - 1)).astype(np.int64)
        if self.specials == "ieee":
            top = e == 2**E - 1
            v = np.where(top & (m == 0), np.inf, v)
            v = np.where(top & (m != 0), np.nan, v)
        elif self.specials == "fn":
            v = np.where(mag > self.code_of_max, np.nan, v)
        elif self.specials == "fnuz":
            v = np.where((s == 1) & (mag == 0), np.nan, v)
        # the sign last, NaN included: a negative NaN code decodes to a NaN with the sign
        # bit set, as numpy's float16 and ml_dtypes do (fnuz's NaN is the -0 code)
        v = np.where(s == 1, -v, v)
        return v.astype(self.decode_dtype)

    def decode(self, codes) -> np.ndarray:
        """Values of ``codes`` (float32 when every value fits float32 exactly, else float64).

        Codes outside [0, 2^bits) raise ``ValueError``.  NaN codes with the sign bit set
        decode to a NaN with the sign bit set.
        """
        c = as_codes(self.name, codes, self.bits, check_upper=self.bits > 16)
        flat = c.reshape(-1)
        if self.bits > 16:
            return self._decode_arith(flat).reshape(c.shape)
        return lut_decode(self.name, flat, self._table, self.bits).reshape(c.shape)

    def values(self) -> np.ndarray:
        """Every finite value, ascending (one zero), for formats of at most 20 bits."""
        if self.bits > 20:
            raise ValueError(
                f"{self.name}: values() lists at most 2^20 codes; this has {self.bits} bits"
            )
        v = self._decode_arith(np.arange(2**self.bits, dtype=np.uint64)).astype(np.float64)
        return np.unique(v[np.isfinite(v)])
