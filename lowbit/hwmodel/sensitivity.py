"""Which energy conclusions survive the model's assumptions: a one-at-a-time sweep of node,
SRAM level, DRAM energy, activity, K, array size and clock energy around a baseline
(docs/hwmodel.md, "Energy")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import combinations

import pandas as pd

from .array import COMPONENTS, array_cost
from .energy import Technology
from .memory import element_format

#: the parameters :func:`energy_sensitivity` varies, in the order it reports them
PARAMETERS = ("node", "sram", "dram", "activity", "k", "array", "clock")


def _label(cfg: tuple) -> str:
    w, a, acc = (element_format(x).name if i < 2 else str(x) for i, x in enumerate(cfg))
    return f"{w} → {acc}" if w == a else f"{w} × {a} → {acc}"


def _configs(configs: Iterable) -> list[tuple]:
    out = []
    for cfg in configs:
        if isinstance(cfg, str) or len(cfg) != 3:
            raise ValueError(f"config {cfg!r}: expected (weight, activation, accumulator)")
        out.append(tuple(cfg))
    if len(out) < 1:
        raise ValueError("energy_sensitivity: give at least one configuration")
    return out


def _point(param: str, value, gemm, array, tech: Technology, activity) -> dict:
    """array_cost keyword arguments for one point of the sweep."""
    m, k, n = gemm
    kw = dict(gemm=gemm, array=array, technology=tech, activity=activity)
    if param == "node":
        kw["technology"] = replace(tech, node_nm=value)
    elif param == "sram":
        kw["technology"] = replace(tech, sram=value)
    elif param == "dram":
        kw["technology"] = replace(tech, dram=value)
    elif param == "clock":
        kw["technology"] = replace(tech, ff_clock_ge=value)
    elif param == "activity":
        kw["activity"] = value
    elif param == "k":
        kw["gemm"] = (m, value, n)
    elif param == "array":
        kw["array"] = value
    return kw


def _rows(configs, param, value, kw, output_format, seed, mac_kwargs) -> list[dict]:
    rows = []
    for cfg in configs:
        res = array_cost(*cfg, output_format=output_format, seed=seed, **kw, **mac_kwargs)
        act = res.activity
        feasible = bool(getattr(res.mac, "feasible", True)) and not (act.overflow or 0)
        per = res.pj_per_mac()
        rows.append(
            dict(
                parameter=param,
                value=str(value),
                config=_label(cfg),
                feasible=feasible,
                pj_per_mac=per["total"],
                **{f"pj_{c}": per[c] for c in COMPONENTS},
                memory_share=(per["sram"] + per["dram"]) / per["total"],
                activity_acc=act.accumulator,
                activity_operands=act.operands,
                activity_source=act.source,
                schedule=res.traffic.schedule,
            )
        )
    return rows


def energy_sensitivity(
    configs: Sequence[tuple],
    *,
    gemm: tuple[int, int, int] = (4096, 4096, 4096),
    base_array: tuple[int, int] = (128, 128),
    technology: Technology | None = None,
    base_activity="measured",
    output_format: str | None = None,
    seed: int = 0,
    node: Sequence[float] = (),
    sram: Sequence = (),
    dram: Sequence[str] = (),
    activity: Sequence = (),
    k: Sequence[int] = (),
    array: Sequence[tuple[int, int]] = (),
    clock: Sequence[float] = (),
    **mac_kwargs,
) -> pd.DataFrame:
    """Energy per MAC of each configuration (weight, activation, accumulator) at the baseline
    (``parameter`` "baseline": ``gemm``, ``base_array``, ``technology``, ``base_activity``)
    and with one parameter changed at a time: ``node`` (nm), ``sram`` (buffer level),
    ``dram`` (case), ``activity`` (numbers or "measured"), ``k`` (K of the GEMM), ``array``
    ((R, C) pairs) and ``clock`` (flip-flop clock energy, gate equivalents).  Other keywords
    go to :func:`~lowbit.hwmodel.mac_cost` (e.g. ``lanes=32`` for a like-for-like unit).

    One row per (parameter, value, config): ``pj_per_mac`` and ``pj_<component>``,
    ``memory_share``, ``rank`` among the feasible configurations at that point (1 = least
    energy; infeasible ones — the unit flagged, or the measured simulation overflowed — get no
    rank), ``baseline_rank`` and ``flips``: how many pairwise orderings with the other
    configurations differ from the baseline's.  :func:`ranking_flips` lists the pairs.

    >>> df = energy_sensitivity([("int8", "int8", "fp32"), ("mxfp4", "mxfp4", "fp32")],
    ...     gemm=(256, 256, 256), base_array=(16, 16), base_activity=0.5, dram=["high"])
    >>> df[["parameter", "value", "config", "rank", "flips"]].to_string(index=False)
    ... # doctest: +NORMALIZE_WHITESPACE
    'parameter value config  rank  flips\\n baseline     - int8 → fp32   2.0      0\\n baseline     - mxfp4 → fp32   1.0      0\\n     dram  high int8 → fp32   2.0      0\\n     dram  high mxfp4 → fp32   1.0      0'
    """
    cfgs = _configs(configs)
    tech = technology or Technology()
    sweeps = dict(node=node, sram=sram, dram=dram, activity=activity, k=k, array=array, clock=clock)
    base_kw = _point("", None, gemm, base_array, tech, base_activity)
    rows = _rows(cfgs, "baseline", "-", base_kw, output_format, seed, mac_kwargs)
    for param in PARAMETERS:
        for value in sweeps[param]:
            kw = _point(param, value, gemm, base_array, tech, base_activity)
            rows += _rows(cfgs, param, value, kw, output_format, seed, mac_kwargs)
    df = pd.DataFrame(rows)
    return _rank(df)


def _flips(e: pd.Series, base: pd.Series) -> pd.Series:
    """For each config: pairwise orderings (both feasible here and at the baseline) that
    differ from the baseline's."""
    out = {}
    for cfg in e.index:
        others = [o for o in e.index if o != cfg and e[[cfg, o]].notna().all()]
        others = [o for o in others if base[[cfg, o]].notna().all()]
        out[cfg] = sum((e[cfg] < e[o]) != (base[cfg] < base[o]) for o in others)
    return pd.Series(out, dtype=int)


