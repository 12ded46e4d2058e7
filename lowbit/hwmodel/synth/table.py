"""Model beside synthesis from committed data: ``lowbit/hwmodel/data/synthesis.json`` holds
one Yosys run per unit (gates, registers, depth, cells, seconds, the SHA-256 of the unit's
Verilog and the Yosys version), written by :func:`write_data`; :func:`synthesis_table` sets
both cost tables of the model (``VAN_BAALEN_2023``, ``SYNTH_CALIBRATED``) beside it.

    .venv/bin/python bench/bench_hw.py --synthesis   # re-synthesise, rewrite data and docs

A unit whose Verilog no longer hashes to its stored value is stale: :func:`stale_rows` lists
them (the tests fail on any), and :func:`synthesis_table` synthesises it live instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...formats import get_format
from ..gates import SYNTH_CALIBRATED, VAN_BAALEN_2023, GateCosts
from ..mac import mac_cost
from .mac import model_side, standard_configs, synthesize_mac
from .units import mac_unit

#: the committed synthesis results
DATA = Path(__file__).resolve().parent.parent / "data" / "synthesis.json"
#: the block units the report prices, at their block size, FP32 accumulator (the hardware's)
REPORT_CONFIGS = (
    ("mxfp8_e4m3", "mxfp8_e4m3", "fp32", 32),
    ("mxfp4", "mxfp4", "fp32", 32),
    ("mxint8", "mxint8", "fp32", 32),
    ("nvfp4", "nvfp4", "fp32", 16),
    ("vsq_int4", "vsq_int4", "fp32", 16),
)
#: the two cost tables every table shows, by column suffix
TABLES = {"vb": VAN_BAALEN_2023, "cal": SYNTH_CALIBRATED}


def all_configs() -> list[tuple[str, str, str, int]]:
    """The issue-13 grid (:func:`standard_configs`) and the report's block units.

    >>> len(all_configs())
    71
    """
    return [*standard_configs(), *REPORT_CONFIGS]


def _acc_key(config, terms: int) -> str:
    """The accumulator as synthesised: "fixed" resolved to its exact width."""
    wf, af, acc, lanes = config
    if acc == "fixed":
        return f"fixed{mac_cost(wf, af, 'fixed', terms, lanes=lanes).accumulator_width}"
    return acc


def verilog_hash(config, terms: int = 4096) -> str:
    """SHA-256 of the Verilog :func:`~lowbit.hwmodel.synth.mac_unit` generates for ``config``.

    >>> len(verilog_hash(("int2", "int2", "fixed", 1)))
    64
    """
    wf, af, _, lanes = config
    unit = mac_unit(get_format(wf), get_format(af), _acc_key(config, terms), lanes)
    return hashlib.sha256(unit.verilog.encode()).hexdigest()


def _row_key(config) -> str:
    return "|".join(str(x) for x in config)


def synth_row(config, terms: int = 4096) -> dict:
    """Synthesise ``config`` (live, :func:`synthesize_mac`) into a data-file row."""
    wf, af, acc, lanes = config
    r = synthesize_mac(wf, af, acc, lanes=lanes, terms=terms)
    return {
        "config": list(config),
        "terms": terms,
        "gates": r.gates,
        "registers": r.registers,
        "depth": r.depth,
        "cells": dict(sorted(r.cells.items())),
        "hierarchical": r.hierarchical,
        "seconds": round(r.seconds, 1),
        "verilog_sha256": hashlib.sha256(r.verilog.encode()).hexdigest(),
    }


def write_data(configs=None, path: Path = DATA, terms: int = 4096) -> dict:
    """Synthesise ``configs`` (default :func:`all_configs`) and write the data file."""
    from .yosys import yosys_version

    rows = [synth_row(tuple(c), terms) for c in (configs or all_configs())]
    doc = {"yosys": yosys_version(), "terms": terms, "rows": rows}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def load_data(path: Path = DATA) -> dict:
    """The committed data: ``{"yosys", "terms", "rows": [...]}`` (empty rows if absent)."""
    p = Path(path)
    if not p.exists():
        return {"yosys": "", "terms": 4096, "rows": []}
    return json.loads(p.read_text(encoding="utf-8"))


def stale_rows(path: Path = DATA) -> list[str]:
    """Rows whose stored Verilog hash differs from what the generator emits now."""
    doc = load_data(path)
    return [
        _row_key(r["config"])
        for r in doc["rows"]
        if verilog_hash(tuple(r["config"]), r["terms"]) != r["verilog_sha256"]
    ]


def synthesis_table(configs=None, tables: dict[str, GateCosts] | None = None, live: bool = True):
    """Model vs synthesis, one row per unit ``configs`` (default :func:`all_configs`):
    synthesis gates/registers/depth (from the committed data when its Verilog hash matches,
    else synthesised live when ``live``), and per cost table in ``tables`` (default
    ``{"vb": VAN_BAALEN_2023, "cal": SYNTH_CALIBRATED}``) the model's ``gates_<t>``,
    ``ratio_<t>`` (model/synthesis), ``registers_<t>`` and ``depth_<t>``.

    >>> t = synthesis_table([("int8", "int8", "fixed", 1)])
    >>> list(t.columns[:6]), bool(t.loc[0, "gates_synth"] > 0)
    (['weight', 'activation', 'accumulator', 'lanes', 'gates_synth', 'registers_synth'], True)
    """
    import pandas as pd

    tables = TABLES if tables is None else tables
    doc = load_data()
    stored = {_row_key(r["config"]): r for r in doc["rows"]}
    out = []
    for c in configs or all_configs():
        c = tuple(c)
        r = stored.get(_row_key(c))
        if r is None or verilog_hash(c, r["terms"]) != r["verilog_sha256"]:
            if not live:
                continue
            r = synth_row(c, doc.get("terms", 4096))
        row = {
            "weight": c[0],
            "activation": c[1],
            "accumulator": c[2],
            "lanes": c[3],
            "gates_synth": r["gates"],
            "registers_synth": r["registers"],
            "depth_synth": r["depth"],
            "hierarchical": r["hierarchical"],
            "seconds": r["seconds"],
        }
        for tag, costs in tables.items():
            m = model_side(c, r["terms"], costs)
            row[f"gates_{tag}"] = m["gates_model"]
            row[f"ratio_{tag}"] = m["gates_model"] / r["gates"]
            row[f"registers_{tag}"] = m["registers_model"]
            row[f"depth_{tag}"] = m["depth_model"]
        out.append(row)
    return pd.DataFrame(out)


# ---- the calibration fit -------------------------------------------------------------

#: the per-cell costs the fit sets (registers are counted apart, so ``ff`` is not fitted)
FIT_CELLS = ("and2", "or2", "ao21", "mux2", "xor2", "ha", "fa")
#: formats whose units train the fit; every other row of the data checks it
TRAIN_FORMATS = ("int2", "int4", "int6", "int8", "fp8_e2m5fnuz", "fp8_e4m3fnuz")


#: each fitted cell costs at least this fraction of its van Baalen et al. 2023 App. B cost: a
#: cell is a real gate, so no fit may price it near zero and move its area onto other cells
FIT_FLOOR = 0.5


def fit_costs(
    structure: GateCosts = SYNTH_CALIBRATED, path: Path = DATA, floor: float = FIT_FLOOR
) -> dict[str, float]:
    """Per-cell costs that minimise the largest |model/synthesis − 1| over the training rows
    (weight in :data:`TRAIN_FORMATS`) of the committed data (a Chebyshev fit: the target is a
    bound on every row, not a mean), each cell at least ``floor`` × its
    :data:`~lowbit.hwmodel.gates.VAN_BAALEN_2023` cost, with the structure (adder, float
    adder) of ``structure``.  The model is linear in the cell costs (column j: the model
    priced with cell j at 1, the others at 0), so the fit is a linear programme
    (min t s.t. −t ≤ A·c − 1 ≤ t, c ≥ floor·c_App.B; scipy's HiGHS).

    >>> fit = fit_costs()
    >>> all(fit[c] >= 0.5 * getattr(VAN_BAALEN_2023, c) - 1e-9 for c in FIT_CELLS)
    True
    """
    import dataclasses

    import numpy as np
    from scipy.optimize import linprog

    if not 0 <= floor <= 1:
        raise ValueError(f"fit_costs: floor must lie in [0, 1], got {floor!r}")
    doc = load_data(path)
    rows = [r for r in doc["rows"] if r["config"][0] in TRAIN_FORMATS]
    if not rows:
        raise ValueError(f"{path}: no training rows (weights {list(TRAIN_FORMATS)})")
    price = [dataclasses.replace(structure, **{c: float(c == cell) for c in FIT_CELLS})
             for cell in (*FIT_CELLS, None)]  # fmt: skip
    cols = np.array(
        [
            [model_side(tuple(r["config"]), r["terms"], u)["gates_model"] for r in rows]
            for u in price
        ]
    ).T
    y = np.array([r["gates"] for r in rows], dtype=float)
    a, b = cols[:, :-1] / y[:, None], 1 - cols[:, -1] / y  # the last column: registers only
    n, ones = len(FIT_CELLS), np.ones((len(rows), 1))
    res = linprog(
        np.r_[np.zeros(n), 1.0],
        A_ub=np.r_[np.c_[a, -ones], np.c_[-a, -ones]],
        b_ub=np.r_[b, -b],
        bounds=[(floor * getattr(VAN_BAALEN_2023, c), None) for c in FIT_CELLS] + [(0, None)],
        method="highs",
    )
    if not res.success:
        raise ValueError(f"fit_costs: the linear programme failed ({res.message})")
    return {c: float(v) for c, v in zip(FIT_CELLS, res.x[:n], strict=True)}


# ---- the generated docs table --------------------------------------------------------

BEGIN, END = "<!-- synthesis-table -->", "<!-- /synthesis-table -->"


def _agreement(t) -> list[str]:
    """INT8 vs FP8-E4M3 at equal lanes and accumulator: FP8/INT8 gates per source, and which
    cost tables order the pair as synthesis does."""
    out = []
    for (acc, lanes), g in t.groupby(["accumulator", "lanes"], sort=False):
        i8, f8 = g[g.weight == "int8"], g[g.weight == "fp8_e4m3fnuz"]
        if i8.empty or f8.empty:
            continue
        q = {
            tag: float(f8[f"gates_{tag}"].iloc[0]) / float(i8[f"gates_{tag}"].iloc[0])
            for tag in ("synth", *TABLES)
        }
        agree = [tag for tag in TABLES if (q[tag] > 1) == (q["synth"] > 1)]
        cells = " | ".join(f"{q[tag]:.2f}" for tag in ("synth", *TABLES))
        out.append(f"| {acc} | {lanes} | {cells} | {', '.join(agree) or 'neither'} |")
    return out


def order_flips(t, tag: str) -> list[tuple]:
    """Pairs of units at one accumulator and lane count that cost table ``tag`` orders
    differently from synthesis: (accumulator, lanes, weight a, weight b, synth a/b)."""
    import itertools

    out = []
    for (acc, lanes), g in t.groupby(["accumulator", "lanes"], sort=False):
        for a, b in itertools.combinations(g.itertuples(), 2):
            ma, mb = getattr(a, f"gates_{tag}"), getattr(b, f"gates_{tag}")
            if (ma > mb) != (a.gates_synth > b.gates_synth):
                out.append((acc, lanes, a.weight, b.weight, a.gates_synth / b.gates_synth))
    return out


def _flips_line(t, tag: str) -> str:
    fl = order_flips(t, tag)
    said = "; ".join(
        f"{a} vs {b} ({acc}, {lanes} lanes; synthesis {a}/{b} = {r:.2f})"
        for acc, lanes, a, b, r in fl
    )
    return f"Pairs {tag} orders unlike synthesis ({len(fl)}): {said or 'none'}."


def _rms(x) -> float:
    return float(((x - 1) ** 2).mean() ** 0.5)


def _span(x) -> str:
    return f"{x.min():.2f}–{x.max():.2f}"


def doc_table(t=None) -> str:
    """The markdown docs/hwmodel.md carries between the synthesis-table markers, from the
    committed data (:func:`synthesis_table` with ``live=False``)."""
    t = synthesis_table(live=False) if t is None else t
    doc = load_data()
    train = t.weight.isin(TRAIN_FORMATS)
    lines = [
        f"Generated by `.venv/bin/python bench/bench_hw.py --synthesis` from "
        f"`lowbit/hwmodel/data/synthesis.json` ({doc['yosys'].split(' (')[0]}, K = "
        f"{doc['terms']}). vb = `VAN_BAALEN_2023` (ripple adders, mantissa-wide float adder), "
        "cal = `SYNTH_CALIBRATED` (ripple adders, full-width float adder, carry-wavefront tree depth, fitted cell costs); "
        "gates are combinational per unit (registers apart); depth in 2-input levels "
        "(hierarchical rows: lane + rest, an upper bound).",
        "",
        f"Calibration fit on weights {', '.join(TRAIN_FORMATS)} ({int(train.sum())} rows): "
        f"cal/synthesis {_span(t.ratio_cal[train])}; checked on the other "
        f"{int((~train).sum())} rows: {_span(t.ratio_cal[~train])}; root-mean-square of "
        f"cal/synthesis − 1: {_rms(t.ratio_cal[train]):.1%} (fit), {_rms(t.ratio_cal[~train]):.1%}"
        " (check).",
        "",
        "| accumulator | lanes | vb/synth | cal/synth | depth vb/synth | depth cal/synth |",
        "|---|---|---|---|---|---|",
    ]
    for (acc, lanes), g in t.groupby(["accumulator", "lanes"], sort=False):
        dv, dc = g.depth_vb / g.depth_synth, g.depth_cal / g.depth_synth
        lines.append(
            f"| {acc} | {lanes} | {_span(g.ratio_vb)} | {_span(g.ratio_cal)} | "
            f"{_span(dv)} | {_span(dc)} |"
        )
    lines += [
        "",
        "INT8 vs FP8-E4M3 at equal lanes and accumulator (FP8/INT8 gates; > 1: FP8 larger):",
        "",
        "| accumulator | lanes | synthesis | vb | cal | tables ordering the pair as synthesis |",
        "|---|---|---|---|---|---|",
        *_agreement(t),
        "",
        *(line for tag in TABLES for line in (_flips_line(t, tag), "")),
        "",
        "| weight × activation | acc | lanes | synth | vb | vb/synth | cal | cal/synth "
        "| depth synth | depth vb | depth cal | Yosys s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in t.itertuples():
        pair = r.weight if r.weight == r.activation else f"{r.weight} × {r.activation}"
        lines.append(
            f"| {pair} | {r.accumulator} | {r.lanes} | {r.gates_synth:.0f} | {r.gates_vb:.0f} "
            f"| {r.ratio_vb:.2f} | {r.gates_cal:.0f} | {r.ratio_cal:.2f} | {r.depth_synth} "
            f"| {r.depth_vb} | {r.depth_cal} | {r.seconds:g}{' (h)' if r.hierarchical else ''} |"
        )
    return "\n".join(lines)


def write_doc(doc_path: Path, t=None) -> str:
    """Replace the text between the synthesis-table markers of ``doc_path`` (appended if
    absent) with :func:`doc_table`; returns the table."""
    import re

    body = doc_table(t)
    text = Path(doc_path).read_text(encoding="utf-8")
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text += f"\n{block}\n"
    Path(doc_path).write_text(text, encoding="utf-8")
    return body
