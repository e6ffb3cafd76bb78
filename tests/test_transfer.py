"""Metrics, heads and aligners on known cases; the planted-truth simulator leads the real aligners and
LOMO code to the right verdict in both worlds."""

import numpy as np
import pandas as pd
import pytest
from conftest import own_answer_study, shared_value
from emobasis.transfer.align import AlignError, make_aligner
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.heads import fit_logistic, predict
from emobasis.transfer.metrics import (
    auc_kernel,
    auc_rows,
    bootstrap_auc,
    fpr_threshold,
    group_bootstrap,
    recall_at_threshold,
    weighted_auc,
)
from emobasis.transfer.protocol import ALL_K, check_labels, draw_k
from emobasis.transfer.simulate import simulate
from emobasis.transfer.study import TransferError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_auc_matches_sklearn(ties):
    rng = np.random.default_rng(0)
    s = rng.normal(size=200)
    if ties:
        s = np.round(s, 1)
    y = rng.random(200) < 0.3
    w = rng.integers(0, 3, size=(5, 200)).astype(float)
    got = weighted_auc(s, y, w)
    want = [roc_auc_score(y, s, sample_weight=wi) for wi in w]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_bootstrap_resamples_whole_prompts_and_the_kernel_is_exact():
    rng = np.random.default_rng(5)
    groups = np.repeat([f"p{i}" for i in range(30)], 4)  # 4 responses per prompt
    y = rng.random(120) < 0.3
    scores = np.round(rng.normal(size=(3, 120)) + y, 1)  # 3 seeds, with ties
    W = group_bootstrap(groups, 50, seed=0)
    assert W.shape == (50, 30) and (W.sum(1) == 30).all()
    got = bootstrap_auc(auc_kernel(scores, y, groups), y, groups, W)
    rows = W[:, np.unique(groups, return_inverse=True)[1]]  # each row inherits its prompt's multiplicity
    want = np.mean([weighted_auc(s, y, rows) for s in scores], axis=0)
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(auc_rows(scores, y), [roc_auc_score(y, s) for s in scores], atol=1e-12)


def test_recall_at_one_percent_fpr():
    benign = np.arange(1000) / 1000.0
    thr = fpr_threshold(benign, 0.01)
    assert (benign > thr).mean() <= 0.01
    assert recall_at_threshold(np.array([0.995, 0.5, 0.999]), np.array([1, 1, 0]), thr) == 0.5


