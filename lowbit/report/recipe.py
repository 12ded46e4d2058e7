"""Report recipes: TOML files naming the studies of a report and their parameters.

A recipe has top-level keys ``title``, ``subtitle``, ``seed`` and ``studies`` (which studies,
in order) and one table per study.  Every key is optional: a missing key takes its value from
the default recipe, ``recipes/format-comparison.toml`` shipped inside this package (read as
:data:`DEFAULTS`).
Unknown keys, unknown studies, unknown formats and out-of-range values raise ``ValueError``
naming the key and the legal choices.

>>> r = parse_recipe({"studies": ["atlas"], "atlas": {"plot": ["int8", "fp8_e4m3fn"]}})
>>> r.studies, r["atlas"]["plot"], r["hardware"]["array"]
(['atlas'], ['int8', 'fp8_e4m3fn'], [128, 128])
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..formats import get_format, list_formats

try:  # Python ≥ 3.11; tomli is the same parser for 3.10
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - depends on the Python version
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

STUDIES = (
    "atlas",
    "fp8_vs_int8",
    "block_formats",
    "baselines",
    "design",
    "range_setting",
    "hardware",
    "energy",
    "accuracy_vs_cost",
    "accumulators",
    "real_network",
)
#: the real-network study's models and plans (lowbit.nn.evaluate.MODELS, lowbit.nn.plan.STANDARD_PLANS)
NN_MODELS = ("digits", "ppocr-rec")
NN_PLANS = ("W8A8", "W4A16", "W4A8", "MXFP8", "MXFP4", "NVFP4", "FP8")
RANGE_METHODS = ("minmax", "percentile", "mse", "aciq", "kl", "octav")
TENSORS = ("gaussian", "laplace", "heavy_tailed")
MAC_ACCUMULATORS = ("fixed", "fp16", "bf16", "fp32")
SIM_ACCUMULATORS = ("fp16", "bf16", "fp32", "fixed:WIDTH[:FRAC][:wrap|saturate]")
#: A recipe file ``lowbit report`` reads in place of the packaged default when it exists in
#: the current directory (where the default recipe lived before it shipped in the package);
#: its stem names the PDF.  Without it the packaged default is read (source "built-in defaults").
DEFAULT_RECIPE = "reports/format-comparison.toml"

#: The packaged recipes (package data): ``recipes/format-comparison.toml`` is the default.
RECIPES = resources.files(__package__) / "recipes"
DEFAULT_SOURCE = "built-in defaults"


@functools.cache
def _default_doc() -> dict[str, Any]:
    """The packaged default recipe as read from its TOML (cached; callers copy it)."""
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ValueError("reading TOML recipes needs Python ≥ 3.11 or the 'tomli' package")
    with (RECIPES / "format-comparison.toml").open("rb") as fh:
        return tomllib.load(fh)


def __getattr__(name: str) -> Any:
    # DEFAULTS: the default recipe (recipes/format-comparison.toml) as a fresh dict, so that
    # no caller can change another's defaults
    if name == "DEFAULTS":
        return copy.deepcopy(_default_doc())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Recipe:
    """A validated recipe: ``recipe[study]`` is that study's parameter table."""

    title: str
    subtitle: str
    seed: int
    studies: list[str]
    sections: dict[str, dict[str, Any]]
    source: str = DEFAULT_SOURCE

    def __getitem__(self, study: str) -> dict[str, Any]:
        return self.sections[study]


# -- value checkers: each returns the cleaned value or raises ValueError -------------------
def _where(section: str | None, key: str) -> str:
    return f"recipe key {key!r}" if section is None else f"recipe key [{section}] {key!r}"


