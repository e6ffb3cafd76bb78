"""The competing cross-model methods of :mod:`emobasis.transfer.competitors` (anchors, affine, valence_arousal)
on simulated studies with a known answer, and the NRC VAD ratings they read."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import mirror_dir, own_answer_grid
from emobasis.concepts.directions import read_nrc_ratings, read_nrc_vad
from emobasis.transfer.baselines import FEATURES, SCORES, Context
from emobasis.transfer.competitors import (
    N_ANCHORS,
    affine_scores,
    anchor_features,
    anchor_rows,
    concept_ratings,
    relative_features,
    valence_arousal_features,
    valence_arousal_weights,
)
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.heads import predict
from emobasis.transfer.methods import METHODS, Method, register, unregister
from emobasis.transfer.metrics import auc
from emobasis.transfer.protocol import Protocol, fit_l2_on_validation, study_protocol
from emobasis.transfer.simulate import simulate

CFG = own_answer_grid(["tone_masked"], aligners=["gcca"], ks=[0, 16])
ZERO = {**CFG, "ks": [0]}
#: the registry entries, registered here for the tests when the registry does not hold them yet
COMPETITORS = [
    Method("anchors", "anchors (cosine to shared anchor texts)", ranked=False, paired=False),
    Method("affine", "affine (ridge map to each training model)", head="scores", ranked=False),
    Method("valence_arousal", "valence-arousal (rank-2 basis from emotion ratings)", ranked=False),
]
#: ratings of the simulator's emotion concepts: shared0, the failure's latent, is the most pleasant
SIM_VAD = {"shared0": (0.9, 0.5), "shared1": (0.2, 0.8), "shared2": (0.5, 0.1), "shared3": (0.4, 0.4)}


@pytest.fixture(scope="module", autouse=True)
def registered():
    added = [m for m in COMPETITORS if m.name not in METHODS]
    for m in added:
        register(m)
    yield
    for m in added:
        unregister(m.name)


def study(world="shared", seed=3, **kw):
    return simulate(world, n_rows=1200, n_shared=300, d=24, seed=seed, **kw)[0]


def zero_shot_auc(proto: Protocol, result) -> float:
    return auc(result[0].scores[0], proto.y[proto.te])


def test_the_functions_are_registered_under_the_methods_names():
    assert FEATURES["anchors"] is anchor_features and FEATURES["valence_arousal"] is valence_arousal_features
    assert SCORES["affine"] is affine_scores
    assert METHODS["affine"].head == "scores" and not any(METHODS[m.name].ranked for m in COMPETITORS)


# --- anchors ---------------------------------------------------------------------------------------------------


def test_anchor_rows_are_a_fixed_seeded_draw():
    a = anchor_rows(300)
    assert len(a) == N_ANCHORS == 64 and len(np.unique(a)) == 64 and a.min() >= 0 and a.max() < 300
    assert np.array_equal(a, np.sort(a)) and np.array_equal(a, anchor_rows(300))  # the same every call
    assert np.array_equal(anchor_rows(40), np.arange(40))  # fewer texts than anchors: every one


def test_relative_features_are_cosines_to_the_centred_anchors():
    rng = np.random.default_rng(0)
    X, anchors, centre = rng.normal(size=(5, 6)), rng.normal(size=(3, 6)), rng.normal(size=6)
    R = relative_features(X, anchors, centre)
    x, a = X[2] - centre, anchors[1] - centre
    assert R.shape == (5, 3) and np.isclose(R[2, 1], x @ a / np.linalg.norm(x) / np.linalg.norm(a))
    assert np.all(np.abs(R) <= 1 + 1e-12)


def test_anchor_features_do_not_see_a_rotation_scaling_and_shift_of_one_models_read():
    """sim1's hidden states rotated by a random orthogonal matrix, scaled by 3 and shifted (rows and shared
    texts alike): its features are unchanged, [n, 64], and so are the other models'."""
    data = study()
    rng = np.random.default_rng(7)
    Q, shift = np.linalg.qr(rng.normal(size=(24, 24)))[0], rng.normal(size=24)

    def move(A):
        return 3.0 * A @ Q + shift

    X = {**data.X, "sim1": {p: move(v) for p, v in data.X["sim1"].items()}}
    moved = replace(data, X=X, shared={**data.shared, "sim1": move(data.shared["sim1"])})
    F = anchor_features(Context(data, "sim0", "prompt_last", CFG, 0, "hidden"), 0)
    G = anchor_features(Context(moved, "sim0", "prompt_last", CFG, 0, "hidden"), 0)
    assert set(F) == set(data.models)
    assert all(F[m].shape == (len(data.rows), N_ANCHORS) for m in data.models)
    assert all(np.allclose(F[m], G[m], atol=1e-8) for m in data.models)
    assert not np.allclose(data.X["sim1"]["prompt_last"], X["sim1"]["prompt_last"])


# --- affine ----------------------------------------------------------------------------------------------------


