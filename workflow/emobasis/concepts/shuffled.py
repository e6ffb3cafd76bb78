"""Shuffled-label directions: the unrelated-directions control of the concept spaces.

The same stimuli and the same fitting as the concept directions (:func:`emobasis.concepts.directions.fit_concepts`),
with the labels shuffled among the fit texts before fitting: the emotion texts' concept labels are permuted
among themselves (the neutral texts keep their role as the centre and the projected-out subspace), and each
control concept's positive/negative sides are permuted within that concept. The result has as many directions as
the named concepts, lies in the span the stimuli explore, and names nothing. The ``controls_unrelated`` feature
space (:mod:`emobasis.transfer.spaces`) reads them: a warning that rests on named emotions should beat it.

The permutation is seeded and made in the stimulus table's row order, which is the same for every model, so
every model's ``shuffled_<i>`` direction is fit from the same groups of texts (a shared name across models, as
the named concepts have).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.concepts.directions import fit_control_directions, fit_emotion_directions
from emobasis.data.stimuli import shuffled_names

SHUFFLE_SEED = 20261205


def shuffle_table(table: pd.DataFrame, kind: str, seed: int = SHUFFLE_SEED) -> pd.DataFrame:
    """The stimulus table with its fit rows' labels shuffled: emotions, the concept among the non-neutral fit
    texts is not kept apart (every fit text's concept is permuted, so each group mixes every emotion); controls,
    the polarity within each concept."""
    rng = np.random.default_rng(seed)
    out = table.copy()
    fit = (out["split"] == "fit").to_numpy()
    if kind == "emotions":
        rows = np.flatnonzero(fit)
        out.loc[out.index[rows], "concept"] = out["concept"].to_numpy()[rng.permutation(rows)]
    else:
        for c in dict.fromkeys(out["concept"]):
            rows = np.flatnonzero(fit & (out["concept"] == c).to_numpy())
            out.loc[out.index[rows], "polarity"] = out["polarity"].to_numpy()[rng.permutation(rows)]
    return out


def shuffled_directions(
    stimuli: list[tuple[pd.DataFrame, dict, np.ndarray, str]], layer: int, position: str, cfg: dict
) -> np.ndarray:
    """[K, d] unit directions fit like the named ones (``stimuli`` and ``cfg`` as for ``fit_concepts``) on the
    shuffled labels, one per named concept, emotions first."""
    blocks = []
    for table, arrays, row_index, kind in stimuli:
        X = arrays[f"{position}/layer{layer}"].astype(np.float32)
        real = table.iloc[row_index].reset_index(drop=True)
        t = shuffle_table(table, kind).iloc[row_index].reset_index(drop=True)
        fit = (t["split"] == "fit").to_numpy()
        concepts = list(dict.fromkeys(real["concept"]))
        if kind == "emotions":
            neutral = (real["concept"] == cfg["neutral_concept"]).to_numpy() & fit  # the real neutral texts
            labels = t["concept"].to_numpy()
            blocks.append(
                fit_emotion_directions(
                    X[fit], labels[fit], concepts, X[neutral], cfg["method"], cfg["neutral_variance"]
                )
            )
        else:
            labels, pol = t["concept"].to_numpy(), t["polarity"].to_numpy()
            blocks.append(fit_control_directions(X[fit], labels[fit], pol[fit], concepts))
    return np.concatenate(blocks).astype(np.float32)


def add_shuffled(fits: dict, stimuli, position: str, cfg: dict) -> dict:
    """Every layer's fit with the shuffled-label directions appended after the named ones (names
    :func:`shuffled_names`); the named directions, the neutral centre and the layer choice are unchanged."""
    out = {}
    for layer, fit in fits.items():
        V = shuffled_directions(stimuli, layer, position, cfg)
        out[layer] = {
            **fit,
            "concepts": [*fit["concepts"], *shuffled_names(len(V))],
            "directions": np.concatenate([fit["directions"], V]).astype(np.float32),
        }
    return out
