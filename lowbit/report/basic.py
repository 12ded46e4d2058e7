"""The basic accuracy study (``lowbit report --tables``): the format reference table and the
SQNR of each format on N(0, 1) samples with a per-tensor absmax scale, as Markdown and CSV.

``write_basic_report(out_dir)`` writes:

    formats.md, formats.csv                  the format reference table
    format-accuracy.md, format-accuracy.csv  SQNR of each format on N(0, 1) samples with a
                                             per-tensor absmax scale
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..analysis.metrics import sqnr_db
from ..fileio import open_output
from ..formats import ExpFormat, Format, IntFormat, get_format, list_formats
from .quantize import absmax_scale
from .tables import (
    FORMAT_COLUMNS,
    format_records,
    format_table_markdown,
    render_markdown,
    write_csv_rows,
)


@dataclass(frozen=True)
class AccuracyResult:
    """Error of one format on one sample set with a per-tensor absmax scale."""

    name: str
    bits: int
    scale: float
    mse: float
    sqnr_db: float
    accuracy_bits: float


def accuracy_formats() -> list[str]:
    """The registered formats the accuracy study covers, in registration order.

    Left out: formats under 3 bits (binary, ternary and 2-bit grids need their own scale
    rules), exponent-only formats (E8M0 has no zero and no sign: it is a scale, not an
    element type), 32-bit formats (fp32 is the sample precision itself) and integers of 16
    bits or more (their error is far below anything else in the table).
    """
    out = []
    for name in list_formats():
        fmt = get_format(name)
        if fmt.bits < 3 or fmt.bits >= 32 or isinstance(fmt, ExpFormat):
            continue
        if isinstance(fmt, IntFormat) and fmt.bits >= 16:
            continue
        out.append(name)
    return out


def absmax_accuracy(fmt: Format | str, x: np.ndarray) -> AccuracyResult:
    """Quantize ``x`` as q = s · Q(x / s) with s = max|x| / fmt.max and measure the error.

    SQNR = 10·log10(Σx² / Σ(x - q)²); accuracy bits = log2(σ / RMSE).  Overflow saturates
    (x / s can round a hair above fmt.max).

    >>> x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    >>> r = absmax_accuracy("int8", x)
    >>> 35 < r.sqnr_db < 45, round(r.sqnr_db / r.accuracy_bits, 1)
    (True, 6.0)
    """
    fmt = get_format(fmt)
    x = np.asarray(x)
    s = absmax_scale(x, fmt)
    if not (math.isfinite(s) and s > 0):
        amax = float(np.max(np.abs(x)))
        raise ValueError(f"absmax_accuracy: max|x| must be finite and positive, got {amax}")
    if fmt.has_block_scales:
        # block and two-level formats set their own scales: rows of 1,000 values (or fewer),
        # blocks along each row, VS-Quant's γ per row
        cols = math.gcd(x.size, 1000)
        scale = np.asarray(math.nan)
        q = fmt.quantize(x.reshape(-1, cols)).reshape(x.shape)
    else:
        scale = np.asarray(s, dtype=x.dtype)
        q = fmt.quantize(x / scale, overflow="saturate") * scale
    x64 = x.astype(np.float64)
    err = x64 - q.astype(np.float64)
    mse = float(np.mean(err * err))
    sqnr = sqnr_db(x64, q)
    accuracy_bits = float(np.log2(np.std(x64) / math.sqrt(mse)))
    return AccuracyResult(fmt.name, int(fmt.bits), float(scale), mse, sqnr, accuracy_bits)


def format_accuracy(
    names: Iterable[str] | None = None,
    n: int = 1_000_000,
    seed: int = 0,
    on_result: Callable[[int, int, AccuracyResult], None] | None = None,
) -> list[AccuracyResult]:
    """``absmax_accuracy`` of each format on ``n`` seeded N(0, 1) float32 samples.

    ``on_result(i, total, result)`` is called after each format (for progress output).
    """
    if n < 2:
        raise ValueError(f"format_accuracy: n={n} samples; at least 2 are needed")
    names = accuracy_formats() if names is None else list(names)
    x = np.random.default_rng(seed).standard_normal(n, dtype=np.float32)
    results = []
    for i, name in enumerate(names, 1):
        result = absmax_accuracy(name, x)
        results.append(result)
        if on_result is not None:
            on_result(i, len(names), result)
    return results


def _accuracy_markdown(results: list[AccuracyResult], n: int, seed: int) -> str:
    headers = ["format", "bits", "bits/element", "SQNR (dB)", "accuracy (bits)"]
    rows = [
        [
            r.name,
            str(r.bits),
            f"{get_format(r.name).bits_per_element:g}",
            f"{r.sqnr_db:.2f}",
            f"{r.accuracy_bits:.2f}",
        ]
        for r in results
    ]
    table = render_markdown(headers, rows, [False, True, True, True, True])
    return (
        "# Format accuracy on N(0, 1)\n"
        "\n"
        f"{n:,} float32 samples of N(0, 1) (seed {seed}). Scalar formats: one per-tensor scale "
        "s = max|x| / max of the format; q = s · Q(x / s), round to nearest even, saturating. "
        "Block and two-level formats (MX, MX9/6/4, BFP, NVFP4, VS-Quant, grouped INT4) set "
        "their own scales, blocks along rows of 1,000 samples; bits/element counts the scale "
        "bits.\n"
        "SQNR = 10·log10(Σx² / Σ(x - q)²); accuracy = log2(σ / RMSE) bits.\n"
        "\n"
        f"{table}"
        "\n"
        "Unsigned formats (`uint*`) clip every negative sample to zero: their SQNR is near "
        "3 dB by construction.\n"
    )


def write_basic_report(
    out_dir: str | Path,
    n: int = 1_000_000,
    seed: int = 0,
    on_result: Callable[[int, int, AccuracyResult], None] | None = None,
) -> list[Path]:
    """Write the format table and the N(0, 1) absmax accuracy table (Markdown + CSV).

    Returns the written paths: formats.md, formats.csv, format-accuracy.md, .csv. The
    study runs before anything is written; the four files are written to temporary names
    and renamed together once all four are complete, so a failure or Ctrl-C leaves the
    previous set as it was.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = format_accuracy(n=n, seed=seed, on_result=on_result)
    writers = {
        "formats.md": lambda fh: fh.write(format_table_markdown()),
        "formats.csv": lambda fh: write_csv_rows(
            fh, [c[1] for c in FORMAT_COLUMNS], format_records()
        ),
        "format-accuracy.md": lambda fh: fh.write(_accuracy_markdown(results, n, seed)),
        "format-accuracy.csv": lambda fh: write_csv_rows(
            fh, [f.name for f in fields(AccuracyResult)], map(asdict, results)
        ),
    }
    with contextlib.ExitStack() as stack:  # every rename waits until all four are written
        for name, write in writers.items():
            write(stack.enter_context(open_output(out / name, "w", newline="", encoding="utf-8")))
    return [out / name for name in writers]
