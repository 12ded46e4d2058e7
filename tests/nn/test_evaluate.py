"""Many plans through the sweep executors: processes give the serial results."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest

from lowbit.nn.digits import to_onnx
from lowbit.nn.evaluate import evaluate
from lowbit.nn.plan import Plan

PLANS = [
    Plan.parse("w8a8=int8:per_channel,int8:per_token"),
    Plan.parse("mx4=mxfp4,mxfp4"),
]


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    """An MLP 64-64-32-10 with seeded random weights, as an .onnx file: a model given by path."""
    rng = np.random.default_rng(0)
    sizes = (64, 64, 32, 10)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.standard_normal((a, b)) / np.sqrt(a), rng.standard_normal(b) * 0.1]
    path = tmp_path_factory.mktemp("nn") / "mlp.onnx"
    onnx.save(to_onnx(params), str(path))
    return str(path)


def test_processes_give_the_serial_results(mlp):
    kw = dict(seeds=[0, 1], n=64, layer_sensitivity=True)
    serial = evaluate(mlp, PLANS, **kw)
    procs = evaluate(mlp, PLANS, executor="processes", workers=2, **kw)
    for name in ("layers", "end_to_end", "sensitivity"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(procs, name))
    sens = serial.sensitivity
    assert set(sens.layer) == {"fc1", "fc2", "fc3"} and len(sens) == 12
    # random inputs: fidelity only, no task metric
    assert serial.end_to_end.metric.isna().all() and (serial.end_to_end.logit_kl > 0).all()
    # one layer alone costs less than all of them together
    full = serial.end_to_end.groupby("plan").logit_kl.sum()
    assert (sens.groupby(["plan", "seed"]).logit_kl.max().groupby("plan").sum() < full).all()
    tidy = serial.tidy()
    assert list(tidy.columns) == ["table", "plan", "seed", "layer", "quantity", "value"]
    assert {"weight_sqnr_db", "logit_kl", "metric"} <= set(tidy.quantity)


def test_bad_evaluations_raise_before_running():
    with pytest.raises(ValueError, match="executor"):
        evaluate("digits", PLANS, executor="threads")
    with pytest.raises(ValueError, match="names must differ"):
        evaluate("digits", [PLANS[0], PLANS[0]])
    with pytest.raises(ValueError, match="digits, ppocr-rec or an .onnx file"):
        evaluate("nosuch.onnx", PLANS)
    with pytest.raises(ValueError, match="plans failed: w8a8: ValueError: .*fc9"):
        bad = Plan.from_dict({"name": "w8a8", "override": [{"match": "fc9", "weight": "int8"}]})
        evaluate("digits", [bad], seeds=[0])


def test_dask_gives_the_serial_results(mlp):
    pytest.importorskip("dask.distributed")
    kw = dict(seeds=[0], n=32)
    serial = evaluate(mlp, PLANS, **kw)
    dask = evaluate(mlp, PLANS, executor="dask", **kw)
    pd.testing.assert_frame_equal(serial.end_to_end, dask.end_to_end)
    pd.testing.assert_frame_equal(serial.layers, dask.layers)
