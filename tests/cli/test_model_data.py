"""``lowbit model MODEL.onnx --calibration-data --data --labels``: the user's own data."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest

from lowbit.cli import main
from lowbit.nn.digits import load_digits, split, to_onnx, train_mlp
from lowbit.nn.evaluate import evaluate
from lowbit.nn.plan import Plan, load_plan

PLANS = ["w8a8=int8:per_channel,int8:per_tensor", "w4pt=int4:per_tensor,int8:per_tensor"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits MLP trained on split(0), saved as .onnx, with 64 training images as the
    calibration file, the 497 held-out images as the evaluation file, and their labels."""
    d = tmp_path_factory.mktemp("data")
    x, y = load_digits()
    train, test = split(0)
    params = train_mlp(x[train], y[train], seed=0, epochs=20)
    onnx.save(to_onnx(params), str(d / "mlp.onnx"))
    cal = x[train[:64]]
    np.savez(d / "cal.npz", x=cal)
    np.savez(d / "cal_half.npz", x=cal * 0.5)
    np.savez(d / "eval.npz", x=x[test], y=y[test])
    np.savez(d / "eval_x.npz", x=x[test])
    np.save(d / "labels.npy", y[test])
    h = x[test].astype(np.float64)
    for i in range(0, 6, 2):  # float64 reference forward pass: the oracle for accuracy
        h = h @ params[i] + params[i + 1]
        h = np.maximum(h, 0) if i < 4 else h
    acc = float(np.mean(np.argmax(h, axis=1) == y[test]))
    return d, cal, acc


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_model_on_user_data_writes_layers_end_to_end_and_accuracy(capsys, digits):
    d, cal, acc = digits
    out = d / "r.csv"
    code, stdout, err = run(
        capsys, "model", d / "mlp.onnx", "--plan", PLANS[0], "--plan", PLANS[1],
        "--calibration-data", d / "cal.npz", "--data", d / "eval_x.npz", "--labels",
        d / "labels.npy", "--seeds", "0,1", "-n", "300", "--save-plan", d / "cal", "-o", out,
    )  # fmt: skip
    assert code == 0, err
    assert "top-1 accuracy" in stdout and "warning" not in err
    df = pd.read_csv(out)
    layers = df[df.table == "layer"]
    assert {
        (p, s, la) for p, s, la in zip(layers.plan, layers.seed, layers.layer, strict=True)
    } == {(p, s, la) for p in ("w8a8", "w4pt") for s in (0, 1) for la in ("fc1", "fc2", "fc3")}
    e2e = df[df.table == "end_to_end"].pivot_table("value", ["plan", "seed"], "quantity")
    assert len(e2e) == 4
    # seeds draw different 300-image subsets of EVAL: the float accuracy differs between them
    f = e2e.float_metric.xs("w8a8")
    assert f.loc[0] != f.loc[1] and (f > 0.9).all()
    assert (e2e.metric.xs("w8a8") > 0.9).all()
    assert e2e.logit_kl.xs("w4pt").mean() > 10 * e2e.logit_kl.xs("w8a8").mean()
    # every seed calibrates on all 64 images of CAL: fc1's static range is CAL's max
    saved = load_plan(d / "cal" / "w8a8.toml")
    assert saved.ranges["fc1"] == pytest.approx(float(cal.max()), rel=1e-6)

    # the whole EVAL file with the labels inside it (--labels-key): the float metric is the
    # float64 reference accuracy, for every seed
    code, stdout, err = run(
        capsys, "model", d / "mlp.onnx", "--plan", PLANS[0], "--calibration-data",
        d / "cal_half.npz", "--data", d / "eval.npz", "--labels-key", "y", "--seeds", "2",
        "--save-plan", d / "half", "-o", out,
    )  # fmt: skip
    assert code == 0, err
    e2e = pd.read_csv(out).query("table == 'end_to_end'").pivot_table("value", "seed", "quantity")
    assert (e2e.float_metric == acc).all() and acc > 0.9
    # calibration came from CAL alone: half the calibration data, half the static range
    half = load_plan(d / "half" / "w8a8.toml")
    assert half.ranges["fc1"] == pytest.approx(saved.ranges["fc1"] / 2, rel=1e-6)


def test_python_api_one_input_npy_and_no_labels(digits):
    d, cal, acc = digits
    np.save(d / "cal.npy", cal)
    np.save(d / "eval.npy", np.load(d / "eval.npz")["x"][:100])
    plans = [Plan.parse(PLANS[0])]
    kw = dict(seeds=[0], calibration=32, n=50)
    r = evaluate(
        str(d / "mlp.onnx"), plans, calibration_data=d / "cal.npy", data=d / "eval.npy", **kw
    )
    e = r.end_to_end.iloc[0]
    assert e.metric_name == "none" and np.isnan(e.metric) and e.top1_agreement > 0.9
    with pytest.raises(ValueError, match="evaluation data has 100 samples, asked for 200"):
        evaluate(
            str(d / "mlp.onnx"), plans, calibration_data=d / "cal.npy", data=d / "eval.npy", n=200
        )


def test_bad_data_is_refused_with_the_input_named(capsys, digits):
    d, cal, _ = digits
    np.savez(d / "wrong_name.npz", image=cal)
    np.savez(d / "wrong_shape.npz", x=cal[:, :32])
    np.savez(d / "ints.npz", x=(cal * 16).astype(np.int64))
    nan = cal.copy()
    nan[3, 5] = np.nan
    np.savez(d / "nan.npz", x=nan)
    np.save(d / "short_labels.npy", np.zeros(10, np.int64))
    base = ["model", d / "mlp.onnx", "--plan", PLANS[0]]
    ev = ["--data", d / "eval.npz", "--labels-key", "y"]
    cases = [
        (["--calibration-data", d / "wrong_name.npz", *ev], "missing ['x'], unknown ['image']"),
        (["--calibration-data", d / "wrong_shape.npz", *ev], "'x' has shape (64, 32); expected (N, 64)"),
        (["--calibration-data", d / "ints.npz", *ev], "'x' has dtype int64; expected floating point"),
        (["--calibration-data", d / "nan.npz", *ev], "'x' has 1 NaN or infinite values"),
        (["--calibration-data", d / "cal.npz", "--data", d / "eval.npz"], "labels? pass --labels-key"),
        (["--calibration-data", d / "cal.npz", "--data", d / "eval_x.npz", "--labels",
          d / "short_labels.npy"], "with 497 samples on the first axis"),
        (["--data", d / "eval.npz"], "calibration data and evaluation data together"),
        (["--calibration-data", d / "cal.npz", *ev, "--calibration", "65"],
         "calibration data has 64 samples, asked for 65"),
        (["--calibration-data", d / "none.npz", *ev], "no such file"),
    ]  # fmt: skip
    for extra, msg in cases:
        code, _, err = run(capsys, *base, *extra)
        assert code == 2 and msg in err and err.startswith("lowbit: error:"), (extra, err)
    code, _, err = run(capsys, "model", "digits", "--plan", PLANS[0], "--data", d / "eval.npz")
    assert code == 2 and "need an .onnx model" in err
    # the same file for calibration and evaluation runs, with a warning
    code, _, err = run(
        capsys, *base, "--calibration-data", d / "eval.npz", "--data", d / "eval.npz",
        "--labels-key", "y", "--seeds", "1", "-n", "50", "--calibration", "32",
    )  # fmt: skip
    assert code == 0 and "warning: calibration data and evaluation data are the same" in err
