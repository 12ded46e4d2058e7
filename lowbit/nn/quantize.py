"""A plan applied to a model: calibration, then a hook that quantizes every layer's operands.

`calibrate` runs the float model on calibration batches, keeps a sample of each quantized
layer's GEMM-form activation rows, fits the layer's transform on them (SmoothQuant's
maxima; Hadamard along K, for a Conv in blocks within the input channels) and sets each
static activation clip with the plan's range setter (`lowbit.analysis.ranges.clip_for`:
min-max, percentile, MSE, ACIQ, KL, OCTAV; or `EmaMinMax` over the batches), recording the
clips in the plan's ``ranges``. `Prepared.hook` returns the `lowbit.nn.Hook` that runs a
quantized model.

Quantization is lowbit's own: weights through `lowbit.evaluation.quantize_operand` in the
layer's GEMM form (so per-channel is per output column and blocks lie along K), dynamic
activations the same way row by row, static ones by the format's ``encode`` with the one
calibrated scale (``clip / format.max`` stored in the spec's scale format, saturating) as
``quantize_operand`` computes it for a per-tensor spec. The layer then computes in float64
on the dequantized values ("fake quantization"), or, with ``simulate``, its GEMM runs
through the bit-exact simulator with the plan's accumulator, order and lanes.

>>> from lowbit.nn import run
>>> from lowbit.nn.evaluate import load_task
>>> from lowbit.nn.plan import Plan
>>> task = load_task("digits", 0)  # trained once per process
>>> b = task.batch()
>>> prep = calibrate(task.model, Plan.parse("w4=int4:per_tensor,float"), [])
>>> round(task.metric(run(task.model, b.inputs), b), 3), round(task.metric(run(task.model, b.inputs, prep.hook()), b), 3)
(0.968, 0.95)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..analysis.ranges import EmaMinMax, clip_for
from ..analysis.transforms import Fitted, parse_transform
from ..evaluation.gemm import _simulate
from ..evaluation.operands import QuantizedOperand, parse_spec, quantize_operand
from ..formats.scaling import _saturating, _symmetric_scales
from ..transformspec import hadamard_order
from .fidelity import Batch
from .graph import GEMM_OPS, Layer, Model
from .layercall import LayerCall
from .plan import FLOAT, LayerPlan, Plan
from .runtime import run

#: calibration rows kept per layer and batch, and values a range setter sees at most
ROWS_PER_BATCH = 1024
MAX_SAMPLES = 200_000


@dataclass
class LayerState:
    """A layer's plan with what calibration fitted: the transform (None: none, or skipped
    with ``note`` saying why) and the static activation clip."""

    layer: Layer
    plan: LayerPlan
    fitted: Fitted | None = None
    clip: float | None = None
    note: str = ""
    cache: dict = field(default_factory=dict, repr=False)


@dataclass
class Prepared:
    """A calibrated plan on a model: `hook` quantizes the layers it names (all by default).

    ``infeasible`` collects, per simulated layer, why a run overflowed or went non-finite.
    """

    model: Model
    plan: Plan
    states: dict[str, LayerState]
    infeasible: dict[str, str] = field(default_factory=dict)

    def hook(self, only: Iterable[str] | None = None):
        """The `lowbit.nn.Hook` of this plan; ``only``: quantize just these layers."""
        keep = None if only is None else set(only)

        def quantize(call: LayerCall):
            st = self.states.get(call.layer.name)
            if st is None or (keep is not None and call.layer.name not in keep):
                return None
            y, _ = layer_output(st, call, self.infeasible)
            return y

        return quantize


def calibrate(
    model: Model,
    plan: Plan,
    batches: Sequence[Batch] | Iterable[Batch],
    ops: tuple[str, ...] = GEMM_OPS,
) -> Prepared:
    """Fit ``plan`` on ``model`` with calibration ``batches`` (distinct from evaluation
    data); returns a `Prepared` whose ``plan`` is a copy with the static clips in ``ranges``.
    A plan that needs no data (no static activations, no SmoothQuant) may pass no batches;
    a plan whose ``ranges`` already hold a layer's clip keeps it.
    """
    if not isinstance(plan, Plan):
        raise TypeError(f"calibrate: plan must be a lowbit.nn.plan.Plan, got {type(plan)}")
    layers = model.layers(ops)
    plan.check_layers(layers)
    states = {
        la.name: LayerState(la, plan.for_layer(la.name, la.op))
        for la in layers
        if plan.for_layer(la.name, la.op).quantized
    }
    samples: dict[str, list[np.ndarray]] = {n: [] for n in states}
    weights: dict[str, np.ndarray] = {}

    def collect(call: LayerCall) -> None:
        name = call.layer.name
        if name not in states:
            return
        a, b = call.gemm()
        rows = a.reshape(-1, a.shape[-1])
        rng = np.random.default_rng(len(samples[name]))
        if len(rows) > ROWS_PER_BATCH:
            rows = rows[np.sort(rng.choice(len(rows), ROWS_PER_BATCH, replace=False))]
        samples[name].append(np.asarray(rows, np.float64))
        weights.setdefault(name, np.asarray(b, np.float64))

    batches = list(batches)
    for batch in batches:
        run(model, batch.inputs, collect, ops)
    for name, st in states.items():
        _fit(st, samples[name], weights.get(name), plan.ranges.get(name))
    ranges = {n: st.clip for n, st in states.items() if st.clip is not None}
    return Prepared(model, dataclasses.replace(plan, ranges=ranges), states)


def _fit(st: LayerState, rows: list[np.ndarray], b: np.ndarray | None, known) -> None:
    lp = st.plan
    needs_data = lp.transform.startswith("smoothquant") or (
        lp.act_mode() == "static" and known is None
    )
    if needs_data and not rows:
        raise ValueError(
            f"layer {st.layer.name!r}: plan needs calibration data (static activation "
            "ranges or SmoothQuant) but no calibration batch reached it"
        )
    if lp.transform != "none":
        _fit_transform(st, rows, b)
    if lp.act_mode() == "static":
        if known is not None:
            st.clip = float(known)
        else:
            st.clip = _clip(st, rows)


def _fit_transform(st: LayerState, rows: list[np.ndarray], b: np.ndarray | None) -> None:
    la, spec = st.layer, st.plan.transform
    if b is None:
        st.note = "transform skipped: the layer was not reached by calibration"
        return
    if b.shape[0] != 1:
        st.note = f"transform skipped: {b.shape[0]} GEMMs (a grouped Conv or batched MatMul)"
        return
    tr = parse_transform(spec)
    if la.op == "Conv" and la.weight_shape is not None:
        tr = _conv_transform(spec, la.weight_shape[1], b.shape[1])
        if isinstance(tr, str):
            st.note = tr
            return
    x = np.concatenate(rows) if rows else np.zeros((1, b.shape[1]))
    try:
        st.fitted = tr.fit(x, b[0])
    except ValueError as e:
        st.note = f"transform skipped: {e}"


def _conv_transform(spec: str, cin: int, k: int):
    """A Conv's K runs over (kernel row, kernel column, input channel), input channels
    fastest: a Hadamard rotation stays within one kernel position's input channels, so its
    block must divide them; SmoothQuant's per-K scales are fine as they are."""
    steps = []
    for step in spec.split("+"):
        name, _, arg = step.partition(":")
        if name == "hadamard":
            block = int(arg.split(":")[0]) if arg and arg.split(":")[0].isdigit() else cin
            if cin % block or hadamard_order(block) is None:
                return f"transform skipped: no Hadamard block {block} within {cin} input channels"
            rest = arg.split(":")[1:] if arg and arg.split(":")[0].isdigit() else arg.split(":")
            step = ":".join(["hadamard", str(block), *[r for r in rest if r]])
        steps.append(step)
    return parse_transform("+".join(steps))


