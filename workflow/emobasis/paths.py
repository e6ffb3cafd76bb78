"""Where each stage's files live, relative to the working directory: one place for rules/common.smk and the
scripts, so that a script finds a model's or a suite's file by name, never by its position in a list."""

from __future__ import annotations

import os
import re
from pathlib import Path, PureWindowsPath

from emobasis.errors import UnsafePathError


def inside(root: str | Path, rel: str, where: str) -> Path:
    """``root / rel`` for a path that a config names (a source's file, its mirror folder, a table or prompt
    file), refused before anything is read or written when ``rel`` is absolute, starts with ``~`` or a drive
    letter, or has a ``..`` segment: shared configs must not reach outside the folder they are joined to.
    ``where`` names the config key in the error."""
    text = str(rel)
    why = None
    if not text.strip():
        why = "it is empty"
    elif os.path.isabs(text) or text.startswith(("/", "\\")) or PureWindowsPath(text).drive:
        why = "it is absolute"
    elif text.startswith("~"):
        why = "it starts with '~'"
    elif ".." in re.split(r"[/\\]", text):
        why = "it has a '..' segment"
    if why:
        raise UnsafePathError(
            f"{where} = {text!r} would leave its folder ({why}). "
            "Fix: give a relative path inside the folder, without '..' (e.g. 'data/prompts.csv')."
        )
    return Path(root) / text


def suite_table(suite: str) -> str:
    return f"results/suites/{suite}.parquet"


def stimulus_table(stimulus_set: str) -> str:
    return f"results/stimuli/{stimulus_set}.parquet"


def activations(model: str, dataset: str) -> str:
    return f"results/activations/{model}/{dataset}.safetensors"


def activation_manifest(model: str, dataset: str) -> str:
    return f"results/activations/{model}/{dataset}.json"


def prompt_set(suite: str) -> str:
    return f"results/prompts/{suite}.parquet"


def answers(model: str, suite: str) -> str:
    """A model's own answers to an answers suite's prompts (+ ``.safetensors`` fused reads, ``.json`` manifest)."""
    return f"results/answers/{model}/{suite}.parquet"


def answer_table(model: str, suite: str) -> str:
    """One model's labelled answers to an answers suite: its rows of the suite table, in the same order. The
    model's own jobs (reads, profiles) read this file, never the whole table, so adding a model to a
    finished study leaves the other models' jobs alone."""
    return f"results/suites/{suite}/{model}.parquet"


def answer_reads(model: str, suite: str) -> str:
    return f"results/answers/{model}/{suite}.safetensors"


def answer_manifest(model: str, suite: str) -> str:
    return f"results/answers/{model}/{suite}.json"


JUDGE = "results/judge/judge.json"


def concepts(model: str) -> str:
    return f"results/concepts/{model}.safetensors"


def profiles(model: str, suite: str) -> str:
    return f"results/profiles/{model}/{suite}.parquet"


def embeddings(suite: str) -> str:
    return f"results/embeddings/{suite}.safetensors"


def study_inputs(models: list[str], suites: list[str], stimulus_sets: list[str], embeddings_too: bool = True) -> dict:
    """The named input lists of a cross-model job: every study model's suite and stimulus activations,
    profiles and concept files (+ the suites' text embeddings)."""
    out = {
        "tables": [suite_table(s) for s in suites],
        "acts": [activations(m, s) for m in models for s in suites],
        "profiles": [profiles(m, s) for m in models for s in suites],
        "stimuli": [activations(m, s) for m in models for s in stimulus_sets],
        "concepts": [concepts(m) for m in models],
    }
    if embeddings_too:
        out["embeddings"] = [embeddings(s) for s in suites]
    return out


def study_files(models: list[str], suites: list[str], stimulus_sets: list[str]) -> dict:
    """The same files keyed by name: tables[suite], acts[model][suite], profiles[model][suite],
    stimuli[model] (list, in stimulus-set order), concepts[model], embeddings[suite]."""
    return {
        "tables": {s: suite_table(s) for s in suites},
        "acts": {m: {s: activations(m, s) for s in suites} for m in models},
        "profiles": {m: {s: profiles(m, s) for s in suites} for m in models},
        "stimuli": {m: [activations(m, s) for s in stimulus_sets] for m in models},
        "concepts": {m: concepts(m) for m in models},
        "embeddings": {s: embeddings(s) for s in suites},
    }
