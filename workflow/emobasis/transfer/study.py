"""The study as the cross-model stages see it: every model's reads, profiles and labels, rows aligned.

:func:`load_study` assembles :class:`StudyData` from the workflow's files (see :mod:`emobasis.paths`).
Two reading modes: in **reader** mode every model read the same study rows; in **own-response** mode
(the activation manifests name a responder) each model read its own responder's responses, and the
models are aligned on the prompt slots (item, attack) that every model answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from emobasis.concepts.profiles import stimulus_profiles
from emobasis.data.splits import train_side
from emobasis.errors import TransferError
from emobasis.labels.targets import (
    CONDITION_NAMES,
    CONDITIONAL_TARGETS,
    MIN_CONDITIONAL_CLASS,
    condition_rows,
    label_column,
)

#: columns that belong to one response (and so to one model in own-response mode); the rest describe the
#: prompt slot (item_id, split, suite, benign, attack, category, ...) and are shared by every model
RESPONSE_COLUMNS = (
    "row_id",
    "prompt",
    "responder",
    "response",
    "unsafe",
    "calm",
    "tone_masked",
    "tone_score",
    "tone_refusal",
    "tone_warning",
    "tone_hedge",
    "tone_alarm",
)


@dataclass
class StudyData:
    """Everything LOMO needs, rows aligned across models.

    Reader mode (``own is None``): every model read the same study rows, in the same order; ``rows`` holds
    them. Own-response mode: each model read its own responder's responses; ``rows`` holds the prompt slots
    (item, attack) every model answered, with the slot columns only, and ``own[m]`` the model's own rows
    (labels, texts) aligned with them. Use :meth:`table` and :meth:`y` for anything a response decides."""

    rows: pd.DataFrame  # row_id, item_id, split, suite, benign, calm, tone_score, response, + targets
    X: dict[str, dict[str, np.ndarray]]  # model -> position -> [n, d_m] suite activations
    Z: dict[str, dict[str, np.ndarray]]  # model -> position -> [n, K] concept profiles
    shared: dict[str, np.ndarray]  # model -> [n_shared, d_m] stimulus activations (unlabelled)
    concepts: list[str]
    embeddings: np.ndarray | dict | None = None  # [n, e] sentence embeddings of the responses (per model if own)
    layers: dict[str, int] = field(default_factory=dict)
    own: dict[str, pd.DataFrame] | None = None
    prompt_embeddings: dict | None = None  # model -> [n, e] sentence embeddings of the prompts (own answers)
    shared_Z: dict[str, np.ndarray] | None = None  # model -> [n_shared, K] concept profiles of the stimuli
    concept_kinds: dict[str, str] = field(default_factory=dict)  # concept -> emotions | controls

    @property
    def models(self) -> list[str]:
        return list(self.X)

    @property
    def same_texts(self) -> bool:
        """True when every model read the same texts (reader mode): suite rows can serve as shared texts."""
        return self.own is None

    @property
    def ref(self) -> np.ndarray:
        """Train and validation rows: unlabelled reference rows for scaling and shared texts."""
        return train_side(self.rows)

    def table(self, model: str) -> pd.DataFrame:
        """The rows as ``model`` read them (its own responses and labels in own-response mode)."""
        return self.rows if self.own is None else self.own[model]

    def y(self, model: str, target: str) -> np.ndarray:
        """The target's labels on the model's rows (a conditional target's outside its rows are meaningless:
        see :meth:`eligible`)."""
        return self.table(model)[label_column(target)].to_numpy().astype(bool)

    def eligible(self, model: str, target: str) -> np.ndarray:
        """The rows the target is defined on for this model: all, or a conditional target's (e.g. its unsafe
        answers, or the harmful prompts)."""
        if target not in CONDITIONAL_TARGETS:
            return np.ones(len(self.rows), bool)
        return condition_rows(self.table(model), CONDITIONAL_TARGETS[target][1])

    def target_reason(self, model: str, target: str) -> str | None:
        """Why the model cannot be fit or scored on a conditional target, or None: it needs
        ``MIN_CONDITIONAL_CLASS`` rows of each class among its rows, and both classes in every split."""
        if target not in CONDITIONAL_TARGETS:
            return None
        y, rows = self.y(model, target), self.eligible(model, target)
        pos, neg = int((y & rows).sum()), int((~y & rows).sum())
        label, cond = CONDITIONAL_TARGETS[target]
        cond = CONDITION_NAMES.get(cond, cond)
        if min(pos, neg) < MIN_CONDITIONAL_CLASS:
            return (
                f"{target}: {model} has {pos} {label} and {neg} other rows among its {cond} rows (all splits); "
                f"it needs {MIN_CONDITIONAL_CLASS} of each"
            )
        split = self.rows["split"].to_numpy()
        for s in ("train", "val", "test"):
            if len(np.unique(y[rows & (split == s)])) < 2:
                return f"{target}: {model}'s {cond} rows in the {s} split have a single class"
        return None

    def emb(self, model: str) -> np.ndarray | None:
        return self.embeddings.get(model) if isinstance(self.embeddings, dict) else self.embeddings

    def prompt_emb(self, model: str) -> np.ndarray | None:
        """The prompt's sentence embedding per row (the early-warning text baselines read only the prompt)."""
        return None if self.prompt_embeddings is None else self.prompt_embeddings.get(model)


