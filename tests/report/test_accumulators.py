"""The accumulators study on the smoke recipe: its rows against independent recomputation,
its key result recomputed from the DataFrame, and its figure's legend keyed by name."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from lowbit.analysis.stats import mean_ci
from lowbit.report.context import Context
from lowbit.report.recipe import load_recipe
from lowbit.report.studies import accumulators

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lowbit.hwmodel._macsim") is None,
    reason="C extension lowbit.hwmodel._macsim not built",
)
SMOKE = "lowbit/report/recipes/smoke.toml"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(load_recipe(SMOKE))


@pytest.fixture(scope="module")
def df(ctx):
    out = accumulators.compute(ctx)
    assert "omitted" not in out.attrs
    return out


def test_one_row_per_pair_k_seed_and_scheme(ctx, df):
    cfg = ctx.recipe["accumulators"]
    names = [s["name"] for s in accumulators.schemes(cfg)]
    assert len(df) == len(cfg["pairs"]) * len(cfg["k"]) * cfg["seeds"] * len(names)
    assert set(df.scheme) == set(names) and set(df.seed) == set(range(cfg["seeds"]))
    ran = df[df.error == ""]
    # INT8 codes × power-of-two scales: FP32 sums of < 2^24 code units are exact
    int8 = ran[ran.pair.str.startswith("int8") & ran.scheme.str.startswith("fp32")]
    assert len(int8) and (int8.rel_error == 0).all()
    # an infeasible run has no error to average; feasible ones have finite errors
    assert ran[~ran.feasible.astype(bool)].rel_error.isna().all()
    assert np.isfinite(ran[ran.feasible.astype(bool)].rel_error).all()
    assert ((ran.partly_lost >= ran.wholly_lost) & (ran.partly_lost <= 1)).all()


def test_rows_match_an_independent_recomputation(ctx, df):
    from lowbit.evaluation import quantize_operand
    from lowbit.evaluation.accumulate import accumulate, choose_frac, partial_sum_bound

    cfg = ctx.recipe["accumulators"]
    pair, k, seed = cfg["pairs"][0], max(cfg["k"]), 1
    dist_rng = [ctx.rng(13, seed + 1, s) for s in (0, 1)]
    x = dist_rng[0].standard_normal((cfg["m"], k))  # the default distribution: N(0, 1)
    w = dist_rng[1].standard_normal((k, cfg["n"]))
    qa = quantize_operand(x, pair["x"], "activation")
    qb = quantize_operand(w, pair["w"], "weight")
    exact, _ = accumulate(qa, qb, "exact", "sequential")
    y, st = accumulate(qa, qb, "fp16", "sequential")
    label = f"{pair['x']} × {pair['w']}"
    row = df[(df.pair == label) & (df.k == k) & (df.seed == seed)].set_index("scheme")
    r = row.loc["fp16 sequential"]
    assert math.isclose(
        r.rel_error, np.linalg.norm(y - exact) / np.linalg.norm(exact), rel_tol=1e-12
    )
    assert r.partly_lost == st.swamping / st.steps and r.wholly_lost == st.absorbed / st.steps
    crng = [ctx.rng(13, 0, s) for s in (0, 1)]  # the calibration draw (seed −1)
    cx = quantize_operand(crng[0].standard_normal((cfg["m"], k)), pair["x"], "activation")
    cw = quantize_operand(crng[1].standard_normal((k, cfg["n"])), pair["w"], "weight")
    f = choose_frac(24, partial_sum_bound(cx, cw, "blocks", 32), cfg["headroom_bits"])
    assert row.loc["fixed:24 F by range"].frac == f


def test_finding_recomputed_from_the_dataframe(df):
    text = accumulators.finding(df)
    pair, kmax = df.pair.iloc[0], df.k.max()
    short = df.short.iloc[0]
    assert text.startswith(f"{short}, K = {kmax:,}, accumulation error (mean ± 95% CI")
    last = df[(df.pair == pair) & (df.k == kmax)]

    def cell(name):
        g = last[last.scheme == name]
        assert g.feasible.all()
        ci = mean_ci(g.rel_error.to_numpy())
        if ci.mean == 0 and ci.half_width == 0:
            return "exact"
        return f"{accumulators.fmt_num(ci.mean, 2)} ± {accumulators.fmt_num(ci.half_width, 1)}"

    fp16 = ", ".join(f"{o} {cell(f'fp16 {o}')}" for o in ("sequential", "blocks"))
    assert f"FP16 {fp16};" in text
    promo = [s for s in dict.fromkeys(last.scheme) if "→" in s]
    assert promo and all(f"{s} {cell(s)}" in text for s in promo)
    assert f"fixed:24 F by range {cell('fixed:24 F by range')} (F=" in text
    assert f", F at LSB {cell('fixed:24 F at LSB')}." in text


def test_summary_marks_overflow_and_never_averages_it(df):
    s = accumulators.summary(df)
    bad = s[s.infeasible > 0]
    assert bad["mean"].isna().all()
    for r in s[s.infeasible == 0].itertuples():
        g = df[(df.pair == r.pair) & (df.k == r.k) & (df.scheme == r.scheme) & (df.error == "")]
        if len(g):
            assert math.isclose(r.mean, g.rel_error.mean(), rel_tol=1e-12, abs_tol=0)


def test_figure_colours_are_keyed_by_accumulator_in_every_panel(ctx, df):
    import matplotlib.figure

    s = accumulators.summary(df)
    labels = [p["label"] for p in accumulators.pairs(ctx.recipe["accumulators"])]
    short = {p["label"]: p["short"] for p in accumulators.pairs(ctx.recipe["accumulators"])}
    fig = matplotlib.figure.Figure(figsize=(7, 5))
    accumulators._draw(fig, (0, 0, 1, 1), s, labels, short)
    *panels, legend_ax = fig.axes
    legend = legend_ax.get_legend()
    entry = {
        t.get_text(): (h.get_color(), h.get_marker())
        for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }
    key_of = dict(zip(s.scheme, s.key, strict=False))
    seen = 0
    for ax in panels:
        for c in ax.containers:
            line = c.lines[0]
            assert (line.get_color(), line.get_marker()) == entry[key_of[c.get_label()]]
            seen += 1
    assert seen >= len(panels) * 3
