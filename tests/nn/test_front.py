"""The front on graphs made here: hooks, If, Gather, refusals, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")
from onnx import helper, numpy_helper  # noqa: E402

from lowbit.nn import list_layers, load_onnx, run  # noqa: E402
from lowbit.nn.digits import digits_task  # noqa: E402

F = onnx.TensorProto.FLOAT


@pytest.fixture(scope="module")
def digits():
    return digits_task(seed=0)


def _model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def test_zeroing_the_last_layer_leaves_its_bias(digits):
    x = digits.batch(20, seed=3).inputs

    def zero_fc3(call):
        if call.layer.name == "fc3":
            call.w = np.zeros_like(call.w)

    out = run(digits.model, x, zero_fc3)["logits"]
    bias = digits.model.graph.constants["p5"]
    np.testing.assert_array_equal(out, np.broadcast_to(bias, out.shape))


def test_hook_scaling_an_activation_scales_the_logits_before_the_bias(digits):
    # ReLU networks are positively homogeneous: doubling fc3's input doubles x·W3
    x = digits.batch(20, seed=4).inputs
    base = run(digits.model, x)["logits"]

    def double(call):
        if call.layer.name == "fc3":
            call.x = 2 * call.x

    out = run(digits.model, x, double)["logits"]
    bias = digits.model.graph.constants["p5"]
    np.testing.assert_allclose(out - bias, 2 * (base - bias), rtol=1e-5, atol=1e-5)


def test_hook_output_from_an_outside_gemm(digits):
    x = digits.batch(30, seed=5).inputs
    seen = []

    def gemm_in_float64(call):
        a, b = call.gemm()
        seen.append((call.layer.name, a.shape, b.shape))
        return call.from_gemm(np.matmul(a.astype(np.float64), b.astype(np.float64)))

    got = run(digits.model, x, gemm_in_float64)["logits"]
    want = ort.InferenceSession(digits.model.proto.SerializeToString()).run(None, dict(x))[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert seen == [
        ("fc1", (1, 30, 64), (1, 64, 64)),
        ("fc2", (1, 30, 64), (1, 64, 32)),
        ("fc3", (1, 30, 32), (1, 32, 10)),
    ]


def test_list_layers_counts_macs(digits):
    layers = list_layers(digits.model, digits.batch(7, seed=0).inputs)
    assert [(la.name, la.op, la.weight_shape, la.k_axis, la.macs) for la in layers] == [
        ("fc1", "Gemm", (64, 64), 0, 64 * 64),
        ("fc2", "MatMul", (64, 32), 0, 64 * 32),
        ("fc3", "MatMul", (32, 10), 0, 32 * 10),
    ]


def test_bad_hooks_and_inputs(digits):
    x = digits.batch(3, seed=0).inputs
    with pytest.raises(ValueError, match="hook returned shape"):
        run(digits.model, x, lambda call: np.zeros(3))
    with pytest.raises(ValueError, match="operand shapes"):
        run(digits.model, x, lambda call: setattr(call, "w", call.w[:1]))
    with pytest.raises(ValueError, match="missing inputs"):
        run(digits.model, {"y": x["x"]})
    with pytest.raises(ValueError, match="ops must be among"):
        run(digits.model, x, ops=("Relu",))
    with pytest.raises(TypeError, match="lowbit.nn.Model"):
        run(digits.model.proto, x)
    with pytest.raises(TypeError, match="hook must be callable"):
        run(digits.model, x, hook=3)


def _if_model():
    w = [
        numpy_helper.from_array(np.full((3, 2), v, np.float32), f"w{i}")
        for i, v in enumerate((1.0, -1.0))
    ]
    branches = [
        helper.make_graph(
            [helper.make_node("MatMul", ["xs", f"w{i}"], [f"y{i}"], name=f"mm{i}")],
            f"b{i}",
            [],
            [helper.make_tensor_value_info(f"y{i}", F, None)],
        )
        for i in range(2)
    ]
    nodes = [
        # xs is made in the segment before the If and read only inside its branches
        helper.make_node("Mul", ["x", "two"], ["xs"]),
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=branches[0], else_branch=branches[1]),
    ]
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    two = numpy_helper.from_array(np.full((), 2.0, np.float32), "two")
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", F, [1, 3])],
        [helper.make_tensor_value_info("y", F, None)],
        [*w, zero, two],
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_if_runs_the_taken_branch_with_the_hook(sign):
    proto = _if_model()
    m = load_onnx(proto)
    x = sign * np.array([[1.0, 2.0, 3.0]], np.float32)
    names = []
    got = run(m, x, lambda call: names.append(call.layer.name))["y"]
    want = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)
    assert names == (["mm0"] if sign > 0 else ["mm1"])


def test_gather_is_a_layer_when_asked():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    proto = _model(
        [helper.make_node("Gather", ["emb", "ids"], ["y"], name="embed")],
        [helper.make_tensor_value_info("ids", onnx.TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", F, [2, 3])],
        [numpy_helper.from_array(table, "emb")],
    )
    m = load_onnx(proto)
    ids = np.array([3, 1])
    assert run(m, ids)["y"].tolist() == table[[3, 1]].tolist()  # through onnxruntime
    assert m.layers() == []
    out = run(m, ids, lambda call: call.w[call.x] * 0 - 1, ops=("Gather",))["y"]
    assert out.tolist() == [[-1.0] * 3] * 2
    assert [la.weight_shape for la in m.layers(("Gather",))] == [(4, 3)]


def test_loop_is_refused_at_load():
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c2"])],
        "body",
        [
            helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info("c", onnx.TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("c2", onnx.TensorProto.BOOL, [])],
    )
    proto = _model(
        [helper.make_node("Loop", ["n", "c"], [], body=body)],
        [helper.make_tensor_value_info("n", onnx.TensorProto.INT64, [])],
        [],
        [],
    )
    with pytest.raises(ValueError, match="Loop"):
        load_onnx(proto)
    with pytest.raises(TypeError, match="path to an .onnx file"):
        load_onnx(3.5)


def test_fidelity_against_a_direct_formula():
    from scipy.special import rel_entr, softmax

    from lowbit.nn import logit_kl, top1_agreement

    rng = np.random.default_rng(9)
    ref, test = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    want = np.mean(np.sum(rel_entr(softmax(ref, 1), softmax(test, 1)), axis=1))
    assert logit_kl(ref, test) == pytest.approx(want, rel=1e-12)
    p, q = softmax(ref, 0), softmax(test, 0)
    assert logit_kl(p, q, axis=0, probabilities=True) == pytest.approx(
        np.mean(np.sum(rel_entr(p, q), axis=0)), rel=1e-12
    )
    agree = np.mean(ref.argmax(1) == test.argmax(1))
    assert top1_agreement(ref, test) == agree
    assert logit_kl(ref, np.full_like(ref, np.nan)) == np.inf
    with pytest.raises(ValueError, match="shapes differ"):
        top1_agreement(ref, test[:2])


@pytest.mark.parametrize("accumulator", ["exact", "fixed:14:0:saturate"])
def test_a_hook_runs_a_layer_through_the_simulator(digits, accumulator):
    """fc2's GEMM on INT8 codes (per-tensor absmax scales) through lowbit.hwmodel.macsim."""
    from lowbit import get_format
    from lowbit.hwmodel import macsim

    if not macsim.available():
        pytest.skip(macsim.MISSING_MESSAGE)
    i8 = get_format("int8")
    x = digits.batch(120, seed=6).inputs
    stats, oracle = [], []

    def int8_fc2(call):
        if call.layer.name != "fc2":
            return None
        a, b = call.gemm()
        sa, sb = float(np.max(np.abs(a))) / 127, float(np.max(np.abs(b))) / 127
        ca, cb = i8.encode(a[0] / sa), i8.encode(b[0] / sb)
        m, n = ca.shape[0], cb.shape[1]
        y, st = macsim.gemm(ca, cb, i8, i8, accumulator, scales=(np.full(m, sa), np.full(n, sb)))
        stats.append(st)
        oracle.append((y, (i8.decode(ca).astype(np.float64) @ i8.decode(cb)) * sa * sb))
        return call.from_gemm(y[None])

    float_logits = run(digits.model, x)["logits"]
    logits = run(digits.model, x, int8_fc2)["logits"]
    agree = top1(float_logits, logits)
    if accumulator == "exact":
        # products and sums of INT8 codes are exact: only the two scales round, in float64
        np.testing.assert_allclose(*oracle[0], rtol=1e-13, atol=0)
        assert stats[0].overflow == 0 and agree >= 0.97
    else:
        # a 14-bit register saturates at ±8,191: the exact partial sums reach 46,460
        assert stats[0].overflow > 0 and agree < 0.97


def top1(a, b):
    return float(np.mean(a.argmax(-1) == b.argmax(-1)))