def _clip(st: LayerState, rows: list[np.ndarray]) -> float:
    lp, spec = st.plan, parse_spec(st.plan.activation)
    if st.fitted is not None:
        rows = [st.fitted.apply_x(r) for r in rows]
    method = lp.calibration
    if method == "ema":
        ema = EmaMinMax(lp.ema_momentum)
        for r in rows:
            ema.update(r)
        return float(ema.clip)
    x = np.concatenate([r.ravel() for r in rows])
    if x.size > MAX_SAMPLES:
        x = np.random.default_rng(0).choice(x, MAX_SAMPLES, replace=False)
    if method == "spec":
        method = spec.range
    opts = {}
    if method == "percentile":
        opts["p"] = spec.percentile
    elif method == "aciq":
        opts["prior"] = "laplace"
    clip = float(clip_for(spec.format, x, method, **opts))
    top = float(np.abs(x).max())
    return clip if np.isfinite(clip) and clip > 0 else (top if top > 0 else 1.0)


# -- the quantized layer ---------------------------------------------------------------
def quantize_static(a: np.ndarray, spec, clip: float) -> QuantizedOperand:
    """Activation rows ``a`` (M×K) quantized per tensor with a fixed (calibrated) clip:
    s = clip / format.max stored in the spec's scale format, the format's saturating
    ``encode`` of a / s, as `quantize_operand` does for a per-tensor spec from max|a|.

    >>> q = quantize_static(np.array([[0.5, -3.0]]), "int8:per_tensor", 1.0)
    >>> (q.values * 127).round(6).tolist()  # -3 saturates to int8's -128
    [[64.0, -128.0]]
    """
    spec = parse_spec(spec)
    fmt = spec.format
    s = float(_symmetric_scales(fmt.name, fmt, np.array([float(clip)]), spec.scale_format)[0])
    codes = np.ascontiguousarray(fmt.encode(np.asarray(a, np.float64) / s, **_saturating(fmt)))
    values = np.asarray(fmt.decode(codes), np.float64) * s
    return QuantizedOperand(spec, "activation", codes, fmt, np.full(len(a), s), None, values)


