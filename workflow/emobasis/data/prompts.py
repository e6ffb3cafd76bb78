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
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from emobasis.data.splits import prompt_disjoint_split, stable_seed
from emobasis.data.table import TABLE_ENTRY_OPTIONS, Where, read_prompt_file
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
    df, stats = read_prompt_file(root, entry, where)
    df["group"] = df["item_id"]
    df.attrs.update(stats)  # dropped_no_prompt, counted by build_prompt_set
    return df


#: Unicode categories of the characters that make words (letters, marks and digits of every script, and other
#: symbols such as emoji); any other character (spacing, punctuation, ASCII symbols such as + or $) separates
#: words, and format characters (zero-width joiners) and variation selectors are ignored
_WORD_CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "So")


def prompt_key(prompt: str) -> str:
    """What makes two prompts the same one: the words, compared as Unicode text (NFKC, ``casefold``), ignoring
    spacing and punctuation (JailbreakBench, HarmBench and AdvBench share behaviors whose copies differ in a
    final period or a capital). Letters and digits of every script count, accents included ("Crème brûlée" ->
    "crème brûlée"), and so do symbols such as emoji; a prompt of punctuation only is its own text."""
    text = unicodedata.normalize("NFKC", str(prompt)).casefold()
    words, word = [], []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf" or 0xFE00 <= ord(ch) <= 0xFE0F:
            continue
        if cat in _WORD_CATEGORIES:
            word.append(ch)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return " ".join(words) or " ".join(text.split())


READERS = {"jailbreakbench": read_jailbreakbench_goals, "xstest": read_xstest_prompts, "table": read_prompt_table}
#: the options of a prompt entry (besides reader and source) that each reader reads; any other is refused
READER_OPTIONS = {
    "jailbreakbench": ("max",),
    "xstest": ("label", "max", "families"),
    "table": ("label", "max", *TABLE_ENTRY_OPTIONS),
}


def check_entry_options(entry: dict, key: str, error: type = PromptError) -> None:
    """Refuse an option that the entry's reader would ignore (``families`` on a table entry, ``label`` on
    JailbreakBench goals, ``label`` next to a mapped ``benign`` column). ``key``: the entry's config key."""
    allowed = READER_OPTIONS.get(entry["reader"], ())
    for opt in entry:
        if opt in ("reader", "source") or opt in allowed:
            continue
        readers = [r for r, opts in READER_OPTIONS.items() if opt in opts]
        which = f"reader{'s' if len(readers) > 1 else ''} {' and '.join(readers)}" if readers else "no reader"
        note = (
            ": JailbreakBench goals are all harmful" if entry["reader"] == "jailbreakbench" and opt == "label" else ""
        )
        raise error(f"{key}.{opt} applies to {which} only. Fix: remove it (reader {entry['reader']} ignores it{note}).")
    if entry["reader"] == "table" and "benign" in (entry.get("columns") or {}) and entry.get("label") is not None:
        raise error(
            f"{key} sets label: {entry['label']} and maps a benign column ('{entry['columns']['benign']}'); label "
            f"gives the class only when no benign column is mapped. Fix: remove {key}.label, or {key}.columns.benign."
        )


def harmful_only_allowed(suite: dict) -> bool:
    """Whether a suite's prompt set may hold harmful prompts only: a ``role: test`` suite (scored, never fit, e.g.
    caution prompts, all of which need caution) or a fit suite declared ``harmful_only``."""
    return suite.get("role") == "test" or bool(suite.get("harmful_only", False))


def _conflict_error(name: str, df: pd.DataFrame, where: pd.Series) -> PromptError:
    """The error for prompts that are the same one (:func:`prompt_key`) but of different classes."""
    keys = df["prompt"].map(prompt_key)
    classes = df.groupby(keys)["benign"].transform("nunique")
    rows = df[classes > 1]
    first = rows[keys[rows.index] == keys[rows.index[0]]]
    shown = "; ".join(
        f"{where[i]} item '{first.loc[i, 'item_id']}' ({'benign' if first.loc[i, 'benign'] else 'harmful'}): "
        f"{first.loc[i, 'prompt']!r}"
        for i in first.index[:2]
    )
    more = rows["prompt"].map(prompt_key).nunique() - 1
    return PromptError(
        f"prompt set '{name}' holds the same prompt as benign and as harmful (words compared, case, spacing and "
        f"punctuation ignored): {shown}" + (f"; and {more} more such prompt(s)" if more else "") + ". Fix: decide "
        "its class and correct the benign column or label of one of the entries, or remove the prompt from one "
        "file (keep_rows)."
    )


def _id_error(name: str, df: pd.DataFrame, where: pd.Series, entries: list[dict]) -> PromptError:
    """The error for an item id that repeats; ids made from row numbers (no ``item_id`` column) get their own fix."""
    dup = df["item_id"][df["item_id"].duplicated(keep=False)]
    first = dup[dup == dup.iloc[0]]
    places = sorted(set(where[first.index]))
    made = [i for i in sorted(set(df.loc[first.index, "_entry"])) if "item_id" not in entries[i].get("columns", {})]
    if len(made) > 1 or (made and len(places) > 1):
        keys = " and ".join(f"suites.{name}.prompts[{i}]" for i in made)
        return PromptError(
            f"prompt set '{name}': item id '{dup.iloc[0]}' repeats ({', '.join(places)}): entries that read one file "
            f"without an item_id column number its rows among the rows each keeps, so their ids clash. Fix: map "
            f"columns.item_id to a column of unique ids in {keys}."
        )
    return PromptError(
        f"prompt set '{name}': item id '{dup.iloc[0]}' repeats ({', '.join(places)}). "
        "Fix: make the item ids of its prompt files unique."
    )


