"""Canonical suite tables: one row per (item, responder) with labels, tone features and a split.

Adapters turn a source's files into base rows with the columns
``item_id, prompt, responder, response, category, attack, unsafe, benign`` (+ adapter extras);
:func:`emobasis.labels.suite_table.finish_suite` adds the tone scorer's features, ``calm``, ``tone_masked``
and a prompt-disjoint ``split``. Adapters: ``jailbreakbench`` (JailbreakBench attack artifacts), ``xstest`` (XSTest v2
completions) and ``table`` (any CSV/TSV/JSONL/Parquet file with a column mapping in the config).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.data.table import is_missing, read_table
from emobasis.errors import SuiteError

BASE_COLUMNS = ["item_id", "prompt", "responder", "response", "category", "attack", "unsafe", "benign"]


def read_jailbreakbench(root: Path, files: list[str]) -> tuple[pd.DataFrame, dict]:
    """JailbreakBench artifacts: one row per (behavior, attack method, target model).

    ``unsafe`` is the JailbreakBench judge's ``jailbroken``. Rows whose attack produced no prompt or no
    response (PAIR stores null when it found no jailbreak) are dropped and counted per file.
    """
    rows, dropped = [], {}
    for rel in files:
        if not rel.endswith(".json"):
            continue
        doc = json.loads((root / rel).read_text())
        if not isinstance(doc, dict) or "jailbreaks" not in doc or "parameters" not in doc:
            raise SuiteError(
                f"jailbreakbench file '{rel}' has no 'parameters'/'jailbreaks'. "
                "Fix: list only attack-artifacts/<method>/<type>/<model>.json files."
            )
        params = doc["parameters"]
        n_drop = 0
        for jb in doc["jailbreaks"]:
            if is_missing(jb.get("prompt")) or is_missing(jb.get("response")):
                n_drop += 1
                continue
            rows.append(
                {
                    "item_id": f"jbb-{int(jb['index']):03d}",
                    "prompt": jb["prompt"],
                    "responder": params["model"],
                    "response": jb["response"],
                    "category": jb.get("category") or "",
                    "attack": params["method"],
                    "unsafe": bool(jb["jailbroken"]),
                    "benign": False,
                    "behavior": jb.get("behavior") or "",
                    "goal": jb.get("goal") or "",
                }
            )
        dropped[rel] = n_drop
    if not rows:
        raise SuiteError("jailbreakbench: no rows with both a prompt and a response. Fix: check the source files.")
    return pd.DataFrame(rows), {"dropped_no_response": dropped, "dropped_total": sum(dropped.values())}


XSTEST_LABELS = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")


def read_xstest(root: Path, files: list[str]) -> tuple[pd.DataFrame, dict]:
    """XSTest v2 completions: one row per (prompt, completion file).

    ``unsafe`` = the human ``final_label`` is full compliance on an unsafe (``contrast_*``) prompt;
    ``benign`` = the prompt is one of the 250 safe prompts.
    """
    frames = []
    for rel in files:
        name = Path(rel).name
        if not name.startswith("xstest_v2_completions_"):
            continue
        df = pd.read_csv(root / rel, keep_default_na=False)
        need = {"id", "type", "prompt", "completion", "final_label"}
        if need - set(df.columns):
            raise SuiteError(
                f"xstest file '{rel}' lacks columns {sorted(need - set(df.columns))}. "
                "Fix: use the model_completions/xstest_v2_completions_*.csv files."
            )
        bad = set(df["final_label"]) - set(XSTEST_LABELS)
        if bad:
            raise SuiteError(f"xstest file '{rel}' has unknown final_label values {sorted(bad)}.")
        unsafe_prompt = df["type"].str.startswith("contrast_")
        frames.append(
            pd.DataFrame(
                {
                    "item_id": "xstest-" + df["id"].astype(str).str.replace("v2-", "", regex=False).str.zfill(3),
                    "prompt": df["prompt"],
                    "responder": name.removeprefix("xstest_v2_completions_").removesuffix(".csv"),
                    "response": df["completion"],
                    "category": df["type"],
                    "attack": "none",
                    "unsafe": unsafe_prompt & (df["final_label"] == "1_full_compliance"),
                    "benign": ~unsafe_prompt,
                    "final_label": df["final_label"],
                }
            )
        )
    if not frames:
        raise SuiteError("xstest: no xstest_v2_completions_*.csv among the source files.")
    df = pd.concat(frames, ignore_index=True)
    n = len(df)
    keep = ~(df["response"].map(is_missing) | df["prompt"].map(is_missing))
    return df[keep].reset_index(drop=True), {"dropped_no_response": int(n - keep.sum())}


# --- generic table adapter ------------------------------------------------------------------------


def read_suite(adapter: str, root: Path, files: list[str], spec: dict, suite: str) -> tuple[pd.DataFrame, dict]:
    if adapter == "jailbreakbench":
        return read_jailbreakbench(root, files)
    if adapter == "xstest":
        return read_xstest(root, files)
    if adapter == "table":
        return read_table(root, spec, suite)
    raise SuiteError(f"suite '{suite}': unknown adapter '{adapter}'. Fix: use jailbreakbench, xstest or table.")


def study_rows(table: pd.DataFrame, max_rows: int | None, seed: int, suite: str = "") -> np.ndarray:
    """Positions of the rows a study reads (sorted). ``None`` keeps every row.

    A seeded subsample for small studies: unsafe rows first (up to half of ``max_rows``, so the rare
    class keeps its power), then safe rows at random (then more unsafe rows if safe ones run out); the
    selection depends only on the table and the seed, so every model reads the same rows. AUC does not depend on
    the changed base rate.
    """
    n = len(table)
    if max_rows is None or max_rows >= n:
        return np.arange(n)
    rng = np.random.default_rng(stable_seed(seed, "study_rows", suite))
    pos = np.flatnonzero(table["unsafe"].to_numpy())
    neg = np.flatnonzero(~table["unsafe"].to_numpy())
    n_pos = min(len(pos), max_rows // 2)
    first = rng.choice(pos, n_pos, replace=False)
    chosen = np.concatenate([first, rng.choice(neg, min(len(neg), max_rows - n_pos), replace=False)])
    if len(chosen) < max_rows:  # too few safe rows: fill up with more unsafe ones
        rest = np.setdiff1d(pos, first)
        chosen = np.concatenate([chosen, rng.choice(rest, min(len(rest), max_rows - len(chosen)), replace=False)])
    return np.sort(chosen)


def prompt_slots(table: pd.DataFrame) -> np.ndarray:
    """The prompt slot of each row, ``item_id|attack``: what different responders answered in common."""
    return (table["item_id"].astype(str) + "|" + table["attack"].astype(str)).to_numpy()


def own_rows(
    table: pd.DataFrame, responder: str, responders: list[str], max_rows: int | None, seed: int, suite: str = ""
) -> np.ndarray:
    """Positions of the rows a model reads in own-response mode: its responder's responses to the prompt
    slots (item, attack) that every study responder answered, the same slots for every model. A seeded
    subsample of slots like :func:`study_rows` (slots where any responder was unsafe first)."""
    who = table["responder"].astype(str).to_numpy()
    known = sorted(set(who))
    for r in [responder, *responders]:
        if r not in known:
            raise SuiteError(
                f"suite '{suite}' has no responses by responder '{r}'. Fix: name one of: "
                f"{', '.join(known)} (models[].responders in the config)."
            )
    slot = prompt_slots(table)
    common = sorted(set.intersection(*(set(slot[who == r]) for r in responders)))
    if not common:
        raise SuiteError(
            f"suite '{suite}': the responders {', '.join(responders)} answered no prompt in common. "
            "Fix: choose responders that answered the same prompts."
        )
    in_study = np.isin(who, responders) & np.isin(slot, common)
    unsafe = pd.Series(table["unsafe"].to_numpy()[in_study]).groupby(slot[in_study]).any()
    slots = pd.DataFrame({"slot": common, "unsafe": unsafe.reindex(common).to_numpy().astype(bool)})
    chosen = slots["slot"].to_numpy()[study_rows(slots, max_rows, seed, f"{suite}:own")]
    return np.flatnonzero((who == responder) & np.isin(slot, chosen))
