"""The energy tables of docs/hwmodel.md ("MAC arrays and energy"):
``.venv/bin/python bench/bench_energy.py`` prints them as Markdown (4096³ GEMM on a 128×128
output-stationary array, Horowitz 45 nm); ``--write`` puts them between the doc's markers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lowbit.hwmodel import Technology, array_cost, energy_sensitivity, ranking_flips

GEMM, ARRAY = (4096, 4096, 4096), (128, 128)
P8 = [
    ("mxfp4", "fixed"),
    ("int4_g128", "fixed"),
    ("mxfp8_e4m3", "fixed"),
    ("mxfp4", "fp32"),
    ("mxfp4", "fp16"),
    ("mx4", "fp16"),
    ("int4_g128", "fp16"),
]
#: the old model's hierarchy: 8 KB SRAM energy, every operand from DRAM once, no clock energy
OLD_HIERARCHY = Technology(sram="8kb", buffer_bytes=2**40, ff_clock_ge=0.0)
LIKE_FOR_LIKE = [
    ("int8", "int8", "fp32"),
    ("fp8_e4m3fn", "fp8_e4m3fn", "fp32"),
    ("mxint8", "mxint8", "fp32"),
    ("mxfp8_e4m3", "mxfp8_e4m3", "fp32"),
    ("int4", "int4", "fp32"),
    ("mxfp4", "mxfp4", "fp32"),
    ("nvfp4", "nvfp4", "fp32"),
    ("int4_g128", "int4_g128", "fp32"),
]


def p8_table() -> str:
    rows = [
        "| configuration | old hierarchy, activity 0.5 | default | multiplier | reduction "
        "| accumulator | registers | SRAM | DRAM | activity acc / operands (95 % CI acc) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f, acc in P8:
        old = array_cost(f, f, acc, GEMM, ARRAY, technology=OLD_HIERARCHY, activity=0.5)
        new = array_cost(f, f, acc, GEMM, ARRAY)
        per, a = new.pj_per_mac(), new.activity
        parts = " | ".join(
            f"{per[c]:.3f}"
            for c in ("multiplier", "reduction", "accumulator", "registers", "sram", "dram")
        )
        ci = f"{a.accumulator_ci95[0]:.3f}–{a.accumulator_ci95[1]:.3f}"
        rows.append(
            f"| {f} → {acc} | {old.pj_per_mac()['total']:.3f} | {per['total']:.3f} | {parts} "
            f"| {a.accumulator:.3f} / {a.operands:.3f} ({ci}) |"
        )
    return "\n".join(rows)


def sensitivity_tables() -> str:
    df = energy_sensitivity(
        LIKE_FOR_LIKE,
        gemm=GEMM,
        base_array=ARRAY,
        node=[7],
        sram=["8kb", "32kb"],
        dram=["high"],
        activity=[0.5],
        k=[256],
        array=[(32, 32)],
        clock=[0.0, 6.0],
        lanes=32,
    )
    wide = df.pivot_table(index="config", columns=["parameter", "value"], values="pj_per_mac")
    wide = wide.reindex(df.config.unique())
    cols = [("baseline", "-")] + [c for c in wide.columns if c[0] != "baseline"]
    base = df[df.parameter == "baseline"].set_index("config")
    head = "| configuration | " + " | ".join(f"{p} {v}" for p, v in cols)
    out = [head + " | memory share (baseline) | buffer schedule (baseline) |"]
    out.append("|" + "---|" * (len(cols) + 3))
    for cfg, row in wide.iterrows():
        vals = " | ".join(f"{row[c]:.3f}" for c in cols)
        b = base.loc[cfg]
        out.append(f"| {cfg} | {vals} | {b.memory_share:.0%} | {b.schedule} |")
    flips = ranking_flips(df)
    flips = flips[flips.flips_at != ""]
    out += ["", "| parameter | cheaper at baseline | dearer at baseline | order reverses at |"]
    out.append("|---|---|---|---|")
    out += [
        f"| {r.parameter} | {r.cheaper} | {r.dearer} | {r.flips_at} |" for r in flips.itertuples()
    ]
    if flips.empty:
        out.append("| (none) | | | no pairwise order reverses under any change above |")
    return "\n".join(out)


DOC = Path(__file__).resolve().parent.parent / "docs" / "hwmodel.md"


def write(doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8")
    for marker, table in (("energy-p8", p8_table()), ("energy-sensitivity", sensitivity_tables())):
        pattern = re.compile(f"(<!-- {marker} -->\n).*?(\n<!-- /{marker} -->)", re.S)
        text, n = pattern.subn(lambda m, t=table: m.group(1) + t + m.group(2), text)
        if n != 1:
            raise SystemExit(f"{doc}: marker {marker} not found once")
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        print(p8_table())
        print()
        print(sensitivity_tables())
