"""The accuracy-vs-cost study: GEMM-output SQNR against an independent numpy reference,
costs against the hardware model, no infeasible point on a front (brute-force domination),
separability from hand-made cases, the cost band, and the title-page finding recomputed
from the DataFrame."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from lowbit.hwmodel import mac_cost
from lowbit.report.context import Context, tensor_text
from lowbit.report.recipe import cost_tables, load_recipe, parse_recipe
from lowbit.report.studies import accuracy_vs_cost as av

SMOKE = Path(__file__).resolve().parents[2] / "lowbit" / "report" / "recipes" / "smoke.toml"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(load_recipe(SMOKE))


@pytest.fixture(scope="module")
def raw(ctx) -> pd.DataFrame:
    return av.compute(ctx)


def _dominated(sub: pd.DataFrame, p: pd.Series, key: str) -> bool:
    better = (sub[key] <= p[key]) & (sub.sqnr_db >= p.sqnr_db)
    strictly = (sub[key] < p[key]) | (sub.sqnr_db > p.sqnr_db)
    return bool((better & strictly).any())


def test_no_front_point_is_infeasible_and_fronts_are_the_undominated_feasible_points(raw):
    assert (~raw.feasible).any()  # the smoke recipe has infeasible configurations
    assert raw[raw.front_gates | raw.front_pj].feasible.all()
    assert not raw[~raw.feasible].front_gates.any() and not raw[~raw.feasible].front_pj.any()
    for t in set(raw.tensor):
        ok = raw[(raw.tensor == t) & raw.feasible]
        for key, col in (("gates", "front_gates"), ("pj_per_mac", "front_pj")):
            brute = {i for i, p in ok.iterrows() if not _dominated(ok, p, key)}
            assert set(raw[(raw.tensor == t) & raw[col]].index) == brute


def test_infeasible_is_the_model_flag_or_a_failed_simulation(ctx, raw):
    hw = ctx.recipe["hardware"]
    costs = cost_tables()[hw["cost_table"]]
    for _, r in raw.drop_duplicates(["label", "accumulator"]).iterrows():
        scales = () if r.output_scales == "-" else tuple(r.output_scales.split("×"))
        mac = mac_cost(r.weight, r.activation, r.accumulator, hw["terms"], lanes=hw["lanes"],
                       costs=costs, output_scales=scales)  # fmt: skip
        assert r.gates == mac.total
        assert r.model_feasible == mac.feasible
    assert (raw[~raw.model_feasible].feasible == False).all()  # noqa: E712
    assert raw[~raw.feasible].reason.str.match(r"^(model|simulation): ").all()
    assert raw[~raw.feasible].sqnr_db.isna().all()


def _int8_sqnr(x: np.ndarray, w: np.ndarray) -> float:
    """INT8 per token × per channel (absmax, FP32 scales, round half to even), exact
    products summed in float64: the quantization error of the GEMM alone."""

    def q(a: np.ndarray, axis: int) -> np.ndarray:
        s = (np.abs(a).max(axis=axis, keepdims=True) / 127.0).astype(np.float32)
        s = s.astype(np.float64)
        return np.clip(np.rint(a / s), -128, 127) * s

    ref = x @ w
    y = q(x, 1) @ q(w, 0)
    return 10 * math.log10(np.sum(ref**2) / np.sum((y - ref) ** 2))


def test_sqnr_matches_an_independent_reference_with_its_interval(ctx, raw):
    cfg = ctx.recipe["accuracy_vs_cost"]
    m, k, n = cfg["shape"]
    for tensor in cfg["tensors"]:
        r = raw[(raw.tensor == tensor) & (raw.label == "int8") & (raw.accumulator == "fixed")]
        r = r.iloc[0]
        xsrc, wsrc = av.operand_sources(ctx, tensor)
        want = []
        for seed in range(ctx.seed, ctx.seed + cfg["seeds"]):
            gx = np.random.default_rng(np.random.SeedSequence([seed, 0]))
            gw = np.random.default_rng(np.random.SeedSequence([seed, 1]))
            want.append(_int8_sqnr(xsrc(gx, (m, k)), wsrc(gw, (k, n))))
        np.testing.assert_allclose(r.sqnr_seeds, want, rtol=0, atol=1e-9)
        half = st.t.ppf(0.975, len(want) - 1) * np.std(want, ddof=1) / math.sqrt(len(want))
        assert r.sqnr_db == pytest.approx(np.mean(want), abs=1e-9)
        assert r.sqnr_db_ci == pytest.approx(half, rel=1e-9)


def test_heavy_tailed_operand_is_the_block_format_tensor_law(ctx):
    from lowbit.report.context import heavy_tailed

    x, _ = av.operand_sources(ctx, "heavy_tailed")
    bf = ctx.recipe["block_formats"]
    a = x(np.random.default_rng(3), (4, 64))
    b = heavy_tailed(np.random.default_rng(3), 4, 64, bf["outlier_features"], bf["outlier_scale"])
    assert np.array_equal(a, b)


def test_band_is_stated_or_the_synthesis_spread(raw, monkeypatch):
    band = raw.attrs["band"]
    if band["source"].startswith("stated"):
        assert (band["lo"], band["hi"]) == (0.8, 1.2)
    np.testing.assert_allclose(raw.gates_lo, raw.gates * band["lo"])
    np.testing.assert_allclose(raw.gates_hi, raw.gates * band["hi"])
    mem = raw.pj_per_mac - raw.pj_datapath
    np.testing.assert_allclose(raw.pj_hi, mem + raw.pj_datapath * band["hi"])
    assert (raw.pj_lo <= raw.pj_per_mac).all() and (raw.pj_per_mac <= raw.pj_hi).all()
    # with a synthesis table: median/max … median/min of the model/synthesis ratios
    import types

    fake = types.ModuleType("lowbit.hwmodel.synth.table")
    fake.synthesis_table = lambda live=True: pd.DataFrame({"ratio_vb": [0.5, 1.0, 0.8]})
    monkeypatch.setitem(__import__("sys").modules, "lowbit.hwmodel.synth.table", fake)
    lo, hi, source = av.cost_band("van_baalen_2023")
    assert (lo, hi) == (0.8, 1.6) and "3 synthesised units" in source


def _pt(label, gates, seeds, lo=0.8, hi=1.2):
    return dict(label=label, accumulator="fp32", tensor="gaussian", feasible=True,
                gates=gates, gates_lo=gates * lo, gates_hi=gates * hi, pj_per_mac=gates / 100,
                pj_lo=gates / 100 * lo, pj_hi=gates / 100 * hi, sqnr_db=float(np.mean(seeds)),
                sqnr_db_ci=0.0, sqnr_seeds=tuple(seeds))  # fmt: skip


def test_separability_needs_overlapping_bands_and_sqnr_within_noise():
    a = _pt("a", 100.0, [10.0, 11.0, 12.0])
    b = _pt("b", 110.0, [10.5, 10.9, 12.6])  # bands overlap, SQNR within noise
    c = _pt("c", 500.0, [20.0, 21.0, 22.0])  # far in cost and in SQNR
    d = _pt("d", 520.0, [30.0, 30.5, 31.0])  # band overlaps c but SQNR clearly higher
    df = av.mark_fronts(pd.DataFrame([a, b, c, d]))
    assert df.front_gates.tolist() == [True, True, True, True]
    assert df.inseparable_gates.tolist() == ["b→fp32", "a→fp32", "", ""]
    assert df.inseparable_pj.tolist() == ["b→fp32", "a→fp32", "", ""]
    assert av.separable(df.iloc[2], df.iloc[3], "gates")
    assert not av.separable(df.iloc[0], df.iloc[1], "gates")


def test_finding_is_recomputed_from_the_dataframe(ctx, raw):
    t = ctx.recipe["accuracy_vs_cost"]["tensors"][-1]
    sub = raw[raw.tensor == t]
    ok = sub[sub.feasible]
    fr = sorted((p for _, p in ok.iterrows() if not _dominated(ok, p, "gates")),
                key=lambda p: p.gates)  # fmt: skip

    def pt(p):
        return f"{p.label}→{p.accumulator} ({p.gates:.0f} gates, {p.sqnr_db:.1f} ± {p.sqnr_db_ci:.1f} dB)"

    for target in (30.0, 1e3):
        hit = [p for p in fr if p.sqnr_db >= target]
        want = (
            f"GEMM-output SQNR vs gates/MAC, {tensor_text(t)} X: {len(fr)}-point front from "
            f"{pt(fr[0])} to {pt(fr[-1])}"
            + (f"; cheapest ≥ {target:g} dB: {pt(hit[0])}" if hit else "")
            + f"; {sum(p.inseparable_gates != '' for p in fr)} not separable; "
            f"{int((~sub.feasible).sum())} of {len(sub)} configurations infeasible (never ranked)."
        )
        assert av.finding(raw, target) == want
    assert "cheapest ≥ 30 dB" in av.finding(raw)  # the smoke front reaches 30 dB


def test_configurations_are_like_for_like_and_deduplicated():
    cfgs = av.configurations(dict(formats=["int8", "mxfp4"], accumulators=["fixed", "fp32"],
        pairs=[dict(x="int8:per_token", w="int8:per_channel"), dict(x="fp16", w="int4_g128")]))  # fmt: skip
    assert [(c["label"], c["accumulator"]) for c in cfgs] == [
        ("int8", "fixed"), ("int8", "fp32"), ("mxfp4", "fixed"), ("mxfp4", "fp32"),
        ("int4_g128×fp16", "fixed"), ("int4_g128×fp16", "fp32"),
    ]  # fmt: skip
    i8 = cfgs[0]
    assert (i8["x_spec"], i8["w_spec"]) == (
        "int8:per_token:minmax:fp32",
        "int8:per_channel:minmax:fp32",
    )
    assert i8["output_scales"] == ("channel", "token") and cfgs[2]["output_scales"] == ()


@pytest.mark.parametrize(
    "section, words",
    [
        ({"seeds": 1}, ["'seeds'", "[2, 64]"]),
        ({"shape": [16, 4096]}, ["'shape'"]),
        ({"outer_scales": "late"}, ["'outer_scales'", "fold_pow2"]),
        ({"tensors": ["uniform"]}, ["'tensors'", "heavy_tailed"]),
        ({"pairs": [{"x": "int8:per_row", "w": "int8"}]}, ["'pairs'", "per_row"]),
        ({"pairs": [{"x": "int8:per_channel", "w": "int8"}]}, ["'pairs'", "vary along K"]),
    ],
)
def test_recipe_refuses_bad_keys(section, words):
    with pytest.raises(ValueError) as exc:
        parse_recipe({"accuracy_vs_cost": section})
    for w in words:
        assert w in str(exc.value)