def _quant_act(st: LayerState, a2: np.ndarray) -> QuantizedOperand | None:
    lp = st.plan
    if lp.activation == FLOAT:
        return None
    if lp.act_mode() == "static":
        return quantize_static(a2, lp.activation, st.clip)
    return quantize_operand(a2, lp.activation, "activation")


def _quant_weight(st: LayerState, b: np.ndarray, const: bool):
    """(values (G, K, N), QuantizedOperand of the (K, G·N) matrix or None), cached for a
    constant weight."""
    if const and "w" in st.cache:
        return st.cache["w"]
    g, k, n = b.shape
    if st.fitted is not None:
        b = st.fitted.apply_w(b[0])[None]
    if st.plan.weight == FLOAT:
        out = (b, None)
    else:
        q = quantize_operand(b.transpose(1, 0, 2).reshape(k, g * n), st.plan.weight, "weight")
        out = (q.values.reshape(k, g, n).transpose(1, 0, 2), q)
    if const:
        st.cache["w"] = out
    return out


def _elementwise(st: LayerState, call: LayerCall) -> bool:
    """Whether the activation's quantization is the same on x as on its GEMM form (one
    scale for all of it, no transform), so the layer may run on x itself (a depthwise Conv
    then skips im2col)."""
    lp = st.plan
    if st.fitted is not None or lp.simulate or st.layer.weight is None:
        return False
    if call.layer.op == "MatMul" and np.ndim(call.w) != 2:
        return False
    if lp.activation == FLOAT or lp.act_mode() == "static":
        return True
    s = parse_spec(lp.activation)
    return not s.is_block and s.granularity == "none"


def _native_weight(call: LayerCall, bq: np.ndarray) -> np.ndarray:
    """The (G, K, N) GEMM form of a weight back in the weight's own shape."""
    op, w = call.layer.op, call.w
    if op == "Conv":
        m, cg = w.shape[0], w.shape[1]
        kh, kw = (1, w.shape[2]) if w.ndim == 3 else w.shape[2:]
        g = bq.shape[0]
        out = bq.reshape(g, kh, kw, cg, m // g).transpose(0, 4, 3, 1, 2).reshape(m, cg, kh, kw)
        return out.reshape(w.shape)
    if op == "Gemm" and call.layer.attrs.get("transB", 0):
        return bq[0].T
    return bq[0]


def layer_output(st: LayerState, call: LayerCall, infeasible: dict | None = None):
    """The quantized layer's output (float64, the layer's output shape) and a dict with the
    quantized operands' SQNR inputs: ``act`` (float, quantized) as the quantizer saw them."""
    const = st.layer.weight is not None
    if _elementwise(st, call):
        x = np.asarray(call.x, np.float64)
        a2 = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x[None]
        qa = _quant_act(st, a2)
        bq, _ = _quant_weight(st, _gemm_b(call, st), const)
        xq = x if qa is None else qa.values.reshape(x.shape)
        q = LayerCall(call.layer, xq, _native_weight(call, bq), call.bias)
        return q.compute(), {"act": (a2, None if qa is None else qa.values)}
    a, b = call.gemm()
    g, m, k = a.shape
    a2 = np.asarray(a, np.float64).reshape(-1, k)
    if st.fitted is not None:
        a2 = st.fitted.apply_x(a2)
    qa = _quant_act(st, a2)
    bq, qb = _quant_weight(st, np.asarray(b, np.float64), const)
    av = a2 if qa is None else qa.values
    if st.plan.simulate:
        y = _simulated(st, qa, qb, g, infeasible)
    else:
        y = np.matmul(av.reshape(g, m, k), bq)
    info = {"act": (a2, None if qa is None else qa.values), "fitted": st.fitted}
    return call.from_gemm(y).astype(np.float64), info


def _gemm_b(call: LayerCall, st: LayerState) -> np.ndarray:
    if "w" in st.cache:
        return st.cache["w"][0]  # not read again: _quant_weight returns the cached pair
    _, b = LayerCall(call.layer, call.x[:1], call.w, None).gemm()
    return np.asarray(b, np.float64)


def _simulated(st: LayerState, qa, qb, g: int, infeasible) -> np.ndarray:
    lp = st.plan
    if g != 1:
        raise ValueError(
            f"layer {st.layer.name!r}: simulate = true runs one GEMM per layer; this one is "
            f"{g} GEMMs (a grouped Conv or batched MatMul)"
        )
    block = lp.lanes if lp.order == "blocks" else None
    y, stats = _simulate(qa, qb, lp.accumulator, order=lp.order, block=block)
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if (stats.overflow or bad) and infeasible is not None:
        infeasible[st.layer.name] = f"{stats.overflow} overflows, {bad} non-finite outputs"
    return np.asarray(y, np.float64)[None]