def own_head_scores(model: str, proto: Protocol, ctx: Context) -> np.ndarray:
    """``model``'s own probe on its own whitened read (the head affine maps the holdout into), on every row."""
    read = ctx.white[model].transform(ctx.X[model])
    tr, va = proto.tr, proto.va
    head = fit_l2_on_validation(read[tr], proto.y[tr], read[va], proto.y[va], ctx.cfg["l2_grid"])
    return predict(read, head)


@pytest.mark.parametrize("pca_dims", [16, 24])
def test_affine_recovers_a_planted_linear_map(pca_dims):
    """The holdout's read (rows and shared texts) is a random linear map of sim1's, sim1 the one training
    model: mapped back from the shared texts, sim1's own head scores the holdout as well as it scores sim1
    (AUC within 0.05); when whitening keeps the whole read (24 dims) the map is exact, and so are the scores."""
    data = study(seed=4)
    M = np.random.default_rng(1).normal(size=(24, 24))
    X = {**data.X, "sim0": {p: v @ M for p, v in data.X["sim1"].items()}}
    planted = replace(data, X=X, shared={**data.shared, "sim0": data.shared["sim1"] @ M})
    cfg = {**ZERO, "pca_dims": pca_dims}
    proto = Protocol(planted.rows, "sim0", ["sim0", "sim1"], "tone_masked", cfg, 0)
    ctx = Context(planted, "sim0", "prompt_last", cfg, 0, "hidden")
    mapped = affine_scores(ctx, proto)[0].scores[0]
    own = own_head_scores("sim1", proto, ctx)[proto.te]
    y = proto.y[proto.te]
    assert auc(own, y) > 0.8
    assert abs(auc(mapped, y) - auc(own, y)) < 0.05, (auc(mapped, y), auc(own, y))
    assert np.corrcoef(mapped, own)[0, 1] > (0.999 if pca_dims == 24 else 0.95)


def test_affine_uses_no_holdout_label_and_leaves_out_a_single_class_model():
    data = study()
    y = data.rows["tone_masked"].to_numpy(bool)
    ctx = Context(data, "sim0", "prompt_last", ZERO, 0, "hidden")

    def scores(labels, models=data.models):
        proto = Protocol(data.rows, "sim0", models, "tone_masked", ZERO, 0, labels=labels)
        res = affine_scores(ctx, proto)
        return None if res is None else (res[0].scores, res[0].thresholds)

    base = scores({m: y for m in data.models})
    flipped = scores({**{m: y for m in data.models}, "sim0": np.random.default_rng(0).permutation(y)})
    assert np.array_equal(base[0], flipped[0]) and np.array_equal(base[1], flipped[1])
    # sim2 with one class in its rows is left out: the scores are sim1's alone
    one_class = scores({"sim0": y, "sim1": y, "sim2": np.zeros_like(y)})
    assert np.allclose(one_class[0], scores({m: y for m in data.models}, ["sim0", "sim1"])[0])
    assert not np.allclose(one_class[0], base[0])
    assert scores({m: np.zeros_like(y) for m in data.models}) is None


def test_anchors_and_affine_carry_a_shared_signal_and_affine_no_private_one():
    """Shared world: the failure's latent is common to every model's read, and both methods carry a head to
    the held-out model zero-shot. Specific world: it is private to each model; the affine map, fit on the
    shared texts, carries nothing."""
    shared = study("shared")
    proto = study_protocol(shared, "sim0", "tone_masked", ZERO, 0)
    ctx = Context(shared, "sim0", "prompt_last", ZERO, 0, "hidden")
    assert zero_shot_auc(proto, proto.run(anchor_features(ctx, 0))) > 0.7
    assert zero_shot_auc(proto, affine_scores(ctx, proto)) > 0.8
    specific = study("specific")
    proto = study_protocol(specific, "sim0", "tone_masked", ZERO, 0)
    ctx = Context(specific, "sim0", "prompt_last", ZERO, 0, "hidden")
    assert abs(zero_shot_auc(proto, affine_scores(ctx, proto)) - 0.5) < 0.06


# --- valence_arousal -------------------------------------------------------------------------------------------


def test_valence_arousal_weights_rated_emotions_only():
    ratings = {"joy": (0.98, 0.824), "fear": (0.073, 0.84), "calm": (0.875, 0.1)}
    W = valence_arousal_weights(["joy", "fear", "harm_salience", "calm"], ratings)
    assert W.shape == (4, 2) and np.array_equal(W[2], [0, 0])  # the unrated control weighs nothing
    assert np.allclose(W[[0, 1, 3]].sum(0), 0)  # centred over the rated concepts
    assert np.allclose(W[0], [0.98 - 1.928 / 3, 0.824 - 1.764 / 3])
    assert W[0, 0] > W[3, 0] > W[1, 0] and W[1, 1] > W[0, 1] > W[3, 1]
    assert valence_arousal_weights(["joy", "fear", "harm_salience"], ratings) is None  # fewer than 3 rated


