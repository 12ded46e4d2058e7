"""Property tests: random formats (split, bias, specials, subnormals), random values and
every deterministic rounding mode, against the exact reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit import FloatFormat, FormatError
from lowbit.formats import reference as R

MODES = ["nearest_even", "nearest_away", "toward_zero", "down", "up"]


@st.composite
def formats(draw):
    e = draw(st.integers(1, 6))
    m = draw(st.integers(0, 7))
    specials = draw(st.sampled_from(["ieee", "fn", "fnuz", "none"]))
    bias = draw(st.one_of(st.none(), st.integers(-4, 2**e + 4)))
    sub = draw(st.booleans())
    try:
        return FloatFormat(e, m, bias=bias, specials=specials, subnormals=sub)
    except FormatError:
        return FloatFormat(4, 3, specials="fn")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    fmt=formats(),
    xs=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=30),
    rounding=st.sampled_from(MODES),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_encode_matches_reference(fmt, xs, rounding, dtype):
    with np.errstate(all="ignore"):
        x = np.array(xs, dtype=np.float64).astype(dtype)
    for overflow in fmt.overflow_policies:
        kw = dict(rounding=rounding, overflow=overflow, nan="zero" if not fmt.has_nan else "raise")
        ours = fmt.encode(x, **kw)
        ref = [R.encode_float_ref(fmt, float(v), **kw) for v in x]
        assert ours.astype(np.int64).tolist() == ref, (fmt, overflow)
        dec = fmt.decode(ours).astype(dtype)
        assert np.array_equal(fmt.quantize(x, **kw), dec, equal_nan=True)
