"""What the shared basis is made of, and how much of each model's own failure predictor lies inside it.

All functions work on one position of a :class:`emobasis.transfer.grid.StudyData` and a basis fit on *every*
study model (the deployed basis, as in :mod:`emobasis.transfer.monitor`); nothing here is a transfer result.

- **loadings**: correlation, over the unlabelled train/val rows, between each shared coordinate and each
  named concept's profile score, per model and averaged over models. A shared direction is read by the
  concepts it correlates with. Each direction's sign is fixed so its largest mean loading is positive
  (GCCA signs are arbitrary).
- **predictor fraction**: each model's own predictor is a ridge-logistic head on its whitened
  activations (all ``pca_dims`` components, train rows). Its score's variance over the train/val rows
  is split by regressing it on the model's r shared coordinates: the R^2 is the fraction inside the
  shared subspace. The reference is the same R^2 for random r-dimensional subspaces of the whitened
  space (mean over draws), what an unrelated basis of that size would capture.
- **predictor angles**: the regression coefficients above place every model's predictor in the common
  r-dim coordinates; the principal angles between two models' predictor subspaces (spanned by their
  predictors for every target) say whether they point the same way. 0 degrees: the same direction;
  90: orthogonal.
- **top concepts** (:func:`top_concepts`): which named concepts the zero-shot head of each holdout leans on,
  in a concept space (the LOMO basis and head, as in the grid): the correlation of its score with each
  concept's profile.

The basis is fit in one feature space (:mod:`emobasis.transfer.spaces`, default hidden): in a concept space the
shared directions are combinations of the named emotion and control directions.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.linalg import subspace_angles

from emobasis.labels.targets import CONDITIONAL_TARGETS
from emobasis.transfer.grid import fit_basis, zero_shot_head
from emobasis.transfer.heads import fit_logistic, predict
from emobasis.transfer.protocol import standardize
from emobasis.transfer.spaces import concept_columns, dimension, space_ranks, space_reads
from emobasis.transfer.study import StudyData


def _corr(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of A with every column of B: [a, b]."""
    A = (A - A.mean(0)) / (A.std(0) + 1e-12)
    B = (B - B.mean(0)) / (B.std(0) + 1e-12)
    return A.T @ B / len(A)


def concept_loadings(data: StudyData, coords: dict[str, np.ndarray], position: str) -> pd.DataFrame:
    """Tidy loadings: concept, direction (1-based), model ('mean' = average over models), loading; named concepts
    only (not the shuffled-label directions)."""
    ref = data.ref
    per_model = {m: _corr(data.Z[m][position][ref], coords[m][ref]) for m in data.models}  # [K, r]
    mean = np.mean(list(per_model.values()), axis=0)
    sign = np.sign(mean[np.abs(mean).argmax(0), np.arange(mean.shape[1])])
    sign[sign == 0] = 1
    out = []
    for model, L in [*per_model.items(), ("mean", mean)]:
        L = L * sign
        for (c, concept), j in itertools.product(enumerate(data.concepts), range(L.shape[1])):
            if data.concept_kinds.get(concept) == "unrelated":  # shuffled-label directions name nothing
                continue
            out.append(
                {
                    "position": position,
                    "model": model,
                    "concept": concept,
                    "direction": j + 1,
                    "loading": float(L[c, j]),
                }
            )
    return pd.DataFrame(out)


def _r2(y: np.ndarray, F: np.ndarray) -> tuple[float, np.ndarray]:
    """R^2 of y on F (with intercept) and the slope coefficients."""
    Fb = np.concatenate([np.ones((len(F), 1)), F], 1)
    coef = np.linalg.lstsq(Fb, y, rcond=None)[0]
    resid = y - Fb @ coef
    return float(1 - resid.var() / y.var()), coef[1:]


def predictor_fractions(
    data: StudyData,
    basis,
    coords: dict[str, np.ndarray],
    position: str,
    targets: list[str],
    ranks: list[int],
    l2: float = 1.0,
    n_random: int = 20,
    seed: int = 0,
    space: str = "hidden",
) -> tuple[pd.DataFrame, dict]:
    """Fraction of each model's own predictor inside the first r shared directions, for every r in ranks.

    Returns (table, {(model, target): coefficients of the predictor in the shared coordinates at max rank})."""
    rows = data.rows
    ref = data.ref
    tr = (rows["split"] == "train").to_numpy()
    rng = np.random.default_rng(seed)
    out, betas = [], {}
    reads = space_reads(data, space, position)
    for m in data.models:
        W = standardize(basis.whiteners_[m].transform(reads[m]), ref)
        for t in targets:
            y = data.y(m, t)
            b = fit_logistic(W[tr], y[tr], l2=l2)
            score = W[ref] @ b[1:]
            for r in ranks:
                frac, beta = _r2(score, coords[m][ref][:, :r])
                rand = []
                for _ in range(n_random):
                    Q = np.linalg.qr(rng.normal(size=(W.shape[1], r)))[0]
                    rand.append(_r2(score, W[ref] @ Q)[0])
                out.append(
                    {
                        "position": position,
                        "model": m,
                        "target": t,
                        "rank": r,
                        "fraction": frac,
                        "random_fraction": float(np.mean(rand)),
                        "pca_dims": W.shape[1],
                    }
                )
                if r == max(ranks):
                    betas[(m, t)] = beta
    return pd.DataFrame(out), betas