def test_valence_arousal_features_run_on_rated_concept_profiles_only():
    data = study()
    rated = {**ZERO, "concept_vad": SIM_VAD}
    F = valence_arousal_features(Context(data, "sim0", "prompt_last", rated, 0, "concepts"), 0)
    assert set(F) == set(data.models) and all(v.shape == (len(data.rows), 2) for v in F.values())
    assert np.allclose(F["sim1"][data.ref].mean(0), 0) and np.allclose(F["sim1"][data.ref].std(0), 1)
    # the own* concepts (controls) are unrated: a change in their profiles changes nothing
    Z = {**data.Z, "sim1": {p: v.copy() for p, v in data.Z["sim1"].items()}}
    own = [i for i, c in enumerate(data.concepts) if c.startswith("own")]
    Z["sim1"]["prompt_last"][:, own] = np.random.default_rng(0).normal(size=(len(data.rows), len(own)))
    G = valence_arousal_features(Context(replace(data, Z=Z), "sim0", "prompt_last", rated, 0, "concepts"), 0)
    assert all(np.allclose(F[m], G[m]) for m in data.models)
    for space, cfg in (("hidden", rated), ("concepts", ZERO), ("concepts", {**ZERO, "concept_vad": {}})):
        assert valence_arousal_features(Context(data, "sim0", "prompt_last", cfg, 0, space), 0) is None
    two = {**ZERO, "concept_vad": {c: SIM_VAD[c] for c in ("shared0", "shared1")}}
    assert valence_arousal_features(Context(data, "sim0", "prompt_last", two, 0, "concepts"), 0) is None


def test_valence_arousal_carries_the_failure_when_its_latent_is_rated():
    data = study()
    proto = study_protocol(data, "sim0", "tone_masked", ZERO, 0)
    ctx = Context(data, "sim0", "prompt_last", {**ZERO, "concept_vad": SIM_VAD}, 0, "concepts")
    assert zero_shot_auc(proto, proto.run(valence_arousal_features(ctx, 0))) > 0.72


# --- the ratings -----------------------------------------------------------------------------------------------


def test_read_nrc_ratings_keeps_every_word(tmp_path):
    path = tmp_path / "vad.txt"
    path.write_text("Word\tValence\tArousal\tDominance\njoy\t0.980\t0.824\t0.794\nnan\t0.5\t0.25\t0.1\n")
    assert read_nrc_ratings(path) == {"joy": (0.98, 0.824), "nan": (0.5, 0.25)}
    assert read_nrc_vad(path) == {"joy": 0.98, "nan": 0.5}
    assert concept_ratings(["joy", "harm_salience", "Joy"], path) == {"joy": (0.98, 0.824), "Joy": (0.98, 0.824)}


def test_ratings_of_the_emotion_concepts_from_the_real_lexicon():
    mirror = mirror_dir()
    lexicon = None if mirror is None else mirror / "nrc_lexicons" / "NRC-VAD-Lexicon.txt"
    if lexicon is None or not lexicon.exists():
        pytest.skip(
            "the NRC VAD lexicon (../shared/data/nrc_lexicons/NRC-VAD-Lexicon.txt, or EMOBASIS_MIRROR) is absent"
        )
    words = read_nrc_ratings(lexicon)
    assert len(words) > 10000 and read_nrc_vad(lexicon) == {w: v for w, (v, _) in words.items()}
    r = concept_ratings(["joy", "fear", "calm", "nervousness", "caring", "harm_salience"], lexicon)
    assert "harm_salience" not in r and len(r) == 5
    assert r["joy"][0] > r["caring"][0] > r["fear"][0]  # valence
    assert r["nervousness"][1] > r["caring"][1] > r["calm"][1]  # arousal
    assert all(0 <= v <= 1 for pair in r.values() for v in pair)


# --- the grid --------------------------------------------------------------------------------------------------


def test_every_competitor_runs_through_the_grid():
    data = study()
    skipped = []
    summary = evaluate_holdout(data, "sim0", {**CFG, "ablation_rank": 4, "concept_vad": SIM_VAD}, skipped=skipped)[1]
    rows = summary.set_index(["space", "aligner", "k"])["auc"]
    for space in ("hidden", "concepts"):
        assert rows[(space, "anchors", 0)] > 0.72 and (space, "anchors", 16) in rows.index
        assert rows[(space, "affine", 0)] > 0.78 and (space, "affine", 16) not in rows.index  # zero-shot only
        assert abs(rows[(space, "affine", 0)] - rows[(space, "gcca", 0)]) < 0.03  # as good as the shared basis
    assert rows[("concepts", "valence_arousal", 0)] > 0.72 and ("concepts", "valence_arousal", 16) in rows.index
    assert ("hidden", "valence_arousal", 0) not in rows.index
    assert any(s["space"] == "hidden" and s["aligner"] == "valence_arousal" for s in skipped)
    # without ratings valence_arousal is skipped in the concept space too, with a reason
    skipped = []
    summary = evaluate_holdout(data, "sim0", {**CFG, "ablation_rank": 4, "spaces": ["concepts"]}, skipped=skipped)[1]
    assert "valence_arousal" not in set(summary["aligner"])
    assert any(s["aligner"] == "valence_arousal" for s in skipped)
