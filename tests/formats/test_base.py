"""lowbit/formats/base.py: the policy Literal aliases are the runtime lists, and the kernels
take their ids from base's one list."""

from __future__ import annotations

import inspect
import typing

import pytest

import lowbit
from lowbit.formats import _kernels as K
from lowbit.formats import base


@pytest.mark.parametrize(
    "alias, runtime",
    [
        (base.Rounding, base.ROUNDING_MODES),
        (base.Overflow, base.OVERFLOW_POLICIES),
        (base.NanPolicy, base.NAN_POLICIES),
        (base.Specials, base.SPECIALS),
        (base.Encoding, base.ENCODINGS),
    ],
)
def test_literal_aliases_are_the_runtime_tuples(alias, runtime):
    assert typing.get_origin(alias) is typing.Literal
    assert typing.get_args(alias) == runtime


def test_runtime_lists_hold_the_documented_names():
    assert base.ROUNDING_MODES == (
        "nearest_even", "nearest_away", "toward_zero", "down", "up", "stochastic",
    )  # fmt: skip
    assert base.OVERFLOW_POLICIES == ("saturate", "inf", "nan")
    assert base.NAN_POLICIES == ("raise", "zero", "negzero")
    assert base.SPECIALS == ("ieee", "fn", "fnuz", "none")
    assert base.ENCODINGS == ("twos_complement", "sign_magnitude", "offset_binary")


def test_kernel_ids_come_from_base():
    ids = base.ROUNDING_IDS
    assert (K.RNE, K.RNA, K.RTZ, K.RDN, K.RUP, K.RSR) == tuple(
        ids[m] for m in ("nearest_even", "nearest_away", "toward_zero", "down", "up", "stochastic")
    )
    assert sorted(ids.values()) == list(range(len(base.ROUNDING_MODES)))
    enc = base.ENCODING_IDS
    assert (K.ENC_TWOS, K.ENC_SIGN_MAG, K.ENC_OFFSET, K.ENC_UNSIGNED) == tuple(
        enc[e] for e in (*base.ENCODINGS, "unsigned")
    )
    assert [lowbit.get_format(n)._enc for n in ("int8", "int8_sm", "uint8")] == [
        K.ENC_TWOS,
        K.ENC_SIGN_MAG,
        K.ENC_UNSIGNED,
    ]


@pytest.mark.parametrize(
    "cls", [lowbit.FloatFormat, lowbit.IntFormat, lowbit.ExpFormat, lowbit.BinaryFormat]
)
@pytest.mark.parametrize("method", ["encode", "quantize"])
def test_public_signatures_use_the_aliases(cls, method):
    hints = typing.get_type_hints(getattr(cls, method), vars(base))
    assert hints["rounding"] == base.Rounding
    assert hints["overflow"] == base.Overflow | None
    params = inspect.signature(getattr(cls, method)).parameters
    assert params["rounding"].default == "nearest_even"
