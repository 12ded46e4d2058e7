"""What the studies share while a report is built: the recipe, seeded tensors, cached QSNRs,
colours, number formatting and the CSV files written next to the PDF."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import get_format
from .recipe import TENSORS, Recipe

#: one colour per format family, so a format looks the same in every figure
FAMILY_COLOURS = {
    "int": "#1f77b4",
    "fp": "#d62728",
    "mx": "#2ca02c",
    "sharedexp": "#9467bd",
    "nvfp4": "#ff7f0e",
    "vsq": "#8c564b",
    "group": "#e377c2",
}
MARKERS = "osD^v<>phX*P8dH"


def family_of(name: str) -> str:
    """Short family of a registered format name, for colours and grouping."""
    if name.startswith(("mxfp", "mxint")):
        return "mx"
    if name.startswith(("mx", "bfp")):
        return "sharedexp"
    if name == "nvfp4":
        return "nvfp4"
    if name.startswith("vsq"):
        return "vsq"
    if "_g" in name:
        return "group"
    if name.startswith(("fp", "bf", "e8")):
        return "fp"
    return "int"


def fmt_num(v: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, no exponent between 1e-3 and 1e6.

    >>> [fmt_num(v) for v in (1234.6, 0.01234, 3.0, 1.5e-7, float("nan"))]
    ['1,235', '0.0123', '3', '1.5e-07', '—']
    """
    v = float(v)
    if not math.isfinite(v):
        return "—" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        mant, exp = f"{v:.{digits - 1}e}".split("e")
        return f"{mant.rstrip('0').rstrip('.')}e{exp}"
    decimals = max(0, digits - 1 - math.floor(math.log10(a)))
    s = f"{v:,.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


@dataclass
class Context:
    recipe: Recipe
    data_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)  # (study, one sentence)
    _tensors: dict = field(default_factory=dict)
    _qsnr: dict = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return self.recipe.seed

    def rng(self, *salt: int) -> np.random.Generator:
        """A generator seeded by the recipe's seed and a study-specific salt."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, *salt]))

    # -- the block-format study's tensors, shared with the Pareto study ------------------
    def tensor(self, name: str) -> np.ndarray:
        """The float32 tensor ``name`` (rows × features; blocks run along features): seeded
        synthetic data, or ``FILE:NAME`` read from a tensor file (see :func:`file_tensor`)."""
        if name not in self._tensors and name not in TENSORS:
            self._tensors[name] = file_tensor(name)
        if name not in self._tensors:
            cfg = self.recipe["block_formats"]
            rows, cols = cfg["shape"]
            rng = self.rng(7, list(TENSORS).index(name))
            if name == "gaussian":
                x = rng.standard_normal((rows, cols))
            elif name == "laplace":
                x = rng.laplace(size=(rows, cols))
            else:
                x = heavy_tailed(rng, rows, cols, cfg["outlier_features"], cfg["outlier_scale"])
            self._tensors[name] = np.ascontiguousarray(x, dtype=np.float32)
        return self._tensors[name]

    def qsnr(self, fmt_name: str, tensor: str) -> float:
        """QSNR (dB) of ``fmt_name`` on tensor ``tensor`` (see :func:`quantize_tensor`)."""
        key = (fmt_name, tensor)
        if key not in self._qsnr:
            x = self.tensor(tensor)
            q = quantize_tensor(fmt_name, x)
            x64 = x.astype(np.float64)
            err = float(np.sum((x64 - q) ** 2))
            sig = float(np.sum(x64 * x64))
            # a tensor the format holds exactly (int8 weights in int8) has no error: +inf dB
            self._qsnr[key] = math.inf if err == 0 else 10 * math.log10(sig / err)
        return self._qsnr[key]

    # -- outputs ---------------------------------------------------------------------------
    def save_csv(self, label: str, df) -> None:
        """Write the raw numbers behind ``label`` (e.g. "Table 3") to the data directory."""
        if self.data_dir is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        path = self.data_dir / f"{slug}.csv"
        df.to_csv(path, index=False)
        self.written.append(path)


def file_tensor(spec: str) -> np.ndarray:
    """Tensor ``FILE:NAME`` as a 2-D float32 array (rows, features): a weight of shape
    (out, in, k...) becomes (out, in·k...), so blocks run along the reduction axis of its
    GEMM; a 1-D tensor is one row."""
    from ..analysis.tensors import load_tensor, parse_tensor_spec

    x = np.asarray(load_tensor(*parse_tensor_spec(spec)), dtype=np.float32)
    x = x.reshape(1, -1) if x.ndim == 1 else x.reshape(x.shape[0], -1)
    if not np.isfinite(x).all():
        raise ValueError(f"tensor {spec}: has NaN or Inf values; the study needs finite data")
    return np.ascontiguousarray(x)


def heavy_tailed(
    rng: np.random.Generator, rows: int, cols: int, outlier_features: int, outlier_scale: float
) -> np.ndarray:
    """An activation-like tensor: Student-t (ν = 4) values, a log-normal scale per feature
    (σ = 0.5), and ``outlier_features`` feature columns ``outlier_scale`` times larger (the
    outlier channels of LLM activations, Dettmers et al. 2022)."""
    x = rng.standard_t(4.0, size=(rows, cols))
    x *= np.exp(rng.normal(0.0, 0.5, size=(1, cols)))
    if outlier_features:
        cols_out = rng.choice(cols, size=min(outlier_features, cols), replace=False)
        x[:, cols_out] *= outlier_scale
    return x


def quantize_tensor(fmt_name: str, x: np.ndarray) -> np.ndarray:
    """Quantize a 2-D tensor: block and two-level formats with their own scales, blocks along
    the last axis; scalar formats with one per-tensor scale s = max|x| / max (saturating)."""
    from . import SCALED

    fmt = get_format(fmt_name)
    if isinstance(fmt, SCALED):
        return np.asarray(fmt.quantize(x), dtype=np.float64)
    s = float(np.max(np.abs(x))) / float(fmt.max)
    q = fmt.quantize((x / s).astype(np.float32), overflow="saturate")
    return np.asarray(q, dtype=np.float64) * s
