"""An ONNX model as lowbit sees it: its constants as numpy arrays and its compute layers.

Why ONNX, interpreted: the pretrained networks that install offline from PyPI ship as ONNX
files (PP-OCRv4 in ``rapidocr-onnxruntime``), ONNX is what every framework exports, and
``onnx`` + ``onnxruntime`` install in 99 MB where the CPU build of PyTorch 2.13 alone
unpacks to 699 MB (a 192 MB wheel). lowbit runs the graph itself (``lowbit.nn.runtime``): every GEMM layer in
numpy, where a hook can see and replace its operands, the nodes between layers through
onnxruntime; PyTorch models reach it through ``torch.onnx.export``. Constants (initializers
and ``Constant`` nodes) are read once into read-only numpy arrays, and a hook receives those
arrays themselves, not copies.

A *compute layer* is a node whose work is a GEMM: ``Conv`` (im2col), ``Gemm``, ``MatMul``
(with a constant weight, or two activations as in attention), and, where asked, ``Gather``
from a constant table (an embedding).

>>> import numpy as np, onnx
>>> from onnx import helper, numpy_helper
>>> w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
>>> g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")], "g",
...     [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
...     [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])], [w])
>>> m = load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
>>> [(la.name, la.op, la.weight_shape, la.k_axis) for la in m.layers()]
[('fc', 'MatMul', (4, 3), 0)]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

#: the GEMM-like ops that are layers by default, and the one that is a layer only when asked
GEMM_OPS = ("Conv", "Gemm", "MatMul")
LAYER_OPS = (*GEMM_OPS, "Gather")
# control flow the interpreter cannot resolve (If is run branch by branch, see runtime.py)
_UNSUPPORTED = ("Loop", "Scan")


def _onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("lowbit.nn needs the onnx extra: pip install 'lowbit[onnx]'") from e
    return onnx


@dataclass(frozen=True)
class Layer:
    """One compute layer.

    ``weight`` names the constant operand (None when both operands are activations, as in
    attention's Q·Kᵀ); ``k_axis`` is the weight's axis that the GEMM sums over (a Conv's
    input-channel axis 1; a Gemm's 0, or 1 with transB; a MatMul's second-to-last; a
    Gather's row axis, -1 meaning the table's last axis), ``x_k_axis`` the activation's.
    ``macs`` (multiply-accumulates per inference) is filled in by `list_layers`.
    """

    name: str
    op: str
    weight: str | None
    weight_shape: tuple[int, ...] | None
    k_axis: int
    x_k_axis: int
    attrs: dict = field(default_factory=dict, compare=False, repr=False)
    macs: int | None = None


@dataclass(eq=False)
class _Graph:
    nodes: list
    constants: dict[str, np.ndarray]
    outputs: list[str]
    subgraphs: dict[int, tuple[_Graph, _Graph]] = field(default_factory=dict)


class Model:
    """A loaded ONNX model: constants as read-only numpy arrays, nodes in graph order.

    Build one with `load_onnx`. ``example_inputs`` (a dict of arrays with batch 1) is what
    `list_layers` counts MACs on.
    """

    def __init__(self, proto, name: str, example_inputs: dict | None = None):
        onnx = _onnx()
        self.proto = proto
        self.name = name
        self.opset = list(proto.opset_import)
        self.graph = _prepare(proto.graph, onnx)
        inits = {i.name for i in proto.graph.initializer}
        self.input_names = [i.name for i in proto.graph.input if i.name not in inits]
        self.output_names = [o.name for o in proto.graph.output]
        self.metadata = {p.key: p.value for p in proto.metadata_props}
        self.example_inputs = example_inputs
        self._sessions: dict = {}
        self._plans: dict = {}
        self._layers: dict[int, Layer] = {}
        _find_layers(self.graph, self._layers, set())

    def layers(self, ops: tuple[str, ...] = GEMM_OPS) -> list[Layer]:
        """The compute layers whose op is in ``ops``, in graph order (no MAC counts)."""
        bad = set(ops) - set(LAYER_OPS)
        if bad:
            raise ValueError(f"layer ops must be among {LAYER_OPS}, got {sorted(bad)}")
        return [la for la in self._layers.values() if la.op in ops]

    def layer_of(self, node) -> Layer | None:
        return self._layers.get(id(node))

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {len(self._layers)} layers)"


def load_onnx(model, name: str | None = None, example_inputs: dict | None = None) -> Model:
    """Load an ONNX model (a path or a ``ModelProto``) for `lowbit.nn.run`.

    >>> load_onnx(42)
    Traceback (most recent call last):
    ...
    TypeError: model must be a path to an .onnx file or an onnx.ModelProto, got int
    """
    onnx = _onnx()
    if isinstance(model, str | os.PathLike):
        proto = onnx.load(os.fspath(model))
        name = name or os.path.splitext(os.path.basename(os.fspath(model)))[0]
    elif isinstance(model, onnx.ModelProto):
        proto = model
        name = name or (model.graph.name or "model")
    else:
        raise TypeError(
            "model must be a path to an .onnx file or an onnx.ModelProto, "
            f"got {type(model).__name__}"
        )
    return Model(proto, name, example_inputs)


def _prepare(graph, onnx) -> _Graph:
    """Fold initializers and Constant nodes into read-only arrays; keep the other nodes."""
    from onnx import numpy_helper

    constants = {}
    for t in graph.initializer:
        constants[t.name] = _readonly(numpy_helper.to_array(t))
    nodes, subgraphs = [], {}
    for node in graph.node:
        if node.op_type in _UNSUPPORTED:
            raise ValueError(
                f"node {node.name or node.op_type!r}: lowbit.nn runs If but not "
                f"{'/'.join(_UNSUPPORTED)} (unroll the loop before export)"
            )
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            constants[node.output[0]] = _readonly(numpy_helper.to_array(attrs["value"].t))
            continue
        if node.op_type == "If":
            subgraphs[id(node)] = (
                _prepare(attrs["then_branch"].g, onnx),
                _prepare(attrs["else_branch"].g, onnx),
            )
        nodes.append(node)
    return _Graph(nodes, constants, [o.name for o in graph.output], subgraphs)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _find_layers(g: _Graph, out: dict, names: set, scope: tuple = ()) -> None:
    from onnx import helper

    consts = {k: v for s in (*scope, g.constants) for k, v in s.items()}
    for node in g.nodes:
        if id(node) in g.subgraphs:
            for sub in g.subgraphs[id(node)]:
                _find_layers(sub, out, names, (*scope, g.constants))
        if node.op_type not in LAYER_OPS:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        wi = 0 if node.op_type == "Gather" else 1
        wname = node.input[wi] if node.input[wi] in consts else None
        if node.op_type == "Gather" and wname is None:
            continue  # a Gather of an activation is indexing, not an embedding
        shape = tuple(consts[wname].shape) if wname else None
        k_axis, x_k_axis = _k_axes(node.op_type, attrs, shape)
        name = node.name or node.output[0]
        while name in names:
            name += "_"
        names.add(name)
        out[id(node)] = Layer(name, node.op_type, wname, shape, k_axis, x_k_axis, attrs)


def _k_axes(op: str, attrs: dict, shape) -> tuple[int, int]:
    if op == "Conv":
        return 1, 1
    if op == "Gemm":
        return (1 if attrs.get("transB", 0) else 0), (0 if attrs.get("transA", 0) else 1)
    if op == "MatMul":
        if shape is None:
            return -2, -1
        return max(len(shape) - 2, 0), -1
    return -1, -1  # Gather: a row of the table is one token's vector
