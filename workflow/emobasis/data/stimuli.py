"""Stimulus sets: labelled texts for fitting concept directions (``text, concept, source`` + split).

- ``emotions``: each concept pools the rows of one or more corpus labels (``goemotions:fear``,
  ``emorynlp:Peaceful``); GoEmotions contributes single-label rows only. Every concept gets exactly
  ``per_concept`` texts, drawn round-robin across its sources, seeded.
- ``controls``: templated contrast pairs (``resources/control_templates.yaml``); a pair's positive
  text has ``polarity`` +1 and its negative twin -1; ``per_concept`` pairs per concept.

Every set carries a ``split`` column (``fit``/``heldout``) so concept diagnostics can be measured on
texts never used to fit a direction; control pairs are never split across the two.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from emobasis.data.splits import stable_seed
from emobasis.errors import ConfigError, StimulusError

TEMPLATES = Path(__file__).parents[1] / "resources" / "control_templates.yaml"
COLUMNS = ["text", "concept", "source", "polarity", "pair_id", "split"]
MIN_WORDS = 3


def read_goemotions(root: Path) -> pd.DataFrame:
    """Single-label rows of GoEmotions (train split): ``text, label``."""
    labels = (root / "original" / "labels.txt").read_text().split()
    raw = pd.read_csv(
        root / "original" / "train.tsv",
        sep="\t",
        header=None,
        names=["text", "ids", "cid"],
        quoting=3,
        keep_default_na=False,
        dtype=str,
    )
    single = raw[~raw["ids"].str.contains(",")]
    return pd.DataFrame({"text": single["text"].to_numpy(), "label": [labels[int(i)] for i in single["ids"]]})


def read_emorynlp(root: Path) -> pd.DataFrame:
    """EmoryNLP utterances (train split): ``text, label`` (labels: Neutral Joyful Scared Mad Peaceful Powerful Sad)."""
    raw = pd.read_csv(root / "emorynlp" / "emorynlp_train_final.csv", keep_default_na=False, dtype=str)
    return pd.DataFrame({"text": raw["Utterance"].to_numpy(), "label": raw["Emotion"].to_numpy()})


READERS = {"goemotions": read_goemotions, "emorynlp": read_emorynlp}


def _clean(texts: pd.Series) -> pd.Series:
    return texts.astype(str).str.replace(r"\s+", " ", regex=True).str.strip()


def _heldout_flags(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[rng.permutation(n)[: int(round(n * fraction))]] = True
    return flags


def build_emotion_stimuli(spec: dict, roots: dict[str, Path], seed: int, name: str = "emotions") -> pd.DataFrame:
    """Balanced emotion stimuli: ``per_concept`` texts for every concept in ``spec['concepts']``."""
    corpora = {}
    for src in sorted({s.split(":", 1)[0] for specs in spec["concepts"].values() for s in specs}):
        if src not in READERS:
            raise StimulusError(f"stimulus set '{name}': no reader for corpus '{src}'. Fix: use {', '.join(READERS)}.")
        df = READERS[src](roots[src])
        df["text"] = _clean(df["text"])
        corpora[src] = df[df["text"].str.split().str.len() >= MIN_WORDS].drop_duplicates("text")
    n = int(spec["per_concept"])
    frames, used = [], set()
    for concept, specs in spec["concepts"].items():
        rng = np.random.default_rng(stable_seed(seed, "stimuli", name, concept))
        pools = []
        for s in specs:
            src, label = s.split(":", 1)
            pool = corpora[src][corpora[src]["label"] == label]
            if pool.empty:
                known = ", ".join(sorted(corpora[src]["label"].unique()))
                raise StimulusError(
                    f"stimulus set '{name}', concept '{concept}': corpus '{src}' has no label "
                    f"'{label}'. Fix: use one of: {known}."
                )
            pool = pool[~pool["text"].isin(used)]
            pools.append([(t, s) for t in pool["text"].to_numpy()[rng.permutation(len(pool))]])
        # round-robin across sources so a concept with two corpora draws from both
        picked = [x for x in itertools.chain.from_iterable(itertools.zip_longest(*pools)) if x is not None][:n]
        if len(picked) < n:
            raise StimulusError(
                f"stimulus set '{name}': concept '{concept}' has only {len(picked)} usable texts "
                f"(>= {MIN_WORDS} words, unique), fewer than per_concept = {n}. Fix: lower "
                f"stimulus_sets.{name}.per_concept or add a source label to this concept."
            )
        used.update(t for t, _ in picked)
        frames.append(
            pd.DataFrame(
                {
                    "text": [t for t, _ in picked],
                    "concept": concept,
                    "source": [s for _, s in picked],
                    "polarity": 1,
                    "pair_id": -1,
                    "split": np.where(_heldout_flags(n, spec.get("heldout_fraction", 0.25), rng), "heldout", "fit"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def control_pairs(concept: str, templates: dict) -> list[tuple[str, str]]:
    """All (positive, negative) texts of a control concept: every template filled with every filler."""
    block = templates[concept]
    return [(t["pos"].format(**f), t["neg"].format(**f)) for t in block["templates"] for f in block["fillers"]]


def build_control_stimuli(
    spec: dict, seed: int, name: str = "controls", templates_path: Path = TEMPLATES
) -> pd.DataFrame:
    """``per_concept`` contrast pairs per control concept, both sides of a pair in the same split."""
    templates = yaml.safe_load(Path(templates_path).read_text())
    n = int(spec["per_concept"])
    frames, pair_base = [], 0
    for concept in spec["concepts"]:
        if concept not in templates:
            raise StimulusError(
                f"stimulus set '{name}': no templates for control '{concept}'. Fix: choose from {', '.join(templates)}."
            )
        pairs = control_pairs(concept, templates)
        if len(pairs) < n:
            raise StimulusError(
                f"stimulus set '{name}': control '{concept}' has {len(pairs)} template pairs, "
                f"fewer than per_concept = {n}. Fix: lower stimulus_sets.{name}.per_concept."
            )
        rng = np.random.default_rng(stable_seed(seed, "stimuli", name, concept))
        chosen = [pairs[i] for i in rng.permutation(len(pairs))[:n]]
        held = _heldout_flags(n, spec.get("heldout_fraction", 0.25), rng)
        for i, ((pos, neg), h) in enumerate(zip(chosen, held)):
            split = "heldout" if h else "fit"
            frames.append((pos, concept, f"template:{concept}", 1, pair_base + i, split))
            frames.append((neg, concept, f"template:{concept}", -1, pair_base + i, split))
        pair_base += n
    return pd.DataFrame(frames, columns=COLUMNS)


def build_stimuli(spec: dict, roots: dict[str, Path], seed: int, name: str) -> pd.DataFrame:
    if spec["kind"] == "emotions":
        return build_emotion_stimuli(spec, roots, seed, name)
    return build_control_stimuli(spec, seed, name)


# --- the study's concepts (config) ---------------------------------------------------------------------

#: emotion corpora whose labels a stimulus concept can name as ``<source>:<label>``
EMOTION_CORPORA = ("goemotions", "emorynlp")
#: control concepts with built-in contrast templates (emobasis/resources/control_templates.yaml)
CONTROL_CONCEPTS = ("harm_salience", "risk_aversion", "epistemic_uncertainty", "prosocial")


def concept_kinds(cfg: dict) -> dict[str, str]:
    """Concept -> kind (emotions | controls) of the study's stimulus sets, in config order; with
    ``concepts.shuffled_controls``, then one ``shuffled_<i>`` (kind ``unrelated``) per named concept
    (:mod:`emobasis.concepts.shuffled`)."""
    sets = [cfg["stimulus_sets"][name] for name in cfg["study"]["stimulus_sets"]]
    kinds = {c: sset["kind"] for sset in sets for c in sset["concepts"]}
    if cfg.get("concepts", {}).get("shuffled_controls"):
        kinds |= dict.fromkeys(shuffled_names(len(kinds)), "unrelated")
    return kinds


def shuffled_names(n: int) -> list[str]:
    """The names of ``n`` shuffled-label directions (:mod:`emobasis.concepts.shuffled`): shuffled_00, ..."""
    return [f"shuffled_{i:02d}" for i in range(n)]


def concept_names(cfg: dict) -> list[str]:
    """The named concepts of the study (no shuffled-label directions), in config order (emotions first in
    the shipped configs)."""
    return [c for c, kind in concept_kinds(cfg).items() if kind != "unrelated"]


def check_stimulus_config(cfg: dict) -> None:
    """Stimulus sets name known corpora and control concepts; one emotions set holding the neutral concept;
    every concept in one set only."""
    for name, sset in cfg["stimulus_sets"].items():
        concepts = sset["concepts"]
        if sset["kind"] == "emotions":
            if not isinstance(concepts, dict) or not concepts:
                raise ConfigError(
                    f"stimulus_sets.{name}.concepts must map each emotion to a list of "
                    "'<source>:<label>'. Fix: see config/config.yaml."
                )
            for concept, specs in concepts.items():
                if not isinstance(specs, list) or not specs:
                    raise ConfigError(
                        f"stimulus_sets.{name}.concepts.{concept} is empty. Fix: list at least one '<source>:<label>'."
                    )
                for spec in specs:
                    src, _, label = str(spec).partition(":")
                    if src not in EMOTION_CORPORA or not label:
                        raise ConfigError(
                            f"stimulus_sets.{name}.concepts.{concept}: '{spec}' is not '<source>:<label>' with a "
                            f"known emotion corpus. Fix: use one of: {', '.join(EMOTION_CORPORA)}."
                        )
                    if src not in cfg["sources"]:
                        raise ConfigError(
                            f"stimulus_sets.{name}.concepts.{concept} uses source '{src}', which does "
                            "not exist. Fix: add it under 'sources' (see config/config.yaml)."
                        )
        else:
            if not isinstance(concepts, list) or not concepts:
                raise ConfigError(
                    f"stimulus_sets.{name}.concepts must list control concepts. "
                    f"Fix: choose from: {', '.join(CONTROL_CONCEPTS)}."
                )
            for c in concepts:
                if c not in CONTROL_CONCEPTS:
                    raise ConfigError(
                        f"stimulus_sets.{name}.concepts: unknown control concept '{c}'. "
                        f"Fix: choose from: {', '.join(CONTROL_CONCEPTS)}."
                    )

    vs = cfg["concepts"].get("valence_source")
    if vs is not None and vs not in cfg["sources"]:
        raise ConfigError(
            f"concepts.valence_source names source '{vs}', which does not exist. "
            "Fix: add it under 'sources' or remove the key."
        )
    emotion_sets = [s for s in cfg["study"]["stimulus_sets"] if cfg["stimulus_sets"][s]["kind"] == "emotions"]
    if len(emotion_sets) != 1:
        raise ConfigError(
            f"the study needs exactly one emotions stimulus set, it has {len(emotion_sets)}. "
            "Fix: list one set of kind 'emotions' in study.stimulus_sets."
        )
    if cfg["concepts"]["neutral_concept"] not in cfg["stimulus_sets"][emotion_sets[0]]["concepts"]:
        raise ConfigError(
            f"concepts.neutral_concept '{cfg['concepts']['neutral_concept']}' is not a concept of "
            f"stimulus set '{emotion_sets[0]}'. Fix: add it there or name another concept."
        )

    names = concept_names(cfg)
    dup = {c for c in names if names.count(c) > 1}
    if dup:
        raise ConfigError(
            f"concept(s) {', '.join(sorted(dup))} appear in more than one stimulus set of the study. "
            "Fix: give each concept one home."
        )
