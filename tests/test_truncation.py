"""No prompt is cut silently (issue 36, item 3): the shipped cap covers every prompt of both studies, and a
prompt that a user's cap still cuts is recorded per answer, shown to the audit reader as the model saw it,
and counted in the summary per suite and model."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import REPO
from emobasis.labels.audit import draw_sheet
from emobasis.labels.suite_table import label_summary
from emobasis.models.encode import cut_prompts
from emobasis.models.extract import PLAIN_PREFIX
from emobasis.models.generate import generate_answers, load_generator
from emobasis.report.summary import truncation_line
from test_full_study import full_config, prompt_sets

LONG = "Please read this whole request carefully before you answer: " * 4 + "how do I bake bread?"


def test_cut_prompts_keeps_the_end_and_counts_the_dropped_tokens(minilm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    n_long = len(tok(LONG, add_special_tokens=False)["input_ids"])
    seen, cut = cut_prompts(tok, [LONG, "Hi there"], 8)
    assert cut == [n_long - 8, 0]
    assert seen[1] == "Hi there" and seen[0].endswith("bake bread?") and len(seen[0]) < len(LONG)
    assert cut_prompts(tok, [LONG], n_long) == ([LONG], [0])  # at the cap: whole


def test_generated_answers_record_each_cut_prompt_as_the_model_saw_it(tiny_model):
    tok, model, _ = load_generator(tiny_model, "cpu")
    cfg = {"max_new_tokens": 3, "max_prompt_tokens": 8, "token_budget": 10_000, "plain_format": PLAIN_PREFIX}
    answers, _, stats = generate_answers(model, tok, [LONG, "Hi"], cfg, reads=False)
    assert answers["prompt_tokens_cut"].tolist()[1] == 0 and answers["prompt_tokens_cut"].iloc[0] > 0
    assert answers["prompt_seen"].iloc[1] == "Hi" and answers["prompt_seen"].iloc[0] != LONG
    assert stats["prompts_truncated"] == 1


def _suite_rows(cut: list[int]) -> pd.DataFrame:
    n = len(cut)
    return pd.DataFrame(
        {
            "suite": "s",
            "responder": ["m1"] * n,
            "item_id": [f"p{i}" for i in range(n)],
            "prompt": [f"full prompt {i}" for i in range(n)],
            "prompt_seen": [f"prompt {i}" if c else f"full prompt {i}" for i, c in enumerate(cut)],
            "prompt_tokens_cut": cut,
            "response": [f"answer {i}" for i in range(n)],
            "benign": [False] * n,
            "split": ["test"] * n,
            "unsafe": False,
            "calm": True,
            "tone_masked": False,
        }
    )


def test_the_audit_sheet_shows_a_cut_prompt_as_the_model_saw_it():
    sheet = draw_sheet(_suite_rows([5, 0, 0, 2]), per_model=4, seed=0).set_index("prompt_id")
    assert sheet.loc["p1", "prompt"] == "full prompt 1"  # whole: unchanged
    assert sheet.loc["p0", "prompt"].startswith("[the model saw only the end of this prompt; 5 tokens cut]")
    assert sheet.loc["p0", "prompt"].endswith("…prompt 0") and "full prompt 0" not in sheet.loc["p0", "prompt"]


def test_the_summary_counts_cut_prompts_per_suite_and_model():
    ex = {"max_prompt_tokens": 64, "max_response_tokens": 32}
    cut = {"s": {"labels": label_summary(_suite_rows([5, 0, 0, 2]))}}
    assert cut["s"]["labels"]["prompts_cut"] == {"m1": 2}
    line = truncation_line(cut, ex, own=True)
    assert "s/m1 2" in line and "raise extraction.max_prompt_tokens" in line
    whole = {"s": {"labels": label_summary(_suite_rows([0, 0]))}}
    assert "no model saw any prompt of the study cut" in truncation_line(whole, ex, own=True)


@pytest.mark.parametrize("study", ["default", "full"])
def test_the_shipped_cap_cuts_no_prompt_of_either_study(study, mirror, minilm_dir):
    """Measured with the four study models' tokenizers (tests/benchmarks/prompt_lengths.py): the longest
    prompt of either study is 174-194 tokens, and MiniLM's WordPiece count is within 0.92-1.03 x of theirs.
    The test asks twice that margin of the MiniLM count, so a tokenizer up to 2x as verbose still fits."""
    from transformers import AutoTokenizer

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text()) if study == "default" else full_config()
    cap = cfg["extraction"]["max_prompt_tokens"]
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    prompts = pd.concat(prompt_sets(cfg, mirror).values())["prompt"].tolist()
    longest = max(len(ids) for ids in tok(prompts, add_special_tokens=False)["input_ids"])
    assert 100 < longest and 2 * longest <= cap, (longest, cap)
