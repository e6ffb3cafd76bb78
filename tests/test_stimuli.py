"""Stimulus sets from the real corpora: concepts, balance, held-out split, and no shared text with suites."""

import re

import pytest
from conftest import source_root
from emobasis.data.stimuli import (
    CONTROL_CONCEPTS,
    StimulusError,
    build_control_stimuli,
    build_emotion_stimuli,
    control_pairs,
)
from emobasis.data.suites import read_suite

REQUIRED = [
    "calm",
    "fear",
    "nervousness",
    "caring",
    "joy",
    "sadness",
    "anger",
    "confidence",
    "confusion",
    "relief",
    "neutral",
]


@pytest.fixture(scope="module")
def roots(default_config, mirror):
    return {s: source_root(default_config, mirror, s) for s in ("goemotions", "emorynlp")}


@pytest.fixture(scope="module")
def emotions(default_config, roots):
    return build_emotion_stimuli(default_config["stimulus_sets"]["emotions"], roots, default_config["seed"])


@pytest.fixture(scope="module")
def controls(default_config):
    return build_control_stimuli(default_config["stimulus_sets"]["controls"], default_config["seed"])


def test_at_least_twenty_emotions_balanced(emotions, default_config):
    n = default_config["stimulus_sets"]["emotions"]["per_concept"]
    counts = emotions.groupby("concept").size()
    assert len(counts) >= 20 and set(REQUIRED) <= set(counts.index)
    assert (counts == n).all()
    assert emotions["text"].is_unique
    # calm comes from EmoryNLP Peaceful; confidence draws from both EmoryNLP Powerful and GoEmotions pride
    assert set(emotions.loc[emotions.concept == "calm", "source"]) == {"emorynlp:Peaceful"}
    assert set(emotions.loc[emotions.concept == "confidence", "source"]) == {"emorynlp:Powerful", "goemotions:pride"}


def test_heldout_split_per_concept(emotions, controls):
    for df in (emotions, controls):
        frac = df.groupby("concept")["split"].apply(lambda s: (s == "heldout").mean())
        assert ((frac > 0.2) & (frac < 0.3)).all()
    # both sides of a control pair share a split
    assert controls.groupby("pair_id")["split"].nunique().max() == 1


def test_controls_are_contrast_pairs(controls, default_config):
    n = default_config["stimulus_sets"]["controls"]["per_concept"]
    assert sorted(controls["concept"].unique()) == sorted(CONTROL_CONCEPTS)
    assert (controls.groupby(["concept", "polarity"]).size() == n).all()
    assert controls.groupby("pair_id")["polarity"].sum().eq(0).all()


def test_emotion_stimuli_are_seeded(default_config, roots, emotions):
    again = build_emotion_stimuli(default_config["stimulus_sets"]["emotions"], roots, default_config["seed"])
    assert again.equals(emotions)
    other = build_emotion_stimuli(default_config["stimulus_sets"]["emotions"], roots, default_config["seed"] + 1)
    assert not other["text"].equals(emotions["text"])


def test_too_few_texts_names_the_fix(default_config, roots):
    spec = {**default_config["stimulus_sets"]["emotions"], "per_concept": 100000}
    with pytest.raises(StimulusError, match="lower stimulus_sets.emotions.per_concept"):
        build_emotion_stimuli(spec, roots, 0)


def test_unknown_corpus_label_lists_the_known_ones(roots):
    spec = {"kind": "emotions", "per_concept": 8, "concepts": {"calm": ["emorynlp:Serene"]}}
    with pytest.raises(StimulusError, match="Peaceful"):
        build_emotion_stimuli(spec, roots, 0)


def _norm(text):
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def test_stimuli_share_no_text_with_any_suite(default_config, mirror, emotions):
    """No control text (all template pairs, not only the sampled ones) and no emotion text appears in a suite."""
    import yaml
    from emobasis.data.stimuli import TEMPLATES

    templates = yaml.safe_load(TEMPLATES.read_text())
    control_texts = {_norm(t) for c in CONTROL_CONCEPTS for pair in control_pairs(c, templates) for t in pair}
    suite_texts = []
    for name, spec in default_config["suites"].items():
        src = default_config["sources"][spec["source"]]
        base, _ = read_suite(
            spec["adapter"], source_root(default_config, mirror, spec["source"]), list(src["files"]), spec, name
        )
        suite_texts += [_norm(t) for t in base["prompt"]] + [_norm(t) for t in base["response"]]
    suite_set = set(suite_texts)
    haystack = "\n".join(suite_texts)
    assert not control_texts & suite_set
    assert not [t for t in control_texts if t in haystack]  # not even as a substring
    assert not {_norm(t) for t in emotions["text"]} & suite_set
