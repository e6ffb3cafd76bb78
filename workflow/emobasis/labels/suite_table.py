"""The canonical suite table: an adapter's base rows (:mod:`emobasis.data.suites`) with the tone scorer's
features, ``calm``, ``tone_masked``, row ids and a prompt-disjoint split; and its label balance."""

from __future__ import annotations

import pandas as pd

from emobasis.data.splits import prompt_disjoint_split, stable_seed
from emobasis.errors import SuiteError
from emobasis.labels.tone import score_tone

TABLE_COLUMNS = [
    "suite",
    "row_id",
    "item_id",
    "prompt",
    "responder",
    "response",
    "category",
    "attack",
    "unsafe",
    "benign",
    "calm",
    "tone_masked",
    "split",
]


def finish_suite(base: pd.DataFrame, suite: str, split_fractions: dict, tone_cfg: dict, seed: int) -> pd.DataFrame:
    """Add tone features, ``calm``, ``tone_masked``, row ids and a prompt-disjoint split to base rows."""
    if base.empty:
        raise SuiteError(f"suite '{suite}' has no rows. Fix: check its source files and column mapping.")
    df = base.reset_index(drop=True).copy()
    df.insert(0, "suite", suite)
    df["response"] = df["response"].astype(str)
    df["prompt"] = df["prompt"].astype(str)
    df["unsafe"] = df["unsafe"].astype(bool)
    df["benign"] = df["benign"].astype(bool)
    tone = score_tone(df["response"], tone_cfg["weights"], tone_cfg["threshold"])
    df["calm"] = tone["calm"].to_numpy()
    df["tone_masked"] = df["unsafe"] & df["calm"]
    key = df["item_id"] + "|" + df["responder"] + "|" + df["attack"]
    dup = key.duplicated(keep=False)
    if dup.any():  # e.g. two rows with the same item and responder in a user table: number them
        key = key + "|" + df.groupby(key).cumcount().astype(str)
    df["row_id"] = suite + ":" + key
    df["split"] = prompt_disjoint_split(df["item_id"], df["unsafe"], split_fractions, stable_seed(seed, "split", suite))
    for c in tone.columns:
        if c.startswith("tone_"):
            df[c] = tone[c].to_numpy()
    extras = [c for c in df.columns if c not in TABLE_COLUMNS]
    return df[TABLE_COLUMNS + extras]


def label_summary(df: pd.DataFrame) -> dict:
    """Row counts and label balance, overall and per split."""

    def counts(d):
        return {
            "rows": int(len(d)),
            "items": int(d["item_id"].nunique()),
            **{k: int(d[k].sum()) for k in ("unsafe", "calm", "tone_masked", "benign")},
        }

    out = {
        "all": counts(df),
        **{s: counts(d) for s, d in df.groupby("split")},
        "responders": {r: counts(d) for r, d in df.groupby("responder")},
    }
    if "prompt_tokens_cut" in df.columns:  # own answers: the prompts each model saw cut (max_prompt_tokens)
        cut = df["prompt_tokens_cut"].fillna(0).astype(int) > 0
        out["prompts_cut"] = {str(r): int(c.sum()) for r, c in cut.groupby(df["responder"])}
    return out