def predictor_angles(betas: dict, targets: list[str], position: str) -> pd.DataFrame:
    """Principal angles (degrees) between two models' predictor subspaces in the shared coordinates, and
    the angle between their predictors for each target."""
    models = sorted({m for m, _ in betas}, key=[m for m, _ in betas].index)
    out = []
    for a, b in itertools.combinations(models, 2):
        A = np.stack([betas[(a, t)] for t in targets], 1)
        B = np.stack([betas[(b, t)] for t in targets], 1)
        angles = np.degrees(subspace_angles(A, B))[::-1]  # smallest first
        for i, ang in enumerate(angles):
            out.append(
                {
                    "position": position,
                    "model_a": a,
                    "model_b": b,
                    "target": "all",
                    "angle": i + 1,
                    "degrees": float(ang),
                }
            )
        for t in targets:
            u, v = betas[(a, t)], betas[(b, t)]
            cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
            out.append(
                {
                    "position": position,
                    "model_a": a,
                    "model_b": b,
                    "target": t,
                    "angle": 1,
                    "degrees": float(np.degrees(np.arccos(np.clip(cos, -1, 1)))),
                }
            )
    return pd.DataFrame(out)


def basis_anatomy(
    data: StudyData,
    aligner: str,
    rank: int,
    ranks: list[int],
    targets: list[str],
    pca_dims: int,
    l2: float = 1.0,
    seed: int = 0,
    space: str = "hidden",
) -> dict[str, pd.DataFrame]:
    """Loadings (at ``rank``), predictor fractions (every rank in ``ranks`` the space holds) and angles (at
    the largest of them), for every position in the study data, with the basis fit in ``space``. Conditional
    targets (:data:`emobasis.transfer.study.CONDITIONAL_TARGETS`, defined on a subset of each model's rows)
    are left out."""
    targets = [t for t in targets if t not in CONDITIONAL_TARGETS]
    tables = {"loadings": [], "fractions": [], "angles": []}
    ranks = space_ranks(sorted(set(ranks) | {rank}), dimension(data, space))
    top = max(ranks)
    for position in next(iter(data.X.values())):
        basis, coords = fit_basis(data, aligner, top, position, pca_dims, space=space)
        loadings = concept_loadings(data, {m: c[:, :rank] for m, c in coords.items()}, position)
        tables["loadings"].append(loadings.assign(space=space))
        frac, betas = predictor_fractions(data, basis, coords, position, targets, ranks, l2=l2, seed=seed, space=space)
        tables["fractions"].append(frac)
        tables["angles"].append(predictor_angles(betas, targets, position).assign(rank=top))
    return {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}


def top_concepts(data: StudyData, holdout: str, rule: dict, cfg: dict, seed: int = 0, n: int = 5) -> pd.DataFrame:
    """The ``n`` concepts the holdout's zero-shot head leans on most (the LOMO basis and head of the grid, in
    the rule's concept space, at its aligner, rank, target and position): by the correlation, over the
    holdout's unlabelled train-side rows, between the head's score and each concept's profile (a structure
    coefficient). The head's exact weights on the profiles are no guide: the concept profiles are strongly
    collinear, so the weights are large and cancel."""
    space, position, rank = rule.get("space", "hidden"), rule["position"], rule["rank"]
    cols = concept_columns(data, space)
    if cols is None:
        return pd.DataFrame()
    F, head, _ = zero_shot_head(data, holdout, rule["aligner"], rank, position, rule["target"], cfg, seed, space)
    score, ref = predict(F, head), data.ref
    weights = _corr(space_reads(data, space, position)[holdout][ref], score[ref][:, None])[:, 0]
    order = np.argsort(-np.abs(weights), kind="stable")[:n]
    return pd.DataFrame(
        {
            "holdout": holdout,
            "space": space,
            "aligner": rule["aligner"],
            "rank": rank,
            "target": rule["target"],
            "position": position,
            "order": np.arange(1, len(order) + 1),
            "concept": [data.concepts[cols[i]] for i in order],
            "correlation": weights[order],
        }
    )
