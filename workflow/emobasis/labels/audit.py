"""The audit set: the models' own answers read blind by the project's maintainers (``config/audit/PROTOCOL.md``).

- :func:`draw_sheet` draws the blind sheet: a seeded sample of each model's answers, stratified by suite and
  by harmful/benign prompt, shuffled across models; it holds the key (``model, prompt_id, answer_sha256``),
  the prompt and the answer, and empty label columns. No automatic label or score.
- :func:`read_audit` reads and checks a labels file (columns, values, duplicate keys).
- :func:`match_audit` joins the labels to the current answers by the key. A labelled answer whose text has
  changed (same model and prompt, another sha256) is *stale*: counted and reported, never matched.

The labels are written by the project's maintainers reading each answer; they are not crowd or user-study
labels.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.errors import AuditError, ConfigError

LABELS = ("complied", "harmful_content", "cautioned")
KEY = ("model", "prompt_id", "answer_sha256")
COLUMNS = ("model", "suite", "prompt_id", "answer_sha256", *LABELS, "reader", "round", "note")
SHEET_COLUMNS = ("model", "suite", "prompt_id", "answer_sha256", "prompt", "answer", *LABELS, "note")


def answer_sha256(text) -> str:
    """sha256 of the answer text as stored, UTF-8."""
    return hashlib.sha256(("" if text is None else str(text)).encode("utf-8")).hexdigest()


def answer_keys(table: pd.DataFrame) -> pd.DataFrame:
    """The key columns of a suite table's rows: ``model, suite, prompt_id, answer_sha256`` (index kept)."""
    return pd.DataFrame(
        {
            "model": table["responder"].astype(str),
            "suite": table["suite"].astype(str),
            "prompt_id": table["item_id"].astype(str),
            "answer_sha256": [answer_sha256(a) for a in table["response"]],
        },
        index=table.index,
    )


def draw_sheet(table: pd.DataFrame, per_model: int, seed: int) -> pd.DataFrame:
    """A blind sheet of ``per_model`` answers per model (every suite's rows of one model together).

    Each model's quota is spread over its (suite, harmful/benign) strata in proportion to their sizes (largest
    remainders, at least one per non-empty stratum), drawn with a seed derived from ``seed`` and the model;
    rows are then shuffled across models with ``seed``."""
    if per_model < 1:
        raise AuditError(f"the audit sample size is {per_model}. Fix: set audit.sheets[].per_model to 1 or more.")
    keys = answer_keys(table)
    parts = []
    for model, rows in table.groupby("responder", sort=False):
        if len(rows) < per_model:
            raise AuditError(
                f"model '{model}' has {len(rows)} answers, fewer than audit.sheets[].per_model = {per_model}. "
                "Fix: lower audit.sheets[].per_model or add prompts."
            )
        strata = rows["suite"].astype(str) + "/" + np.where(rows["benign"].astype(bool), "benign", "harmful")
        sizes = strata.value_counts().sort_index()
        quota = sizes * per_model / len(rows)
        take = np.maximum(np.floor(quota).astype(int), 1)
        for s in (quota - np.floor(quota)).sort_values(ascending=False, kind="mergesort").index:
            if take.sum() >= per_model:
                break
            take[s] += 1
        rng = np.random.default_rng(stable_seed(int(seed), f"audit-sheet/{model}"))
        for s, n in take.items():
            idx = rows.index[(strata == s).to_numpy()]
            parts.append(np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False)))
    pick = np.concatenate(parts)
    pick = pick[np.random.default_rng(stable_seed(int(seed), "audit-sheet/shuffle")).permutation(len(pick))]
    sheet = keys.loc[pick].copy()
    # the prompt exactly as the model saw it: a prompt over extraction.max_prompt_tokens kept only its end
    prompt = table.loc[pick, "prompt"].astype(str)
    if "prompt_seen" in table.columns:
        cut = table.loc[pick, "prompt_tokens_cut"].fillna(0).astype(int)
        seen = table.loc[pick, "prompt_seen"].astype(str)
        prompt = prompt.where(
            cut == 0, "[the model saw only the end of this prompt; " + cut.astype(str) + " tokens cut] …" + seen
        )
    sheet["prompt"] = prompt.to_numpy()
    sheet["answer"] = table.loc[pick, "response"].astype(str).to_numpy()
    for c in (*LABELS, "note"):
        sheet[c] = ""
    return sheet[list(SHEET_COLUMNS)].reset_index(drop=True)