# --- pieces of load_study -------------------------------------------------------------------------------


def _stimulus_reads(models, stimulus_activations: dict, concept_meta: dict):
    """Each model's chosen layer, the common concept names, and its stimulus reads at that layer."""
    from emobasis.models.activations import load_activations

    layers, shared, concepts = {}, {}, None
    for m in models:
        layers[m] = concept_meta[m]["chosen_layer"]
        concepts = concepts or concept_meta[m]["concepts"]
        if concept_meta[m]["concepts"] != concepts:
            raise TransferError(f"model '{m}' has different concepts from the others. Fix: rerun fit_concepts.")
        key = f"{concept_meta[m]['stimulus_position']}/layer{layers[m]}"
        shared[m] = np.concatenate([load_activations(p)[0][key].astype(np.float32) for p in stimulus_activations[m]])
    return layers, concepts, shared


def _own_mode(manifests: dict) -> bool:
    """True when every activation manifest names a responder (own-response mode); an error when some do."""
    responders = [manifest.get("responder") for manifest in manifests.values()]
    if any(responders) and not all(responders):
        raise TransferError(
            "some models read their own responses and others every response. Fix: rerun the "
            "extraction with one study.reader_mode for all models."
        )
    return any(responders)


def align_reader_rows(reads: dict, suite: str) -> tuple[dict, dict]:
    """Reader mode: every model read the same rows. Returns ({model: positions in its reads},
    {model: suite-table rows})."""
    models = list(reads)
    index = reads[models[0]][1]
    for m in models[1:]:
        if not np.array_equal(index, reads[m][1]):
            raise TransferError(
                f"models read different rows of suite '{suite}'. Fix: rerun extraction with one config for all models."
            )
    return {m: np.arange(len(index)) for m in models}, {m: index for m in models}


def align_own_rows(table: pd.DataFrame, reads: dict, suite: str) -> tuple[dict, dict]:
    """Own-response mode: each model's rows on the prompt slots (item, attack) that every model answered."""
    from emobasis.data.suites import prompt_slots

    slot = prompt_slots(table)
    keys = {m: slot[r[1]] for m, r in reads.items()}
    for m, k in keys.items():
        if len(set(k)) != len(k):
            raise TransferError(
                f"model '{m}' read two responses to one prompt slot of suite '{suite}'. "
                "Fix: check the suite's responder column."
            )
    common = sorted(set.intersection(*(set(k) for k in keys.values())))
    if not common:
        raise TransferError(
            f"the models' own responses in suite '{suite}' share no prompt. Fix: choose "
            "responders that answered the same prompts."
        )
    pick = {m: pd.Series(np.arange(len(k)), index=k).loc[common].to_numpy() for m, k in keys.items()}
    return pick, {m: reads[m][1][pick[m]] for m in reads}


def _suite_embeddings(path: str, index_of: dict, suite: str, key: str = "embedding") -> dict[str, np.ndarray]:
    """Each model's rows of the suite's response embeddings (``key="prompt"``: of its prompts, if embedded)."""
    from emobasis.models.activations import load_activations

    e_arrays, e_index = load_activations(path)
    if key not in e_arrays:
        return {}
    where = pd.Series(np.arange(len(e_index)), index=e_index)
    out = {}
    for m, index in index_of.items():
        missing = np.setdiff1d(index, e_index)
        if len(missing):
            raise TransferError(
                f"embeddings of suite '{suite}' lack {len(missing)} rows model '{m}' read. Fix: rerun embed_responses."
            )
        out[m] = e_arrays[key][where.loc[index].to_numpy()].astype(np.float32)
    return out


# --- files -> StudyData ---------------------------------------------------------------------------------


