"""``lowbit model``: plans on the digits MLP from the command line, tidy CSV, clear errors."""

from __future__ import annotations

import pandas as pd

from lowbit.cli import main
from lowbit.nn.plan import load_plan


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_model_prints_tables_and_writes_tidy_csv(capsys, tmp_path):
    plan = tmp_path / "w4.toml"
    plan.write_text(
        'name = "w4pt"\n[default]\nweight = "int4:per_tensor"\nactivation = "int8:per_tensor"\n'
    )
    out = tmp_path / "r.csv"
    code, stdout, err = run(
        capsys, "model", "digits", "--plan", str(plan), "--plan",
        "w8a8=int8:per_channel,int8:per_token", "--seeds", "0,1", "-n", "200",
        "--calibration", "32", "--save-plan", str(tmp_path / "cal"), "-o", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "2 plans × 2 seeds on digits" in err
    assert "per layer (SQNR dB" in stdout and "top-1 accuracy" in stdout
    df = pd.read_csv(out)
    assert list(df.columns) == ["table", "plan", "seed", "layer", "quantity", "value"]
    e2e = df[df.table == "end_to_end"].pivot_table("value", ["plan", "seed"], "quantity")
    assert len(e2e) == 4 and (e2e.float_metric > 0.9).all()
    # per-tensor INT4 weights cost more than 20 dB of weight SQNR against per-channel INT8
    w = df[df.quantity == "weight_sqnr_db"].groupby("plan").value.max()
    assert w["w4pt"] + 20 < df[(df.quantity == "weight_sqnr_db") & (df.plan == "w8a8")].value.min()
    kl = e2e.logit_kl.groupby("plan").mean()
    assert kl["w4pt"] > 10 * kl["w8a8"]
    saved = load_plan(tmp_path / "cal" / "w4pt.toml")
    assert set(saved.ranges) == {"fc1", "fc2", "fc3"}


def test_model_errors_are_one_line(capsys, tmp_path):
    cases = [
        (["model", "digits", "--plan", "x=int99,int8"], "weight = 'int99'"),
        (["model", "resnet", "--plan", "x=int8,int8"], "digits, ppocr-rec or an .onnx file"),
        (["model", "digits", "--plan", "x=int8,int8", "--seeds", "-2"], "--seeds"),
        (["model", "digits", "--plan", str(tmp_path / "none.toml")], "NAME=WEIGHT,ACTIVATION"),
        (["model", "digits", "--plan", "x=int8,int8", "--calibration", "-1"], "--calibration"),
    ]
    for argv, msg in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and msg in err and err.startswith("lowbit: error:"), (argv, err)
