"""The ``lowbit`` command line: ``formats``, ``info``, ``quantize``, ``report`` and ``hw``.

``main(argv)`` returns the exit status: 0 on success, 2 for bad input (unknown format or
policy, unreadable file, bad arguments, a failed write, too little memory), reported as one
line ``lowbit: error: ...``, and 130 after Ctrl-C (the shell's code for SIGINT).

Every output is written to a temporary name and renamed when complete
(:func:`lowbit.fileio.open_output`): a failure leaves the previous output as it was. ``-o -``
is standard output; an output that names the input file is refused.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import math
import os
import sys

import numpy as np

from . import __version__, get_format
from .analysis import cli_sweep, cli_tensors
from .analysis.tensors import load_tensor, parse_tensor_spec
from .fileio import STDOUT, check_output, open_output
from .formats import OVERFLOW_POLICIES, ROUNDING_MODES, BlockArray, Quantizer
from .hwmodel import cli_simulate
from .hwmodel.accumulator import GRAMMAR as ACC_GRAMMAR
from .report import SCALED

#: The recipe ``lowbit report`` reads when none is named (a built-in copy if it is missing).
_DEFAULT_RECIPE = "reports/format-comparison.toml"
#: Formats up to this width get their full code → value table in ``lowbit info``.
CODE_TABLE_MAX_BITS = 8


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so errors stay one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's hook for every parse error
        raise _UsageError(f"{message} (see '{self.prog} --help')")


#: Seeds are 32-bit unsigned, as recipe seeds (numpy's SeedSequence takes any non-negative
#: integer, but a seed that a recipe could not hold would make a run impossible to record).
SEED_MAX = 2**32 - 1


def seed_int(text: str) -> int:
    """argparse ``type=`` for ``--seed``: an integer in [0, 2^32 - 1].

    Other commands' parsers (``lowbit sweep``, ``lowbit simulate``) use it too; import it
    inside their ``add_parser`` (lowbit.cli imports their modules first).

    >>> seed_int("7")
    7
    >>> seed_int("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expected an integer in [0, 4294967295], got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, {SEED_MAX}], got {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lowbit", description="Bit-exact low-precision number formats.")
    parser.add_argument("--version", action="version", version=f"lowbit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("formats", help="table of every registered format")
    p.add_argument("--markdown", action="store_true", help="print a GitHub Markdown page")
    p.add_argument(
        "--csv",
        metavar="PATH",
        help="also write the table as CSV to PATH ('-': only the CSV, on stdout)",
    )
    p.set_defaults(run=_cmd_formats)

    p = sub.add_parser("info", help="properties of one format and, up to 8 bits, every code")
    p.add_argument("name", metavar="NAME", help="format name, e.g. fp8_e4m3fn")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser("quantize", help="quantize (or encode) a .npy array")
    p.add_argument("name", metavar="NAME", help="format name, e.g. int8")
    p.add_argument(
        "--input",
        "-i",
        required=True,
        metavar="IN.npy|FILE:NAME",
        help="input array: .npy ('-': stdin), or a tensor of a .safetensors/.npz/.npy file "
        "(see `lowbit tensors FILE`)",
    )
    p.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="OUT.npy",
        help="output .npy ('-': stdout); block formats' --codes: an .npz archive",
    )
    p.add_argument("--rounding", choices=ROUNDING_MODES, help="default nearest_even (see `info`)")
    p.add_argument(
        "--overflow", choices=OVERFLOW_POLICIES, help="default: the format's own (see `info`)"
    )
    p.add_argument("--seed", type=seed_int, help="seed for --rounding stochastic")
    p.add_argument("--codes", action="store_true", help="write the codes instead of the values")
    p.add_argument("--axis", type=int, help="block/vector axis of block formats (default -1)")
    p.set_defaults(run=_cmd_quantize)

    p = sub.add_parser(
        "report", help="write the PDF report of a recipe (default: the packaged format comparison)"
    )
    p.add_argument(
        "recipe",
        nargs="?",
        metavar="RECIPE.toml",
        help=f"report recipe (default: ./{_DEFAULT_RECIPE} when it exists, else the packaged "
        "lowbit/report/recipes/format-comparison.toml)",
    )
    p.add_argument(
        "-o", "--output", metavar="OUT.pdf|DIR", help="PDF path, or a directory for RECIPE.pdf"
    )
    p.add_argument("--seed", type=seed_int, help="override the recipe's seed")
    p.add_argument(
        "--host-name",
        action="store_true",
        help="print this computer's network name on the title page (default: left out)",
    )
    p.add_argument(
        "--tables",
        action="store_true",
        help="write the Markdown/CSV format and N(0, 1) accuracy tables to DIR instead",
    )
    p.add_argument("--samples", type=int, default=1_000_000, help=argparse.SUPPRESS)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser("hw", help="gate count of a MAC unit and cost of a GEMM on a MAC array")
    p.add_argument("--weights", "-w", required=True, metavar="FMT", help="e.g. fp8_e4m3fn")
    p.add_argument("--activations", "-a", required=True, metavar="FMT", help="e.g. int8")
    p.add_argument("--acc", default="fixed", help=f"{ACC_GRAMMAR} (fixed)")
    p.add_argument("--gemm", default="4096x4096x4096", metavar="MxKxN")
    p.add_argument("--array", default="128x128", metavar="RxC")
    p.add_argument("--node", type=float, default=45.0, metavar="NM", help="technology node")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_cmd_hw)
    cli_sweep.add_parser(sub)
    cli_tensors.add_parser(sub)
    cli_simulate.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    >>> main(["--version"])  # doctest: +ELLIPSIS
    lowbit ...
    0
    """
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
        return args.run(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `lowbit info int8 | head`: the reader left; not an error
        _silence_stdout()
        return 0
    except KeyboardInterrupt:  # Ctrl-C: outputs are left as they were (lowbit.fileio)
        print("lowbit: interrupted", file=sys.stderr)
        return 130
    except _EXPECTED as exc:
        print(f"lowbit: error: {_one_line(exc)}", file=sys.stderr)
        return 2


#: What a user's input or machine can cause; anything else is a bug and keeps its traceback.
#: EOFError: a truncated file; MemoryError: a size beyond this machine; ImportError: an
#: optional dependency (pyarrow) missing; OverflowError: a number beyond float range.
_EXPECTED = (
    _UsageError,
    ValueError,
    TypeError,
    OSError,
    EOFError,
    MemoryError,
    ImportError,
    OverflowError,
)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, MemoryError):
        return f"out of memory: {text}" if text else "out of memory"
    if isinstance(exc, OverflowError):
        return f"a number is too large: {text}" if text else "a number is too large"
    return text.splitlines()[0] if text else type(exc).__name__


def _silence_stdout() -> None:
    # Python's advice for SIGPIPE: point stdout at devnull so the flush at exit cannot fail.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed
        pass


# -- formats ------------------------------------------------------------------------------
def _cmd_formats(args) -> int:
    from .report import format_table_markdown, format_table_text, write_format_csv

    if args.csv == STDOUT:  # the CSV alone: a table around it would not parse
        write_format_csv(STDOUT)
        return 0
    if args.csv:
        path = write_format_csv(args.csv)
        print(f"wrote {path}", file=sys.stderr)
    print(format_table_markdown() if args.markdown else format_table_text(), end="")
    return 0


# -- info ---------------------------------------------------------------------------------
def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _cmd_info(args) -> int:
    from .report import code_table, exact_number, format_number

    fmt = get_format(args.name)
    props = fmt.describe()
    scaled = isinstance(fmt, SCALED)
    codes = code_table(fmt) if fmt.bits <= CODE_TABLE_MAX_BITS and not scaled else None
    if args.json:
        doc = {"properties": props}
        if codes is not None:
            # JSON has no NaN or Inf: those values are given as the strings "NaN", "Inf", "-Inf"
            doc["codes"] = [
                {
                    "code": r["code"],
                    "hex": r["hex"],
                    "binary": r["binary"],
                    "value": r["value"] if np.isfinite(r["value"]) else r["text"],
                }
                for r in codes
            ]
        print(json.dumps(doc, indent=2, allow_nan=False, default=_json_default, ensure_ascii=False))
        return 0

    width = max(len(k) for k in props)
    print(fmt.name)
    for key, value in props.items():
        if isinstance(value, float):
            short = format_number(value)
            text = exact_number(value) + (f"  ({short})" if "^" in short else "")
        else:
            text = str(value)
        print(f"  {key:<{width}}  {text}")
    if codes is None:
        if scaled:
            print("(values depend on the block or group scales: no code table)")
        else:
            print(f"({fmt.bits} bits: no code table above {CODE_TABLE_MAX_BITS} bits)")
        return 0
    print(f"\ncodes ({len(codes)}):")
    hex_w = max(4, len(codes[0]["hex"]))
    bin_w = max(6, len(codes[0]["binary"]))
    print(f"  {'code':<{hex_w}}  {'binary':<{bin_w}}  value")
    for r in codes:
        print(f"  {r['hex']:<{hex_w}}  {r['binary']:<{bin_w}}  {r['text']}")
    return 0


# -- quantize -----------------------------------------------------------------------------
_NPY_MAGIC = b"\x93NUMPY"  # NEP 1 (the .npy format): every file starts with these 6 bytes
_ZIP_MAGIC = b"PK\x03\x04"  # an .npz archive is a zip file


def _open_input(path: str) -> tuple[io.IOBase, str, int]:
    """(seekable binary stream, name for messages, size in bytes) of ``path``; ``-`` is stdin.

    Pipes and terminals (``-``, /dev/stdin, a FIFO) cannot seek, and numpy's reader needs
    to: their bytes are read into memory first.
    """
    if path == STDOUT:
        data = sys.stdin.buffer.read()
        return io.BytesIO(data), "standard input", len(data)
    fh = open(path, "rb")  # the caller closes it
    if not fh.seekable():
        with fh:
            data = fh.read()
        return io.BytesIO(data), path, len(data)
    return fh, path, os.fstat(fh.fileno()).st_size


def _read_npy(fh, name: str, size: int) -> np.ndarray:
    """Read one .npy array from ``fh``, checking the file before numpy allocates anything."""
    magic = fh.read(len(_NPY_MAGIC))
    if not magic:
        raise ValueError(f"{name} is empty (0 bytes), not a .npy file")
    if magic.startswith(_ZIP_MAGIC):
        raise ValueError(f"{name}: expected a .npy array, got an .npz archive")
    if magic != _NPY_MAGIC:
        # never numpy's fallback message, which suggests unpickling the file
        raise ValueError(f"{name} is not a valid .npy file (it does not start with \\x93NUMPY)")
    fh.seek(0)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:  # 3.0: 2.0 with a UTF-8 header; numpy has no public reader for it
            shape, _, dtype = np.lib.format._read_array_header(fh, version)
    except (ValueError, EOFError) as exc:
        raise ValueError(f"{name} is not a valid .npy file: {exc}") from None
    if dtype.hasobject:
        raise ValueError(
            f"{name} holds Python objects (pickled data); lowbit reads numeric arrays only "
            "and never unpickles a file"
        )
    # the header's size against the file's, before numpy allocates what the header claims
    need = math.prod(shape) * dtype.itemsize
    have = size - fh.tell()
    if need > have:
        raise ValueError(
            f"{name}: the .npy header claims {need:,} bytes of data, the file has {have:,}"
        )
    fh.seek(0)
    return np.lib.format.read_array(fh, allow_pickle=False)


def _load_npy(path: str) -> np.ndarray:
    fh, name, size = _open_input(path)
    with fh:
        return _read_npy(fh, name, size)


def _input_path(spec: str) -> str:
    """The file an ``-i`` spec reads (``FILE`` of ``FILE:NAME``)."""
    return spec if spec == STDOUT else parse_tensor_spec(spec)[0]


def _load_input(spec: str) -> np.ndarray:
    """The array of ``-i``: a .npy file or standard input, or ``FILE[:NAME]``, one tensor of a
    .safetensors/.npz/.npy file read lazily (FP8/BF16 decoded by lowbit's own formats)."""
    if spec == STDOUT:
        return _load_npy(spec)
    path, name = parse_tensor_spec(spec)
    if name is None and os.path.splitext(path)[1].lower() not in (".safetensors", ".npz"):
        return _load_npy(path)  # also pipes: /dev/stdin, a FIFO
    return np.asarray(load_tensor(path, name))


def _params(method) -> set[str]:
    """The keyword options a format method names in its signature."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {n for n, p in inspect.signature(method).parameters.items() if p.kind in kinds}


def _quantize_options(fmt, args) -> dict:
    """The keyword arguments of ``fmt.quantize``/``encode`` for the options the user gave;
    an option the format does not have is an error, never silently dropped."""
    if not isinstance(fmt, SCALED):
        if args.axis is not None:
            raise ValueError(
                f"{fmt.name} is a scalar format: each value is quantized on its own, so --axis "
                "does not apply (it sets the block axis of block formats)"
            )
        return {
            "rounding": args.rounding or "nearest_even",
            "overflow": args.overflow,
            "seed": args.seed,
        }
    if args.overflow is not None:
        raise ValueError(f"{fmt.name}: --overflow applies to scalar formats only")
    method = fmt.encode if args.codes and not isinstance(fmt, Quantizer) else fmt.quantize
    accepted = _params(method)
    kw = {}
    if args.rounding is not None:
        if "rounding" not in accepted:
            raise ValueError(
                f"{fmt.name} has no rounding option (it always rounds to nearest even); "
                "drop --rounding"
            )
        kw["rounding"] = args.rounding
    if args.seed is not None:
        if "seed" not in accepted or args.rounding != "stochastic":
            raise ValueError(
                f"{fmt.name}: --seed applies to --rounding stochastic of formats that take a seed"
            )
        kw["seed"] = args.seed
    if args.axis is not None:
        if "axis" not in accepted or isinstance(fmt, Quantizer):
            raise ValueError(
                f"{fmt.name} sets its own scale axis; --axis does not apply (see `lowbit info`)"
            )
        kw["axis"] = args.axis
    return kw


def _check_quantize_output(fmt, args) -> bool:
    """Refuse an output that would overwrite the input or whose name lies about its
    contents; True when the output is an .npz archive (a block format's codes)."""
    check_output(args.output, [_input_path(args.input)])
    archive = args.codes and isinstance(fmt, SCALED) and not isinstance(fmt, Quantizer)
    suffix = os.path.splitext(args.output)[1].lower()
    if args.output != STDOUT and archive and suffix != ".npz":
        raise ValueError(
            f"{fmt.name} --codes writes an .npz archive (codes, scales, ...); "
            f"name the output *.npz, not {args.output}"
        )
    if args.output != STDOUT and not archive and suffix == ".npz":
        raise ValueError(
            f"{fmt.name}: the output is one .npy array; name it *.npy, not {args.output}"
        )
    return archive


def _cmd_quantize(args) -> int:
    fmt = get_format(args.name)
    kw = _quantize_options(fmt, args)
    _check_quantize_output(fmt, args)
    x = _load_input(args.input)
    out = fmt.encode(x, **kw) if args.codes else fmt.quantize(x, **kw)
    # with -o -, stdout carries the data: the summary line goes to stderr
    log = sys.stderr if args.output == STDOUT else sys.stdout
    if isinstance(out, BlockArray):
        # several integer arrays: an .npz archive with one entry per field
        fields = {"codes": out.codes, "scales": out.scales}
        for extra in ("micro", "outer_scale"):
            if getattr(out, extra) is not None:
                fields[extra] = getattr(out, extra)
        if out.tensor_scale is not None:
            fields["tensor_scale"] = np.float32(out.tensor_scale)
        buf = io.BytesIO()  # zipfile seeks back into what it wrote: not possible on a pipe
        np.savez(buf, **fields)
        with open_output(args.output, "wb") as fh:
            fh.write(buf.getvalue())
        print(f"{fmt.name}: {x.size} codes, fields {', '.join(fields)} -> {args.output}", file=log)
        return 0
    with open_output(args.output, "wb") as fh:
        np.save(fh, out, allow_pickle=False)
    what = "codes" if args.codes else "values"
    print(f"{fmt.name}: {x.size} {what} {out.shape} {out.dtype} -> {args.output}", file=log)
    return 0


# -- report -------------------------------------------------------------------------------
def _cmd_report(args) -> int:
    if args.tables:
        return _cmd_report_tables(args)
    from pathlib import Path

    from .report.build import build_report
    from .report.recipe import DEFAULT_RECIPE, load_recipe

    source = args.recipe
    if source is None and Path(DEFAULT_RECIPE).is_file():
        source = DEFAULT_RECIPE
    if args.output == STDOUT:
        raise ValueError(
            "lowbit report writes a PDF and a folder of CSV files: -o names a .pdf or a "
            "directory, not standard output"
        )
    recipe = load_recipe(source)  # None: the built-in copy of the default recipe
    if args.seed is not None:
        recipe.seed = args.seed
    stem = Path(source).stem if source else Path(DEFAULT_RECIPE).stem
    out = Path(args.output) if args.output else Path("reports/out")
    if out.suffix.lower() != ".pdf":
        out = out / f"{stem}.pdf"
    check_output(out, [source])
    command = "lowbit report" + (f" {source}" if source else "") + f" -o {out}"

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    res = build_report(
        recipe,
        out,
        progress=None if args.quiet else progress,
        command=command,
        host_name=args.host_name,
    )
    for problem in res.problems:
        print(f"lowbit: warning: layout: {problem}", file=sys.stderr)
    for note in res.notes:
        print(f"lowbit: note: {note}", file=sys.stderr)
    print(
        f"wrote {res.path} ({res.pages} pages, {res.figures} figures, {res.tables} tables) "
        f"in {res.seconds:.1f} s"
    )
    if res.data_files:
        print(f"data behind them: {res.data_files[0].parent}/ ({len(res.data_files)} CSV files)")
    return 0


def _cmd_report_tables(args) -> int:
    from .report import write_basic_report

    results = []
    seed = 0 if args.seed is None else args.seed

    def progress(i, total, r):
        results.append(r)
        print(
            f"[{i:>2}/{total}] {r.name:<14} {r.sqnr_db:6.2f} dB  {r.accuracy_bits:5.2f} bits",
            file=sys.stderr,
        )

    out_dir = args.output or "reports/out"
    if out_dir == STDOUT:
        raise ValueError("lowbit report --tables writes four files: -o names a directory")
    paths = write_basic_report(out_dir, n=args.samples, seed=seed, on_result=progress)
    print(
        f"format accuracy on {args.samples:,} N(0, 1) samples (seed {seed}), "
        "per-tensor absmax scale; best SQNR per width:"
    )
    for bits in sorted({r.bits for r in results}):
        best = max((r for r in results if r.bits == bits), key=lambda r: r.sqnr_db)
        print(f"  {bits:>2} bits  {best.name:<14} {best.sqnr_db:6.2f} dB")
    print("wrote:")
    for path in paths:
        print(f"  {path}")
    return 0


# -- hw -----------------------------------------------------------------------------------
def _cmd_hw(args) -> int:
    from .hwmodel import Technology, array_cost

    res = array_cost(
        args.weights,
        args.activations,
        args.acc,
        gemm=args.gemm,
        array=args.array,
        technology=Technology(args.node),
    )
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, default=_json_default))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
