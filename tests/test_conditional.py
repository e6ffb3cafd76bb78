"""Subsets of each model's own answers.

masked_given_unsafe, a target defined on each model's own unsafe answers only (calm against alarmed): every
model is fit and scored on its own eligible rows; a model with too few of either class is left out of the
training pools, and a holdout without them gets no rows but a recorded reason. The "no echoes" rows: the
verdict's cell scored again without the holdout's echoes of the request."""

import numpy as np
import pandas as pd
import pytest
from conftest import own_answer_grid, own_answer_study
from emobasis.labels.targets import MIN_CONDITIONAL_CLASS
from emobasis.transfer.grid import check_transfer_table, evaluate_holdout
from emobasis.transfer.protocol import ALL_K, study_protocol
from emobasis.transfer.simulate import simulate
from emobasis.transfer.study import StudyData, TransferError

TARGET = "masked_given_unsafe"
CFG = own_answer_grid(["tone_masked", TARGET])


def own_study(n_unsafe_sim2: int = 30) -> StudyData:
    """Own answers on the simulator: each model's unsafe answers are its own random half of the prompts; among
    them the calm ones are the rows the shared latent labels (so the read can tell calm from alarmed). sim2
    answers unsafely only ``n_unsafe_sim2`` times, always calmly: it has no alarmed unsafe answer."""
    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=24, seed=5)
    rng = np.random.default_rng(1)
    latent = data.rows["tone_masked"].to_numpy()
    own = {}
    for m in data.models:
        t = data.rows.copy()
        unsafe = (rng.random(len(t)) < 0.5) & ~t["benign"].to_numpy()
        calm = latent.copy()
        if m == "sim2":
            unsafe = np.zeros(len(t), bool)
            unsafe[np.flatnonzero(latent)[:n_unsafe_sim2]] = True
        t["unsafe"], t["calm"], t["tone_masked"] = unsafe, calm, unsafe & calm
        own[m] = t
    return own_answer_study(data, own, shared_Z=data.shared_Z, concept_kinds=data.concept_kinds)


@pytest.fixture(scope="module")
def study():
    data = own_study()
    out = {}
    for h in data.models:
        skipped = []
        results, summary, _ = evaluate_holdout(data, h, CFG, skipped=skipped)
        out[h] = results, summary, pd.DataFrame(skipped)
    return data, out


def test_each_model_is_scored_on_its_own_unsafe_answers(study):
    data, out = study
    te = (data.rows["split"] == "test").to_numpy()
    for h in ("sim0", "sim1"):
        t = data.own[h]
        mine = t["unsafe"].to_numpy() & te
        summ = out[h][1]
        rows = summ[summ["target"] == TARGET]
        assert len(rows) and set(rows["aligner"]) >= {"gcca", "lowrank", "specific", "surface", "shuffled"}
        assert (rows["n_test"] == mine.sum()).all()
        assert (rows["n_test_pos"] == (mine & t["calm"].to_numpy()).sum()).all()
        assert 0 < rows["n_test_pos"].iloc[0] < rows["n_test"].iloc[0]
        # among unsafe answers no prompt is benign: the alarm level is set on benign validation rows (label-free,
        # the same rows for every target), and the false alarms are counted on the safe answers' rows
        assert (rows["n_test_benign"] == 0).all() and rows["realized_fpr"].isna().all()
        assert rows["recall_at_fpr"].notna().all() and (rows["fpr_target"] > 0).all()
        # the shared latent tells calm from alarmed unsafe answers: the zero-shot head transfers it
        zero = rows.set_index(["space", "aligner", "k"]).loc[("hidden", "gcca", 0), "auc"]
        assert zero > 0.8, zero
        # the unconditional target is scored on every test row as before
        whole = summ[summ["target"] == "tone_masked"]
        assert (whole["n_test"] == te.sum()).all()


def test_pools_draws_and_calibration_stay_inside_each_models_rows():
    data = own_study()
    proto = study_protocol(data, "sim0", TARGET, {**CFG, "ks": [16]}, seed=0)
    assert proto.train_models == ["sim1"]  # sim2 has no alarmed unsafe answer: out of the pools
    E = {m: data.own[m]["unsafe"].to_numpy() for m in data.models}
    F = {m: np.arange(len(data.rows), dtype=float)[:, None] for m in data.models}  # each row's own index
    X, y = proto._pool(F, proto.tr)
    idx = X[:, 0].astype(int)
    assert np.array_equal(idx, np.flatnonzero(proto.tr & E["sim1"]))
    assert np.array_equal(y, data.own["sim1"]["calm"].to_numpy()[idx])
    assert not (proto.shot & ~E["sim0"]).any() and not (proto.te & ~E["sim0"]).any()
    assert not (proto.te & proto.benign).any()  # no benign prompt among unsafe answers to score ...
    assert np.array_equal(proto.own_cal, proto.va & proto.benign)  # ... but the alarm level is set on benign rows
    for draws in proto.draws.values():
        assert all(proto.y[proto.shot][d].any() and not proto.y[proto.shot][d].all() for d in draws)


