"""Quantization plans: TOML/JSON round trip, layer selection, clear errors on bad plans."""

from __future__ import annotations

import json

import pytest

from lowbit.nn.evaluate import load_task
from lowbit.nn.plan import LayerPlan, Plan, load_plan
from lowbit.nn.quantize import calibrate


def _plan() -> Plan:
    return Plan.from_dict(
        {
            "name": "mixed",
            "default": {"weight": "int8:per_channel", "activation": "int8:per_tensor:p99.9"},
            "override": [
                {"match": "op:Gemm", "weight": "mxfp4", "activation": "mxfp8_e4m3"},
                {"match": "fc3", "transform": "hadamard:16", "calibration": "ema"},
            ],
            "ranges": {"fc2": 3.141592653589793, "fc3": 0.1 + 0.2, "p2o.Conv.3": 1e-3},
        }
    )


@pytest.mark.parametrize("ext", [".toml", ".json"])
def test_plan_round_trips_through_files(tmp_path, ext):
    p = _plan()
    path = tmp_path / f"plan{ext}"
    p.save(path)
    q = load_plan(path)
    assert q == p
    assert q.ranges["fc3"] == 0.1 + 0.2  # floats written exactly
    assert q.for_layer("fc3", "MatMul") == LayerPlan(
        "int8:per_channel", "int8:per_tensor:p99.9", transform="hadamard:16", calibration="ema"
    )


def test_overrides_select_by_op_and_glob_later_wins():
    p = _plan()
    assert p.for_layer("fc1", "Gemm").weight == "mxfp4"
    assert p.for_layer("fc1", "Gemm").act_mode() == "dynamic"  # a block format: per batch
    assert p.for_layer("fc2", "MatMul").act_mode() == "static"
    assert p.for_layer("fc3", "MatMul").transform == "hadamard:16"
    assert p.for_layer("fc2", "MatMul").transform == "none"


def test_calibrated_ranges_are_saved_with_the_plan(tmp_path):
    task = load_task("digits", 0)
    plan = Plan.parse("a=int8:per_channel,int8:per_tensor")
    prep = calibrate(task.model, plan, [task.batch(32, seed=5)])
    assert set(prep.plan.ranges) == {"fc1", "fc2", "fc3"}
    prep.plan.save(tmp_path / "p.json")
    again = calibrate(task.model, load_plan(tmp_path / "p.json"), [])  # no data needed now
    assert again.plan.ranges == prep.plan.ranges


@pytest.mark.parametrize(
    "d, match",
    [
        ({"name": "x", "default": {"weigth": "int8"}}, "unknown keys.*weigth"),
        ({"name": "x", "default": {"weight": "fp99"}}, "weight = 'fp99'"),
        ({"name": "x", "default": {"activation": "int8:per_token", "mode": "static"}},
         "static.*per-tensor"),
        ({"name": "x", "default": {"accumulator": "fp33"}}, "accumulator = 'fp33'"),
        ({"name": "x", "default": {"lanes": 0}}, "lanes"),
        ({"name": "x", "default": {"transform": "hadamrd"}}, "transform = 'hadamrd'"),
        ({"name": "x", "default": {"weight": "int8", "simulate": True}}, "simulate"),
        ({"name": "x", "default": {"calibration": "median"}}, "calibration = 'median'"),
        ({"default": {}}, "name"),
        ({"name": "x", "override": [{"weight": "int8"}]}, "match"),
        ({"name": "x", "override": [{"match": "fc1", "mode": "sometimes"}]}, "mode"),
        ({"name": "x", "ranges": {"fc1": -1.0}}, "ranges"),
        ({"name": "x", "colour": "red"}, "top-level"),
    ],
)  # fmt: skip
def test_bad_plans_raise_naming_the_field(d, match):
    with pytest.raises(ValueError, match=match):
        Plan.from_dict(d)


def test_bad_plan_files_and_strings(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\n[default]\nweight = "nope"\n')
    with pytest.raises(ValueError, match=r"p\.toml.*weight = 'nope'"):
        load_plan(bad)
    (tmp_path / "p.yaml").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="toml or .json"):
        load_plan(tmp_path / "p.yaml")
    with pytest.raises(ValueError, match="NAME=WEIGHT,ACTIVATION"):
        Plan.parse("int8")


def test_override_matching_no_layer_is_an_error():
    task = load_task("digits", 0)
    plan = Plan.from_dict({"name": "x", "override": [{"match": "fc9", "weight": "int8"}]})
    with pytest.raises(ValueError, match="'fc9' matches no layer; layers: fc1, fc2, fc3"):
        calibrate(task.model, plan, [])
    static = Plan.parse("s=int8:per_channel,int8:per_tensor")
    with pytest.raises(ValueError, match="needs calibration data"):
        calibrate(task.model, static, [])
