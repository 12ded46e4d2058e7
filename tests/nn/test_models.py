"""The real models: float accuracy, the front against onnxruntime, every layer hooked."""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

from lowbit.nn import list_layers, run  # noqa: E402
from lowbit.nn.digits import digits_task, load_digits, split, train_mlp  # noqa: E402
from lowbit.nn.fidelity import logit_kl, top1_agreement  # noqa: E402


def _has_rapidocr() -> bool:
    import importlib.util

    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


needs_ocr = pytest.mark.skipif(not _has_rapidocr(), reason="rapidocr-onnxruntime not installed")


def _ort(model, inputs):
    sess = ort.InferenceSession(model.proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(inputs))


@pytest.mark.parametrize("seed", [0, 1])
def test_digits_mlp_reaches_its_accuracy(seed):
    # measured: 0.968, 0.976, 0.974, 0.970, 0.984 for seeds 0-4 on the 497 held-out images
    task = digits_task(seed)
    batch = task.batch()
    out = run(task.model, batch.inputs)
    np.testing.assert_allclose(out["logits"], _ort(task.model, batch.inputs)[0], 1e-5, 1e-5)
    assert task.metric(out, batch) >= 0.95


def test_digits_training_is_deterministic():
    x, y = load_digits()
    train, test = split(7)
    assert len(set(train) | set(test)) == 1797 and not set(train) & set(test)
    a = train_mlp(x[train[:200]], y[train[:200]], seed=7, epochs=2)
    b = train_mlp(x[train[:200]], y[train[:200]], seed=7, epochs=2)
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p, q)


@pytest.fixture(scope="module")
def ocr():
    from lowbit.nn.ocr import ocr_task

    task = ocr_task()
    batch = task.batch(8, seed=0)
    calls = []

    def record(call):
        calls.append((call.layer, call.x.shape, call.w.shape, call.macs))

    out = run(task.model, batch.inputs, record)
    return task, batch, out, calls


@needs_ocr
def test_ocr_float_front_matches_onnxruntime(ocr):
    task, batch, out, _ = ocr
    want = _ort(task.model, batch.inputs)[0]
    got = out[task.output]
    # float32 sums in another order: 2 of 2.1 M probabilities differ by 2e-4 (a position where
    # two classes compete, after 51 layers), every other by < 2e-5
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
    assert np.mean(np.abs(got - want) < 2e-5) > 0.9999
    assert top1_agreement(want, got) == 1.0
    assert logit_kl(want, got, probabilities=True) < 1e-6


@needs_ocr
def test_ocr_reads_rendered_text(ocr):
    # measured through lowbit.nn.run: 1.0 on these 8 lines (seed 0); 1.0, 0.987, 0.984, 0.996
    # on 32-line batches of seeds 0-3 (32, 29, 30, 31 lines read exactly)
    task, batch, out, _ = ocr
    assert task.metric(out, batch) >= 0.95
    assert sum(r == t for r, t in zip(task.read(out), batch.targets, strict=True)) >= 6


@needs_ocr
def test_ocr_hooks_see_every_compute_layer_with_its_k_axis(ocr):
    task, batch, _, calls = ocr
    nodes = [n for n in task.model.proto.graph.node if n.op_type in ("Conv", "MatMul")]
    assert [c[0].name for c in calls] == [n.name for n in nodes]  # 38 Conv + 13 MatMul
    assert len(calls) == 51
    for layer, xs, ws, _ in calls:
        if layer.op == "Conv":
            # K axis 1 of the weight holds the input channels of one group
            assert xs[layer.x_k_axis] == ws[layer.k_axis] * layer.attrs.get("group", 1)
        else:
            assert xs[-1] == ws[-2]
            assert (layer.weight is None) == (len(ws) == 4)  # attention: Q·Kᵀ and A·V
            if layer.weight is not None:
                assert ws[layer.k_axis] == xs[layer.x_k_axis]


@needs_ocr
def test_ocr_list_layers_macs(ocr):
    task, batch, out, calls = ocr
    layers = list_layers(task.model)  # on its one example line
    # an independent count: output elements × the K of each output
    x1 = task.model.example_inputs
    per_out = {}
    run(
        task.model,
        x1,
        lambda c: per_out.__setitem__(
            c.layer.name,
            (
                math.prod(c.compute().shape),
                c.x.shape[-1] if c.layer.op == "MatMul" else math.prod(c.w.shape[1:]),
            ),
        ),
    )
    assert [la.macs for la in layers] == [
        per_out[la.name][0] * per_out[la.name][1] for la in layers
    ]
    assert 5e8 < sum(la.macs for la in layers) < 9e8


@needs_ocr
def test_zeroing_a_layer_destroys_the_reading(ocr):
    task, batch, out, calls = ocr
    first = calls[0][0].name

    def zero_first(call):
        if call.layer.name == first:
            call.w = np.zeros_like(call.w)

    # with the first layer's weights zero nothing of the image reaches the rest: every line
    # gets the same output, and the reading is gone
    two = {"x": batch.inputs["x"][:2]}
    bad = run(task.model, two, zero_first)
    np.testing.assert_allclose(bad[task.output][0], bad[task.output][1], rtol=0, atol=1e-6)
    assert task.read(bad)[0] == task.read(bad)[1]
    assert task.metric(bad, type(batch)(two, batch.targets[:2], 0)) < 0.3
