"""The accuracy pages (FP8 vs INT8, block formats, outlier mitigations, format design) on
the smoke recipe: their numbers against independent references (numpy quantizers, Monte
Carlo, exact products) and each title-page key result recomputed from the study's
DataFrame with its interval."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lowbit.report.context import Context
from lowbit.report.recipe import load_recipe, parse_recipe, weight_spec
from lowbit.report.studies import baselines, block_formats, design, fp8_vs_int8

SMOKE = Path(__file__).resolve().parents[2] / "lowbit" / "report" / "recipes" / "smoke.toml"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(load_recipe(SMOKE))


def t_interval(v) -> tuple[float, float]:
    """Mean and 95 % Student-t half-width, computed here from scratch."""
    v = np.asarray(v, dtype=np.float64)
    return v.mean(), stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)


def db(x, q) -> float:
    x, q = np.asarray(x, np.float64), np.asarray(q, np.float64)
    return 10 * math.log10((x * x).sum() / ((x - q) ** 2).sum())


def int8_fake(x, s):
    """Symmetric INT8 with scale s (broadcast), round half to even, saturating at ±127."""
    return np.clip(np.round(x / s), -127, 127) * s


# -- block formats --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blocks(ctx):
    return block_formats.compute(ctx)


def test_seeded_tensors_start_from_the_context_tensor(ctx):
    for t in ("gaussian", "heavy_tailed"):
        assert np.array_equal(block_formats.seeded_tensor(ctx, t, ctx.seed), ctx.tensor(t))
    assert not np.array_equal(
        block_formats.seeded_tensor(ctx, "gaussian", ctx.seed + 1), ctx.tensor("gaussian")
    )


def test_element_qsnr_against_numpy_int8(ctx, blocks):
    cfg = ctx.recipe["block_formats"]
    assert blocks.seed.nunique() == cfg["seeds"]
    for seed in sorted(blocks.seed.unique()):
        rows = blocks[blocks.seed == seed].set_index("spec")
        act = block_formats.seeded_tensor(ctx, "heavy_tailed", seed).astype(np.float64)
        w = block_formats.seeded_tensor(ctx, "gaussian", seed).astype(np.float64)
        s = np.float32(np.abs(act).max() / 127)  # fp32 scale, as the operand stores it
        got = rows.loc["int8:per_tensor", "qsnr_db_heavy_tailed"]
        assert got == pytest.approx(db(act, int8_fake(act, np.float64(s))), abs=1e-6)
        # per token on the activation; per output channel (row of out × in) on the weight
        st = (np.abs(act).max(1, keepdims=True) / 127).astype(np.float32).astype(np.float64)
        sw = (np.abs(w).max(1, keepdims=True) / 127).astype(np.float32).astype(np.float64)
        assert rows.loc["int8:per_token", "qsnr_db_heavy_tailed"] == pytest.approx(
            db(act, int8_fake(act, st)), abs=1e-6
        )
        assert rows.loc["int8:per_token", "qsnr_db_gaussian"] == pytest.approx(
            db(w, int8_fake(w, sw)), abs=1e-6
        )


def test_gemm_sqnr_is_the_error_of_the_quantized_product(ctx, blocks):
    # int8 per token × per channel with an FP32 accumulator: the simulated output equals
    # the float64 product of the quantized operands to FP32 rounding, far below the
    # quantization error
    cfg = ctx.recipe["block_formats"]
    seed = ctx.seed
    x = block_formats.seeded_tensor(ctx, cfg["activation"], seed).astype(np.float64)
    w = block_formats.seeded_tensor(ctx, cfg["weight"], seed).astype(np.float64)
    w = w[: cfg["gemm_outputs"]]  # out × K
    st = (np.abs(x).max(1, keepdims=True) / 127).astype(np.float32).astype(np.float64)
    sw = (np.abs(w).max(1, keepdims=True) / 127).astype(np.float32).astype(np.float64)
    y = int8_fake(x, st) @ int8_fake(w, sw).T
    got = blocks[(blocks.seed == seed) & (blocks.spec == "int8:per_token")].gemm_sqnr_db.iloc[0]
    assert got == pytest.approx(db(x @ w.T, y), abs=0.01)
    assert blocks.gemm_feasible.all()


def test_block_formats_finding_is_recomputed_from_the_frame(ctx, blocks):
    cfg = ctx.recipe["block_formats"]
    text = block_formats.finding(blocks, cfg)
    means = {s: t_interval(g.sort_values("seed").gemm_sqnr_db) for s, g in blocks.groupby("spec")}
    bits = blocks.groupby("spec").bits_per_element.first()
    ok = [s for s in means if 2.1 < bits[s] <= 4.6]
    top = max(ok, key=lambda s: means[s][0])
    m, h = means[top]
    assert f"{block_formats.label(top)} {m:.1f} ± {h:.1f} dB (≤4.5 b)" in text
    v = blocks[blocks.spec == "int8:per_tensor"].sort_values("seed").qsnr_db_heavy_tailed
    m, h = t_interval(v)
    assert f"per-tensor INT8 act. {m:.1f} ± {h:.1f} dB" in text


def test_block_formats_recipe_checks_its_specs():
    assert weight_spec("fp8_e4m3fn:per_token:mse") == "fp8_e4m3fn:per_channel:mse"
    with pytest.raises(ValueError, match="baselines.*per_channel"):
        parse_recipe({"block_formats": {"baselines": ["int8:per_channel"]}})
    with pytest.raises(ValueError, match="operand spec 'int8:sideways'"):
        parse_recipe({"block_formats": {"baselines": ["int8:sideways"]}})


# -- outlier mitigations ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mitig(ctx):
    return baselines.compute(ctx)


def test_calibration_and_measured_tokens_share_outlier_channels(ctx):
    xc, x, w = baselines.operands(ctx, ctx.seed)
    cfg = ctx.recipe["baselines"]
    assert xc.shape == (cfg["calibration_tokens"], cfg["features"])
    assert x.shape == (cfg["tokens"], cfg["features"]) and w.shape[1] == cfg["outputs"]
    assert not np.array_equal(xc, x[: len(xc)])
    top_c = set(np.argsort(np.abs(xc).max(0))[-1:])  # the largest channel is an outlier channel
    top_x = set(np.argsort((x * x).sum(0))[-4:])
    assert top_c <= top_x


def test_hadamard_lifts_per_tensor_int8(ctx, mitig):
    s = baselines.summary(mitig).set_index(["format", "transform"])
    none, had = s.loc[("int8:per_tensor", "none")], s.loc[("int8:per_tensor", "hadamard")]
    assert had.sqnr_db > none.sqnr_db + 5
    # the gain is paired over seeds: recompute it
    d = [
        mitig[(mitig.format == "int8:per_tensor") & (mitig["transform"] == t)]
        .sort_values("seed")
        .sqnr_db.to_numpy()
        for t in ("hadamard", "none")
    ]
    m, h = t_interval(d[0] - d[1])
    assert had.gain_db == pytest.approx(m) and had.gain_db_ci == pytest.approx(h)
    # online cost: SmoothQuant folds offline; a 32-block Hadamard costs less than the whole K
    cost = s.transform_gates_per_mac.groupby(level=1).first()
    assert cost["none"] == cost["smoothquant:0.5"] == 0
    assert 0 < cost["hadamard:32"] < cost["hadamard"]


def test_mitigation_finding_is_recomputed_from_the_frame(mitig):
    text = baselines.finding(mitig)
    f = mitig.format.iloc[0]
    g = mitig[mitig.format == f]
    per = {t: t_interval(v.sort_values("seed").sqnr_db) for t, v in g.groupby("transform")}
    best = max(per, key=lambda t: per[t][0])
    (m0, h0), (m1, h1) = per["none"], per[best]
    lab = block_formats.label(f)
    assert f"{lab} {m0:.1f} ± {h0:.1f} → {m1:.1f} ± {h1:.1f} dB ({best}," in text
    # the whole table: each format's best transform, recomputed, is the one the text names
    for f, g in mitig.groupby("format", sort=False):
        per = {t: v.sqnr_db.mean() for t, v in g.groupby("transform")}
        assert baselines.best(mitig, f)["transform"] == max(per, key=per.get)


# -- format design ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sens(ctx):
    return design.compute(ctx)


def test_design_finding_is_recomputed_from_the_frame(sens):
    text = design.finding(sens)
    r = sens[(sens.sweep == "scale_rule") & (sens.tensor == "gaussian")]
    mx8 = r[r.variant.str.startswith("mx_fp8_e4m3fn")]
    per = {rule: g.sort_values("seed").qsnr_db.to_numpy() for rule, g in mx8.groupby("scale_rule")}
    best = max((k for k in per if k != "floor"), key=lambda k: per[k].mean())
    m, h = t_interval(per["floor"] - per[best])
    assert f"OCP floor rule on MX fp8_e4m3fn: {m:+.2f} ± {h:.2f} dB vs {best}" in text
    assert ("within noise" in text) == (abs(m) <= h)
    assert (m < 0) == (per["floor"].mean() < per[best].mean())


def test_crossover_matches_the_block_size_sweep(ctx, sens):
    from lowbit.analysis.design import block_size_sweep

    cfg = ctx.recipe["design"]
    seeds = [ctx.seed + i for i in range(cfg["seeds"])]
    raw = block_size_sweep(["mxint4", "mxfp4"], [32], ["gaussian"], seeds, tuple(cfg["shape"]),
                           per_seed=True)  # fmt: skip
    qi = raw[raw.base == "mxint4"].sort_values("seed").qsnr_db.to_numpy()
    qf = raw[raw.base == "mxfp4"].sort_values("seed").qsnr_db.to_numpy()
    x = design.crossover(sens).set_index(["pair", "block_size", "tensor"])
    row = x.loc[("mxint4/mxfp4", 32, "gaussian")]
    m, h = t_interval(qi - qf)
    assert row.diff_db == pytest.approx(m) and row.diff_ci == pytest.approx(h)
    assert row.winner == ("within noise" if abs(m) <= h else ("int" if m > 0 else "fp"))


# -- FP8 versus INT8 ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fp8(ctx):
    return fp8_vs_int8.compute(ctx)


def test_body_sqnr_against_monte_carlo(fp8):
    out = fp8[(fp8.part == "outliers") & (fp8.format == "int8_narrow")]
    r = out[out.outlier_scale == 64].iloc[0]
    x = np.random.default_rng(3).standard_normal(2_000_000)
    mc = db(x, int8_fake(x, r.scale))
    assert r.body_sqnr_db == pytest.approx(mc, abs=0.05)
    assert r.body_sqnr_db < r.sqnr_db  # the total-power SQNR hides the body's loss


def test_fp8_finding_is_recomputed_from_the_frame(ctx, fp8):
    cfg = ctx.recipe["fp8_vs_int8"]
    text = fp8_vs_int8.finding(fp8, cfg["formats"], cfg["distributions"])
    d = fp8[fp8.part == "distribution"]
    g = d[d.distribution == "student_t"]
    top = g.loc[g.sqnr_db.idxmax()]
    assert f"best on student_t:3: {top.format} {top.sqnr_db:.1f} dB (exact)" in text
    c = fp8[fp8.part == "channels"]
    for f, v in c[c.format == cfg["formats"][0]].groupby("format", sort=False):
        a = v[v.granularity == "per_channel"].sort_values("seed").sqnr_db.to_numpy()
        b = v[v.granularity == "per_tensor"].sort_values("seed").sqnr_db.to_numpy()
        m, h = t_interval(a - b)
        assert f"{f} {m:+.1f} ± {h:.1f} dB" in text
