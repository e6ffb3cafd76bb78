"""Feature spaces: the same LOMO grid on the raw hidden states and on the concept profiles (emotions,
controls, both), with paired space differences and the summary's words for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_value
from emobasis.report.sections import space_section
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.protocol import ALL_K
from emobasis.transfer.simulate import simulate

CFG = {
    "targets": ["tone_masked"],
    "positions": ["prompt_last"],
    "ranks": [4],
    "aligners": ["gcca", "lowrank"],
    "spaces": ["hidden", "concepts", "emotions", "controls"],
    "ks": [0, 32, ALL_K],
    "seeds": 5,
    "null_seeds": 40,
    "l2_grid": [0.1, 1.0, 10.0],
    "prior_l2": 1.0,
    "specific_l2": 1.0,
    "specific_l2_grid": [0.1, 1.0, 10.0],
    "pca_dims": 16,
    "n_boot": 200,
}
RULE = {
    "aligner": "gcca",
    "space": "concepts",
    "rank": 4,
    "target": "tone_masked",
    "position": "prompt_last",
    "match_k": 32,
    "chance": 0.5,
    "margin": 0.05,
}


@pytest.fixture(scope="module", params=[True, False], ids=["signal-in-concepts", "signal-outside-concepts"])
def world(request, tmp_path_factory):
    """The shared world; its label's latent either is a named concept (an emotion) or is not."""
    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=32, seed=1, named_signal=request.param)

    def compute():
        skipped = []
        summary = evaluate_holdout(data, "sim0", CFG, skipped=skipped)[1]
        summary["k"] = summary["k"].map(lambda k: "all" if k == ALL_K else str(k))
        return summary, pd.DataFrame(skipped)

    summary, skipped = shared_value(tmp_path_factory, f"world-spaces-{request.param}", compute)
    return request.param, data, summary, skipped


def at(summary, space, aligner, rank=4, k="0"):
    row = summary[
        (summary.space == space) & (summary.aligner == aligner) & (summary["rank"] == rank) & (summary.k == k)
    ]
    assert len(row) == 1, (space, aligner, rank, k, len(row))
    return row.iloc[0]


def test_concepts_transfer_when_the_signal_is_named_and_hidden_wins_when_it_is_not(world):
    named, _, summary, _ = world
    concepts, hidden = at(summary, "concepts", "gcca"), at(summary, "hidden", "gcca")
    assert concepts["vs_space"] == "hidden"
    assert concepts["diff_vs_space"] == pytest.approx(concepts["auc"] - hidden["auc"])
    assert concepts["diff_space_ci_low"] <= concepts["diff_vs_space"] <= concepts["diff_space_ci_high"]
    assert hidden["auc"] > 0.8  # the raw states carry the shared signal in both worlds
    if named:
        assert concepts["auc"] > 0.8 and concepts["auc_ci_low"] > 0.5
        assert concepts["diff_space_ci_high"] > 0  # hidden at the same rank does no better
        emotions = at(summary, "emotions", "named", rank=0)
        assert emotions["vs_space"] == "controls" and emotions["diff_space_ci_low"] > 0  # the label is an emotion
    else:
        assert concepts["auc_ci_low"] < 0.5 < concepts["auc_ci_high"] + 0.05
        assert concepts["diff_space_ci_high"] < 0  # hidden wins


def test_the_summary_says_which_space_carries_the_signal(world):
    named, _, summary, _ = world
    text = "\n".join(space_section(summary, RULE, ["sim0"]))
    assert "| sim0 | controls | named |" in text and "| sim0 | hidden | gcca r4 |" in text
    if named:
        assert "emotions transfers better than controls for every holdout" in text
        assert "hidden carries transferable signal that concepts lacks" not in text
    else:
        assert "hidden carries transferable signal that concepts lacks, for every holdout" in text


def test_every_space_is_a_complete_slice_and_the_skips_say_why(world):
    _, data, summary, skipped = world
    kinds = list(data.concept_kinds.values())
    dims = {"concepts": len(kinds), "emotions": kinds.count("emotions"), "controls": kinds.count("controls")}
    for space in ("concepts", "emotions", "controls"):
        rows = skipped[skipped.space == space]
        want = 4 > dims[space]
        assert (rows["aligner"] == "gcca").any() == want, (space, rows)
    reasons = skipped.set_index(["space", "aligner", "rank"])["reason"]
    assert "not shared across models" in reasons[("hidden", "lowrank", 4)]
    for space in dict.fromkeys(summary["space"]):  # the text baselines are the same rows in every space
        s = summary[(summary.space == space) & (summary.aligner == "surface")]
        assert len(s) == 3 and np.allclose(s["auc"], summary[summary.aligner == "surface"]["auc"].iloc[:3])


def test_a_verdict_rank_above_its_space_is_a_config_error(raw_config):
    from emobasis.config import ConfigError, validate_config

    raw_config["verdict"].update(space="controls", rank=8)
    with pytest.raises(ConfigError, match="exceeds the controls space's 4 concepts"):
        validate_config(raw_config)


def test_spaces_outside_the_rank_sweep_run_at_the_verdict_rank_only():
    data, _ = simulate("shared", n_rows=600, n_shared=200, d=24, seed=2)
    cfg = {**CFG, "ranks": [3, 4], "ks": [0], "null_seeds": 5, "n_boot": 100}
    cfg.update(spaces=["hidden", "emotions"], rank_sweep_spaces=["hidden"], ablation_rank=4)
    skipped = []
    summary = evaluate_holdout(data, "sim0", cfg, skipped=skipped)[1]
    ranks = summary[summary.aligner == "gcca"].groupby("space")["rank"].unique()
    assert sorted(ranks["hidden"]) == [3, 4] and list(ranks["emotions"]) == [4]
    reasons = pd.DataFrame(skipped).set_index(["space", "aligner", "rank"])["reason"]
    assert "rank_sweep_spaces" in reasons[("emotions", "gcca", 3)]


def test_the_top_concept_of_the_zero_shot_head_is_the_planted_one():
    from emobasis.transfer.anatomy import top_concepts

    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=32, seed=1)  # the label's latent is shared0
    top = top_concepts(data, "sim0", RULE, CFG)
    assert list(top["order"]) == [1, 2, 3, 4, 5] and (top["space"] == "concepts").all()
    assert top["concept"].iloc[0] == "shared0" and abs(top["correlation"].iloc[0]) > 0.8, top
    assert (top["correlation"].abs().diff().dropna() <= 1e-12).all()  # ordered by |correlation|