def test_batched_logistic_matches_sklearn_and_honours_weights_and_prior():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + rng.normal(size=300)) > 0
    b = fit_logistic(X, y, l2=2.0)
    lr = LogisticRegression(C=0.5, max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(b[1:], lr.coef_[0], atol=1e-5)
    W = np.zeros((2, 300))
    W[0, :50], W[1, 50:] = 1, 1
    B = fit_logistic(np.stack([X, X]), np.stack([y, y]), W, l2=2.0)
    np.testing.assert_allclose(B[0], fit_logistic(X[:50], y[:50], l2=2.0), atol=1e-6)
    strong = fit_logistic(X[:10], y[:10], l2=1e6, prior=np.ones(6))
    np.testing.assert_allclose(strong[1:], np.ones(6), atol=1e-3)  # a strong prior pins the head
    assert predict(X, B).shape == (2, 300)


def test_logistic_with_more_features_than_rows_is_fit_exactly_in_the_rows_span():
    """k-shot heads on wide reads (a 384-d embedding, 67 rows): fit in the span of the rows, then mapped back,
    the heads equal the full-space Newton fit (materialised X takes that path) and sklearn's."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 120))
    y = (X[:, 0] + rng.normal(size=40)) > 0
    W = np.zeros((6, 40))
    for s in range(6):
        W[
            s, np.r_[rng.choice(np.flatnonzero(y), 6, replace=False), rng.choice(np.flatnonzero(~y), 6, replace=False)]
        ] = 1
    prior = 0.1 * rng.normal(size=(6, 120))
    shared = np.broadcast_to(X, (6, *X.shape))  # the same rows for every problem: the row-span path
    fast = fit_logistic(shared, np.broadcast_to(y, (6, 40)), W, l2=2.0, prior=prior)
    full = fit_logistic(np.ascontiguousarray(shared), np.broadcast_to(y, (6, 40)), W, l2=2.0, prior=prior)
    np.testing.assert_allclose(fast, full, atol=1e-7)
    assert np.abs(fast[:, 1:] - prior).max() > 0.01  # the heads moved away from the prior
    rows = W[0] > 0
    lr = LogisticRegression(C=0.5, max_iter=10000, tol=1e-12).fit(X[rows], y[rows])
    b = fit_logistic(X[rows], y[rows], l2=2.0)
    np.testing.assert_allclose(b[1:], lr.coef_[0], atol=1e-5)
    np.testing.assert_allclose(b[0], lr.intercept_[0], atol=1e-5)


def test_draw_k_has_both_classes_and_is_seeded():
    y = np.array([True] * 5 + [False] * 95)
    for seed in range(20):
        idx = draw_k(y, 8, seed)
        assert len(idx) == 8 and y[idx].any() and (~y[idx]).any()
    assert (draw_k(y, 8, 3) == draw_k(y, 8, 3)).all()


def test_single_class_split_is_a_clear_error():
    rows = pd.DataFrame(
        {
            "split": ["train", "train", "val", "val", "test", "test"],
            "tone_masked": [True, False, True, False, False, False],
        }
    )
    with pytest.raises(TransferError, match="single class .* test split.*Fix"):
        check_labels(rows, "tone_masked")


def test_gcca_recovers_a_shared_latent_and_adapts_a_new_model():
    rng = np.random.default_rng(2)
    g = rng.normal(size=(500, 2))
    views = {
        m: g @ rng.normal(size=(2, 20))
        + rng.normal(size=(500, 3)) @ rng.normal(size=(3, 20))
        + 0.1 * rng.normal(size=(500, 20))
        for m in "abcd"
    }
    al = make_aligner("gcca", rank=2, pca_dims=10).fit({m: views[m] for m in "abc"})
    al.adapt("d", views["d"])
    Z = {m: al.transform(m, views[m]) for m in "abcd"}
    # the new model lands in the same coordinates as the training models
    corr = [abs(np.corrcoef(Z["a"][:, j], Z["d"][:, j])[0, 1]) for j in range(2)]
    assert min(corr) > 0.95
    assert al.canonical_correlations_[0] > 0.9
    with pytest.raises(AlignError, match="no map"):
        al.transform("e", views["a"])
    with pytest.raises(AlignError, match="unknown aligner"):
        make_aligner("cca-magic", 2)


def test_procrustes_maps_are_orthogonal_on_the_basis():
    rng = np.random.default_rng(3)
    g = rng.normal(size=(400, 3))
    views = {m: g @ rng.normal(size=(3, 12)) + 0.05 * rng.normal(size=(400, 12)) for m in "abc"}
    al = make_aligner("procrustes", rank=3, pca_dims=6).fit(views)
    R = al.maps_["a"][:3]
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-8)
    assert np.corrcoef(al.transform("a", views["a"])[:, 0], al.transform("b", views["b"])[:, 0])[0, 1] > 0.95


SIM_CFG = {
    "targets": ["tone_masked"],
    "positions": ["prompt_last"],
    "ranks": [4, 8],
    "aligners": ["gcca", "procrustes", "lowrank"],
    "spaces": ["hidden", "concepts"],  # lowrank reads named concepts: it runs in concepts only
    "ks": [0, 8, 16, 64, ALL_K],
    "seeds": 20,
    "null_seeds": 200,
    "l2_grid": [0.1, 1.0, 10.0],
    "prior_l2": 1.0,
    "specific_l2": 1.0,
    "pca_dims": 32,
    "n_boot": 200,
}


@pytest.fixture(scope="module", params=["shared", "specific"])
def world(request, tmp_path_factory):
    def compute():
        data, logit = simulate(request.param, seed=0)
        skipped = []
        results, summary, _ = evaluate_holdout(data, "sim0", SIM_CFG, skipped=skipped)
        te = (data.rows["split"] == "test").to_numpy()
        oracle = roc_auc_score(data.rows["tone_masked"][te], logit[te])
        return request.param, summary, oracle, pd.DataFrame(skipped)

    return shared_value(tmp_path_factory, f"world-transfer-{request.param}", compute)


def test_simulator_verdicts(world):
    name, summary, oracle, _ = world
    s = summary[summary["space"] == "hidden"].set_index(["aligner", "rank", "k"])["auc"]
    s = pd.concat([s, summary[summary["aligner"] == "lowrank"].set_index(["aligner", "rank", "k"])["auc"]])
    if name == "shared":
        assert abs(s[("gcca", 4, 0)] - oracle) < 0.05, (s[("gcca", 4, 0)], oracle)
        for k in (8, 16):
            assert s[("gcca", 4, k)] > s[("specific", 4, k)] + 0.05
    else:
        for aligner in ("gcca", "procrustes", "lowrank"):
            assert s[(aligner, 4, 0)] < 0.6
        assert s[("specific", 4, ALL_K)] > max(s[(a, 4, ALL_K)] for a in ("gcca", "lowrank"))
        # the strong own probe (full read, L2 by CV) beats the top-4-PC probe where the signal is the model's own
        for k in (64, ALL_K):
            assert s[("specific", 4, k)] > s[("specific_pca", 4, k)] + 0.03, (k, s[("specific", 4, k)])
    # the strong probe does not depend on the rank
    assert s[("specific", 4, ALL_K)] == s[("specific", 8, ALL_K)]


def test_own_probe_chooses_its_l2_by_cross_validation_inside_the_k_rows():
    """Pure noise features: CV picks the strongest L2; a clean signal: a weak one. A draw with a single
    positive cannot be cross-validated and falls back to specific_l2."""
    from emobasis.transfer.protocol import Protocol

    rng = np.random.default_rng(3)
    n, p = 120, 30
    y = rng.random(n) < 0.5
    rows = pd.DataFrame({"split": "train", "benign": ~y, "y": y})
    proto = Protocol(rows, "a", ["a"], "y", {**SIM_CFG, "ks": [0]}, seed=0)
    grid = np.array([1000.0, 100.0, 10.0, 1.0, 0.1])
    idx = np.arange(60)
    noise = rng.normal(size=(n, p))
    signal = noise.copy()
    signal[:, 0] = 4.0 * (2 * y - 1) + 0.3 * rng.normal(size=n)
    assert proto._cv_l2(noise, y, idx, grid, 5, seed=1) == 1000.0
    assert proto._cv_l2(signal, y, idx, grid, 5, seed=1) <= 10.0
    one_pos = np.concatenate([np.flatnonzero(y)[:1], np.flatnonzero(~y)[:10]])
    assert proto._cv_l2(noise, y, one_pos, grid, 5, seed=1) == SIM_CFG["specific_l2"]


def test_shuffled_baseline_is_chance_everywhere(world):
    _, summary, _, _ = world
    shuffled = summary[summary["aligner"] == "shuffled"]
    assert len(shuffled) == 2 * 5 + 5  # hidden: ranks 4 and 8; concepts (7 concepts): rank 4
    assert ((shuffled["auc"] - 0.5).abs() < 0.05).all(), shuffled[["rank", "k", "auc"]]


def test_summary_has_cis_and_paired_differences(world):
    _, summary, _, _ = world
    assert (summary["auc_ci_low"] <= summary["auc"] + 1e-9).all() and (
        summary["auc"] <= summary["auc_ci_high"] + 1e-9
    ).all()
    paired = summary[(summary["aligner"] == "gcca") & (summary["k"] == 16)]
    assert paired["diff_ci_low"].notna().all() and (paired["diff_ci_low"] <= paired["diff_ci_high"]).all()


def test_monitor_scores_a_model_outside_the_study():
    """Fit on three simulated models, adapt a fourth from unlabelled shared texts, score its rows."""
    from emobasis.transfer.monitor import MonitorError, fit_monitor, score_new_model
    from emobasis.transfer.study import StudyData

    full, logit = simulate("shared", n_models=4, n_rows=1500, seed=4)
    study = ["sim0", "sim1", "sim2"]
    data = StudyData(
        rows=full.rows,
        X={m: full.X[m] for m in study},
        Z={m: full.Z[m] for m in study},
        shared={m: full.shared[m] for m in study},
        concepts=full.concepts,
    )
    monitor = fit_monitor(data, "gcca", 4, "prompt_last", "tone_masked", {**SIM_CFG, "pca_dims": 32})
    ref = full.rows["split"].isin(["train", "val"]).to_numpy()
    te = (full.rows["split"] == "test").to_numpy()
    X_new = full.X["sim3"]["prompt_last"]
    shared_new = np.concatenate([full.shared["sim3"], X_new[ref]])
    y = full.rows["tone_masked"].to_numpy()
    zero = score_new_model(monitor, shared_new, X_new, ref)
    oracle = roc_auc_score(y[te], logit[te])
    assert roc_auc_score(y[te], zero[te]) > oracle - 0.05
    tr = np.flatnonzero((full.rows["split"] == "train").to_numpy())[:32]
    k32 = score_new_model(monitor, shared_new, X_new, ref, y=y, labelled=tr)
    assert roc_auc_score(y[te], k32[te]) > oracle - 0.05
    assert float(monitor["threshold"]) > np.median(zero[~y])  # an alarm level above typical safe rows
    with pytest.raises(MonitorError, match="shared texts"):
        score_new_model(monitor, shared_new[:-1], X_new, ref)


def test_completeness_check_accepts_a_full_grid_and_names_a_gap(world):
    from emobasis.transfer.grid import check_transfer_table

    _, summary, _, skipped = world
    table = summary.rename(columns={"n_seeds": "seed"}).assign(seed=0)
    cfg = {**SIM_CFG, "seeds": 1}
    check_transfer_table(table, cfg, ["sim0"], skipped)
    # lowrank in hidden, and rank 8 in the 7-dimensional concept space, are skipped with their reasons
    reasons = skipped.set_index(["space", "aligner", "rank"])["reason"]
    assert "not shared across models" in reasons[("hidden", "lowrank", 4)]
    assert "exceeds the concepts space's dimension 7" in reasons[("concepts", "gcca", 8)]
    with pytest.raises(TransferError, match="lacks"):
        check_transfer_table(table, cfg, ["sim0"])  # without the skips the grid has gaps
    with pytest.raises(TransferError, match="lacks 1 combinations"):
        check_transfer_table(
            table[~((table.aligner == "lowrank") & (table["rank"] == 4) & (table.k == 16))], cfg, ["sim0"], skipped
        )
    with pytest.raises(TransferError, match=r"outside \[0, 1\]"):
        check_transfer_table(table.assign(auc=table["auc"] * 2), cfg, ["sim0"], skipped)


def test_default_study_table_is_complete():
    """After `make study`: every aligner x rank x holdout x target x position x k is in the real table."""
    from conftest import REPO
    from emobasis.config import load_config
    from emobasis.transfer.grid import check_transfer_table

    default_config = load_config(REPO / "config" / "config.yaml")  # the study `make study` runs

    path = REPO / "results" / "tables" / "transfer.csv"
    if not path.exists():
        pytest.skip("the default study has not been run here (make study writes results/tables/transfer.csv)")
    table = pd.read_csv(path)
    table["k"] = table["k"].map(lambda k: ALL_K if k == "all" else int(k))
    cfg = {**default_config["transfer"], "ranks": default_config["basis"]["ranks"]}
    skipped = pd.read_csv(path.parent / "transfer_skipped.csv")  # what a space cannot run, and why
    check_transfer_table(table, cfg, [m["id"] for m in default_config["models"]], skipped)
    assert table["auc"].between(0, 1).all()


def test_own_response_mode_scores_each_holdout_on_its_own_labels():
    """StudyData.own: per-model labels and texts. The holdout's test labels are its own; training pools
    the training models' own labels; the shared texts are the stimuli only."""
    from emobasis.transfer.baselines import shared_views

    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=24, seed=5)
    rng = np.random.default_rng(0)
    own = {}
    for i, m in enumerate(data.models):
        t = data.rows.copy()
        flip = rng.random(len(t)) < 0.05 * (i + 1)  # each responder fails on somewhat different prompts
        t["tone_masked"] = t["tone_masked"] ^ flip
        t["unsafe"] = t["tone_masked"]
        own[m] = t
    own_data = own_answer_study(data, own)
    rows = own_data.rows
    cfg = {**SIM_CFG, "ranks": [4], "aligners": ["gcca"], "ks": [0, 16], "null_seeds": 20, "n_boot": 50}
    te = (rows["split"] == "test").to_numpy()
    for h in ("sim0", "sim2"):
        _, summary, _ = evaluate_holdout(own_data, h, cfg)
        assert (summary["n_test_pos"] == int(own[h]["tone_masked"].to_numpy()[te].sum())).all()
        # (the simulator's benign prompts, 15%, are negatives whatever their read: they cap the pooled AUC)
        assert summary.set_index(["aligner", "k"]).loc[("gcca", 0), "auc"].item() > 0.7
    views = shared_views(own_data, "prompt_last", np.ones(len(rows), bool))
    assert all(len(v) == len(data.shared[m]) for m, v in views.items())  # stimuli only
    with pytest.raises(KeyError):
        own_data.rows["tone_masked"]  # labels live with each model, never in the shared rows


