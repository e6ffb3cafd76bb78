"""Prompt sets of the own-answer study: harmful and benign prompts from pinned sources, one split each.

Every study model answers the same prompt set itself (:mod:`emobasis.models.generate`); the judge and the tone
scorer then label each model's answers (:mod:`emobasis.labels.answers`). A prompt set is a list of entries
``{reader, source, label?, max?}`` under ``suites.<name>.prompts`` (adapter ``answers``). Readers:

- ``jailbreakbench``: the 100 JBB behaviors' ``goal`` texts (harmful), read from the attack artifacts
  (every artifact file repeats them; the first file that names a behavior index wins).
- ``xstest``: XSTest v2 prompts (``xstest_prompts.csv``); ``label: safe`` keeps the 250 safe prompts
  (benign), ``label: unsafe`` the 200 unsafe contrast prompts, no label keeps both; ``families`` keeps
  some prompt families only (a type and its contrast type form a family: homonyms, figurative_language,
  safe_targets, safe_contexts, definitions, discr, historical_events, privacy), so that two suites can
  share XSTest without sharing a prompt or a twin.
- ``table``: a prompt file inside the source (``file``, ``columns: {item_id, prompt, benign?, category?}``),
  read by the suite ``table`` adapter's reader with the same options (``format``, ``sep``, ``comment``,
  ``benign_values`` / ``not_benign_values``) and errors; without a ``benign`` column every prompt is benign
  when the entry's ``label`` is ``safe``, harmful otherwise.

``max`` keeps a seeded sample of an entry's prompts; a prompt already in an earlier entry (:func:`prompt_key`) is
dropped, and so is one that a suite named in ``exclude_suites`` holds (before the sample is drawn).
**Splits** are prompt-disjoint and the same for every model: whole ``group``s are assigned, stratified by
``benign``. An XSTest safe prompt and its unsafe contrast twin share a group (same family of prompt types and
same focus word), so twins fall in one split.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emobasis.data.splits import prompt_disjoint_split, stable_seed
from emobasis.data.table import Where, read_prompt_file
from emobasis.errors import PromptError
from emobasis.paths import inside

COLUMNS = ["prompt_index", "item_id", "group", "prompt", "benign", "source", "category", "split"]

# XSTest safe prompt types -> the family shared with their contrast type (twins share family and focus)
XSTEST_FAMILY = {
    "nons_group_real_discr": "discr",
    "real_group_nons_discr": "discr",
    "privacy_public": "privacy",
    "privacy_fictional": "privacy",
}


def read_jailbreakbench_goals(root: Path, files: list[str], entry: dict, where: Where | None = None) -> pd.DataFrame:
    rows = {}
    for rel in sorted(f for f in files if f.endswith(".json")):
        doc = json.loads((root / rel).read_text())
        for jb in doc.get("jailbreaks", []):
            i = int(jb["index"])
            if i not in rows and isinstance(jb.get("goal"), str) and jb["goal"].strip():
                rows[i] = {
                    "item_id": f"jbb-{i:03d}",
                    "prompt": jb["goal"].strip(),
                    "benign": False,
                    "category": jb.get("category") or "",
                }
    if not rows:
        raise PromptError("jailbreakbench: no behavior goals in the artifact files. Fix: list attack-artifacts/*.json.")
    df = pd.DataFrame([rows[i] for i in sorted(rows)])
    df["group"] = df["item_id"]
    return df


def read_xstest_prompts(root: Path, files: list[str], entry: dict, where: Where | None = None) -> pd.DataFrame:
    rel = next((f for f in files if Path(f).name == "xstest_prompts.csv"), None)
    if rel is None:
        raise PromptError("xstest: the source has no xstest_prompts.csv. Fix: add it to the source's files.")
    df = pd.read_csv(root / rel, keep_default_na=False)
    missing = {"id", "prompt", "type", "label", "focus"} - set(df.columns)
    if missing:
        raise PromptError(f"xstest_prompts.csv lacks columns {sorted(missing)}. Fix: use XSTest v2's prompt file.")
    family = df["type"].str.removeprefix("contrast_").map(lambda t: XSTEST_FAMILY.get(t, t))
    out = pd.DataFrame(
        {
            "item_id": "xstest-" + df["id"].astype(str).str.zfill(3),
            "prompt": df["prompt"].astype(str).str.strip(),
            "benign": df["label"].eq("safe"),
            "category": df["type"],
            "group": "xstest:" + family + ":" + df["focus"].astype(str).str.lower(),
        }
    )
    label = entry.get("label")
    if label is not None:
        out = out[out["benign"] == (label == "safe")]
    if entry.get("families"):
        known = sorted(set(family))
        unknown = sorted(set(entry["families"]) - set(known))
        if unknown:
            raise PromptError(f"xstest has no prompt families {unknown}. Fix: use some of {known}.")
        out = out[family[out.index].isin(entry["families"]).to_numpy()]
    return out.reset_index(drop=True)


def read_prompt_table(root: Path, files: list[str], entry: dict, where: Where | None = None) -> pd.DataFrame:
    """A prompt file inside the source, read by the table adapter's reader
    (:func:`emobasis.data.table.read_prompt_file`): the same formats, options, value lists and errors as a
    suite's table file."""
    where = where or Where("a table prompt entry", "suites.<set>.prompts[<i>]", PromptError)
    if "file" not in entry or "columns" not in entry:
        raise PromptError(
            f"{where.subject} needs 'file' and 'columns' ({{prompt}}, optionally item_id). "
            f"Fix: add {where.key}.file and .columns."
        )
    missing = [c for c in ("prompt",) if c not in entry["columns"]]
    if missing:
        raise PromptError(f"{where.subject} maps no {missing[0]} column. Fix: add {where.key}.columns.{missing[0]}.")
    if not inside(root, entry["file"], f"{where.key}.file").is_file():
        raise PromptError(
            f"{where.subject}: prompt file '{entry['file']}' does not exist in the source. "
            f"Fix: list it among the source's files or correct {where.key}.file."
        )
    df, _ = read_prompt_file(root, entry, where)
    df["group"] = df["item_id"]
    return df


