"""What a calibrated plan does to a network, on one evaluation batch.

* `layer_errors`: per layer, the SQNR of the quantized weight (in the transform's basis,
  the one it is stored in), of the quantized activation (as the quantizer saw it: the
  GEMM-form rows, back in the original basis when transformed), and of the layer's output
  against its float output with *float inputs* (one float run, each layer quantized in
  turn on the float model's activations: the error that layer alone adds);
* `end_to_end`: the quantized run against the float run: mean logit KL (nats), top-1
  agreement, and the task metric (`lowbit.nn.fidelity`);
* `sensitivity`: `end_to_end` with one layer quantized at a time.

SQNR is 10·log10(Σref² / Σ(q − ref)²) (`lowbit.analysis.metrics.sqnr_from_mse`), summed
over every call of the layer in the run; NaN for an operand left in float.

>>> from lowbit.nn.evaluate import load_task
>>> from lowbit.nn.plan import Plan
>>> from lowbit.nn.quantize import calibrate
>>> task = load_task("digits", 0)  # trained once per process
>>> prep = calibrate(task.model, Plan.parse("w8=int8:per_channel,float"), [])
>>> rows = layer_errors(prep, task.batch(64, seed=1))
>>> [(r["layer"], round(r["weight_sqnr_db"])) for r in rows]
[('fc1', 44), ('fc2', 44), ('fc3', 45)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..analysis.metrics import sqnr_from_mse
from .fidelity import Batch, Task, logit_kl, top1_agreement
from .layercall import LayerCall
from .quantize import Prepared, _quant_weight, layer_output
from .runtime import run


class _Sums:
    """Σref² and Σ(q − ref)² of one quantity over the calls of a layer."""

    def __init__(self):
        self.sig = self.err = 0.0
        self.used = False

    def add(self, ref, q) -> None:
        if q is None:
            return
        ref = np.asarray(ref, np.float64)
        self.sig += float(np.sum(ref * ref))
        self.err += float(np.sum((np.asarray(q, np.float64) - ref) ** 2))
        self.used = True

    def db(self) -> float:
        return sqnr_from_mse(self.sig, self.err) if self.used else math.nan


def layer_errors(prep: Prepared, batch: Batch) -> list[dict]:
    """One row per quantized layer: ``layer``, ``op``, ``weight_sqnr_db``,
    ``act_sqnr_db``, ``out_sqnr_db`` (float inputs), on ``batch``."""
    sums: dict[str, dict[str, _Sums]] = {}

    def probe(call: LayerCall) -> None:
        st = prep.states.get(call.layer.name)
        if st is None:
            return
        s = sums.setdefault(call.layer.name, {k: _Sums() for k in ("w", "a", "y")})
        y, info = layer_output(st, call)
        x64 = np.asarray(call.x, np.float64)
        ref = LayerCall(call.layer, x64, np.asarray(call.w, np.float64), call.bias).compute()
        s["y"].add(ref, y)
        a, qa = info["act"]
        fitted = info.get("fitted")
        if qa is not None and fitted is not None:
            a, qa = fitted.restore_x(a), fitted.restore_x(qa)
        s["a"].add(a, qa)
        if st.plan.weight != "float" and not s["w"].used:
            _, b = call.gemm()
            b = np.asarray(b, np.float64)
            bq, _ = _quant_weight(st, b, st.layer.weight is not None)
            bt = b if st.fitted is None else st.fitted.apply_w(b[0])[None]
            s["w"].add(bt, bq)

    run(prep.model, batch.inputs, probe)
    return [
        {
            "layer": name,
            "op": prep.states[name].layer.op,
            "weight_sqnr_db": s["w"].db(),
            "act_sqnr_db": s["a"].db(),
            "out_sqnr_db": s["y"].db(),
            "transform_note": prep.states[name].note,
        }
        for name, s in sums.items()
    ]


def fidelity(task: Task, ref: Mapping[str, np.ndarray], out, batch: Batch) -> dict:
    """``logit_kl``, ``top1_agreement`` of ``out`` against the float ``ref`` on the task's
    output, and the task ``metric`` (NaN when the task has none)."""
    r, q = ref[task.output], out[task.output]
    kw = dict(axis=task.class_axis)
    metric = task.metric(out, batch)
    return {
        "logit_kl": logit_kl(r, q, probabilities=task.probabilities, **kw),
        "top1_agreement": top1_agreement(r, q, **kw),
        "metric": math.nan if metric is None else float(metric),
    }


def end_to_end(prep: Prepared, task: Task, batch: Batch, ref=None, only=None) -> dict:
    """The quantized run of ``batch`` against the float run ``ref`` (run here when None)."""
    ref = run(prep.model, batch.inputs) if ref is None else ref
    prep.infeasible.clear()
    out = run(prep.model, batch.inputs, prep.hook(only))
    row = fidelity(task, ref, out, batch)
    row["infeasible"] = "; ".join(f"{k}: {v}" for k, v in prep.infeasible.items())
    return row


def sensitivity(prep: Prepared, task: Task, batch: Batch, ref=None) -> list[dict]:
    """`end_to_end` with each quantized layer alone quantized, one row per layer."""
    ref = run(prep.model, batch.inputs) if ref is None else ref
    return [
        {"layer": name} | end_to_end(prep, task, batch, ref, only=[name]) for name in prep.states
    ]