def _rank(df: pd.DataFrame) -> pd.DataFrame:
    energy = df["pj_per_mac"].where(df["feasible"])
    df["rank"] = energy.groupby([df.parameter, df.value]).rank(method="min")
    is_base = df.parameter == "baseline"
    base = pd.Series(energy[is_base].to_numpy(), index=df.config[is_base])
    df["baseline_rank"] = df["config"].map(df[is_base].set_index("config")["rank"])
    df["flips"] = 0
    for _, idx in df.groupby(["parameter", "value"], sort=False).groups.items():
        e = pd.Series(energy[idx].to_numpy(), index=df.config[idx])
        df.loc[idx, "flips"] = _flips(e, base).to_numpy()
    return df


def ranking_flips(df: pd.DataFrame) -> pd.DataFrame:
    """For each varied parameter and each pair of configurations: the baseline order and the
    values of the parameter at which it reverses (empty: the conclusion survives).

    >>> df = energy_sensitivity([("int8", "int8", "fp32"), ("mxfp4", "mxfp4", "fp32")],
    ...     gemm=(256, 256, 256), base_array=(16, 16), base_activity=0.5, node=[7])
    >>> ranking_flips(df)[["parameter", "cheaper", "dearer", "flips_at"]].values.tolist()
    [['node', 'mxfp4 → fp32', 'int8 → fp32', '']]
    """
    ok = df[df.feasible]
    base = ok[ok.parameter == "baseline"].set_index("config")["pj_per_mac"]
    out = []
    for param, g in ok[ok.parameter != "baseline"].groupby("parameter", sort=False):
        for x, y in combinations(sorted(base.index), 2):
            lo, hi = (x, y) if base[x] <= base[y] else (y, x)
            at = []
            for value, gv in g.groupby("value", sort=False):
                e = gv.set_index("config")["pj_per_mac"]
                if lo in e and hi in e and e[lo] > e[hi]:
                    at.append(value)
            out.append(dict(parameter=param, cheaper=lo, dearer=hi, flips_at=", ".join(at)))
    return pd.DataFrame(out, columns=["parameter", "cheaper", "dearer", "flips_at"])