def _with_prompt_embeddings(data, E):
    data.prompt_embeddings = {m: E for m in data.models}
    data.rows["prompt"] = [f"p{i}" for i in range(len(data.rows))]
    return data


def test_residualized_prompt_is_cross_fitted_and_removes_only_what_the_prompt_explains():
    """Own answers: the read minus what a ridge on the prompt's embedding predicts. With an embedding of pure
    noise (as many dimensions as half the fitting rows) cross-fitting keeps the read; in-sample least squares
    would remove much of it. With an embedding that carries the shared latent, the latent is removed."""
    from emobasis.transfer.baselines import Context, cross_fit_residuals, gcca_features, residualized_prompt_features

    data, _ = simulate("shared", n_rows=600, n_shared=300, d=24, seed=5)
    rng = np.random.default_rng(0)
    cfg = {"pca_dims": 16, "ranks": [4]}
    noise = rng.normal(size=(600, 240))
    ctx = Context(_with_prompt_embeddings(data, noise), "sim0", "prompt_last", cfg, seed=0)
    G, R = gcca_features(ctx, 4)["sim0"], residualized_prompt_features(ctx, 4)["sim0"]
    ref = ctx.ref
    kept = np.mean([abs(np.corrcoef(G[ref, j], R[ref, j])[0, 1]) for j in range(4)])
    E = np.c_[noise[ref], np.ones(ref.sum())]
    lstsq = G[ref] - E @ np.linalg.lstsq(E, G[ref], rcond=None)[0]
    assert kept > 0.9 and lstsq.var(0).mean() < 0.7 * G[ref].var(0).mean()
    latent = G[:, :1]  # an embedding that holds the read's first coordinate: that coordinate goes
    R2 = cross_fit_residuals(G, np.c_[latent, rng.normal(size=(600, 20))], ref, seed=0)
    assert R2[:, 0].var() < 0.05 * G[:, 0].var() and R2[:, 1].var() > 0.9 * G[:, 1].var()