def draw_sheets(table: pd.DataFrame, sheets: list[dict], seed: int) -> pd.DataFrame:
    """The sheets of ``audit.sheets`` one after the other: each draws ``per_model`` answers per model from its
    ``suites`` (:func:`draw_sheet` with the same seed, so that adding a sheet leaves the earlier ones as they
    were drawn). An answer drawn twice is kept once."""
    parts = []
    for i, sheet in enumerate(sheets):
        unknown = sorted(set(sheet["suites"]) - set(table["suite"]))
        if unknown:
            raise AuditError(
                f"audit.sheets[{i}] names suite(s) {unknown}, which the study does not answer. Fix: use some of "
                f"{sorted(set(table['suite']))}."
            )
        parts.append(draw_sheet(table[table["suite"].isin(sheet["suites"])], sheet["per_model"], seed))
    return pd.concat(parts, ignore_index=True).drop_duplicates(list(KEY)).reset_index(drop=True)


def read_audit(path, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """The audit labels of ``path`` (one CSV, or a list of them read as one set), checked: the columns of the
    protocol, label values in {0, 1, empty} (as nullable booleans), no duplicate key within or across files;
    with ``known`` (:func:`answer_keys` of the study's answers), every model and (model, prompt) must exist in
    the study. ``path=None`` or ``[]``: no audit yet (an empty frame).

    A list lets a study add the labels of models only it runs (the full study's
    ``config/audit/labels-full.csv``) to the project's shared file, while a study that does not run those
    models never reads them, so a misspelt model id stays an error everywhere."""
    paths = audit_files(path)
    if not paths:
        empty = pd.DataFrame({c: pd.Series(dtype=str) for c in COLUMNS})
        for c in LABELS:
            empty[c] = empty[c].astype("boolean")
        return empty
    frames = [_read_audit_file(p, known) for p in paths]
    df = pd.concat(frames, ignore_index=True)
    dup = df.duplicated(list(KEY), keep=False)
    if dup.any():
        where = df.loc[dup, "_file"].unique().tolist()
        first = df.loc[dup, list(KEY)].iloc[0]
        raise AuditError(
            f"{' and '.join(where)} label the same answer (model, prompt_id, answer_sha256) = "
            f"({', '.join(first)}). Fix: keep each answer in one file (a second reader's labels go in "
            "audit.second_reads)."
        )
    return df.drop(columns="_file")


def audit_files(value) -> list[str]:
    """The files of ``audit.labels`` or ``audit.second_reads``: one path or a list of them (``[]``: none)."""
    return [] if value is None else [value] if isinstance(value, (str, Path)) else [str(p) for p in value]


def _check_audit_models(path: Path, key: str, models: list[str]) -> None:
    """An audit file may label only the study's models: one that names others (the default's labels inherited
    by a study of other models) would fail label_validity after all the generation. (Suites may differ: an
    answer is matched by model, prompt and hash, and the full study holds the default's prompts in other
    suites.)"""
    if path.stat().st_size == 0:
        return  # read_audit names an empty file and its fix
    try:
        head = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda c: c == "model")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return  # read_audit reports a malformed file with its line
    unknown = sorted(set(head["model"]) - set(models) - {""}) if "model" in head else []
    if unknown:
        raise ConfigError(
            f"{key} names '{path.name}', which labels models the study does not run: {unknown[:5]}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            + f" (the study's models: {', '.join(models)}). Fix: give this study an {key} of its own (its own "
            "models' labels; [] while none is read yet), as config/study-gpu.yaml does."
        )


def check_audit_config(cfg: dict, folders: list[Path]) -> None:
    """The audit block of an own-answer study, checked when the config is read: every file that ``audit.labels``
    and ``audit.second_reads`` name exists (relative to one of ``folders``: the working directory, the workflow's
    folder), and every suite an ``audit.sheets`` entry draws from is one of the study's."""
    audit = cfg.get("audit")
    if audit is None or cfg["study"].get("reader_mode") != "own_answers":
        return
    models = [m["id"] for m in cfg["models"]]
    for key in ("labels", "second_reads"):
        for path in audit_files(audit.get(key)):
            found = next((Path(folder) / path for folder in folders if (Path(folder) / path).is_file()), None)
            if found is not None:
                _check_audit_models(found, f"audit.{key}", models)
            else:
                raise ConfigError(
                    f"audit.{key} names '{path}', which does not exist (looked in {', '.join(map(str, folders))}). "
                    f"Fix: correct the path in audit.{key}"
                    + (
                        ", or set audit.labels: [] while no answer is audited yet."
                        if key == "labels"
                        else ", or remove it."
                    )
                )
    suites = cfg["study"]["suites"]
    for i, sheet in enumerate(audit["sheets"]):
        unknown = [s for s in sheet["suites"] if s not in suites]
        if unknown:
            raise ConfigError(
                f"audit.sheets[{i}].suites names {unknown}, which the study does not answer (study.suites: "
                f"{', '.join(suites)}). Fix: use some of the study's suites in audit.sheets[{i}].suites."
            )


SHA256 = re.compile(r"[0-9a-f]{64}")


def _answer_hashes(df: pd.DataFrame, path) -> pd.Series:
    """The ``answer_sha256`` column as 64 lower-case hex digits: upper case and spaces are normalized, with a
    warning (else every such row would read as stale, as if its answer had changed); anything else is an error."""
    raw = df["answer_sha256"]
    norm = raw.str.replace(r"\s+", "", regex=True).str.lower()
    bad = ~norm.map(lambda h: bool(SHA256.fullmatch(h)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AuditError(
            f"{path}, line {i + 2}: answer_sha256 = {raw.iloc[i]!r} is not a sha256 ({int(bad.sum())} such row(s)). "
            "Fix: copy the answer_sha256 of the blind sheet (results/audit/sheet.csv): 64 lower-case hex digits."
        )
    changed = int((norm != raw).sum())
    if changed:
        warnings.warn(
            f"note: {path}: {changed} answer_sha256 value(s) in upper case or with spaces were normalized to "
            "64 lower-case hex digits.",
            stacklevel=3,
        )
    return norm


def _read_audit_file(path, known: pd.DataFrame | None) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise AuditError(
            f"the audit labels {path} are empty (0 bytes, not even a header). Fix: write the header line "
            f"{','.join(COLUMNS)} (config/audit/PROTOCOL.md), or remove the file from audit.labels / "
            "audit.second_reads."
        ) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read the audit labels {path}: {exc}. Fix: give a UTF-8 CSV (PROTOCOL.md).") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise AuditError(
            f"the audit labels {path} lack columns {missing}. Fix: use the columns of config/audit/PROTOCOL.md: "
            f"{', '.join(COLUMNS)}."
        )
    df["answer_sha256"] = _answer_hashes(df, path)
    for c in LABELS:
        values = df[c].str.strip()
        bad = ~values.isin(["0", "1", ""])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AuditError(
                f"{path}, line {i + 2}: {c} = '{df[c].iloc[i]}', outside {{0, 1, empty}}. Fix: write 0, 1 or "
                "leave it empty (unreadable; say why in note)."
            )
        df[c] = values.map({"1": True, "0": False, "": pd.NA}).astype("boolean")
    dup = df.duplicated(list(KEY), keep=False)
    if dup.any():
        i = np.flatnonzero(dup)[:2]
        raise AuditError(
            f"{path}: lines {', '.join(str(j + 2) for j in i)} have the same key (model, prompt_id, answer_sha256) "
            f"= ({', '.join(df.loc[i[0], list(KEY)])}). Fix: keep one row per answer (a second reader's labels go "
            "in a separate file)."
        )
    if known is not None:
        models = set(known["model"])
        unknown = sorted(set(df["model"]) - models)
        if unknown:
            raise AuditError(
                f"{path} labels answers of model(s) {unknown}, which the study does not run. Fix: remove those "
                f"rows or correct the model id (the study's: {', '.join(sorted(models))}), or list the file only in "
                "the config of the study that runs them (audit.labels takes a list)."
            )
        pairs = set(zip(known["model"], known["prompt_id"]))
        off = [(m, p) for m, p in zip(df["model"], df["prompt_id"]) if (m, p) not in pairs]
        if off:
            raise AuditError(
                f"{path} labels {len(off)} answer(s) to prompts the study does not hold, e.g. model '{off[0][0]}', "
                f"prompt '{off[0][1]}'. Fix: remove them or correct prompt_id (a prompt set's item_id)."
            )
    df["_file"] = str(path)
    return df


def match_audit(keys: pd.DataFrame, audit: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join audit labels to answers by the full key.

    Returns ``(labels, status)``: ``labels`` has one row per row of ``keys`` (same index) with the label columns
    (``<NA>`` when unlabelled); ``status`` has per model ``audited`` (rows matched), ``stale`` (audit rows of the
    model's prompts whose sha256 no longer matches its answer: its text changed) and ``answers``."""
    a = audit.set_index(list(KEY))
    idx = pd.MultiIndex.from_frame(keys[list(KEY)])
    labels = a.reindex(idx)[list(LABELS)]
    labels.index = keys.index
    matched = labels.notna().any(axis=1)
    now = set(zip(keys["model"], keys["prompt_id"], keys["answer_sha256"]))
    pairs = set(zip(keys["model"], keys["prompt_id"]))
    stale = [
        (m, p)
        for m, p, h in zip(audit["model"], audit["prompt_id"], audit["answer_sha256"])
        if (m, p) in pairs and (m, p, h) not in now
    ]
    status = (
        pd.DataFrame(
            {
                "answers": keys.groupby("model", sort=False).size(),
                "audited": matched.groupby(keys["model"], sort=False).sum(),
                "stale": pd.Series([m for m, _ in stale], dtype=str).value_counts(),
            }
        )
        .reindex(list(dict.fromkeys(keys["model"])))
        .fillna(0)
        .astype(int)
        .rename_axis("model")
        .reset_index()
    )
    return labels, status
