"""One compute layer's call: its operands, their GEMM form, and the hook protocol.

Every compute layer is a batch of GEMMs ``y[g] = a[g] @ b[g]`` with ``a`` of shape
(G, M, K) and ``b`` of shape (G, K, N): a Conv is im2col with one GEMM per group (K runs over
(kernel row, kernel column, input channel), input channels fastest, so a block of K
elements lies along input channels as the OCP MX spec v1.0 §6 and NVIDIA's NVFP4 blocks
do for a GEMM's reduction axis); a Gemm is one GEMM; a MatMul is one GEMM per broadcast
batch element (one in all when the weight is a matrix). `LayerCall.gemm` gives that form,
`LayerCall.from_gemm` folds a GEMM result back to the layer's output (adding the bias), so
a hook can run the GEMM elsewhere (e.g. ``lowbit.hwmodel.macsim.gemm``) and hand the
output back.

>>> import numpy as np
>>> from lowbit.nn.graph import Layer
>>> la = Layer("fc", "Gemm", "w", (3, 2), 0, 1)
>>> call = LayerCall(la, np.ones((1, 3), np.float32), np.ones((3, 2), np.float32))
>>> a, b = call.gemm()
>>> a.shape, b.shape, call.compute().tolist()
((1, 1, 3), (1, 3, 2), [[3.0, 3.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .graph import Layer


@dataclass
class LayerCall:
    """A compute layer about to run: ``x`` the activation, ``w`` the weight (the second
    activation for an attention MatMul, the table for a Gather), ``bias`` the Conv bias or
    Gemm C (left in float). A hook may assign new ``x`` and ``w`` (same shapes); they are
    what the layer then computes with.
    """

    layer: Layer
    x: np.ndarray
    w: np.ndarray
    bias: np.ndarray | None = None

    def gemm(self) -> tuple[np.ndarray, np.ndarray]:
        """The layer's GEMMs as ``(a, b)``, a (G, M, K) and b (G, K, N), from ``x`` and ``w``."""
        op = self.layer.op
        if op == "Conv":
            return _conv_a(self.x, self.w, self.layer.attrs), _conv_b(self.w, self.layer.attrs)
        if op == "Gemm":
            at = self.layer.attrs
            a = self.x.T if at.get("transA", 0) else self.x
            b = self.w.T if at.get("transB", 0) else self.w
            return a[None], b[None]
        if op == "MatMul":
            return _matmul_ab(self.x, self.w)
        raise TypeError(f"layer {self.layer.name!r} ({op}) is not a GEMM")

    def from_gemm(self, y: np.ndarray) -> np.ndarray:
        """Fold a (G, M, N) GEMM result into the layer's output and add the bias."""
        op, at = self.layer.op, self.layer.attrs
        if op == "Conv":
            out = _conv_fold(y, self.x.shape, self.w.shape, at)
            if self.bias is not None:
                out = out + self.bias.reshape((1, -1) + (1,) * (out.ndim - 2))
        elif op == "Gemm":
            out = at.get("alpha", 1.0) * y[0]
            if self.bias is not None:
                out = out + at.get("beta", 1.0) * self.bias
        elif op == "MatMul":
            out = y.reshape(_matmul_shape(self.x.shape, self.w.shape))
        else:
            raise TypeError(f"layer {self.layer.name!r} ({op}) is not a GEMM")
        return out.astype(self.x.dtype, copy=False)

    def compute(self) -> np.ndarray:
        """The layer's output in the operands' own float arithmetic."""
        if self.layer.op == "Gather":
            return np.take(self.w, self.x, axis=self.layer.attrs.get("axis", 0))
        if self.layer.op == "Conv" and self.w.shape[1] == 1 and self.w.shape[0] == self.x.shape[1]:
            # depthwise: im2col would copy the input kh·kw times (25x for 5x5) for GEMMs of N=1
            out = _depthwise(self.x, self.w, self.layer.attrs)
            if self.bias is not None:
                out = out + self.bias.reshape((1, -1) + (1,) * (out.ndim - 2))
            return out.astype(self.x.dtype, copy=False)
        a, b = self.gemm()
        return self.from_gemm(np.matmul(a, b))

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The shape of the layer's output, from the operands' shapes (nothing computed)."""
        op, at = self.layer.op, self.layer.attrs
        if op == "Conv":
            g, n, oh, ow, _, _, _, mg = _conv_geometry(self.x.shape, self.w.shape, at)
            return (n, g * mg, ow) if self.x.ndim == 3 else (n, g * mg, oh, ow)
        if op == "Gemm":
            m = self.x.shape[1 if at.get("transA", 0) else 0]
            return (m, self.w.shape[0 if at.get("transB", 0) else 1])
        if op == "MatMul":
            return tuple(_matmul_shape(self.x.shape, self.w.shape))
        axis = at.get("axis", 0) % self.w.ndim
        return self.w.shape[:axis] + np.shape(self.x) + self.w.shape[axis + 1 :]

    @property
    def macs(self) -> int:
        """Multiply-accumulates of this call (all of its batch); 0 for a Gather."""
        op, at = self.layer.op, self.layer.attrs
        if op == "Conv":
            g, n, oh, ow, kh, kw, cg, mg = _conv_geometry(self.x.shape, self.w.shape, at)
            return g * n * oh * ow * kh * kw * cg * mg
        if op == "Gemm":
            k = self.x.shape[0 if at.get("transA", 0) else 1]
            n = self.w.shape[0 if at.get("transB", 0) else 1]
            return int(self.x.size // k) * k * n
        if op == "MatMul":
            return int(np.prod(_matmul_shape(self.x.shape, self.w.shape))) * self.x.shape[-1]
        return 0


class Hook(Protocol):
    """Called by `lowbit.nn.run` once per compute layer per run.

    It may replace ``call.x`` and ``call.w`` (e.g. with their quantized values) and return
    None, and the layer computes with them; or return the layer's output itself (an array of
    the output's shape, e.g. ``call.from_gemm(y)`` of a GEMM it ran through the simulator).
    """

    def __call__(self, call: LayerCall) -> np.ndarray | None: ...


def _conv_params(x_shape, w_shape, at):
    nd = len(w_shape) - 2
    if nd not in (1, 2):
        raise ValueError(f"Conv with {nd} spatial axes: lowbit.nn runs 1-D and 2-D Conv")
    strides = list(at.get("strides", [1] * nd))
    dil = list(at.get("dilations", [1] * nd))
    kernel = list(w_shape[2:])
    size = list(x_shape[2:])
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads_b, pads_e = [], []
        for i in range(nd):
            ext = dil[i] * (kernel[i] - 1) + 1
            out = -(-size[i] // strides[i])
            total = max((out - 1) * strides[i] + ext - size[i], 0)
            small = total // 2
            pads_b.append(small if auto == "SAME_UPPER" else total - small)
            pads_e.append(total - pads_b[-1])
    elif auto == "VALID":
        pads_b = pads_e = [0] * nd
    else:
        pads = list(at.get("pads", [0] * (2 * nd)))
        pads_b, pads_e = pads[:nd], pads[nd:]
    if nd == 1:  # a 1-D conv is a 2-D one of height 1
        return [1, *strides], [1, *dil], [1, *kernel], [1, *size], [0, *pads_b], [0, *pads_e]
    return strides, dil, kernel, size, pads_b, pads_e


def _conv_geometry(x_shape, w_shape, at):
    s, d, k, size, pb, pe = _conv_params(x_shape, w_shape, at)
    g = int(at.get("group", 1))
    n, c = x_shape[0], x_shape[1]
    m, cg = w_shape[0], w_shape[1]
    if c != cg * g or m % g:
        raise ValueError(
            f"Conv: input has {c} channels, weight {w_shape} with group={g} wants {cg * g}"
        )
    oh = (size[0] + pb[0] + pe[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (size[1] + pb[1] + pe[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return g, n, oh, ow, k[0], k[1], cg, m // g


def _conv_a(x, w, at):
    s, d, k, _, pb, pe = _conv_params(x.shape, w.shape, at)
    g, n, oh, ow, kh, kw, cg, _ = _conv_geometry(x.shape, w.shape, at)
    x4 = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]) if x.ndim == 3 else x
    xp = np.pad(x4, ((0, 0), (0, 0), (pb[0], pe[0]), (pb[1], pe[1])))
    ext = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    win = np.lib.stride_tricks.sliding_window_view(xp, ext, axis=(2, 3))
    win = win[:, :, : oh * s[0] : s[0], : ow * s[1] : s[1], :: d[0], :: d[1]]
    win = win.reshape(n, g, cg, oh, ow, kh, kw).transpose(1, 0, 3, 4, 5, 6, 2)
    return win.reshape(g, n * oh * ow, kh * kw * cg)


def _depthwise(x, w, at):
    """A depthwise Conv (one input and one output channel per group) as a sum over kernel
    positions of per-channel scalings: the same sums as im2col without its copy."""
    s, d, _, _, pb, pe = _conv_params(x.shape, w.shape, at)
    g, n, oh, ow, kh, kw, _, _ = _conv_geometry(x.shape, w.shape, at)
    x4 = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]) if x.ndim == 3 else x
    xp = np.pad(x4, ((0, 0), (0, 0), (pb[0], pe[0]), (pb[1], pe[1])))
    w4 = w.reshape(g, kh, kw)
    y = np.zeros((n, g, oh, ow), np.result_type(x, w))
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * d[0], p * d[0] + (oh - 1) * s[0] + 1, s[0])
            cols = slice(q * d[1], q * d[1] + (ow - 1) * s[1] + 1, s[1])
            y += w4[None, :, p, q, None, None] * xp[:, :, rows, cols]
    return y.reshape(n, g, ow) if x.ndim == 3 else y


def _conv_b(w, at):
    g = int(at.get("group", 1))
    w4 = w.reshape(w.shape[0], w.shape[1], 1, w.shape[2]) if w.ndim == 3 else w
    m, cg, kh, kw = w4.shape
    return w4.reshape(g, m // g, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(g, kh * kw * cg, -1)


def _conv_fold(y, x_shape, w_shape, at):
    g, n, oh, ow, _, _, _, mg = _conv_geometry(x_shape, w_shape, at)
    out = y.reshape(g, n, oh, ow, mg).transpose(1, 0, 4, 2, 3).reshape(n, g * mg, oh, ow)
    return out.reshape(n, g * mg, ow) if len(x_shape) == 3 else out


def _matmul_ab(x, w):
    x2 = x[None] if x.ndim == 1 else x
    w2 = w[:, None] if w.ndim == 1 else w
    k = x2.shape[-1]
    if w2.shape[-2] != k:
        raise ValueError(f"MatMul: K differs, {x.shape} @ {w.shape}")
    if w2.ndim == 2:  # one weight matrix: every row of every batch is one GEMM's M
        return x2.reshape(1, -1, k), w2[None]
    batch = np.broadcast_shapes(x2.shape[:-2], w2.shape[:-2])
    a = np.broadcast_to(x2, batch + x2.shape[-2:]).reshape(-1, x2.shape[-2], k)
    b = np.broadcast_to(w2, batch + w2.shape[-2:]).reshape(-1, k, w2.shape[-1])
    return a, b


def _matmul_shape(xs, ws):
    x2 = (1, *xs) if len(xs) == 1 else tuple(xs)
    w2 = (*ws, 1) if len(ws) == 1 else tuple(ws)
    out = np.broadcast_shapes(x2[:-2], w2[:-2]) + (x2[-2], w2[-1])
    if len(ws) == 2:
        out = x2[:-1] + (w2[-1],)
    if len(xs) == 1:
        out = out[:-2] + out[-1:]
    if len(ws) == 1:
        out = out[:-1]
    return out