def _format_name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{where}: format names are strings, got {name!r}")
    try:
        get_format(name)
    except (ValueError, KeyError):
        close = difflib.get_close_matches(name, list_formats(), n=4, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ValueError(
            f"{where}: unknown format {name!r}; {hint}registered formats: "
            f"{', '.join(list_formats())}"
        ) from None
    return name


def _formats(value: Any, where: str, allow_all: bool = False) -> Any:
    if allow_all and value == "all":
        return "all"
    if not isinstance(value, list) or not value:
        extra = ' or "all"' if allow_all else ""
        raise ValueError(f"{where}: expected a non-empty list of format names{extra}")
    return [_format_name(v, where) for v in value]


def _int(lo: int, hi: int) -> Callable[[Any, str], int]:
    def check(value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"{where}: expected an integer in [{lo}, {hi}], got {value!r}")
        return value

    return check


def _float(lo: float, hi: float, open_lo: bool = True) -> Callable[[Any, str], float]:
    def check(value: Any, where: str) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (lo < value if open_lo else lo <= value)
        ok = ok and value <= hi
        if not ok:
            raise ValueError(f"{where}: expected a number in ({lo}, {hi}], got {value!r}")
        return float(value)

    return check


def _ints(lo: int, hi: int, length: int | None = None) -> Callable[[Any, str], list[int]]:
    one = _int(lo, hi)

    def check(value: Any, where: str) -> list[int]:
        if not isinstance(value, list) or not value or (length and len(value) != length):
            size = f"{length} " if length else "a non-empty list of "
            raise ValueError(f"{where}: expected {size}integers in [{lo}, {hi}], got {value!r}")
        return [one(v, where) for v in value]

    return check


def _floats(lo: float, hi: float) -> Callable[[Any, str], list[float]]:
    one = _float(lo, hi)

    def check(value: Any, where: str) -> list[float]:
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: expected a non-empty list of numbers in ({lo}, {hi}]")
        return [one(v, where) for v in value]

    return check


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise ValueError(f"{where}: {value!r} is not one of {', '.join(choices)}")
        return value

    return check


def _choices(choices: tuple[str, ...]) -> Callable[[Any, str], list[str]]:
    one = _choice(choices)

    def check(value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: expected a non-empty list from {', '.join(choices)}")
        return [one(v, where) for v in value]

    return check


#: The most values one tensor of the block-format study may hold (a recipe is refused before
#: anything runs rather than failing on memory: the study keeps a few float64 copies).
MAX_TENSOR_VALUES = 1 << 24


def _shape(value: Any, where: str) -> list[int]:
    rows, cols = _ints(1, 1 << 16, length=2)(value, where)
    if rows * cols > MAX_TENSOR_VALUES:
        raise ValueError(
            f"{where}: {rows}×{cols} = {rows * cols:,} values; at most {MAX_TENSOR_VALUES:,}"
        )
    return [rows, cols]


def _tensor(value: Any, where: str) -> str:
    """A synthetic tensor name, or ``FILE:NAME`` (or ``FILE``), one tensor of a
    .safetensors/.npz/.npy file, checked here: the file and the tensor exist, and it is
    not too large (paths are relative to the current directory)."""
    if value in TENSORS:
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{where}: expected one of {', '.join(TENSORS)} or FILE:NAME, got {value!r}"
        )
    from ..analysis.tensors import list_tensors, parse_tensor_spec

    path, name = parse_tensor_spec(value)
    if not Path(path).exists():
        raise ValueError(
            f"{where}: {value!r} is neither one of {', '.join(TENSORS)} nor an existing "
            f"tensor file (FILE:NAME)"
        )
    found = list_tensors(path)
    info = [t for t in found if name in (None, t.name)]
    if len(info) != 1:
        names = ", ".join(t.name for t in found[:20])
        raise ValueError(f"{where}: {value!r}: name one tensor of {path} ({names})")
    size = math.prod(info[0].shape)
    if not info[0].shape or size > MAX_TENSOR_VALUES:
        raise ValueError(
            f"{where}: {value!r} has shape {info[0].shape}; a tensor of 1 to "
            f"{MAX_TENSOR_VALUES:,} values with at least one axis is needed"
        )
    return value


def _tensors(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of {', '.join(TENSORS)} or FILE:NAME")
    return [_tensor(v, where) for v in value]


def _transform(value: Any, where: str) -> str:
    from ..analysis.transforms import parse_transform

    if value == "none":
        return value
    try:
        return parse_transform(value).spec
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {value!r}")
    return value


def _distribution(value: Any, where: str) -> str:
    from ..analysis.sweep import parse_distribution

    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a distribution such as 'student_t:3', got {value!r}")
    try:
        parse_distribution(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return value


def _distributions(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of distributions")
    return [_distribution(v, where) for v in value]


def sim_accumulator(value: Any, where: str) -> str:
    """A spec of lowbit's accumulator grammar (``hwmodel.accumulator.parse_accumulator``)
    for the accumulators study: a float, or fixed point of 2..62 bits (the C core's
    register); not the exact accumulator, which is the study's reference."""
    from ..hwmodel.accumulator import ExactAccumulator, FixedAccumulator, parse_accumulator

    try:
        acc = parse_accumulator(value) if isinstance(value, str) else None
    except (ValueError, TypeError):
        acc = None
    ok = acc is not None and not isinstance(acc, ExactAccumulator)
    ok = ok and not (isinstance(acc, FixedAccumulator) and not 2 <= acc.width <= 62)
    if not ok:
        raise ValueError(
            f"{where}: accumulator {value!r} is not one of {', '.join(SIM_ACCUMULATORS)} "
            "(WIDTH 2..62 bits; wrap unless :saturate; the exact accumulator is the reference)"
        )
    return value


def _operand_pairs(value: Any, where: str) -> list[dict]:
    """The accumulators study's operand pairs: tables {x, w} of operand specs
    (``lowbit.evaluation.parse_spec``: ``"int8:per_token"``, ``"mxfp4"``, …)."""
    from ..evaluation import parse_spec

    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a list of tables {{x, w}} (operand specs)")
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"x", "w"}:
            raise ValueError(f"{where}: each pair has exactly the keys 'x' and 'w', got {item!r}")
        for role in ("x", "w"):
            try:
                parse_spec(item[role])
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}: {role} = {item[role]!r}: {exc}") from None
        out.append({"x": item["x"], "w": item["w"]})
    return out


def _gemm_pairs(value: Any, where: str) -> list[dict]:
    """Operand pairs whose scales can be applied as the unit does: no per-channel scale on
    the activations X and no per-token scale on the weights W (those vary along K)."""
    from ..evaluation import parse_spec

    pairs = _operand_pairs(value, where)
    for p in pairs:
        for role, wrong in (("x", "per_channel"), ("w", "per_token")):
            if parse_spec(p[role]).granularity == wrong:
                raise ValueError(
                    f"{where}: {role} = {p[role]!r}: {wrong} scales of "
                    f"{'X' if role == 'x' else 'W'} vary along K; use per_token for x, "
                    "per_channel for w, or g<N>"
                )
    return pairs


def _float_accumulators(value: Any, where: str) -> list[str]:
    """IEEE-style float accumulators of at most FP32 (fp16, bf16, fp32, fp22, …)."""
    from ..evaluation.accumulate import resolve_accumulator
    from ..formats import FloatFormat

    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of float accumulators")
    for v in value:
        try:
            acc = resolve_accumulator(v) if isinstance(v, str) else None
        except ValueError:
            acc = None
        if not isinstance(acc, FloatFormat) or acc.man_bits > 23:
            raise ValueError(
                f"{where}: {v!r} is not a float accumulator of at most FP32 (fp16, bf16, fp22, "
                "fp32 or an IEEE-style float format name)"
            )
    return value


def _k_values(value: Any, where: str) -> list[int]:
    ks = _ints(32, 1 << 20)(value, where)
    if any(k % 32 for k in ks):
        raise ValueError(f"{where}: every K must be a multiple of 32 (the lanes and MX blocks)")
    return ks


def _block_formats(value: Any, where: str) -> list[str]:
    names = _formats(value, where)
    for n in names:
        fmt = get_format(n)
        if fmt.bits < 3 or n in ("e8m0", "fp32", "int32", "binary"):
            raise ValueError(
                f"{where}: {n!r} cannot be measured on a tensor here (fewer than 3 bits, a "
                "scale type or fp32/int32); use element formats of 3–16 bits or block formats"
            )
    return names


def _hw_formats(value: Any, where: str) -> list[str]:
    names = _formats(value, where)
    for n in names:
        if n in ("e8m0",) or get_format(n).bits > 16:
            raise ValueError(f"{where}: {n!r} has no MAC model here (e8m0 is a scale; ≤16 bits)")
    return names


def _cost_table(value: Any, where: str) -> str:
    """A gate-cost table of :mod:`lowbit.hwmodel.gates` by its recipe name
    (:func:`cost_tables`)."""
    tables = cost_tables()
    if value not in tables:
        raise ValueError(f"{where}: {value!r} is not one of {', '.join(tables)}")
    return value


def cost_tables() -> dict[str, Any]:
    """Recipe name → :class:`~lowbit.hwmodel.GateCosts` of the tables lowbit ships: the van
    Baalen et al. 2023 App. B table, and the synthesis-calibrated one where it exists.

    >>> list(cost_tables())[0]
    'van_baalen_2023'
    """
    from ..hwmodel import gates

    out = {"van_baalen_2023": gates.VAN_BAALEN_2023}
    if getattr(gates, "SYNTH_CALIBRATED", None) is not None:
        out["synth_calibrated"] = gates.SYNTH_CALIBRATED
    return out


def _output_format(value: Any, where: str) -> str:
    name = _format_name(value, where)
    if get_format(name).has_block_scales:
        raise ValueError(f"{where}: outputs are written in a scalar format (bf16, fp16, …)")
    return name


def _activity(value: Any, where: str) -> Any:
    if value == "measured":
        return value
    return _float(0.0, 1.0, open_lo=False)(value, where)


def _synth_units(value: Any, where: str) -> str | list[list[Any]]:
    """ "all" (the issue-13 grid and the report's block units,
    ``lowbit.hwmodel.synth.all_configs()``) or [format, accumulator] / [format, accumulator,
    lanes] entries: each format × itself with that accumulator (lanes: ``synth_lanes``)."""
    if value == "all":
        return value
    if not isinstance(value, list) or not value:
        raise ValueError(
            f'{where}: expected "all" or a non-empty list of [format, accumulator(, lanes)]'
        )
    out: list[list[Any]] = []
    for v in value:
        if not isinstance(v, list) or len(v) not in (2, 3):
            raise ValueError(f"{where}: expected [format, accumulator(, lanes)], got {v!r}")
        unit: list[Any] = [_hw_formats([v[0]], where)[0], _choice(MAC_ACCUMULATORS)(v[1], where)]
        out.append(unit + [_int(1, 1024)(v[2], where)] if len(v) == 3 else unit)
    return out


def _arrays(value: Any, where: str) -> list[list[int]]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of [R, C] arrays")
    return [_ints(1, 1 << 16, length=2)(v, where) for v in value]


def operand_spec(value: Any, where: str) -> str:
    """An activation operand spec (``lowbit.evaluation.parse_spec`` grammar); the weight
    takes the same spec with per_token read as per_channel (:func:`weight_spec`)."""
    from ..evaluation import parse_spec

    try:
        spec = parse_spec(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: operand spec {value!r}: {exc}") from None
    if spec.granularity in ("none", "per_channel"):
        raise ValueError(
            f"{where}: {value!r}: give the activation's spec (per_tensor, per_token, g<N> "
            "or a block format); the weight takes it with per_token read as per_channel"
        )
    if spec.format.bits < 3 or spec.format.bits > 16:
        raise ValueError(f"{where}: {value!r}: elements of 3–16 bits")
    return value


def weight_spec(activation_spec: str) -> str:
    """The weight's spec for an activation spec: one scale per output channel where the
    activation has one per token (the W8A8 pairing), the same spec otherwise.

    >>> weight_spec("int8:per_token:mse"), weight_spec("mxfp4")
    ('int8:per_channel:mse', 'mxfp4')
    """
    parts = activation_spec.split(":")
    if len(parts) > 1 and parts[1] == "per_token":
        parts[1] = "per_channel"
    return ":".join(parts)


def _operand_specs(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of operand specs")
    return [operand_spec(v, where) for v in value]


def _transforms(value: Any, where: str) -> list[str]:
    from ..analysis.transforms import parse_transform

    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of transform specs")
    for v in value:
        try:
            parse_transform(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    return value


def _synthetics(value: Any, where: str) -> list[str]:
    return _choices(TENSORS)(value, where)


SCHEMA: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "atlas": {
        "formats": lambda v, w: _formats(v, w, allow_all=True),
        "plot": _formats,
    },
    "fp8_vs_int8": {
        "formats": _formats,
        "distributions": _distributions,
        "range": _choice(RANGE_METHODS),
        "lloyd_max_iterations": _int(1, 1_000_000),
        "outlier_scales": _floats(0.0, 1e6),
        "outlier_fraction": _float(0.0, 0.5),
        "channels": _shape,
        "channel_sigma": _float(0.0, 4.0, open_lo=False),
        "seeds": _int(2, 64),
    },
    "block_formats": {
        "formats": _block_formats,
        "tensors": _tensors,
        "shape": _shape,
        "outlier_features": _int(0, 1 << 16),
        "outlier_scale": _float(0.0, 1e6),
        "baselines": _operand_specs,
        "activation": _tensor,
        "weight": _tensor,
        "gemm_outputs": _int(1, 4096),
        "accumulator": sim_accumulator,
        "lanes": _int(1, 1024),
        "seeds": _int(2, 64),
    },
    "range_setting": {
        "distribution": _distribution,
        "bits": _ints(2, 16),
        "methods": _choices(RANGE_METHODS),
        "calibration_samples": _int(256, 1 << 24),
        "percentile": _float(0.0, 100.0),
    },
    "hardware": {
        "formats": _hw_formats,
        "accumulators": _choices(MAC_ACCUMULATORS),
        "lanes": _int(1, 1024),
        "terms": _int(1, 1 << 24),
        "stage_depth": _int(0, 1 << 16),
        "cost_table": _cost_table,
        "array": _ints(1, 1 << 16, length=2),
        "gemm": _ints(1, 1 << 20, length=3),
        "node_nm": _float(0.0, 1000.0),
        "yosys": _choice(("data", "live", "off")),
        "synth_units": _synth_units,
        "synth_lanes": _int(1, 64),
    },
    "energy": {
        "formats": _hw_formats,
        "accumulator": _choice(MAC_ACCUMULATORS),
        "output_format": _output_format,
        "sram": _choice(("8kb", "32kb", "1mb")),
        "dram": _choice(("low", "high")),
        "activity": _activity,
        "sensitivity_node_nm": _floats(0.0, 1000.0),
        "sensitivity_sram": _choices(("8kb", "32kb", "1mb")),
        "sensitivity_dram": _choices(("low", "high")),
        "sensitivity_activity": _floats(0.0, 1.0),
        "sensitivity_k": _ints(1, 1 << 20),
        "sensitivity_array": _arrays,
    },
    "accuracy_vs_cost": {
        "formats": _block_formats,
        "pairs": _gemm_pairs,
        "accumulators": _choices(MAC_ACCUMULATORS),
        "tensors": _choices(TENSORS),
        "shape": _ints(1, 1 << 16, length=3),
        "seeds": _int(2, 64),
        "outer_scales": _choice(("fold_pow2", "epilogue")),
    },
    "real_network": {
        "model": _choice(NN_MODELS),
        "plans": _choices(NN_PLANS),
        "transform": _transform,
        "seeds": _ints(0, 2**32 - 1),
        "calibration": _int(0, 1300),
        "inputs": _int(0, 1 << 16),
    },
    "accumulators": {
        "k": _k_values,
        "m": _int(1, 256),
        "n": _int(1, 256),
        "seeds": _int(1, 64),
        "distribution": _distribution,
        "lanes": _int(1, 1024),
        "outer_scales": _choice(("fold_pow2", "epilogue")),
        "accumulators": _float_accumulators,
        "orders": _choices(("sequential", "blocks", "pairwise")),
        "fixed_widths": _ints(2, 62),
        "headroom_bits": _int(0, 32),
        "promote": _float_accumulators,
        "interval": _int(1, 1 << 20),
        "pairs": _operand_pairs,
    },
    "baselines": {
        "formats": _operand_specs,
        "transforms": _transforms,
        "features": _int(16, 1 << 15),
        "tokens": _int(1, 1 << 14),
        "calibration_tokens": _int(1, 1 << 14),
        "outputs": _int(1, 4096),
        "accumulator": sim_accumulator,
        "lanes": _int(1, 1024),
        "seeds": _int(2, 64),
        "cost_outputs": _int(1, 1 << 20),
        "cost_activation": _choice(("fp16", "bf16", "fp32")),
    },
    "design": {
        "tensors": _synthetics,
        "shape": _shape,
        "seeds": _int(2, 64),
        "rule_elements": _formats,
        "block_formats": _formats,
        "block_sizes": _ints(2, 4096),
        "scale_elements": _formats,
        "scale_block_sizes": _ints(2, 4096),
        "mantissa_bits": _ints(1, 14),
        "micro_bits": _ints(0, 3),
    },
}
TOP_LEVEL = {
    "title": _string,
    "subtitle": _string,
    "seed": _int(0, 2**32 - 1),
    "studies": _choices(STUDIES),
}


def parse_recipe(doc: dict[str, Any], source: str = DEFAULT_SOURCE) -> Recipe:
    """Validate a recipe mapping (as read from TOML) and fill in the defaults."""
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: a recipe is a TOML table, got {type(doc).__name__}")
    legal = list(TOP_LEVEL) + list(SCHEMA)
    for key in doc:
        if key not in legal:
            raise ValueError(
                f"{source}: unknown recipe key {key!r}; legal top-level keys: {', '.join(legal)}"
            )
    defaults = _default_doc()
    top = {k: check(doc.get(k, defaults[k]), _where(None, k)) for k, check in TOP_LEVEL.items()}
    if len(set(top["studies"])) != len(top["studies"]):
        raise ValueError(f"{source}: recipe key 'studies' names a study twice: {top['studies']}")
    sections = {}
    for study, keys in SCHEMA.items():
        given = doc.get(study, {})
        if not isinstance(given, dict):
            raise ValueError(f"{source}: recipe key {study!r} must be a table ([{study}])")
        for key in given:
            if key not in keys:
                raise ValueError(
                    f"{source}: unknown recipe key [{study}] {key!r}; legal keys: {', '.join(keys)}"
                )
        merged = copy.deepcopy(defaults[study])
        merged.update(given)
        sections[study] = {
            k: check(merged[k], f"{source}: {_where(study, k)}") for k, check in keys.items()
        }
    return Recipe(top["title"], top["subtitle"], top["seed"], top["studies"], sections, source)


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read and validate a TOML recipe (``None``: the packaged default recipe).

    >>> load_recipe(None).studies[0], load_recipe(None).source
    ('atlas', 'built-in defaults')
    """
    if path is None:
        return parse_recipe(copy.deepcopy(_default_doc()))
    path = Path(path)
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ValueError("reading TOML recipes needs Python ≥ 3.11 or the 'tomli' package")
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # a binary file: TOML is UTF-8 text
        raise ValueError(
            f"{path}: not a TOML recipe: byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start} is not UTF-8 text"
        ) from None
    return parse_recipe(doc, source=str(path))
