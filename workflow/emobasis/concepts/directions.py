"""Concept directions per model and layer, their diagnostics, and concept profiles of suite rows.

Emotions (default ``diffmean``, after Anthropic's emotion-concepts work): the mean activation of each
emotion's *fit* texts minus the grand mean over emotions, with the top principal components of neutral
texts that explain ``neutral_variance`` of their variance projected out, then normalised. ``logistic``:
one-vs-rest logistic regression, normalised coefficients. Controls: difference of means between the
two sides of each contrast pair set.

Diagnostics use only the *heldout* stimuli: each direction's AUC at separating its concept from the rest
(controls: positive from negative side), and the correlation between the first principal component of
the emotion directions and the human valence of the emotion words (NRC-VAD). The sign of PC1 is fixed by
convention so that the mean valence-weighted score is positive (high-valence emotions score high), so r
is reported without an arbitrary sign flip hiding a bad fit. A model's layer is chosen on these heldout
numbers only, never on suite labels.

Profiles: a suite row's score on each concept is ``(x - neutral_mean) . v_c`` at the chosen layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from emobasis.errors import ConceptError

EMOTION_METHODS = ("diffmean", "logistic")


def _unit(V: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(V, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise ConceptError("a concept direction is zero (identical class means). Fix: check its stimuli.")
    return V / norms


def neutral_subspace(neutral_X: np.ndarray, variance: float) -> np.ndarray:
    """[d, m] orthonormal top principal components of neutral texts explaining ``variance`` of their variance."""
    if variance <= 0 or len(neutral_X) < 2:
        return np.zeros((neutral_X.shape[1], 0))
    pca = PCA().fit(neutral_X)
    m = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), variance) + 1)
    return pca.components_[:m].T


def fit_emotion_directions(
    X: np.ndarray,
    labels: np.ndarray,
    concepts: list[str],
    neutral_X: np.ndarray,
    method: str = "diffmean",
    neutral_variance: float = 0.5,
) -> np.ndarray:
    """[K, d] unit directions, one per emotion concept, from activations ``X`` [n, d] with ``labels``."""
    for c in concepts:
        if not (labels == c).any():
            raise ConceptError(f"emotion concept '{c}' has no fit stimuli. Fix: check the stimulus set.")
    if method == "diffmean":
        means = np.stack([X[labels == c].mean(0) for c in concepts])
        V = means - means.mean(0, keepdims=True)
    elif method == "logistic":
        mu, sd = X.mean(0), X.std(0) + 1e-6
        Z = (X - mu) / sd
        V = np.stack([LogisticRegression(C=0.1, max_iter=2000).fit(Z, labels == c).coef_[0] / sd for c in concepts])
    else:
        raise ConceptError(f"unknown emotion method '{method}'. Fix: use one of {EMOTION_METHODS}.")
    U = neutral_subspace(neutral_X, neutral_variance)
    V = V - (V @ U) @ U.T
    return _unit(V)


def fit_control_directions(X: np.ndarray, labels: np.ndarray, polarity: np.ndarray, concepts: list[str]) -> np.ndarray:
    """[K, d] unit difference-of-means directions (positive side minus negative side)."""
    rows = []
    for c in concepts:
        pos, neg = (labels == c) & (polarity > 0), (labels == c) & (polarity < 0)
        if not pos.any() or not neg.any():
            raise ConceptError(f"control concept '{c}' lacks one side of its contrast. Fix: check the stimulus set.")
        rows.append(X[pos].mean(0) - X[neg].mean(0))
    return _unit(np.stack(rows))


def heldout_auc(
    X: np.ndarray,
    labels: np.ndarray,
    polarity: np.ndarray,
    V: np.ndarray,
    concepts: list[str],
    kind: str,
    center: np.ndarray,
) -> list[float]:
    """AUC of each direction's score on held-out rows: concept vs other emotions, or positive vs negative side."""
    S = (X - center) @ V.T
    out = []
    for k, c in enumerate(concepts):
        if kind == "emotions":
            y, s = labels == c, S[:, k]
        else:
            m = labels == c
            y, s = polarity[m] > 0, S[m, k]
        out.append(float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan"))
    return out


def valence_correlation(V: np.ndarray, concepts: list[str], valence: dict[str, float]) -> tuple[float, int]:
    """Pearson r between PC1 of the emotion directions and word valence (sign convention in module doc)."""
    keep = [i for i, c in enumerate(concepts) if c in valence]
    if len(keep) < 3:
        return float("nan"), len(keep)
    Vk = V[keep] - V[keep].mean(0)
    pc1 = np.linalg.svd(Vk, full_matrices=False)[2][0]
    scores = Vk @ pc1
    val = np.array([valence[concepts[i]] for i in keep])
    if np.dot(scores, val - val.mean()) < 0:  # convention: high-valence emotions score high on PC1
        scores = -scores
    return float(np.corrcoef(scores, val)[0, 1]), len(keep)


def read_nrc_vad(path) -> dict[str, float]:
    """word -> valence (:func:`read_nrc_ratings` without the arousal)."""
    return {word: valence for word, (valence, _) in read_nrc_ratings(path).items()}


def read_nrc_ratings(path) -> dict[str, tuple[float, float]]:
    """word -> (valence, arousal) from the NRC VAD lexicon (tab-separated: Word, Valence, Arousal, Dominance;
    ratings in [0, 1]; words such as ``nan`` or ``null`` stay words): the valence diagnostic reads the valence,
    the ``valence_arousal`` method (:mod:`emobasis.transfer.competitors`) both."""
    df = pd.read_csv(path, sep="\t", keep_default_na=False)
    pairs = zip(df["Valence"].astype(float), df["Arousal"].astype(float))
    return dict(zip(df["Word"].astype(str), pairs))


def fit_concepts(
    stimuli: list[tuple[pd.DataFrame, dict, np.ndarray, str]],
    layers: list[int],
    position: str,
    cfg: dict,
    valence: dict[str, float] | None = None,
    model: str = "",
) -> tuple[dict, pd.DataFrame]:
    """Directions for every layer and the heldout diagnostics.

    ``stimuli``: (table, arrays, row_index, kind) per stimulus set, kind ``emotions`` or ``controls``;
    arrays keyed ``"<position>/layer<i>"``. Returns ``({layer: {"concepts", "directions", "neutral_mean"}},
    diagnostics)``.
    """
    fits, diag = {}, []
    for layer in layers:
        names, blocks, held = [], [], []
        neutral_mean = None
        for table, arrays, row_index, kind in stimuli:
            key = f"{position}/layer{layer}"
            if key not in arrays:
                raise ConceptError(f"activations lack '{key}'. Fix: extract stimuli with position '{position}'.")
            X = arrays[key].astype(np.float32)
            t = table.iloc[row_index].reset_index(drop=True)
            fit, hold = (t["split"] == "fit").to_numpy(), (t["split"] == "heldout").to_numpy()
            labels, pol = t["concept"].to_numpy(), t["polarity"].to_numpy()
            concepts = list(dict.fromkeys(labels))
            if kind == "emotions":
                neutral = labels == cfg["neutral_concept"]
                if not (neutral & fit).any():
                    raise ConceptError(
                        f"no fit texts for the neutral concept '{cfg['neutral_concept']}'. Fix: add it "
                        "to the emotions stimulus set or set concepts.neutral_concept."
                    )
                neutral_mean = X[neutral & fit].mean(0)
                V = fit_emotion_directions(
                    X[fit], labels[fit], concepts, X[neutral & fit], cfg["method"], cfg["neutral_variance"]
                )
                if valence is not None:
                    r, n = valence_correlation(V, concepts, valence)
                    diag.append(
                        {
                            "model": model,
                            "layer": layer,
                            "concept": "pc1_valence",
                            "kind": "emotions",
                            "metric": "valence_r",
                            "value": r,
                            "n": n,
                        }
                    )
            else:
                V = fit_control_directions(X[fit], labels[fit], pol[fit], concepts)
            names += concepts
            blocks.append(V)
            held.append((X[hold], labels[hold], pol[hold], V, concepts, kind))
        if neutral_mean is None:
            raise ConceptError("the study has no emotions stimulus set (needed for the neutral centre).")
        for Xh, lh, ph, V, concepts, kind in held:
            aucs = heldout_auc(Xh, lh, ph, V, concepts, kind, neutral_mean)
            diag += [
                {
                    "model": model,
                    "layer": layer,
                    "concept": c,
                    "kind": kind,
                    "metric": "heldout_auc",
                    "value": a,
                    "n": int(len(Xh)),
                }
                for c, a in zip(concepts, aucs)
            ]
        fits[layer] = {
            "concepts": names,
            "directions": np.concatenate(blocks).astype(np.float32),
            "neutral_mean": neutral_mean.astype(np.float32),
        }
    return fits, pd.DataFrame(diag)


def choose_layer(diag: pd.DataFrame) -> int:
    """The layer with the best mean heldout AUC over all concepts (emotions and controls weigh equally)."""
    auc = diag[diag["metric"] == "heldout_auc"]
    per_kind = auc.groupby(["layer", "kind"])["value"].mean().unstack()
    return int(per_kind.mean(axis=1).idxmax())


def cosine_matrix(directions: np.ndarray, concepts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(directions @ directions.T, index=concepts, columns=concepts)


# --- the concept file: results/concepts/<model>.safetensors ------------------------------------------------


def save_concepts(path, fits: dict, meta: dict) -> None:
    """Write every layer's directions and neutral mean, with ``meta`` (model, concepts, chosen_layer,
    layers, stimulus_position, method) as JSON metadata; atomic."""
    import json

    from safetensors.numpy import save_file

    from emobasis.io import atomic_path

    tensors = {}
    for layer, fit in fits.items():
        tensors[f"layer{layer}/directions"] = fit["directions"]
        tensors[f"layer{layer}/neutral_mean"] = fit["neutral_mean"]
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"emobasis": json.dumps(meta)})


def load_concepts(path, layer: int | None = None) -> tuple[dict, dict | None]:
    """(meta, fit at ``layer``) of a concept file; ``layer="chosen"`` reads the chosen layer, None no arrays.

    The fit holds ``concepts``, ``directions`` [K, d] and ``neutral_mean`` [d], as :func:`concept_profiles`
    takes it."""
    import json

    from safetensors import safe_open

    with safe_open(str(path), "numpy") as fh:
        meta = json.loads(fh.metadata()["emobasis"])
        if layer is None:
            return meta, None
        layer = meta["chosen_layer"] if layer == "chosen" else layer
        fit = {
            "concepts": meta["concepts"],
            "directions": fh.get_tensor(f"layer{layer}/directions"),
            "neutral_mean": fh.get_tensor(f"layer{layer}/neutral_mean"),
        }
    return meta, fit
