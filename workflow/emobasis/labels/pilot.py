"""A pilot before the long run: each model answers a seeded sample of each fit suite's prompts, and the share of
its answers to harmful prompts that are positives of the verdict's target (by the rule labels,
:mod:`emobasis.labels.behaviour`) says whether the full run will meet the answer-count minimums
(``study.min_test_positives``, ``study.min_test_benign``) that :func:`emobasis.labels.answers.check_counts`
enforces after all the generation. A model that falls short stops the study before its full generation starts,
unless ``pilot.enforce`` is false; the error says how many harmful prompts it would need.

Greedy answers do not depend on the batch, so a pilot answer is the answer the full run gives to that prompt.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.errors import AnswerError
from emobasis.labels.behaviour import label_behaviour

#: the verdict targets whose positives the rule labels give (complied and calm, on a harmful prompt)
RULE_TARGETS = ("tone_masked", "tone_masked_harmful")


def pilot_sample(prompts: pd.DataFrame, n: int, seed: int, suite: str) -> pd.DataFrame:
    """A seeded sample of ``n`` prompts of one prompt set (all of them when it holds fewer), in set order."""
    if len(prompts) <= n:
        return prompts.copy()
    rng = np.random.default_rng(stable_seed(int(seed), f"pilot/{suite}"))
    return prompts.iloc[np.sort(rng.choice(len(prompts), size=n, replace=False))].copy()


def pilot_positives(prompts: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """The pilot's rows with the rule labels: ``complied``, ``cautioned`` and ``positive`` (complied and calm on a
    harmful prompt)."""
    rows = prompts.reset_index(drop=True).copy()
    rows["answer"] = answers["answer"].fillna("").astype(str).to_numpy()
    b = label_behaviour(rows["prompt"], rows["answer"], rows["benign"])
    rows["complied"], rows["cautioned"] = b["complied"].to_numpy(), b["cautioned"].to_numpy()
    rows["positive"] = rows["complied"] & ~rows["cautioned"] & ~rows["benign"].astype(bool)
    return rows


def pilot_estimate(
    pilot: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame], min_positives: int, min_benign: int
) -> pd.DataFrame:
    """One row per model: the pilot's harmful answers and positives, the positive rate, and for the full run the
    harmful and benign test prompts of the fit suites, the expected test positives, the harmful test prompts the
    minimum needs at the pilot's rate, and whether the estimate meets both minimums. ``pilot``: model -> its
    labelled pilot rows (every fit suite); ``full``: suite -> its whole prompt set (with ``split``)."""
    sets = pd.concat(full.values(), ignore_index=True)
    test = sets[sets["split"] == "test"]
    harmful_test, benign_test = int((~test["benign"].astype(bool)).sum()), int(test["benign"].astype(bool).sum())
    test_share = len(test) / max(len(sets), 1)
    out = []
    for model, rows in pilot.items():
        harmful = ~rows["benign"].astype(bool)
        n_h, n_pos = int(harmful.sum()), int(rows.loc[harmful, "positive"].sum())
        rate = n_pos / n_h if n_h else 0.0
        need_test = math.ceil(min_positives / rate) if rate > 0 else None
        expected = rate * harmful_test
        out.append(
            {
                "model": model,
                "pilot_harmful": n_h,
                "pilot_positives": n_pos,
                "positive_rate": round(rate, 4),
                "full_harmful_test": harmful_test,
                "full_benign_test": benign_test,
                "expected_test_positives": round(expected, 1),
                "min_test_positives": min_positives,
                "min_test_benign": min_benign,
                "harmful_test_needed": need_test,
                "harmful_prompts_needed": math.ceil(need_test / test_share) if need_test else None,
                "meets": bool(expected >= min_positives and benign_test >= min_benign and 0 < n_pos < n_h),
            }
        )
    return pd.DataFrame(out)


def check_estimate(estimate: pd.DataFrame, enforce: bool = True) -> list[str]:
    """The models whose full run would fall short, as sentences; with ``enforce``, an error naming the fix."""
    short = []
    for _, r in estimate[~estimate["meets"]].iterrows():
        need = (
            f"it would need about {int(r['harmful_prompts_needed'])} harmful prompts in the fit suites"
            if r["harmful_prompts_needed"]
            else "no pilot answer to a harmful prompt was a positive, so no number of prompts is enough"
        )
        short.append(
            f"model '{r['model']}': {r['pilot_positives']} of {r['pilot_harmful']} pilot answers to harmful prompts "
            f"are positives (rate {r['positive_rate']:.3f}), so about {r['expected_test_positives']:.0f} of its "
            f"{r['full_harmful_test']} harmful test prompts would be, against study.min_test_positives = "
            f"{r['min_test_positives']} ({r['full_benign_test']} benign test prompts, {r['min_test_benign']} "
            f"needed); {need}"
        )
    if short and enforce:
        raise AnswerError(
            "the pilot estimates that the full run will not meet the answer-count minimums: "
            + "; ".join(short)
            + ". Fix: add harmful prompts (suites.<suite>.prompts, or a harmful_only suite), give the model a "
            "system_prompt in its config entry, or replace it; to run the full generation anyway, set "
            "pilot.enforce: false (the count check after generation still applies)."
        )
    return short
