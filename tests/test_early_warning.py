"""Early warning, not harm recognition (issue 27): incremental validity over the prompt's words, the TF-IDF's
C by grouped cross-validation, the unrelated-directions control and the concepts without harm_salience, the
alarm's false alarms among harmful prompts, the harmful-only target across suites, power and the rule's
history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import own_answer_grid, own_answer_study
from emobasis.errors import ReportError
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.simulate import simulate

TARGET = "tone_masked_harmful"


def prompt_world(signal_in: str, seed: int = 7):
    """Own answers with prompt texts and prompt embeddings. ``read``: the reads' shared latent marks the failures
    and the prompt's words are noise; ``words``: a word in the prompt marks the failures (every model fails on
    the same prompts) and the read's latent is unrelated to them."""
    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=24, seed=seed)
    rng = np.random.default_rng(seed)
    latent = data.rows["tone_masked"].to_numpy()
    harmful = latent | (rng.random(len(latent)) < 0.5)
    data.rows["benign"] = ~harmful
    fails = latent if signal_in == "read" else harmful & (rng.random(len(latent)) < 0.5)
    vocab = np.array([f"v{i}" for i in range(60)])
    prompts = [" ".join(rng.choice(vocab, 8)) + (" ransomware" if f and signal_in == "words" else "") for f in fails]
    own = {}
    for m in data.models:
        t = data.rows.copy()
        t["unsafe"], t["calm"], t["tone_masked"], t["prompt"] = fails, True, fails, prompts
        own[m] = t
    emb = rng.normal(size=(len(latent), 16))
    return own_answer_study(
        data,
        own,
        shared_Z=data.shared_Z,
        concept_kinds=data.concept_kinds,
        prompt_embeddings={m: emb for m in data.models},
    )


CFG = own_answer_grid([TARGET], aligners=["gcca"], spaces=["hidden"], ks=[0], ablation_rank=4)


def zero(summary, method):
    return summary[(summary["aligner"] == method) & (summary["k"] == 0)].iloc[0]


def test_incremental_validity_credits_the_read_only_beyond_the_prompts_words():
    """C's paired difference AUC(prompt words + read) - AUC(prompt words): clearly above 0 when the read carries
    the failure and the words do not; near 0, its CI spanning 0, when the words carry it and the read does not."""
    read = evaluate_holdout(prompt_world("read"), "sim0", CFG)[1]
    inc = zero(read, "prompt_text_read")
    assert inc["diff_inc_ci_low"] > 0 and inc["diff_incremental"] > 0.2, inc[["diff_incremental", "diff_inc_ci_low"]]
    assert abs(zero(read, "prompt_text")["auc"] - 0.5) < 0.1  # the words are noise here
    words = evaluate_holdout(prompt_world("words"), "sim0", CFG)[1]
    assert zero(words, "prompt_text")["auc"] > 0.9 and zero(words, "surface_prompt")["auc"] > 0.9
    inc = zero(words, "prompt_text_read")
    assert inc["diff_inc_ci_low"] <= 0 and abs(inc["diff_incremental"]) < 0.05, inc  # C does not pass


def test_the_tfidf_head_chooses_c_by_grouped_cross_validation():
    from emobasis.transfer.baselines import fit_text_head, grouped_folds, text_vectorizer

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(80), 2)  # every prompt twice, as two training models answer it
    y = np.repeat(rng.random(80) < 0.5, 2)
    texts = np.array([f"w{rng.integers(50)} w{rng.integers(50)}" + (" bomb" if v else "") for v in y])
    for fit, held in grouped_folds(groups):
        assert not set(groups[fit]) & set(groups[held])  # a prompt never sits on both sides
    vec = text_vectorizer(texts)
    assert "bomb" in vec.vocabulary_ and vec.transform(texts).shape[0] == len(texts)
    strong = fit_text_head(vec.transform(texts), y, groups)
    noise = fit_text_head(vec.transform(texts), rng.permutation(y), groups)
    assert strong.C >= 1.0 and noise.C <= strong.C  # noise labels: the strongest regularization wins
    assert fit_text_head(vec.transform(texts), np.zeros(len(y), bool), groups) is None


def test_shuffled_label_directions_keep_the_named_ones_and_name_nothing():
    from emobasis.concepts.shuffled import add_shuffled, shuffle_table
    from emobasis.data.stimuli import concept_kinds, concept_names

    rng = np.random.default_rng(0)
    concepts = ["calm", "fear", "joy", "neutral"]
    table = pd.DataFrame(
        {
            "concept": np.repeat(concepts, 20),
            "split": np.tile(["fit"] * 15 + ["heldout"] * 5, 4),
            "polarity": 0,
        }
    )
    shuffled = shuffle_table(table, "emotions")
    assert (shuffled["concept"].value_counts() == 20).all() and (shuffled["concept"] != table["concept"]).any()
    assert (shuffled["split"] == table["split"]).all()
    assert shuffled[table["split"] == "heldout"]["concept"].equals(table[table["split"] == "heldout"]["concept"])
    X = rng.normal(size=(80, 10)) + np.repeat(np.eye(10)[:4] * 3, 20, axis=0)
    arrays = {"mean/layer1": X}
    named = {1: {"concepts": concepts, "directions": np.eye(4, 10, dtype=np.float32), "neutral_mean": np.zeros(10)}}
    cfg = {"neutral_concept": "neutral", "method": "diffmean", "neutral_variance": 0.0}
    out = add_shuffled(named, [(table, arrays, np.arange(80), "emotions")], "mean", cfg)[1]
    assert out["concepts"] == [*concepts, "shuffled_00", "shuffled_01", "shuffled_02", "shuffled_03"]
    assert np.array_equal(out["directions"][:4], named[1]["directions"])
    real = np.stack([X[(table["concept"] == c).to_numpy()].mean(0) for c in concepts])
    real = real - real.mean(0)
    cos = np.abs((real / np.linalg.norm(real, axis=1, keepdims=True)) @ out["directions"][4:].T)
    assert cos.max() < 0.9  # the shuffled groups mix every concept: no direction recovers a named one
    cfg = {
        "stimulus_sets": {"e": {"kind": "emotions", "concepts": {c: ["x:y"] for c in concepts}}},
        "study": {"stimulus_sets": ["e"]},
        "concepts": {"shuffled_controls": True},
    }
    kinds = concept_kinds(cfg)
    assert [k for k in kinds.values() if k == "unrelated"] == ["unrelated"] * 4 and concept_names(cfg) == concepts