def load_study(
    models: list[str],
    suites: list[str],
    suite_tables: dict,
    activations: dict,
    profiles: dict | None,
    stimulus_activations: dict,
    concept_meta: dict,
    embeddings: dict | None = None,
    positions=("prompt_last", "response_first", "response_mean"),
    concept_fits: dict | None = None,
    concept_kinds: dict | None = None,
) -> StudyData:
    """Assemble StudyData from the workflow's files (paths keyed by model and suite / stimulus set).

    Reader mode: every model must have read the same study rows. Own-response mode (the activation
    manifests name a responder): each model read its own responder's rows; they are aligned on the prompt
    slots (item, attack) that every model answered, and each model keeps its own labels and texts
    (``StudyData.own``). The chosen layer of each model comes from its concept file, and the shared
    (unlabelled) texts are its stimulus reads at that layer; with ``concept_fits`` (model -> the concept fit
    at that layer) also their concept profiles, for the concept feature spaces (:mod:`emobasis.transfer.spaces`)."""
    from emobasis.models.activations import activation_manifest_path, load_activations, table_rows

    layers, concepts, shared = _stimulus_reads(models, stimulus_activations, concept_meta)
    manifests = {
        (m, s): json.loads(activation_manifest_path(activations[m][s]).read_text()) for m in models for s in suites
    }
    own_mode = _own_mode(manifests)
    X = {m: {p: [] for p in positions} for m in models}
    Z = {m: {p: [] for p in positions} for m in models}
    own, emb, pemb = {m: [] for m in models}, {m: [] for m in models}, {m: [] for m in models}
    for suite in suites:
        table = pd.read_parquet(suite_tables[suite])
        reads = {}
        for m in models:  # each read's rows as positions in the suite table
            arrays, row_index = load_activations(activations[m][suite])
            reads[m] = (arrays, table_rows(table, row_index, manifests[(m, suite)]))
        pick, index_of = align_own_rows(table, reads, suite) if own_mode else align_reader_rows(reads, suite)
        for m in models:
            prof = pd.read_parquet(profiles[m][suite]) if profiles else None
            for p in positions:
                X[m][p].append(reads[m][0][f"{p}/layer{layers[m]}"][pick[m]].astype(np.float32))
                if prof is not None:
                    Z[m][p].append(prof[prof["position"] == p][concepts].to_numpy(np.float32)[pick[m]])
            own[m].append(table.iloc[index_of[m]].reset_index(drop=True))
        if embeddings:
            for m, e in _suite_embeddings(embeddings[suite], index_of, suite).items():
                emb[m].append(e)
            for m, e in _suite_embeddings(embeddings[suite], index_of, suite, "prompt").items():
                pemb[m].append(e)
    rows = pd.concat([own[models[0]][i] for i in range(len(suites))], ignore_index=True)
    own_tables, embedding = None, None
    if own_mode:
        own_tables = {m: pd.concat(v, ignore_index=True) for m, v in own.items()}
        rows = rows.drop(columns=[c for c in RESPONSE_COLUMNS if c in rows.columns])
    if embeddings:
        embedding = {m: np.concatenate(v) for m, v in emb.items()} if own_mode else np.concatenate(emb[models[0]])
    data = StudyData(
        rows=rows,
        X={m: {p: np.concatenate(v) for p, v in X[m].items()} for m in models},
        Z={m: {p: np.concatenate(v) for p, v in Z[m].items() if v} for m in models},
        shared=shared,
        concepts=concepts,
        embeddings=embedding,
        layers=layers,
        own=own_tables,
        prompt_embeddings={m: np.concatenate(v) for m, v in pemb.items()} if all(pemb.values()) else None,
        shared_Z=None if concept_fits is None else {m: stimulus_profiles(shared[m], concept_fits[m]) for m in models},
        concept_kinds=dict(concept_kinds or {}),
    )
    for m in models:
        for p in positions:
            if not np.isfinite(data.X[m][p]).all():
                raise TransferError(f"non-finite activations for model '{m}' at '{p}'. Fix: rebuild its extraction.")
    return data


def load_study_files(
    models: list[str],
    suites: list[str],
    stimulus_sets: list[str],
    positions,
    with_profiles: bool = True,
    with_embeddings: bool = True,
    concept_kinds: dict | None = None,
) -> StudyData:
    """StudyData from the standard file layout (:func:`emobasis.paths.study_files`) in the working directory,
    as a cross-model job's inputs name them."""
    from emobasis.concepts.directions import load_concepts
    from emobasis.paths import study_files

    files = study_files(models, suites, stimulus_sets)
    fits = {m: load_concepts(files["concepts"][m], "chosen") for m in models}
    meta = {m: f[0] for m, f in fits.items()}
    return load_study(
        models,
        suites,
        files["tables"],
        files["acts"],
        files["profiles"] if with_profiles else None,
        files["stimuli"],
        meta,
        files["embeddings"] if with_embeddings else None,
        positions=positions,
        concept_fits={m: f[1] for m, f in fits.items()} if with_profiles else None,
        concept_kinds=concept_kinds,
    )