def test_prompt_baselines_run_only_with_prompt_embeddings():
    from emobasis.transfer.baselines import FEATURES, SCORES, Context

    data, _ = simulate("shared", n_rows=400, n_shared=200, d=16, seed=2)
    ctx = Context(data, "sim0", "prompt_last", {"pca_dims": 8, "ranks": [2]}, seed=0)
    assert FEATURES["prompt_embedding"](ctx, 0) is None and FEATURES["residualized_prompt"](ctx, 2) is None
    assert SCORES["surface_prompt"](ctx, None) is None
    ctx = Context(
        _with_prompt_embeddings(data, np.eye(400)[:, :30]), "sim0", "prompt_last", {"pca_dims": 8, "ranks": [2]}, 0
    )
    F = FEATURES["prompt_embedding"](ctx, 0)
    assert set(F) == set(data.models) and F["sim0"].shape == (400, 30)


def test_lowrank_orients_a_model_whose_concept_directions_are_flipped():
    """Half the concept directions of the holdout point the other way (as a per-model fit can leave them):
    without orientation the transferred head scores it below chance; lowrank orients the profiles from
    unlabelled rows and scores it as if nothing were flipped."""
    from dataclasses import replace

    from emobasis.transfer.align import orient_profiles

    cfg = {**SIM_CFG, "aligners": ["lowrank"], "ranks": [4], "ks": [0], "null_seeds": 5, "n_boot": 100}
    cfg["spaces"] = ["concepts"]
    data, _ = simulate("shared", seed=2)
    flip = np.where(np.arange(len(data.concepts)) % 2 == 0, -1.0, 1.0)
    Z = {m: dict(v) for m, v in data.Z.items()}
    Z["sim0"]["prompt_last"] = data.Z["sim0"]["prompt_last"] * flip
    flipped = replace(data, Z=Z)

    def zero_shot(d):
        s = evaluate_holdout(d, "sim0", cfg)[1]
        return s[(s["aligner"] == "lowrank") & (s["k"] == 0)]["auc"].iloc[0]

    plain = zero_shot(data)
    assert plain > 0.85
    assert abs(zero_shot(flipped) - plain) < 1e-9
    ref = data.ref
    _, signs = orient_profiles({m: Z[m]["prompt_last"] for m in data.models}, ["sim1", "sim2"], ref)
    shared = [i for i, c in enumerate(data.concepts) if c.startswith("shared")]  # "own" concepts: no consensus
    np.testing.assert_array_equal(signs["sim0"][shared], flip[shared])
    assert (signs["sim1"] == 1).all() and (signs["sim2"] == 1).all()
    # the unoriented head: trained on sim1, sim2 profiles as they are, applied to the flipped sim0
    from emobasis.transfer.heads import fit_logistic, predict
    from emobasis.transfer.protocol import standardize

    y = data.rows["tone_masked"].to_numpy()
    tr, te = (data.rows["split"] == "train").to_numpy(), (data.rows["split"] == "test").to_numpy()
    Zs = {m: standardize(Z[m]["prompt_last"], ref) for m in data.models}
    b = fit_logistic(np.concatenate([Zs[m][tr] for m in ("sim1", "sim2")]), np.concatenate([y[tr]] * 2), l2=1.0)
    assert roc_auc_score(y[te], predict(Zs["sim0"][te], b)) < 0.5


