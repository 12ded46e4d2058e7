"""PP-OCRv4 text recognition (the ONNX file shipped in ``rapidocr-onnxruntime``) on
rendered text lines, with character accuracy.

The network (Du et al. 2022, "PP-OCRv3"; v4 keeps its SVTR-LCNet recogniser: a
PP-LCNet convolution trunk, two SVTR attention blocks, a CTC head over 6,625 classes)
reads a 48-pixel-high line. Lines are rendered here with Pillow in the DejaVu Sans face that
matplotlib ships, from seeded random strings, and pre-processed as rapidocr does (resize
to height 48 keeping the aspect ratio, scale to [−1, 1], pad right to the batch width).
The output is a probability per class per time step; greedy CTC decoding (arg-max, merge
repeats, drop the blank; Graves et al. 2006) gives the text. Character accuracy is
1 − (edit distance / length), summed over the batch. The package is located without
importing it (its ``__init__`` imports OpenCV), and nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .fidelity import Batch
from .graph import Model, load_onnx

#: the characters the rendered lines draw from (all in the model's dictionary): digits and
#: Latin letters less 0/O and 1/I/l, which DejaVu Sans draws too alike for any reader
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
HEIGHT, WIDTH = 48, 320  # rapidocr's rec_img_shape and its default width ratio (320 / 48)
REC_FILE = "ch_PP-OCRv4_rec_infer.onnx"


def model_path(filename: str = REC_FILE) -> str:
    """Path of a model file inside the installed ``rapidocr_onnxruntime`` package."""
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the PP-OCRv4 model ships in rapidocr-onnxruntime: pip install 'lowbit[nn]'"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", filename)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: this rapidocr-onnxruntime has no {filename}")
    return path


def _font(size: int):
    import matplotlib
    from PIL import ImageFont

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    return ImageFont.truetype(path, size)


def render_line(text: str, size: int = 32) -> np.ndarray:
    """``text`` drawn black on white as an (H, W) uint8 image, a few pixels of margin."""
    from PIL import Image, ImageDraw

    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    pad = size // 4
    img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, fill=0, font=font)
    return np.asarray(img)


def preprocess(lines: list[np.ndarray], width: int = WIDTH) -> np.ndarray:
    """Grey (H, W) uint8 lines → the network's (N, 3, 48, width) float32 input."""
    from PIL import Image

    out = np.zeros((len(lines), 3, HEIGHT, width), np.float32)
    for i, line in enumerate(lines):
        h, w = line.shape
        new_w = min(width, int(np.ceil(HEIGHT * w / h)))
        img = Image.fromarray(line).resize((new_w, HEIGHT), Image.BILINEAR)
        out[i, :, :, :new_w] = (np.asarray(img, np.float32) / 255.0 - 0.5) / 0.5
    return out


def ctc_decode(probs: np.ndarray, characters: list[str]) -> list[str]:
    """Greedy CTC decoding of (N, T, classes) outputs (class 0 the blank), stripped."""
    best = np.argmax(probs, axis=-1)
    texts = []
    for row in best:
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        # the rendered lines hold no spaces: one read in the left margin is not an error
        texts.append("".join(characters[c] for c in row[keep & (row != 0)]).strip())
    return texts


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of one character).

    >>> edit_distance("kitten", "sitting")
    3
    """
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(read: list[str], truth: list[str]) -> float:
    """1 − Σ edit distance / Σ length over the batch, floored at 0.

    >>> char_accuracy(["abc", "xy"], ["abc", "xz"])
    0.8
    """
    errors = sum(edit_distance(r, t) for r, t in zip(read, truth, strict=True))
    return max(0.0, 1.0 - errors / sum(len(t) for t in truth))


@dataclass(frozen=True)
class OcrTask:
    """PP-OCRv4 recognition on rendered lines; metric: character accuracy."""

    name: str
    model: Model
    characters: tuple[str, ...]
    metric_name: str = "character accuracy"
    output: str = "softmax_11.tmp_0"
    probabilities: bool = True
    class_axis: int = -1

    def batch(self, n: int = 8, seed: int = 0, min_len: int = 5, max_len: int = 10) -> Batch:
        """``n`` lines of ``min_len``..``max_len`` random characters of `ALPHABET`."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if not 1 <= min_len <= max_len <= 14:
            raise ValueError(f"need 1 <= min_len <= max_len <= 14, got {min_len}, {max_len}")
        rng = np.random.default_rng(seed)
        texts = [
            "".join(rng.choice(list(ALPHABET), int(rng.integers(min_len, max_len + 1))))
            for _ in range(n)
        ]
        x = preprocess([render_line(t) for t in texts])
        return Batch({"x": x}, texts, seed)

    def read(self, outputs: Mapping[str, np.ndarray]) -> list[str]:
        return ctc_decode(outputs[self.output], list(self.characters))

    def metric(self, outputs: Mapping[str, np.ndarray], batch: Batch) -> float:
        return char_accuracy(self.read(outputs), list(batch.targets))


def ocr_task() -> OcrTask:
    """Load the recogniser and its character list (stored in the model's metadata)."""
    model = load_onnx(model_path(), "ppocrv4_rec")
    meta = model.metadata.get("character")
    if meta is None:
        raise ValueError(f"{model_path()}: no 'character' list in the model's metadata")
    # rapidocr's CTCLabelDecode: the blank first, the dictionary, a space last
    chars = ("", *meta.splitlines(), " ")
    x = preprocess([render_line("lowbit")])
    model.example_inputs = {"x": x}
    return OcrTask("ppocrv4_rec", model, chars)
