"""Harmful prompts only: the early warning's own question is "will this model fail on this harmful request?".

``tone_masked_harmful`` is ``tone_masked`` among harmful prompts only: pools, k draws, test rows, thresholds
and shuffled-label nulls stay inside them. ``is_harmful`` scores a row by its prompt's harmful label alone.
A read that knows only "this request is harmful" scores well on the pooled rows (every benign prompt is a
negative) and at chance among harmful prompts; a read that carries the failure keeps its AUC there."""

import numpy as np
import pandas as pd
import pytest
from conftest import own_answer_grid, own_answer_study
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.protocol import ALL_K, study_protocol
from emobasis.transfer.simulate import simulate

CFG = own_answer_grid(["tone_masked", "tone_masked_harmful"], aligners=["gcca"], spaces=["hidden"])


def world(reads_carry: str):
    """Own answers on the simulator. ``harm``: the reads' planted latent marks the HARMFUL prompts, and each
    model fails on a coin flip among them (nothing in the read says which). ``failure``: the latent marks
    the failures themselves, as in the simulator's shared world; the other half of the prompts is benign."""
    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=24, seed=5)
    latent = data.rows["tone_masked"].to_numpy()
    rng = np.random.default_rng(2)
    if reads_carry == "harm":
        harmful = latent
    else:
        harmful = latent | (rng.random(len(latent)) < 0.5)
    data.rows["benign"] = ~harmful
    own = {}
    for m in data.models:
        t = data.rows.copy()
        fails = harmful & (rng.random(len(t)) < 0.5) if reads_carry == "harm" else latent
        t["unsafe"], t["calm"], t["tone_masked"] = fails, True, fails
        own[m] = t
    return own_answer_study(data, own, shared_Z=data.shared_Z, concept_kinds=data.concept_kinds)


def zero_shot(summary, target, method):
    rows = summary[(summary["target"] == target) & (summary["aligner"] == method) & (summary["k"] == 0)]
    return rows.iloc[0]


@pytest.fixture(scope="module")
def harm_only():
    data = world("harm")
    return data, evaluate_holdout(data, "sim0", CFG)[1]


def test_the_harmful_only_target_is_scored_on_the_holdouts_harmful_test_prompts(harm_only):
    data, summary = harm_only
    te = (data.rows["split"] == "test").to_numpy()
    harmful = ~data.rows["benign"].to_numpy()
    row = zero_shot(summary, "tone_masked_harmful", "gcca")
    assert row["n_test"] == (te & harmful).sum() and row["n_test_benign"] == 0
    assert row["n_test_pos"] == (te & data.own["sim0"]["tone_masked"].to_numpy()).sum()
    assert zero_shot(summary, "tone_masked", "gcca")["n_test"] == te.sum()


def test_pools_draws_and_nulls_stay_inside_the_harmful_prompts(harm_only):
    data, _ = harm_only
    proto = study_protocol(data, "sim0", "tone_masked_harmful", {**CFG, "ks": [16]}, seed=0)
    harmful = ~data.rows["benign"].to_numpy()
    assert proto.train_models == ["sim1", "sim2"]
    assert not (proto.te & ~harmful).any() and not (proto.shot & ~harmful).any()
    F = {m: np.arange(len(data.rows), dtype=float)[:, None] for m in data.models}
    X, _ = proto._pool(F, proto.tr)
    assert harmful[X[:, 0].astype(int)].all()  # the training pool holds harmful prompts only


def test_a_read_that_knows_only_harm_scores_at_chance_among_harmful_prompts(harm_only):
    _, summary = harm_only
    pooled, harmful_only = zero_shot(summary, "tone_masked", "gcca"), zero_shot(summary, "tone_masked_harmful", "gcca")
    assert pooled["auc"] > 0.7, pooled["auc"]  # benign prompts are easy negatives
    assert abs(harmful_only["auc"] - 0.5) < 0.1, harmful_only["auc"]
    assert harmful_only["auc_ci_low"] < 0.5 < harmful_only["auc_ci_high"]
    # the prompt's harmful label alone: as good as the read on the pooled rows, constant among harmful ones
    assert zero_shot(summary, "tone_masked", "is_harmful")["auc"] > 0.7
    assert zero_shot(summary, "tone_masked_harmful", "is_harmful")["auc"] == 0.5
    # harm recognition learned from the reads (a gcca head trained on harmful vs benign): the same story
    learned, learned_only = (zero_shot(summary, t, "harm_intent") for t in ("tone_masked", "tone_masked_harmful"))
    assert learned["auc"] > 0.7 and abs(learned_only["auc"] - 0.5) < 0.1, (learned["auc"], learned_only["auc"])