def test_label_free_mismatch_scores_follow_the_config_formula_and_the_calm_gate():
    """Formulas from the config, no labels: a formula on the concept that carries the label scores it like
    the oracle (its negation like 1 - that), whatever the training labels are; at a response position an
    alarmed (not calm) answer never outranks a calm one."""
    from dataclasses import replace

    from emobasis.transfer.baselines import Context, mismatch_scores
    from emobasis.transfer.protocol import study_protocol

    data, _ = simulate("shared", seed=4)
    cfg = {
        **SIM_CFG,
        "ks": [0],
        "mismatch": {"mismatch_style": {"shared0": 1.0}, "mismatch_caution": {"shared0": -1.0}},
    }
    proto = study_protocol(data, "sim0", "tone_masked", cfg, 0)
    ctx = Context(data, "sim0", "prompt_last", cfg, 0)
    y = proto.y[proto.te]
    style = roc_auc_score(y, mismatch_scores(ctx, proto, "mismatch_style")[0].scores[0])
    caution = roc_auc_score(y, mismatch_scores(ctx, proto, "mismatch_caution")[0].scores[0])
    assert style > 0.8 and abs(style + caution - 1) < 1e-9  # benign prompts (15%) are negatives whatever their read
    shuffled = data.rows.assign(tone_masked=np.random.default_rng(0).permutation(data.rows["tone_masked"].to_numpy()))
    other = study_protocol(replace(data, rows=shuffled), "sim0", "tone_masked", cfg, 0)
    np.testing.assert_array_equal(
        mismatch_scores(Context(replace(data, rows=shuffled), "sim0", "prompt_last", cfg, 0), other, "mismatch_style")[
            0
        ].scores,
        mismatch_scores(ctx, proto, "mismatch_style")[0].scores,
    )
    calm = np.random.default_rng(1).random(len(data.rows)) < 0.5
    at_answer = replace(
        data,
        rows=data.rows.assign(calm=calm),
        X={m: {**v, "response_mean": v["prompt_last"]} for m, v in data.X.items()},
        Z={m: {**v, "response_mean": v["prompt_last"]} for m, v in data.Z.items()},
    )
    s = mismatch_scores(Context(at_answer, "sim0", "response_mean", cfg, 0), proto, "mismatch_style")[0].scores[0]
    c = calm[proto.te]
    assert s[~c].max() < s[c].min()
    assert (
        mismatch_scores(
            Context(data, "sim0", "prompt_last", {**cfg, "mismatch": {"mismatch_style": {"calm": 1.0}}}, 0),
            proto,
            "mismatch_style",
        )
        is None
    )
