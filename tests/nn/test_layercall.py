"""The GEMM form of each compute layer against a direct loop oracle and onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import helper, numpy_helper  # noqa: E402

from lowbit.nn import Layer, LayerCall, load_onnx, run  # noqa: E402


def conv_loops(x, w, stride, pad, dil, group):
    """Direct 2-D convolution by its definition (ONNX Conv), float64, one output at a time."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[2]), (pad[1], pad[3])))
    oh = (h + pad[0] + pad[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pad[1] + pad[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, m, oh, ow))
    mg = m // group
    for b in range(n):
        for o in range(m):
            g = o // mg
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for ci in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                acc += (
                                    w[o, ci, p, q]
                                    * xp[
                                        b,
                                        g * cg + ci,
                                        i * stride[0] + p * dil[0],
                                        j * stride[1] + q * dil[1],
                                    ]
                                )
                    out[b, o, i, j] = acc
    return out


@pytest.mark.parametrize(
    "c,m,k,stride,pad,dil,group",
    [
        (3, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
        (4, 4, (3, 3), (2, 1), (1, 0, 1, 2), (1, 1), 4),  # depthwise, asymmetric pads
        (6, 4, (2, 3), (1, 2), (0, 0, 0, 0), (2, 1), 2),  # groups, dilation
        (2, 3, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    ],
)
def test_conv_gemm_matches_loops(c, m, k, stride, pad, dil, group):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, c, 7, 8))
    w = rng.normal(size=(m, c // group, *k))
    at = {"strides": stride, "pads": pad, "dilations": dil, "group": group}
    call = LayerCall(Layer("c", "Conv", "w", w.shape, 1, 1, at), x, w)
    a, b = call.gemm()
    assert a.shape[2] == b.shape[1] == (c // group) * k[0] * k[1]
    want = conv_loops(x, w, stride, pad, dil, group)
    np.testing.assert_allclose(call.compute(), want, 1e-12)
    np.testing.assert_allclose(call.from_gemm(np.matmul(a, b)), want, 1e-12)
    assert call.macs == a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]


def test_gemm_k_runs_along_input_channels():
    # K index = (row·kw + col)·Cg + channel: a block of Cg consecutive K lies along channels
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    call = LayerCall(Layer("c", "Conv", "w", w.shape, 1, 1, {}), np.zeros((1, 3, 2, 2)), w)
    _, b = call.gemm()
    np.testing.assert_array_equal(b[0, :3, 0], w[0, :, 0, 0])
    np.testing.assert_array_equal(b[0, 3:6, 1], w[1, :, 0, 1])


def _one_node(node, inputs, inits, opset=17):
    f = onnx.TensorProto.FLOAT
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, f, None) for n in inputs],
        [helper.make_tensor_value_info(node.output[0], f, None)],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


@pytest.mark.parametrize(
    "node,xshape,inits",
    [
        (
            helper.make_node("Conv", ["x", "w", "b"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2]),
            (1, 3, 9, 10),
            {"w": (5, 3, 3, 3), "b": (5,)},
        ),
        (
            helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 1], group=2),
            (2, 4, 11),
            {"w": (6, 2, 3)},
        ),
        (
            helper.make_node(
                "Gemm", ["x", "w", "b"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0
            ),
            (5, 3),
            {"w": (4, 5), "b": (4,)},
        ),
        (helper.make_node("MatMul", ["x", "w"], ["y"]), (2, 3, 4, 5), {"w": (5, 6)}),
        (helper.make_node("MatMul", ["x", "w"], ["y"]), (2, 1, 4, 5), {"w": (3, 5, 2)}),
        (helper.make_node("MatMul", ["x", "w"], ["y"]), (5,), {"w": (2, 5, 3)}),
    ],
)
def test_layers_match_onnxruntime(node, xshape, inits):
    rng = np.random.default_rng(2)
    vals = {k: rng.normal(size=s) for k, s in inits.items()}
    proto = _one_node(node, ["x"], vals)
    x = rng.normal(size=xshape).astype(np.float32)
    want = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    got = run(load_onnx(proto), x)["y"]
    assert got.shape == want.shape and got.dtype == np.float32
    shapes = []
    run(load_onnx(proto), x, lambda call: shapes.append(call.output_shape))
    assert shapes == [want.shape]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