def build_prompt_set(
    entries: list[dict],
    roots: dict,
    split: dict,
    seed: int,
    name: str,
    one_class: bool = False,
    exclude: dict[str, pd.DataFrame] | None = None,
    counts: list | None = None,
) -> pd.DataFrame:
    """The prompt set ``name``: each entry's prompts (seeded sample of ``max``), duplicates dropped, both
    classes checked, one prompt-disjoint split per group. ``roots``: source -> (folder, file list).
    ``one_class``: a test suite (``role: test``, scored only, e.g. caution prompts, all of which need caution)
    or a ``harmful_only`` suite may hold harmful prompts only. ``exclude``: suite -> its prompt set; a prompt
    any of them holds is dropped before ``max`` samples (so the sample is drawn from the prompts left).

    A prompt that two entries (or two rows) hold as benign and as harmful is an error naming both. ``counts``,
    a list, receives one dict per entry: the prompts it ``read``, those ``dropped_no_prompt`` (an empty prompt),
    ``dropped_excluded`` (in an ``exclude_suites`` set), ``dropped_max`` (not drawn by ``max``),
    ``dropped_duplicate`` (already in an earlier entry or row of the set) and ``kept``."""
    taken = {prompt_key(p) for other in (exclude or {}).values() for p in other["prompt"]}
    frames, stats = [], []
    for i, entry in enumerate(entries):
        reader = READERS.get(entry["reader"])
        if reader is None:
            raise PromptError(
                f"prompt set '{name}': unknown reader '{entry['reader']}'. Fix: use one of {sorted(READERS)}."
            )
        check_entry_options(entry, f"suites.{name}.prompts[{i}]")
        root, files = roots[entry["source"]]
        where = Where(f"prompt set '{name}', entry {i} ({entry['reader']})", f"suites.{name}.prompts[{i}]", PromptError)
        df = reader(Path(root), files, entry, where)
        empty = int(df.attrs.pop("dropped_no_prompt", 0))
        st = {"entry": i, "reader": entry["reader"], "source": entry["source"], "read": len(df) + empty}
        st["dropped_no_prompt"] = empty
        if taken:
            n = len(df)
            df = df[~df["prompt"].map(prompt_key).isin(taken)]
            st["dropped_excluded"] = n - len(df)
            if df.empty:
                raise PromptError(
                    f"prompt set '{name}', entry {i} ({entry['reader']}): every prompt is already in "
                    f"{sorted(exclude)} (exclude_suites). Fix: remove the entry or the exclusion."
                )
        st["classes"] = {bool(b) for b in df["benign"]}
        if entry.get("max") is not None and len(df) > entry["max"]:
            rng = np.random.default_rng(stable_seed(seed, "prompts", name, str(i)))
            st["dropped_max"] = len(df) - entry["max"]
            df = df.iloc[np.sort(rng.permutation(len(df))[: entry["max"]])]
        frames.append(
            df.assign(source=entry["source"], item_id=f"{entry['source']}:" + df["item_id"].astype(str), _entry=i)
        )
        stats.append(st)
    df = pd.concat(frames, ignore_index=True)
    where = df["_entry"].map(lambda i: f"suites.{name}.prompts[{i}]")
    if (df.groupby(df["prompt"].map(prompt_key))["benign"].nunique() > 1).any():
        raise _conflict_error(name, df, where)
    duplicate = df["prompt"].map(prompt_key).duplicated()
    for st in stats:
        st["dropped_duplicate"] = int((duplicate & (df["_entry"] == st["entry"])).sum())
    df, where = df[~duplicate].reset_index(drop=True), where[~duplicate].reset_index(drop=True)
    for benign, what, example in (
        (True, "benign", "{reader: xstest, label: safe}"),
        (False, "harmful", "{reader: jailbreakbench}"),
    ):
        if not (df["benign"] == benign).any() and not (one_class and benign):
            sampled = [
                f"suites.{name}.prompts[{st['entry']}].max"
                for st in stats
                if benign in st["classes"] and st.get("dropped_max")
            ]
            fix = (
                f"raise {' or '.join(sampled)} (its seeded sample drew no {what} prompt), or add a {what} entry"
                if sampled
                else f"add a {what} entry to suites.{name}.prompts, e.g. {example}"
            )
            raise PromptError(
                f"prompt set '{name}' has no {what} prompts; the study needs both to tell failures from "
                f"answers. Fix: {fix}"
                + (
                    " (a role: test suite, or one with harmful_only: true, may hold harmful prompts only)."
                    if benign
                    else "."
                )
            )
    if df["item_id"].duplicated().any():
        raise _id_error(name, df, where, entries)
    strata = df.groupby("group")["benign"].transform("min")
    df["split"] = prompt_disjoint_split(df["group"], strata, split, stable_seed(seed, "split", name)).to_numpy()
    df["prompt_index"] = np.arange(len(df))
    df["benign"] = df["benign"].astype(bool)
    if counts is not None:
        for st in stats:
            st.pop("classes")
            st.setdefault("dropped_excluded", 0)
            st.setdefault("dropped_max", 0)
            st["kept"] = int((df["_entry"] == st["entry"]).sum())
        counts.extend(stats)
    return df[COLUMNS]
