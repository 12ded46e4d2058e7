"""A quantization plan: what each compute layer of a network is quantized to.

A plan has a ``default`` :class:`LayerPlan` and ``overrides`` (applied in order, later
ones win) whose pattern selects layers by name glob (``fc*``), by op (``op:Conv``) or
``*``. A :class:`LayerPlan` holds:

* ``weight``, ``activation``: operand specs in the grammar of
  :func:`lowbit.evaluation.parse_spec` (``FORMAT[:GRANULARITY[:RANGE[:SCALE_FORMAT]]]``),
  or ``"float"`` to leave the operand as it is. The layer's GEMM form decides the axes
  (`lowbit.nn.LayerCall.gemm`): per-channel is per output channel, groups and blocks lie
  along K (for a Conv, input channels fastest);
* ``mode``: ``static`` (the activation's per-tensor scale from calibration, recorded in
  ``ranges``), ``dynamic`` (scales from each batch), or ``auto`` (static for per-tensor
  scalar specs, dynamic otherwise); ``calibration``: the range setter for static scales,
  one of :data:`CALIBRATIONS` (``spec`` means the activation spec's RANGE field, ``ema``
  the EMA of min-max over calibration batches);
* ``transform``: ``none`` or a :func:`lowbit.analysis.transforms.parse_transform` spec
  (SmoothQuant fitted on calibration activations, Hadamard along K);
* ``accumulator``, ``order``, ``lanes``, ``simulate``: with ``simulate = true`` the layer's
  GEMM runs bit-exactly through :func:`lowbit.hwmodel.macsim.gemm` with that accumulator,
  else in float64 on the quantized operands ("fake quantization").

Plans save and load as TOML or JSON (:meth:`Plan.save`, :func:`load_plan`)::

    name = "w8a8"
    [default]
    weight = "int8:per_channel"
    activation = "int8:per_tensor"
    [[override]]
    match = "fc3"
    weight = "int8:per_channel"
    activation = "fp16"

>>> p = Plan.from_dict({"name": "w4", "default": {"weight": "int4:g32"},
...                     "override": [{"match": "op:Conv", "weight": "float"}]})
>>> p.for_layer("fc1", "Gemm").weight, p.for_layer("c1", "Conv").weight
('int4:g32', 'float')
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..analysis.transforms import parse_transform
from ..evaluation.operands import parse_spec
from ..hwmodel.accumulator import parse_accumulator

FLOAT = "float"
#: the plans the report compares (weight spec, activation spec): W8A8 as LLM.int8()/SmoothQuant
#: run it (per-channel weights, per-token activations), weight-only INT4 in groups of 128
#: (W4A16), the same with per-token INT8 activations (W4A8), the OCP MX formats (blocks of 32
#: along K), NVIDIA's NVFP4 (blocks of 16), and FP8 E4M3 with a static per-tensor activation
STANDARD_PLANS = {
    "W8A8": ("int8:per_channel", "int8:per_token"),
    "W4A16": ("int4_g128", "fp16"),
    "W4A8": ("int4_g128", "int8:per_token"),
    "MXFP8": ("mxfp8_e4m3", "mxfp8_e4m3"),
    "MXFP4": ("mxfp4", "mxfp4"),
    "NVFP4": ("nvfp4", "nvfp4"),
    "FP8": ("fp8_e4m3fn:per_channel", "fp8_e4m3fn:per_tensor"),
}
MODES = ("auto", "static", "dynamic")
CALIBRATIONS = ("spec", "minmax", "percentile", "mse", "aciq", "kl", "octav", "ema")
ORDERS = ("blocks", "sequential", "pairwise")


@dataclass(frozen=True)
class LayerPlan:
    """How one layer is quantized (see the module docstring for each field).

    >>> LayerPlan("int8:per_channel", "int8").act_mode()
    'static'
    """

    weight: str = FLOAT
    activation: str = FLOAT
    mode: str = "auto"
    calibration: str = "spec"
    transform: str = "none"
    accumulator: str = "fp32"
    order: str = "blocks"
    lanes: int = 32
    simulate: bool = False
    ema_momentum: float = 0.9

    def __post_init__(self):
        for role in ("weight", "activation"):
            v = getattr(self, role)
            if not isinstance(v, str):
                raise TypeError(f"plan: {role} must be a spec string, got {v!r}")
            if v != FLOAT:
                try:
                    parse_spec(v)
                except (ValueError, TypeError, KeyError) as e:
                    raise ValueError(f"plan: {role} = {v!r}: {e}") from None
        _choice("mode", self.mode, MODES)
        _choice("calibration", self.calibration, CALIBRATIONS)
        _choice("order", self.order, ORDERS)
        if self.transform != "none":
            try:
                parse_transform(self.transform)
            except (ValueError, TypeError) as e:
                raise ValueError(f"plan: transform = {self.transform!r}: {e}") from None
        try:
            parse_accumulator(self.accumulator)
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"plan: accumulator = {self.accumulator!r}: {e}") from None
        if isinstance(self.lanes, bool) or not isinstance(self.lanes, int) or self.lanes < 1:
            raise ValueError(f"plan: lanes must be a positive integer, got {self.lanes!r}")
        if not isinstance(self.simulate, bool):
            raise TypeError(f"plan: simulate must be true or false, got {self.simulate!r}")
        if not 0 <= self.ema_momentum < 1:
            raise ValueError(f"plan: ema_momentum must be in [0, 1), got {self.ema_momentum}")
        if self.simulate and FLOAT in (self.weight, self.activation):
            raise ValueError("plan: simulate = true needs both weight and activation specs")
        if self.mode == "static" and self.activation != FLOAT and not self._per_tensor():
            raise ValueError(
                f"plan: mode = 'static' needs a per-tensor scalar activation spec, got "
                f"{self.activation!r} (per-token and block scales are set from each batch)"
            )

    def _per_tensor(self) -> bool:
        s = parse_spec(self.activation)
        return (not s.is_block) and s.granularity == "per_tensor"

    def act_mode(self) -> str | None:
        """``static`` or ``dynamic`` for a quantized activation, None when it stays float."""
        if self.activation == FLOAT:
            return None
        if self.mode == "auto":
            return "static" if self._per_tensor() else "dynamic"
        return self.mode

    @property
    def quantized(self) -> bool:
        return self.weight != FLOAT or self.activation != FLOAT or self.simulate

    def describe(self) -> str:
        """A short label: ``W=int8:per_channel A=int8:per_tensor (static) T=hadamard``."""
        a = self.activation + (f" ({self.act_mode()})" if self.act_mode() else "")
        t = "" if self.transform == "none" else f" T={self.transform}"
        return f"W={self.weight} A={a}{t}"


def _choice(what: str, v: Any, legal: tuple[str, ...]) -> None:
    if v not in legal:
        raise ValueError(f"plan: {what} = {v!r}; expected one of {', '.join(legal)}")


_KEYS = {f.name for f in fields(LayerPlan)}


def _layer_plan(d: dict, where: str, base: LayerPlan | None = None) -> LayerPlan:
    if not isinstance(d, dict):
        raise TypeError(f"plan: {where} must be a table, got {type(d).__name__}")
    bad = set(d) - _KEYS
    if bad:
        raise ValueError(f"plan: {where}: unknown keys {sorted(bad)}; known: {sorted(_KEYS)}")
    return replace(base, **d) if base is not None else LayerPlan(**d)


@dataclass(frozen=True)
class Override:
    """Fields that replace the default's on the layers ``match`` selects."""

    match: str
    fields: dict

    def selects(self, name: str, op: str) -> bool:
        if self.match.startswith("op:"):
            return op == self.match[3:]
        return fnmatch.fnmatchcase(name, self.match)