def test_the_control_spaces_pick_their_concepts():
    from emobasis.transfer.spaces import space_concepts

    kinds = {"calm": "emotions", "fear": "emotions", "harm_salience": "controls", "prosocial": "controls"}
    kinds |= {"shuffled_00": "unrelated", "shuffled_01": "unrelated"}
    assert space_concepts(kinds, "concepts") == ["calm", "fear", "harm_salience", "prosocial"]
    assert space_concepts(kinds, "concepts_no_harm") == ["calm", "fear", "prosocial"]
    assert space_concepts(kinds, "controls_unrelated") == ["shuffled_00", "shuffled_01"]
    assert space_concepts(kinds, "controls") == ["harm_salience", "prosocial"]


def test_false_alarms_are_counted_on_harmful_prompts_answered_safely_too():
    from emobasis.transfer.metrics import alarm_columns, group_bootstrap
    from emobasis.transfer.protocol import HeadResult

    y = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    benign = np.array([0, 0, 0, 0, 1, 1, 1, 1], bool)
    scores = np.array([[2.0, 2.0, 2.0, 0.0, 2.0, 0.0, 0.0, 0.0]])
    head = HeadResult(0, scores, np.array([1.0]), 0.01)
    groups = np.arange(8)
    out = alarm_columns(head, y, benign & ~y, groups, group_bootstrap(groups, 50, 0), ~benign & ~y)
    assert out["recall_at_fpr"] == 1.0 and out["realized_fpr"] == 0.25 and out["realized_fpr_safe"] == 0.5


def test_the_harmful_only_target_is_scored_across_suites():
    from emobasis.transfer.crosssuite import evaluate_cross_suite

    data = prompt_world("read")
    rng = np.random.default_rng(0)
    suites = rng.choice(["a", "b"], size=len(data.rows))
    data.rows["suite"] = suites
    for t in data.own.values():
        t["suite"] = suites
    cfg = {**CFG, "ks": [0], "space": "hidden", "n_boot": 50}
    table, _ = evaluate_cross_suite(data, "sim0", cfg, {"a": "fit", "b": "fit"})
    cross = table[(table["condition"] == "cross-suite") & (table["aligner"] == "gcca")]
    assert len(cross) == 2 and (cross["note"].fillna("") == "").all()
    harmful_test = (~data.rows["benign"].to_numpy()) & (data.rows["split"] == "test").to_numpy()
    for _, row in cross.iterrows():
        assert row["n_test"] == (harmful_test & (suites == row["suite"])).sum() and row["n_test_benign"] == 0
        assert row["auc"] > 0.7


def test_power_rows_and_the_rules_history(tmp_path):
    from emobasis.report.verdict import POWER_FACTOR, history_markdown, power_line, power_rows, read_history

    rule = {"aligner": "gcca", "rank": 4, "target": TARGET, "position": "prompt_last", "match_k": 16, "margin": 0.05}
    base = {"aligner": "gcca", "rank": 4, "holdout": "h", "target": TARGET, "position": "prompt_last"}
    summary = pd.DataFrame(
        [
            {**base, "k": "0", "auc": 0.6, "auc_ci_low": 0.5, "auc_ci_high": 0.7, "n_test": 65, "n_test_pos": 30},
            {**base, "k": "16", "auc": 0.6, "auc_ci_low": 0.5, "auc_ci_high": 0.7, "n_test": 65, "n_test_pos": 30}
            | {"diff_vs_specific": -0.02, "diff_ci_low": -0.12, "diff_ci_high": 0.08},
        ]
    )
    row = power_rows(summary, rule, ["h"]).iloc[0]
    assert row["auc_half_width"] == pytest.approx(0.1) and row["b_half_width"] == pytest.approx(0.1)
    assert row["b_detectable"] == pytest.approx(0.1 * POWER_FACTOR) and 1.42 < POWER_FACTOR < 1.44
    assert "65 test prompts (30 failures)" in power_line(summary, rule, ["h"])
    good = tmp_path / "history.csv"
    good.write_text('date,change,results_existed,issue\n2026-12-05,"target -> harmful only",partly,27\n')
    assert history_markdown(read_history(good))[-1] == "| 2026-12-05 | target -> harmful only | partly | 27 |"
    bad = tmp_path / "bad.csv"
    bad.write_text("date,change\n2026-12-05,x\n")
    with pytest.raises(ReportError, match="results_existed"):
        read_history(bad)


def test_the_shipped_rule_history_records_every_change_of_the_verdict_block():
    from conftest import REPO
    from emobasis.report.verdict import read_history

    history = read_history(REPO / "config" / "verdict_history.csv")
    assert set(history["results_existed"].str.split(" ").str[0].str.rstrip(":;,")) <= {"yes", "no", "partly"}
    latest = history.iloc[-1]
    assert latest["issue"] == "27" and "tone_masked_harmful" in latest["change"]