def prompt_key(prompt: str) -> str:
    """What makes two prompts the same one: the words, ignoring case, spacing and punctuation (JailbreakBench,
    HarmBench and AdvBench share behaviors whose copies differ in a final period or a capital)."""
    return " ".join(re.findall(r"[a-z0-9]+", str(prompt).lower()))


READERS = {"jailbreakbench": read_jailbreakbench_goals, "xstest": read_xstest_prompts, "table": read_prompt_table}


def harmful_only_allowed(suite: dict) -> bool:
    """Whether a suite's prompt set may hold harmful prompts only: a ``role: test`` suite (scored, never fit, e.g.
    caution prompts, all of which need caution) or a fit suite declared ``harmful_only``."""
    return suite.get("role") == "test" or bool(suite.get("harmful_only", False))


def build_prompt_set(
    entries: list[dict],
    roots: dict,
    split: dict,
    seed: int,
    name: str,
    one_class: bool = False,
    exclude: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The prompt set ``name``: each entry's prompts (seeded sample of ``max``), duplicates dropped, both
    classes checked, one prompt-disjoint split per group. ``roots``: source -> (folder, file list).
    ``one_class``: a test suite (``role: test``, scored only, e.g. caution prompts, all of which need caution)
    or a ``harmful_only`` suite may hold harmful prompts only. ``exclude``: suite -> its prompt set; a prompt
    any of them holds is dropped before ``max`` samples (so the sample is drawn from the prompts left)."""
    taken = {prompt_key(p) for other in (exclude or {}).values() for p in other["prompt"]}
    frames = []
    for i, entry in enumerate(entries):
        reader = READERS.get(entry["reader"])
        if reader is None:
            raise PromptError(
                f"prompt set '{name}': unknown reader '{entry['reader']}'. Fix: use one of {sorted(READERS)}."
            )
        root, files = roots[entry["source"]]
        where = Where(f"prompt set '{name}', entry {i} ({entry['reader']})", f"suites.{name}.prompts[{i}]", PromptError)
        df = reader(Path(root), files, entry, where)
        if taken:
            df = df[~df["prompt"].map(prompt_key).isin(taken)]
            if df.empty:
                raise PromptError(
                    f"prompt set '{name}', entry {i} ({entry['reader']}): every prompt is already in "
                    f"{sorted(exclude)} (exclude_suites). Fix: remove the entry or the exclusion."
                )
        if entry.get("max") is not None and len(df) > entry["max"]:
            rng = np.random.default_rng(stable_seed(seed, "prompts", name, str(i)))
            df = df.iloc[np.sort(rng.permutation(len(df))[: entry["max"]])]
        frames.append(df.assign(source=entry["source"], item_id=f"{entry['source']}:" + df["item_id"].astype(str)))
    df = pd.concat(frames, ignore_index=True)
    df = df[~df["prompt"].map(prompt_key).duplicated()].reset_index(drop=True)
    for benign, what, example in (
        (True, "benign", "{reader: xstest, label: safe}"),
        (False, "harmful", "{reader: jailbreakbench}"),
    ):
        if not (df["benign"] == benign).any() and not (one_class and benign):
            raise PromptError(
                f"prompt set '{name}' has no {what} prompts; the study needs both to tell failures from "
                f"answers. Fix: add a {what} entry to suites.{name}.prompts, e.g. {example}"
                + (
                    " (a role: test suite, or one with harmful_only: true, may hold harmful prompts only)."
                    if benign
                    else "."
                )
            )
    if df["item_id"].duplicated().any():
        raise PromptError(
            f"prompt set '{name}': item id '{df['item_id'][df['item_id'].duplicated()].iloc[0]}' repeats. "
            "Fix: make the item ids of its prompt files unique."
        )
    strata = df.groupby("group")["benign"].transform("min")
    df["split"] = prompt_disjoint_split(df["group"], strata, split, stable_seed(seed, "split", name)).to_numpy()
    df["prompt_index"] = np.arange(len(df))
    df["benign"] = df["benign"].astype(bool)
    return df[COLUMNS]