def test_a_read_that_carries_the_failure_keeps_its_auc_among_harmful_prompts():
    data = world("failure")
    summary = evaluate_holdout(data, "sim0", CFG)[1]
    harmful_only = zero_shot(summary, "tone_masked_harmful", "gcca")
    assert harmful_only["auc"] > 0.75, harmful_only["auc"]
    assert zero_shot(summary, "tone_masked_harmful", "is_harmful")["auc"] == 0.5


def test_the_summary_quotes_the_harmful_only_cell_beside_the_pooled_one(harm_only):
    from emobasis.report.sections import harmful_only_section
    from emobasis.report.verdict import cell

    _, summary = harm_only
    table = summary.assign(k=summary["k"].map(lambda k: "all" if k == ALL_K else str(k)))
    rule = {"aligner": "gcca", "rank": 4, "target": "tone_masked", "position": "prompt_last", "match_k": 16}
    text = "\n".join(harmful_only_section(table, rule, ["sim0"]))
    assert text.startswith("## Early warning, not harm recognition: among harmful prompts only (tone_masked_harmful)")
    row = next(line for line in text.splitlines() if line.startswith("| sim0 |"))
    pooled = cell(table, "gcca", 4, "sim0", "tone_masked", "prompt_last", "0")
    only = cell(table, "gcca", 4, "sim0", "tone_masked_harmful", "prompt_last", "0")
    intent = cell(table, "harm_intent", 0, "sim0", "tone_masked_harmful", "prompt_last", "0")
    assert f"| {int(only['n_test'])} ({int(only['n_test_pos'])}) | {pooled['auc']:.3f} [" in row
    assert f"] | {only['auc']:.3f} [" in row and f"| {intent['auc']:.3f} [" in row
    is_harmful = cell(table, "is_harmful", 0, "sim0", "tone_masked", "prompt_last", "0")
    assert f"sim0 {is_harmful['auc']:.3f} [" in text  # the pooled harm-recognition bound, quoted in the prose
    # the same section when the rule reads the harmful-only target itself
    assert harmful_only_section(table, {**rule, "target": "tone_masked_harmful"}, ["sim0"]) == text.splitlines()
    assert harmful_only_section(table[table["target"] == "tone_masked"], rule, ["sim0"]) == []


def test_the_bootstrap_resamples_twin_prompts_together(monkeypatch):
    """An own-answer prompt set's ``group`` (an XSTest safe prompt and its unsafe contrast twin share one) is
    the bootstrap's unit: twins are drawn together, so their correlation widens the CI instead of hiding."""
    import emobasis.transfer.grid as grid
    from emobasis.transfer.metrics import bootstrap_units

    data = world("failure")
    data.rows["group"] = [f"g{i // 2}" for i in range(len(data.rows))]  # rows 2i and 2i+1 are twins
    for t in data.own.values():
        t["group"] = data.rows["group"].to_numpy()
    units = bootstrap_units(data.rows)
    assert units[0] == units[1] == "sim|g0" and units[2] == "sim|g1"
    assert (bootstrap_units(data.rows.drop(columns="group")) == data.rows["item_id"].to_numpy()).all()
    seen = []
    real = grid.group_bootstrap
    monkeypatch.setattr(grid, "group_bootstrap", lambda groups, *a: seen.append(groups) or real(groups, *a))
    evaluate_holdout(data, "sim0", {**CFG, "targets": ["tone_masked"]})
    te = (data.rows["split"] == "test").to_numpy()
    codes = seen[0]
    assert codes.max() + 1 == len(set(units[te])) < te.sum()  # one unit per twin group, fewer than rows
    pairs = [np.flatnonzero(te & (data.rows["group"] == g).to_numpy()) for g in set(data.rows["group"][te])]
    test_pos = np.cumsum(te) - 1
    for rows in (p for p in pairs if len(p) == 2):
        assert codes[test_pos[rows[0]]] == codes[test_pos[rows[1]]]