def test_a_holdout_without_both_classes_is_skipped_with_its_reason(study):
    data, out = study
    results, summary, skipped = out["sim2"]
    assert TARGET not in set(summary["target"]) and "tone_masked" in set(summary["target"])
    row = skipped[skipped["target"] == TARGET].iloc[0]
    assert row["holdout"] == "sim2" and row["space"] == "*" and f"needs {MIN_CONDITIONAL_CLASS}" in row["reason"]
    assert "sim2 has 30 tone_masked and 0 other rows among its unsafe rows" in row["reason"]
    # the completeness check accepts the grid with that skip and names the gap without it
    table = pd.concat([r for r, _, _ in out.values()], ignore_index=True)
    skips = pd.concat([s for _, _, s in out.values()], ignore_index=True)
    check_transfer_table(table, CFG, data.models, skips)
    with pytest.raises(TransferError, match="lacks"):
        check_transfer_table(table, CFG, data.models, skips[skips["target"] != TARGET])


def test_no_training_model_with_both_classes_is_a_recorded_skip():
    data = own_study()
    for m in ("sim1", "sim2"):  # only sim0 has calm and alarmed unsafe answers
        data.own[m]["unsafe"] = data.own[m]["unsafe"] & data.own[m]["calm"]
    skipped = []
    _, summary, _ = evaluate_holdout(data, "sim0", {**CFG, "spaces": ["hidden"]}, skipped=skipped)
    assert TARGET not in set(summary["target"])
    (note,) = [s for s in skipped if s["target"] == TARGET]
    assert note["reason"].startswith(f"{TARGET}: no training model supports it (")


def test_no_echoes_rows_score_the_same_heads_without_the_holdouts_echoes():
    from emobasis.report.sections import per_suite_section
    from emobasis.transfer.grid import NO_ECHOES, Context, method_features, run_heads
    from emobasis.transfer.metrics import auc

    data = own_study()
    rng = np.random.default_rng(3)
    for t in data.own.values():
        echo = rng.random(len(t)) < 0.3
        t["prompt"] = "Write a tutorial about making something dangerous"
        t["response"] = np.where(echo, "A tutorial about making something dangerous.", "Sure, here are detailed steps")
    cfg = {**CFG, "targets": ["tone_masked"], "spaces": ["hidden"], "aligners": ["gcca"]}
    cell = {"target": "tone_masked", "position": "prompt_last", "rank": 4}
    summ = evaluate_holdout(data, "sim0", cfg, seed=3, by_suite=cell)[1]
    te = (data.rows["split"] == "test").to_numpy()
    kept = ~np.char.startswith(data.own["sim0"]["response"].to_numpy().astype(str), "A tutorial")[te]
    row = summ[(summ["suite"] == NO_ECHOES) & (summ["aligner"] == "gcca") & (summ["k"] == 0)].iloc[0]
    assert row["n_test"] == kept.sum() < te.sum()
    proto = study_protocol(data, "sim0", "tone_masked", cfg, 3)
    ctx = Context(data, "sim0", "prompt_last", cfg, 3)
    scores = run_heads(ctx, method_features(ctx, cfg), proto, cfg)[("gcca", 4)][0].scores[0]
    assert abs(row["auc"] - auc(scores[kept], proto.y[proto.te][kept])) < 1e-12
    rule = {"aligner": "gcca", "rank": 4, "target": "tone_masked", "position": "prompt_last", "match_k": 16}
    rule.update(chance=0.5, margin=0.05, alpha=0.05, beyond="residualized")
    per = summ[summ["suite"] != "all"].assign(k=lambda d: d["k"].map(lambda k: "all" if k == ALL_K else str(k)))
    text = "\n".join(per_suite_section(per, rule, ["sim0"], "transferable"))
    assert "**Without echoes.**" in text and f"- **{NO_ECHOES}** (test positives/negatives: sim0 " in text
    assert "holds within every suite" in text  # the echo rows are not a suite
