"""``lowbit quantize NAME -i IN -o OUT``: quantize (or encode) an array file with a format.

The input is a .npy file (``-``: standard input) or one tensor of a .safetensors/.npz/.npy
checkpoint (``FILE:NAME``); a .npy file is checked against its header before numpy
allocates anything, and never unpickled. The output is one .npy array, or, for a block
format's ``--codes``, an .npz archive of its fields.
"""

from __future__ import annotations

import argparse
import inspect
import io
import math
import os
import sys

import numpy as np

from ..analysis.tensors import load_tensor, parse_tensor_spec
from ..fileio import STDOUT, check_output, open_output
from ..formats import OVERFLOW_POLICIES, ROUNDING_MODES, BlockArray
from ._common import seed_int


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``quantize`` on the subparsers of ``lowbit`` (its ``run`` is :func:`run`)."""
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
    p.set_defaults(run=run)
    return p


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
    if not fmt.has_block_scales:
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
    method = fmt.encode if args.codes else fmt.quantize
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
        if "axis" not in accepted:
            raise ValueError(
                f"{fmt.name} sets its own scale axis; --axis does not apply (see `lowbit info`)"
            )
        kw["axis"] = args.axis
    return kw


def _check_quantize_output(fmt, args) -> bool:
    """Refuse an output that would overwrite the input or whose name lies about its
    contents; True when the output is an .npz archive (a block format's codes)."""
    check_output(args.output, [_input_path(args.input)])
    archive = args.codes and fmt.has_block_scales
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


def run(args: argparse.Namespace) -> int:
    """Quantize (or ``--codes``: encode) the ``-i`` array and write it to ``-o``; 0 on success."""
    from .. import get_format

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
