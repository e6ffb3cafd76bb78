"""Concept directions recover planted structure; the neutral projection removes a planted confound;
diagnostics are computed on heldout stimuli; on real SmolLM2 activations emotions are separable."""

import numpy as np
import pandas as pd
import pytest
from emobasis.concepts.directions import (
    ConceptError,
    choose_layer,
    fit_concepts,
    fit_control_directions,
    fit_emotion_directions,
    valence_correlation,
)
from emobasis.concepts.profiles import concept_profiles

CFG = {"method": "diffmean", "neutral_concept": "neutral", "neutral_variance": 0.5, "stimulus_position": "mean"}


def planted(K=20, d=64, n=100, confound=3.0, noise=0.3, seed=0):
    """Emotion texts = 3 * planted_c + class-specific offset along a confound u + noise;
    neutral texts vary strongly along u (their top PC)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, K + 1)))
    P, u = Q[:, :K].T, Q[:, K]
    offsets = rng.uniform(-confound, confound, size=K)
    X = np.concatenate([3 * P[c] + offsets[c] * u + noise * rng.normal(size=(n, d)) for c in range(K)])
    labels = np.repeat([f"e{c}" for c in range(K)], n)
    neutral = 4 * rng.normal(size=(n, 1)) * u + noise * rng.normal(size=(n, d))
    return X, labels, neutral, P, u


def test_diffmean_recovers_planted_directions_and_removes_confound():
    X, labels, neutral, P, u = planted()
    names = [f"e{c}" for c in range(20)]
    V = fit_emotion_directions(X, labels, names, neutral, "diffmean", 0.5)
    cos = np.sum(V * P, axis=1)
    assert cos.min() > 0.95
    assert np.abs(V @ u).max() < 0.05
    raw = fit_emotion_directions(X, labels, names, neutral, "diffmean", 0.0)  # no projection
    assert np.abs(raw @ u).max() > 0.3  # the confound is really there without it
    assert np.allclose(np.linalg.norm(V, axis=1), 1)


def test_logistic_method_recovers_planted_directions():
    X, labels, neutral, P, _ = planted(K=8, confound=0.0)
    V = fit_emotion_directions(X, labels, [f"e{c}" for c in range(8)], neutral, "logistic", 0.5)
    assert np.sum(V * P, axis=1).min() > 0.8


def test_control_difference_of_means():
    rng = np.random.default_rng(1)
    w = rng.normal(size=32)
    w /= np.linalg.norm(w)
    X = np.concatenate([2 * w + 0.3 * rng.normal(size=(30, 32)), -2 * w + 0.3 * rng.normal(size=(30, 32))])
    V = fit_control_directions(X, np.array(["risk"] * 60), np.array([1] * 30 + [-1] * 30), ["risk"])
    assert V[0] @ w > 0.95
    with pytest.raises(ConceptError, match="lacks one side"):
        fit_control_directions(X[:30], np.array(["risk"] * 30), np.ones(30), ["risk"])


@pytest.mark.parametrize("sign", [1, -1])
def test_valence_correlation_follows_the_convention(sign):
    rng = np.random.default_rng(2)
    names = [f"e{i}" for i in range(12)]
    val = dict(zip(names, rng.uniform(0, 1, 12)))
    w = rng.normal(size=16)
    V = np.stack([sign * 3 * (val[n] - 0.5) * w + 0.2 * rng.normal(size=16) for n in names])
    r, n = valence_correlation(V, names, val)
    assert n == 12 and r > 0.9


def stimulus_tables(X, labels, neutral, controls_X, seed=0):
    rng = np.random.default_rng(seed)
    emo = pd.DataFrame({"concept": list(labels) + ["neutral"] * len(neutral), "polarity": 1})
    emo["split"] = np.where(rng.random(len(emo)) < 0.25, "heldout", "fit")
    ctrl = pd.DataFrame({"concept": "risk_aversion", "polarity": [1, -1] * (len(controls_X) // 2)})
    ctrl["split"] = np.where(np.arange(len(ctrl)) % 8 < 2, "heldout", "fit")
    return emo, ctrl


def test_fit_concepts_diagnostics_and_layer_choice():
    rng = np.random.default_rng(3)
    X, labels, neutral, P, u = planted(K=20)
    Xe = np.concatenate([X, neutral]).astype(np.float16)
    w = rng.normal(size=64)
    Xc = np.stack([s * w + 0.5 * rng.normal(size=64) for s in [1, -1] * 40]).astype(np.float16)
    emo, ctrl = stimulus_tables(X, labels, neutral, Xc)
    noise = lambda a: (a + rng.normal(scale=8, size=a.shape)).astype(np.float16)  # layer 1 is noisy
    stimuli = [
        (emo, {"mean/layer1": noise(Xe), "mean/layer2": Xe}, np.arange(len(emo)), "emotions"),
        (ctrl, {"mean/layer1": noise(Xc), "mean/layer2": Xc}, np.arange(len(ctrl)), "controls"),
    ]
    fits, diag = fit_concepts(stimuli, [1, 2], "mean", CFG, valence=None, model="m")
    assert fits[2]["concepts"][-1] == "risk_aversion" and fits[2]["directions"].shape == (22, 64)
    auc = diag[diag.metric == "heldout_auc"].groupby(["layer", "kind"])["value"].mean()
    assert auc[(2, "emotions")] > 0.95 and auc[(2, "controls")] > 0.95
    assert auc[(1, "emotions")] < auc[(2, "emotions")]
    assert choose_layer(diag) == 2
    # profiles: scores of rows on every concept at the chosen layer
    table = pd.DataFrame({"row_id": ["a", "b"], "item_id": ["i", "j"], "split": ["train", "test"]})
    prof = concept_profiles({"prompt_last/layer2": Xe[:2]}, np.array([0, 1]), table, fits[2], 2, ["prompt_last"])
    assert list(prof.columns[:5]) == ["row_id", "item_id", "split", "position", "layer"]
    assert prof.shape == (2, 5 + 22)
    assert prof.loc[0, "e0"] > prof.loc[0, "e5"]  # row 0 is an e0 text


@pytest.mark.long(3)
@pytest.mark.realmodel
@pytest.mark.data
def test_smollm2_emotion_directions_are_separable(smollm2_dir, default_config, mirror):
    from conftest import source_root
    from emobasis.concepts.directions import read_nrc_vad
    from emobasis.data.stimuli import build_stimuli
    from emobasis.models.extract import extract_dataset

    cfg = default_config
    roots = {s: source_root(cfg, mirror, s) for s in ("goemotions", "emorynlp")}
    stimuli = []
    for name in ("emotions", "controls"):
        spec = cfg["stimulus_sets"][name]
        table = build_stimuli(spec, roots, cfg["seed"], name)
        arrays, rows, _ = extract_dataset(
            smollm2_dir, table, "stimuli", {**cfg["extraction"], "layers": [0.5, 0.83]}, progress=False
        )
        stimuli.append((table, arrays, rows, spec["kind"]))
    valence = read_nrc_vad(source_root(cfg, mirror, "nrc_vad") / "NRC-VAD-Lexicon.txt")
    fits, diag = fit_concepts(stimuli, [15, 25], "mean", cfg["concepts"], valence, "smollm2-135m")
    best = choose_layer(diag)
    chosen = diag[diag.layer == best]
    emo_auc = chosen[(chosen.metric == "heldout_auc") & (chosen.kind == "emotions")]["value"].mean()
    ctrl_auc = chosen[(chosen.metric == "heldout_auc") & (chosen.kind == "controls")]["value"].mean()
    r = chosen[chosen.metric == "valence_r"]["value"].iloc[0]
    print(f"SmolLM2 layer {best}: emotions heldout AUC {emo_auc:.3f}, controls {ctrl_auc:.3f}, valence r {r:.3f}")
    assert emo_auc > 0.6
    assert ctrl_auc > 0.6
