"""What the studies share while a report is built: the recipe, seeded tensors, cached QSNRs,
number formatting and the CSV files written next to the PDF."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.design import heavy_tailed
from ..analysis.metrics import sqnr_db
from .quantize import quantize_tensor
from .recipe import TENSORS, Recipe

#: How captions name the synthetic tensors (file tensors go by their ``FILE:NAME``).
TENSOR_TEXT = {
    "gaussian": "Gaussian N(0, 1)",
    "laplace": "Laplace (b = 1)",
    "heavy_tailed": "heavy-tailed, activation-like",
}


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


def synthetic_tensor(
    cfg: dict, name: str, seed: int, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """The seeded synthetic tensor ``name`` (one of TENSORS) of a [block_formats]-like ``cfg``:
    float32, rows × features (``shape``, default ``cfg["shape"]``), drawn from
    SeedSequence([seed, 7, index of name])."""
    rows, cols = shape or cfg["shape"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7, list(TENSORS).index(name)]))
    if name == "gaussian":
        x = rng.standard_normal((rows, cols))
    elif name == "laplace":
        x = rng.laplace(size=(rows, cols))
    else:
        x = heavy_tailed(rng, rows, cols, cfg["outlier_features"], cfg["outlier_scale"])
    return np.ascontiguousarray(x, dtype=np.float32)


@dataclass
class Context:
    """One build's shared state: the recipe, the tensors and QSNRs computed so far (the
    block-format and Pareto studies share them), notes, key results and written CSVs.

    >>> from lowbit.report.recipe import load_recipe
    >>> ctx = Context(load_recipe(None))
    >>> int(ctx.rng(7).integers(100)) == int(ctx.rng(7).integers(100)), ctx.tensor("laplace").shape
    (True, (256, 4096))
    """

    recipe: Recipe
    data_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)  # (study, one sentence)
    _tensors: dict[str, np.ndarray] = field(default_factory=dict)
    _qsnr: dict[tuple[str, str], float] = field(default_factory=dict)
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
            self._tensors[name] = synthetic_tensor(self.recipe["block_formats"], name, self.seed)
        return self._tensors[name]

    def qsnr(self, fmt_name: str, tensor: str) -> float:
        """QSNR (dB) of ``fmt_name`` on tensor ``tensor`` (see :func:`quantize_tensor`)."""
        key = (fmt_name, tensor)
        if key not in self._qsnr:
            x = self.tensor(tensor)
            # a tensor the format holds exactly (int8 weights in int8) has no error: +inf dB
            self._qsnr[key] = sqnr_db(x.astype(np.float64), quantize_tensor(fmt_name, x))
        return self._qsnr[key]

    # -- outputs ---------------------------------------------------------------------------
    def save_csv(self, label: str, df: pd.DataFrame) -> None:
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


def tensor_text(name: str) -> str:
    """How a caption names tensor ``name``: synthetic ones by their law, file tensors by
    their ``FILE:NAME``.

    >>> tensor_text("laplace"), tensor_text("w.npz:fc1")
    ('Laplace (b = 1)', 'w.npz:fc1')
    """
    return TENSOR_TEXT.get(name, name)
