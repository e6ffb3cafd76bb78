"""A pilot before the long run (issue 37, item 2): a seeded sample of each fit suite's prompts per model, whose
rule labels estimate whether the full run meets the answer-count minimums; a shortfall stops the study before
its full generation, naming the fix and the prompts it would need; a pilot answer is the full run's answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, smk
from emobasis.errors import AnswerError
from emobasis.labels.pilot import check_estimate, pilot_estimate, pilot_sample


def prompt_set(n_harmful: int, n_benign: int) -> pd.DataFrame:
    n = n_harmful + n_benign
    return pd.DataFrame(
        {
            "item_id": [f"p{i}" for i in range(n)],
            "prompt": [f"prompt {i}" for i in range(n)],
            "benign": [False] * n_harmful + [True] * n_benign,
            "split": (["test", "train"] * n)[:n],
        }
    )


def pilot_rows(n_harmful: int, positives: int, n_benign: int = 10) -> pd.DataFrame:
    rows = prompt_set(n_harmful, n_benign)
    rows["positive"] = [True] * positives + [False] * (len(rows) - positives)
    return rows


def test_the_estimate_meets_or_names_the_prompts_a_model_would_need():
    full = {"s": prompt_set(200, 100)}  # 100 harmful and 50 benign test prompts
    est = pilot_estimate({"often": pilot_rows(40, 20), "rarely": pilot_rows(40, 4)}, full, 30, 30).set_index("model")
    assert est.loc["often", "expected_test_positives"] == 50.0 and est.loc["often", "meets"]
    assert est.loc["rarely", "positive_rate"] == 0.1 and not est.loc["rarely", "meets"]
    assert est.loc["rarely", "harmful_test_needed"] == 300 and est.loc["rarely", "harmful_prompts_needed"] == 600
    with pytest.raises(AnswerError, match=r"model 'rarely': 4 of 40 .* about 600 harmful prompts .* Fix: add harm"):
        check_estimate(est.reset_index())
    assert len(check_estimate(est.reset_index(), enforce=False)) == 1  # reported, not stopped
    none = pilot_estimate({"never": pilot_rows(40, 0)}, full, 30, 30)
    with pytest.raises(AnswerError, match="no number of prompts is enough"):
        check_estimate(none)


def test_the_pilot_sample_is_seeded_and_in_set_order():
    s = prompt_set(150, 50)
    a, b = pilot_sample(s, 64, 7, "jbb"), pilot_sample(s, 64, 7, "jbb")
    assert a.equals(b) and len(a) == 64 and list(a.index) == sorted(a.index)
    assert not a.equals(pilot_sample(s, 64, 7, "xstest")) and len(pilot_sample(s, 500, 7, "x")) == 200


def test_a_pilot_answer_is_the_full_runs_answer(tiny_model):
    """Greedy answers do not depend on the batch: the sample answered alone gives the full run's answers."""
    from emobasis.models.extract import PLAIN_PREFIX
    from emobasis.models.generate import generate_answers
    from test_generate import PROMPTS, lively

    tok, model = lively(tiny_model)
    cfg = {"max_new_tokens": 8, "max_prompt_tokens": 64, "token_budget": 100_000, "plain_format": PLAIN_PREFIX}
    full, _, _ = generate_answers(model, tok, PROMPTS, cfg, reads=False)
    pick = np.array([1, 4, 5])
    pilot, _, s = generate_answers(model, tok, [PROMPTS[i] for i in pick], {**cfg, "token_budget": 40}, reads=False)
    assert s["batches"] >= 2  # other batches than the full run's
    assert pilot["answer_token_ids"].tolist() == full["answer_token_ids"].iloc[pick].tolist()


def test_the_full_generation_waits_for_the_pilot_and_only_with_a_pilot_block(tmp_path):
    gpu = [REPO / "config/config.yaml", REPO / "config/study-gpu.yaml"]
    res = smk(tmp_path, gpu, "-n", "--forceall")
    assert res.returncode == 0, res.stderr[-2000:]
    blocks = res.stdout.split("\n\n")
    generate = [b for b in blocks if "rule generate:" in b]
    assert generate and all("results/pilot/estimate.csv" in b for b in generate)
    assert res.stdout.count("rule pilot_answers:") == 10  # 5 models x 2 fit suites
    res = smk(tmp_path, REPO / "config/config.yaml", "-n", "--forceall")
    assert res.returncode == 0 and "pilot_answers" not in res.stdout  # the CPU studies have no pilot
    cfg = yaml.safe_load((REPO / "config/study-gpu.yaml").read_text())
    assert cfg["pilot"] == {"prompts_per_suite": 64, "enforce": True}
