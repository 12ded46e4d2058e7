"""The real-network study on the smoke recipe: its numbers, cost rows and finding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lowbit.hwmodel import mac_cost
from lowbit.nn.plan import STANDARD_PLANS
from lowbit.report.context import Context
from lowbit.report.recipe import NN_PLANS, cost_tables, load_recipe, parse_recipe
from lowbit.report.studies import real_network

SMOKE = Path(__file__).resolve().parents[2] / "lowbit" / "report" / "recipes" / "smoke.toml"


@pytest.fixture(scope="module")
def df():
    return real_network.compute(Context(load_recipe(SMOKE)))


def test_rows_cover_the_plans_with_and_without_the_transform(df):
    cfg = load_recipe(SMOKE)["real_network"]
    want = {p + s for p in cfg["plans"] for s in ("", "+" + cfg["transform"])}
    assert set(df.plan) == want
    e2e = df[(df.table == "end_to_end") & (df.quantity == "metric")]
    assert sorted(set(e2e.seed)) == cfg["seeds"] and len(e2e) == len(want) * len(cfg["seeds"])
    cost = df[(df.table == "cost") & (df.quantity == "gates_per_mac")].set_index("plan").value
    w, a = STANDARD_PLANS["MXFP4"]
    costs = cost_tables()[load_recipe(SMOKE)["hardware"]["cost_table"]]  # the hardware pages'
    want_cost = mac_cost(w, a, "fp32", lanes=32, costs=costs).total
    assert cost["MXFP4"] == want_cost == cost["MXFP4+hadamard"]
    # W8A8 keeps the float model's accuracy; FP4 blocks cost some of it on the same seeds
    s = real_network.summary(df).set_index("plan")
    assert s.loc["W8A8", "kl"] * 20 < s.loc["MXFP4", "kl"]
    assert s.loc["W8A8", "agree"] > s.loc["MXFP4", "agree"]


def test_finding_is_recomputed_from_the_dataframe(df):
    e = df[df.table == "end_to_end"]
    acc = e[e.quantity == "metric"].groupby("plan").value.mean()
    fl = e[e.quantity == "float_metric"].groupby("seed").value.first().mean()
    gates = df[(df.table == "cost") & (df.quantity == "gates_per_mac")].set_index("plan").value
    ok = [p for p in acc.index if acc[p] >= fl - 0.01]
    best = min(ok, key=lambda p: (gates[p], p))
    text = real_network.finding(df)
    assert f"is {best}: {acc[best]:.3f} ± " in text and f"(float {fl:.3f} ± " in text
    assert f"at {gates[best]:.0f} gates/MAC" in text


def test_recipe_plans_are_the_standard_plans_and_bad_keys_fail():
    assert NN_PLANS == tuple(STANDARD_PLANS)
    with pytest.raises(ValueError, match=r"\[real_network\] 'plans'.*W8A16"):
        parse_recipe({"real_network": {"plans": ["W8A16"]}})
    with pytest.raises(ValueError, match=r"\[real_network\] 'transform'"):
        parse_recipe({"real_network": {"transform": "hadamrd"}})
    assert np.isfinite(parse_recipe({})["real_network"]["calibration"])