@pytest.fixture(scope="module")
def verdict_worlds():
    """Every holdout of the two planted own-answer worlds, as gather_transfer writes them (k as text)."""
    from emobasis.transfer.grid import tidy_k

    out = {}
    for name in ("harm", "failure"):
        data = world(name)
        cfg = {**CFG, "null_seeds": 100}  # Holm over 3 holdouts: p can reach 3/101 < 0.05
        out[name] = tidy_k(pd.concat([evaluate_holdout(data, h, cfg)[1] for h in data.models], ignore_index=True))
    return out


RULE = {
    "aligner": "gcca",
    "space": "hidden",
    "rank": 4,
    "target": "tone_masked_harmful",
    "position": "prompt_last",
    "match_k": 16,
    "chance": 0.5,
    "margin": 0.05,
    "beyond": "residualized",
}


def test_a_read_that_knows_only_harm_is_never_called_transferable(verdict_worlds):
    """Issue 27, item 10: the read carries "this request is harmful" and nothing about which harmful request
    the model fails on. Among harmful prompts the rule must not say transferable (nor partially shared: A
    fails), and on the pooled rows the null that permutes labels within benign and harmful prompts keeps A
    from passing on harm recognition alone."""
    from emobasis.report.verdict import decide

    summary = verdict_worlds["harm"]
    holdouts = sorted(summary["holdout"].unique())
    v = decide(summary, RULE, holdouts)
    assert v["verdict"] in ("model-specific", "not decided at this sample size"), v
    assert not any(h["A_above_chance"] for h in v["per_holdout"].values()), v["perm"]
    pooled = decide(summary, {**RULE, "target": "tone_masked"}, holdouts)
    assert pooled["verdict"] != "transferable", pooled
    pooled_zero = (summary["k"] == "0") & (summary["target"] == "tone_masked")
    zero = summary[pooled_zero & (summary["aligner"] == "gcca")].set_index("holdout")
    null = summary[pooled_zero & (summary["aligner"] == "shuffled")].set_index("holdout")
    assert (zero["auc"] > 0.7).all()  # the pooled AUC is high: benign prompts are easy negatives ...
    # ... and heads fit on labels permuted within benign and harmful prompts earn it too (their mean AUC)
    assert ((zero["auc"] - null.loc[zero.index, "auc"]).abs() < 0.03).all(), (zero["auc"], null["auc"])


def test_a_read_that_carries_the_failure_is_transferable_among_harmful_prompts(verdict_worlds):
    from emobasis.report.verdict import decide

    summary = verdict_worlds["failure"]
    v = decide(summary, RULE, sorted(summary["holdout"].unique()))
    assert v["verdict"] == "transferable", v


def test_the_null_permutes_within_strata_and_each_null_head_picks_its_l2():
    from emobasis.transfer.protocol import permute_within

    rng = np.random.default_rng(0)
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0], bool)
    strata = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    for _ in range(20):
        p = permute_within(y, strata, rng)
        assert p[:4].sum() == 2 and not p[4:].any()  # stratum 1 (benign) stays all negative
    data = world("harm")
    proto = study_protocol(data, "sim0", "tone_masked", {**CFG, "ks": [16], "null_seeds": 30}, seed=0)
    from emobasis.transfer.baselines import Context

    ctx = Context(data, "sim0", "prompt_last", {**CFG, "ks": [16]}, 0, "hidden")
    F = ctx.std({m: ctx.gcca[m][:, :4] for m in data.models})
    res = proto.run_shuffled(F)
    assert res[0].scores.shape[0] == 30 and len(res) == 2
