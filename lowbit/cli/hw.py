"""``lowbit hw``: the gate count of a MAC unit and the cost of a GEMM on a MAC array
(:func:`lowbit.hwmodel.array_cost`); ``--acc`` in the one accumulator grammar
(:data:`lowbit.hwmodel.accumulator.GRAMMAR`)."""

from __future__ import annotations

import argparse
import json

from ..hwmodel.accumulator import GRAMMAR as ACC_GRAMMAR
from ._common import json_default


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``hw`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser("hw", help="gate count of a MAC unit and cost of a GEMM on a MAC array")
    p.add_argument("--weights", "-w", required=True, metavar="FMT", help="e.g. fp8_e4m3fn")
    p.add_argument("--activations", "-a", required=True, metavar="FMT", help="e.g. int8")
    p.add_argument("--acc", default="fixed", help=f"{ACC_GRAMMAR} (fixed)")
    p.add_argument("--gemm", default="4096x4096x4096", metavar="MxKxN")
    p.add_argument("--array", default="128x128", metavar="RxC")
    p.add_argument("--node", type=float, default=45.0, metavar="NM", help="technology node")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the gate count of the MAC and the cost of the GEMM on the array; 0 on success."""
    from ..hwmodel import Technology, array_cost

    res = array_cost(
        args.weights,
        args.activations,
        args.acc,
        gemm=args.gemm,
        array=args.array,
        technology=Technology(args.node),
    )
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, default=json_default))
        return 0
    mac = res.mac
    m, k, n = res.gemm
    print(f"MAC {mac.weight} x {mac.activation} -> {mac.accumulator}, K = {k}")
    print(f"  {'total':<28} {mac.total:10.0f} {mac.unit}")
    for group, sub in ((p.name, p) for p in mac.cost.parts):
        print(f"  {group:<28} {sub.total:10.0f}")
        for name, gates in sub.breakdown().items():
            print(f"    {name:<26} {gates:10.0f}")
    print(f"  {'accumulator width':<28} {mac.accumulator_width:10d} bits")
    print(f"  {'critical path':<28} {mac.depth:10d} gate levels")
    r, c = res.array
    print(f"GEMM {m}x{k}x{n} on a {r}x{c} output-stationary array at {args.node:g} nm")
    rows = [
        ("MACs", f"{res.macs:,}"),
        ("tiles", f"{res.tiles:,}"),
        ("cycles", f"{res.cycles:,}"),
        ("utilisation", f"{res.utilisation:.3f}"),
        ("pipeline register bits", f"{res.pipeline_register_bits:,}"),
        ("accumulator register bits", f"{res.accumulator_register_bits:,}"),
        ("SRAM read / write (bits)", f"{res.sram_read_bits:,} / {res.sram_write_bits:,}"),
        ("DRAM traffic (bits)", f"{res.dram_bits:,}"),
        ("area (gates)", f"{res.area_gates:,.0f}"),
        ("area (mm^2)", f"{res.area_um2 / 1e6:.3f}"),
    ]
    rows += [(f"energy {key} (uJ)", f"{val / 1e6:,.1f}") for key, val in res.energy_pj.items()]
    for key, val in rows:
        print(f"  {key:<28} {val:>14}")
    return 0
