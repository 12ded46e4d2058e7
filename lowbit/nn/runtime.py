"""Run a `Model` with numpy tensors between its nodes and a hook at every compute layer.

Compute layers (`lowbit.nn.graph.LAYER_OPS`) run in numpy through their GEMM form
(`lowbit.nn.layercall`), so a hook sees and may replace their operands or their output.
Every other node runs through onnxruntime: the nodes between two layers form one segment,
run as one small model (built once per input dtypes and cached on the model), so the glue
ops (normalisation, activations, reshapes, resizes) have exactly the runtime's semantics
and lowbit does not re-implement ONNX. ``If`` is resolved at run time: its condition picks a branch, whose
nodes run here with the same hook. ``Loop``/``Scan`` are refused at load.

>>> import numpy as np, onnx
>>> from onnx import helper, numpy_helper
>>> from lowbit.nn.graph import load_onnx
>>> w = numpy_helper.from_array(np.full((2, 2), 0.5, np.float32), "w")
>>> g = helper.make_graph(
...     [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
...      helper.make_node("Relu", ["h"], ["y"])], "g",
...     [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
...     [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])], [w])
>>> m = load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8))
>>> run(m, np.array([[1.0, -3.0]], np.float32))["y"].tolist()
[[0.0, 0.0]]
>>> def double_w(call):
...     call.w = -2 * call.w
>>> run(m, np.array([[1.0, -3.0]], np.float32), hook=double_w)["y"].tolist()
[[2.0, 2.0]]
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping

import numpy as np

from .graph import GEMM_OPS, LAYER_OPS, Layer, Model, _Graph, _onnx
from .layercall import Hook, LayerCall


def run(
    model: Model,
    inputs: np.ndarray | Mapping[str, np.ndarray],
    hook: Hook | None = None,
    ops: tuple[str, ...] = GEMM_OPS,
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``inputs`` (one array for a one-input model, or a dict by input name)
    and return its outputs by name. ``hook`` is called for each layer whose op is in ``ops``.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a lowbit.nn.Model (see load_onnx), got {type(model)}")
    bad = set(ops) - set(LAYER_OPS)
    if bad:
        raise ValueError(f"ops must be among {LAYER_OPS}, got {sorted(bad)}")
    if hook is not None and not callable(hook):
        raise TypeError("hook must be callable (call: LayerCall) -> array | None")
    feeds = _feeds(model, inputs)
    env = ChainMap(dict(feeds), model.graph.constants)
    _run_graph(model, model.graph, env, hook, frozenset(ops))
    return {name: env[name] for name in model.output_names}


def list_layers(
    model: Model, inputs: Mapping[str, np.ndarray] | np.ndarray | None = None, ops=GEMM_OPS
) -> list[Layer]:
    """The model's compute layers with their MACs per inference, counted on one run of
    ``inputs`` (default ``model.example_inputs``), divided by the batch (first axis of the
    first input). Layers that the run does not reach (an If branch not taken) get macs=0.
    """
    import dataclasses

    inputs = model.example_inputs if inputs is None else inputs
    if inputs is None:
        raise ValueError(f"{model.name}: no inputs given and no example_inputs to count MACs")
    feeds = _feeds(model, inputs)
    batch = next(iter(feeds.values())).shape[0] if feeds else 1
    macs: dict[str, int] = {}

    def count(call: LayerCall) -> None:
        macs[call.layer.name] = macs.get(call.layer.name, 0) + call.macs

    run(model, feeds, count, ops)
    return [dataclasses.replace(la, macs=macs.get(la.name, 0) // batch) for la in model.layers(ops)]


def _feeds(model: Model, inputs) -> dict[str, np.ndarray]:
    if isinstance(inputs, np.ndarray):
        if len(model.input_names) != 1:
            raise ValueError(
                f"{model.name} has inputs {model.input_names}: pass a dict of arrays by name"
            )
        return {model.input_names[0]: inputs}
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be an array or a dict of arrays, got {type(inputs)}")
    missing = set(model.input_names) - set(inputs)
    if missing:
        raise ValueError(f"{model.name}: missing inputs {sorted(missing)}")
    return {k: np.asarray(v) for k, v in inputs.items()}


def _run_graph(model: Model, g: _Graph, env: ChainMap, hook, ops) -> None:
    for kind, item in _steps(model, g, ops):
        if kind == "layer":
            node = item
            env[node.output[0]] = _run_layer(model.layer_of(node), node, env, hook)
        elif kind == "if":
            node = item
            then_g, else_g = g.subgraphs[id(node)]
            branch = then_g if bool(np.asarray(env[node.input[0]]).reshape(-1)[0]) else else_g
            inner = env.new_child(dict(branch.constants))
            _run_graph(model, branch, inner, hook, ops)
            for out, sub_out in zip(node.output, branch.outputs, strict=True):
                env[out] = inner[sub_out]
        else:
            env.update(_run_segment(model, item, env))


def _steps(model: Model, g: _Graph, ops) -> list[tuple[str, object]]:
    """``g``'s nodes as steps: a layer, an If, or a segment (the nodes between two of those,
    run as one onnxruntime model: one call instead of one per node). Cached per ``ops``."""
    key = (id(g), ops)
    if key in model._plans:
        return model._plans[key]
    steps: list = []
    run_: list = []
    for node in g.nodes:
        layer = model.layer_of(node)
        if (layer is not None and layer.op in ops) or node.op_type == "If":
            if run_:
                steps.append(("segment", run_))
                run_ = []
            steps.append(("layer" if node.op_type != "If" else "if", node))
        else:
            run_.append(node)
    if run_:
        steps.append(("segment", run_))
    for i, (kind, item) in enumerate(steps):
        if kind == "segment":
            made = {o for n in item for o in n.output if o}
            read = {i for n in item for i in n.input if i}
            later = _consumed_outside(g, item)  # by layers, other segments, If branches
            steps[i] = ("segment", _Segment(item, sorted(read - made), sorted(made & later)))
    model._plans[key] = steps
    return steps


class _Segment:
    def __init__(self, nodes, inputs, outputs):
        self.nodes, self.inputs, self.outputs = nodes, inputs, outputs


def _consumed(g: _Graph) -> set[str]:
    """Every name that a node of ``g`` or of its subgraphs (at any depth) reads."""
    names = {i for n in g.nodes for i in n.input if i}
    for branches in g.subgraphs.values():
        for sub in branches:
            names |= _consumed(sub) | set(sub.outputs)
    return names


def _consumed_outside(g: _Graph, nodes) -> set[str]:
    mine = {id(n) for n in nodes}
    names = {i for n in g.nodes if id(n) not in mine for i in n.input if i}
    for branches in g.subgraphs.values():
        for sub in branches:
            names |= _consumed(sub) | set(sub.outputs)
    return names | set(g.outputs)


def _run_segment(model: Model, seg: _Segment, env) -> dict[str, np.ndarray]:
    if not seg.outputs:
        return {}
    values = [env[n] for n in seg.inputs]
    key = (id(seg), tuple(v.dtype.str for v in values))
    sess = model._sessions.get(key)
    if sess is None:
        sess = model._sessions[key] = _session(model, seg, values)
    out = sess.run(seg.outputs, dict(zip(seg.inputs, values, strict=True)))
    return dict(zip(seg.outputs, out, strict=True))


def _run_layer(layer: Layer, node, env, hook) -> np.ndarray:
    if layer.op == "Gather":
        call = LayerCall(layer, env[node.input[1]], env[node.input[0]])
    else:
        bias = env[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        call = LayerCall(layer, env[node.input[0]], env[node.input[1]], bias)
    shapes = call.x.shape, call.w.shape
    out = hook(call) if hook is not None else None
    if (call.x.shape, call.w.shape) != shapes:
        raise ValueError(
            f"hook changed layer {layer.name!r}'s operand shapes {shapes} to "
            f"{(call.x.shape, call.w.shape)}"
        )
    if out is None:
        return call.compute()
    out = np.asarray(out)
    want = call.output_shape
    if out.shape != want:
        raise ValueError(f"hook returned shape {out.shape} for layer {layer.name!r}, want {want}")
    return out.astype(env[node.input[0]].dtype if layer.op != "Gather" else call.w.dtype)


def _session(model: Model, seg: _Segment, values):
    """An onnxruntime session for a segment, its inputs typed, shapes left free."""
    onnx = _onnx()
    import onnxruntime as ort
    from onnx import helper

    ins = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), None)
        for n, v in zip(seg.inputs, values, strict=True)
    ]
    outs = [helper.make_value_info(n, onnx.TypeProto()) for n in seg.outputs]
    graph = helper.make_graph(seg.nodes, "segment", ins, outs)
    # the segment's model keeps the model's opsets; IR ≤ 10 is what onnxruntime ≥ 1.18 reads
    ir = min(model.proto.ir_version, 10)
    proto = helper.make_model(graph, opset_imports=model.opset, ir_version=ir)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # deterministic, and lowbit's own threads stay free
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