@dataclass
class Plan:
    """A named quantization plan: a default, overrides, and calibrated ranges (layer name →
    the activation clip, filled by `lowbit.nn.calibrate`)."""

    name: str
    default: LayerPlan = field(default_factory=LayerPlan)
    overrides: list[Override] = field(default_factory=list)
    ranges: dict[str, float] = field(default_factory=dict)

    def for_layer(self, name: str, op: str) -> LayerPlan:
        """The :class:`LayerPlan` of layer ``name`` (op ``op``): default, then overrides."""
        lp = self.default
        for o in self.overrides:
            if o.selects(name, op):
                lp = replace(lp, **o.fields)
        return lp

    def check_layers(self, layers) -> None:
        """ValueError when an override selects none of ``layers`` (a misspelt name)."""
        for o in self.overrides:
            if not any(o.selects(la.name, la.op) for la in layers):
                names = ", ".join(la.name for la in layers)
                raise ValueError(
                    f"plan {self.name!r}: override {o.match!r} matches no layer; layers: {names}"
                )

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "default": _non_default(self.default)}
        if self.overrides:
            d["override"] = [{"match": o.match, **o.fields} for o in self.overrides]
        if self.ranges:
            d["ranges"] = dict(self.ranges)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        """A plan from its dict form (as :meth:`to_dict` writes and TOML/JSON read)."""
        if not isinstance(d, dict):
            raise TypeError(f"plan must be a table, got {type(d).__name__}")
        bad = set(d) - {"name", "default", "override", "ranges"}
        if bad:
            raise ValueError(
                f"plan: unknown top-level keys {sorted(bad)}; known: name, default, "
                "override, ranges"
            )
        name = d.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("plan: needs a non-empty string 'name'")
        default = _layer_plan(d.get("default", {}), "[default]")
        overrides = []
        for i, o in enumerate(d.get("override", [])):
            where = f"override #{i + 1}"
            if not isinstance(o, dict) or not isinstance(o.get("match"), str):
                raise ValueError(f"plan: {where} needs a string 'match' (a name glob or op:OP)")
            rest = {k: v for k, v in o.items() if k != "match"}
            _layer_plan(rest, where, default)  # validate now, not at the first layer
            overrides.append(Override(o["match"], rest))
        ranges = d.get("ranges", {})
        if not isinstance(ranges, dict) or not all(
            isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in ranges.values()
        ):
            raise ValueError("plan: ranges must map layer names to positive finite numbers")
        return cls(name, default, overrides, {k: float(v) for k, v in ranges.items()})

    @classmethod
    def parse(cls, text: str) -> Plan:
        """A plan from a compact string: ``NAME=W_SPEC,A_SPEC[,TRANSFORM]`` (e.g.
        ``w8a8=int8:per_channel,int8:per_token``), a name of `STANDARD_PLANS` with an
        optional ``+TRANSFORM`` (``W4A8+hadamard``), or a TOML/JSON file path."""
        if os.path.exists(text):
            return load_plan(text)
        base, _, tr = text.partition("+")
        if "=" not in text and base in STANDARD_PLANS:
            return standard_plan(base, tr or "none")
        name, sep, rest = text.partition("=")
        parts = rest.split(",") if sep else []
        if not name or len(parts) not in (2, 3):
            raise ValueError(
                f"plan {text!r}: expected a file or NAME=WEIGHT,ACTIVATION[,TRANSFORM]"
            )
        d = {"weight": parts[0], "activation": parts[1]}
        if len(parts) == 3:
            d["transform"] = parts[2]
        return cls(name, _layer_plan(d, "plan"))

    def save(self, path: str | os.PathLike) -> None:
        """Write the plan as TOML (``.toml``) or JSON (``.json``), atomically."""
        from ..fileio import atomic_path

        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext not in (".toml", ".json"):
            raise ValueError(f"plan file {path}: the name must end in .toml or .json")
        text = to_toml(self.to_dict()) if ext == ".toml" else json.dumps(self.to_dict(), indent=2)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def standard_plan(name: str, transform: str = "none") -> Plan:
    """One of `STANDARD_PLANS`, with ``transform`` on every layer; named ``NAME`` or
    ``NAME+TRANSFORM``.

    >>> standard_plan("W4A8", "hadamard").default.describe()
    'W=int4_g128 A=int8:per_token (dynamic) T=hadamard'
    """
    if name not in STANDARD_PLANS:
        raise ValueError(f"plan {name!r}: expected one of {', '.join(STANDARD_PLANS)}")
    w, a = STANDARD_PLANS[name]
    label = name if transform == "none" else f"{name}+{transform}"
    return Plan(label, LayerPlan(w, a, transform=transform))


