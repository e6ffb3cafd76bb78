"""Planted-structure simulator: multi-model activations with a known shared rank, a known model-specific
part and noise, and failure labels drawn from one or the other. It feeds the real aligners and LOMO code
(:class:`emobasis.transfer.study.StudyData`), so the whole pipeline can be checked against a known answer.

Generative model (per row i, model m):

    x_mi = g_i A_m + h_mi B_m + noise,   g_i ~ N(0, I_shared_rank) shared by all models,
                                         h_mi ~ N(0, I_specific_rank) private to model m,
    profiles z_mi = [g_i, h_mi[1:]] + small noise (named coordinates common to all models; the private
                    latent that carries the label in the specific world has no named concept)

The named coordinates of g are the ``emotions`` concepts, those of h the ``controls`` (concept kinds, for
the feature spaces of :mod:`emobasis.transfer.spaces`); the stimuli's profiles come from the same process. With
``named_signal=False`` the label's latent g_0 has no named concept either: the shared signal then lives
outside the concept directions, in the hidden states only.

Labels are a property of the row: in the ``shared`` world ``logit = strength * g_i0``; in the
``specific`` world ``logit = strength * sum_m h_mi0 / sqrt(M)``, so each model alone sees only its own
share of the signal and nothing of it lies in the subspace the models share. The ``oracle`` score is the
true logit. Unlabelled shared texts are extra rows from the same process. One failure label serves both
targets (``tone_masked`` and ``unsafe``). A share of the prompts is ``benign`` (15%), drawn independently of
the reads, as whether a request is harmful is a property of the request: a benign prompt is never a failure,
so its label is 0 whatever its logit (the label-free FPR calibration reads these rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.transfer.study import StudyData

WORLDS = ("shared", "specific")


def simulate(
    world: str = "shared",
    n_models: int = 3,
    n_rows: int = 2500,
    n_shared: int = 600,
    d: int = 48,
    shared_rank: int = 4,
    specific_rank: int = 4,
    noise: float = 0.5,
    strength: float = 2.5,
    position: str = "prompt_last",
    seed: int = 0,
    named_signal: bool = True,
) -> tuple[StudyData, np.ndarray]:
    """Returns (StudyData, oracle logit per row)."""
    if world not in WORLDS:
        raise ValueError(f"world must be one of {WORLDS}")
    rng = np.random.default_rng(seed)
    models = [f"sim{m}" for m in range(n_models)]
    A = {m: rng.normal(size=(shared_rank, d)) for m in models}
    B = {m: rng.normal(size=(specific_rank, d)) for m in models}

    def draw(n):
        g = rng.normal(size=(n, shared_rank))
        h = {m: rng.normal(size=(n, specific_rank)) for m in models}
        X = {m: g @ A[m] + h[m] @ B[m] + noise * rng.normal(size=(n, d)) for m in models}
        return g, h, X

    g, h, X = draw(n_rows)
    logit = strength * (g[:, 0] if world == "shared" else sum(h[m][:, 0] for m in models) / np.sqrt(n_models))
    benign = rng.random(n_rows) < 0.15
    y = ~benign & (rng.random(n_rows) < 1 / (1 + np.exp(-logit)))
    split = rng.choice(["train", "val", "test"], size=n_rows, p=[0.6, 0.2, 0.2])
    vocab = np.array([f"w{i}" for i in range(200)])
    rows = pd.DataFrame(
        {
            "row_id": [f"sim:{i}" for i in range(n_rows)],
            "item_id": [f"item{i}" for i in range(n_rows)],
            "split": split,
            "suite": "sim",
            "unsafe": y,
            "tone_masked": y,
            "benign": benign,
            "calm": True,
            "tone_score": rng.random(n_rows),
            "response": [" ".join(rng.choice(vocab, 12)) for _ in range(n_rows)],
        }
    )
    first = 0 if named_signal else 1  # the label's shared latent g_0 is named only in the named_signal world
    concepts = [f"shared{i}" for i in range(first, shared_rank)] + [f"own{i}" for i in range(1, specific_rank)]

    def profiles(g, h, m):
        return np.concatenate([g[:, first:], h[m][:, 1:]], 1) + 0.1 * rng.normal(size=(len(g), len(concepts)))

    Z = {m: {position: profiles(g, h, m)} for m in models}
    gs, hs, Xs = draw(n_shared)
    data = StudyData(
        rows=rows,
        X={m: {position: X[m]} for m in models},
        Z=Z,
        shared=Xs,
        concepts=concepts,
        shared_Z={m: profiles(gs, hs, m) for m in models},
        concept_kinds={c: "emotions" if c.startswith("shared") else "controls" for c in concepts},
        embeddings=rng.normal(size=(n_rows, 16)),
    )
    return data, logit