def _non_default(lp: LayerPlan) -> dict:
    base = asdict(LayerPlan())
    return {k: v for k, v in asdict(lp).items() if v != base[k] or k in ("weight", "activation")}


def load_plan(path: str | os.PathLike) -> Plan:
    """A plan from a ``.toml`` or ``.json`` file (ValueError naming the file on bad input)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if ext == ".toml":
            import tomllib

            d = tomllib.loads(raw.decode("utf-8"))
        elif ext == ".json":
            d = json.loads(raw)
        else:
            raise ValueError("the name must end in .toml or .json")
        return Plan.from_dict(d)
    except (ValueError, TypeError, OSError) as e:
        raise ValueError(f"plan file {os.fspath(path)}: {e}") from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)  # repr round-trips a float64 exactly
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string
    raise TypeError(f"plan: cannot write {v!r} to TOML")


def _toml_key(k: str) -> str:
    # a bare key is letters, digits, _ and -; any other (a layer name like "p2o.Conv.3") is quoted
    return k if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k) else json.dumps(k)


def to_toml(d: dict) -> str:
    """The dict form of a plan as TOML (scalars, tables of scalars, arrays of tables).

    >>> print(to_toml({"name": "a", "default": {"lanes": 16}}).strip())
    name = "a"
    <BLANKLINE>
    [default]
    lanes = 16
    """
    out = [f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict | list)]
    for k, v in d.items():
        if isinstance(v, dict):
            out += ["", f"[{k}]"] + [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in v.items()]
        elif isinstance(v, list):
            for t in v:
                out += ["", f"[[{k}]]"] + [
                    f"{_toml_key(a)} = {_toml_value(b)}" for a, b in t.items()
                ]
    return "\n".join(out) + "\n"
