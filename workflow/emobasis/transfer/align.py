"""Aligners: learn a rank-r basis shared by the training models, and a map from every model into it.

All aligners share a scikit-learn-like interface::

    aligner = make_aligner("gcca", rank=8, seed=0).fit(views)   # views: {model: X [n_shared, d_m]}, same texts
    aligner.adapt("new-model", X_shared_new)                     # light adaptation: unlabelled shared texts only
    Z = aligner.transform("new-model", X)                        # [n, rank]

``views`` rows are the same shared texts (stimuli and unlabelled suite texts) read by each model.

- ``gcca``: MAXVAR generalized CCA after a per-model PCA: the consensus G (n x r) are the top
  eigenvectors of the sum of the models' projection matrices; each model's map is the ridge regression
  of its PCA scores onto G, and a new model is adapted the same way, against the same consensus.
- ``procrustes``: each model's whitened top-r PCA scores are rotated onto a consensus by generalized
  orthogonal Procrustes (scipy); a new model is rotated onto the consensus.
- ``random``: a baseline that maps every model's whitened PCA space through its own random rotation
  (same procedure, no alignment).

Why not cca-zoo: MAXVAR GCCA is a few lines of linear algebra here, and the study needs the adaptation
step (a new view regressed onto a frozen consensus) that cca-zoo's estimators do not expose; the
dependency would add a pinned stack (and its torch requirement) for no gain.

- ``lowrank`` (:func:`lowrank_basis`): lives in the named concept-profile space and uses the training
  models' labels: a multi-task reduced-rank basis of concept combinations, the same for every model.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import orthogonal_procrustes

from emobasis.errors import AlignError


class Whitener:
    """Centre, PCA to ``p`` dims, and scale each component to unit variance (fit on shared texts)."""

    def __init__(self, p: int, eps: float = 1e-6):
        self.p, self.eps = p, eps

    def fit(self, X: np.ndarray) -> Whitener:
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(0)
        U, S, Vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        p = min(self.p, len(S))
        self.components_ = Vt[:p]
        self.scale_ = S[:p] / np.sqrt(max(len(X) - 1, 1)) + self.eps
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T) / self.scale_


class Aligner:
    """Base class: per-model whitening, then a method-specific map into the shared r-dim basis."""

    name = "base"

    def __init__(self, rank: int, pca_dims: int = 64, ridge: float = 1e-2, seed: int = 0):
        if rank < 1:
            raise AlignError(f"rank must be >= 1, got {rank}.")
        self.rank, self.pca_dims, self.ridge, self.seed = rank, pca_dims, ridge, seed
        self.whiteners_: dict[str, Whitener] = {}
        self.maps_: dict[str, np.ndarray] = {}

    def _whiten(self, model: str, X: np.ndarray, whitener: Whitener | None = None) -> np.ndarray:
        """Whiten a model's shared texts; a whitener already fit on the same texts can be reused."""
        self.whiteners_[model] = whitener or Whitener(max(self.pca_dims, self.rank)).fit(X)
        W = self.whiteners_[model].transform(X)
        if W.shape[1] < self.rank:
            raise AlignError(
                f"model '{model}' gives only {W.shape[1]} dimensions on the shared texts, fewer than "
                f"rank {self.rank}. Fix: lower the rank or add shared texts."
            )
        return W

    def fit(self, views: dict[str, np.ndarray], whiteners: dict | None = None) -> Aligner:
        if len(views) < 1:
            raise AlignError("an aligner needs at least one training model.")
        n = {len(v) for v in views.values()}
        if len(n) != 1:
            raise AlignError(f"views must hold the same shared texts (row counts differ: {sorted(n)}).")
        self.train_models_ = list(views)
        whitened = {m: self._whiten(m, X, (whiteners or {}).get(m)) for m, X in views.items()}
        self._fit_whitened(whitened)
        return self

    def adapt(self, model: str, X_shared: np.ndarray, whitener: Whitener | None = None) -> Aligner:
        """Fit a new model's map from its unlabelled activations on the same shared texts."""
        if len(X_shared) != self.n_shared_:
            raise AlignError(f"adapting '{model}' needs the {self.n_shared_} shared texts, got {len(X_shared)} rows.")
        self._adapt_whitened(model, self._whiten(model, X_shared, whitener))
        return self

    def transform(self, model: str, X: np.ndarray) -> np.ndarray:
        if model not in self.maps_:
            raise AlignError(f"model '{model}' has no map. Fix: fit with it or adapt() it first.")
        return self.whiteners_[model].transform(X) @ self.maps_[model]

    def _ridge_map(self, W: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.linalg.solve(W.T @ W + self.ridge * len(W) * np.eye(W.shape[1]), W.T @ target)

    def _adapt_whitened(self, model: str, W: np.ndarray) -> None:
        self.maps_[model] = self._ridge_map(W, self.consensus_)


class GCCAAligner(Aligner):
    name = "gcca"

    def _fit_whitened(self, whitened):
        n = len(next(iter(whitened.values())))
        self.n_shared_ = n
        M = np.zeros((n, n))
        for W in whitened.values():  # projection onto each view's (ridge-regularised) column space
            M += W @ np.linalg.solve(W.T @ W + self.ridge * n * np.eye(W.shape[1]), W.T)
        vals, vecs = np.linalg.eigh(M)
        G = vecs[:, ::-1][:, : self.rank] * np.sqrt(n)  # unit-variance consensus columns
        self.canonical_correlations_ = vals[::-1][: self.rank] / len(whitened)
        self.consensus_ = G
        for m, W in whitened.items():
            self.maps_[m] = self._ridge_map(W, G)


class ProcrustesAligner(Aligner):
    name = "procrustes"

    def _fit_whitened(self, whitened, iters: int = 20):
        self.n_shared_ = len(next(iter(whitened.values())))
        Y = {m: W[:, : self.rank] for m, W in whitened.items()}
        C = next(iter(Y.values())).copy()
        for _ in range(iters):
            R = {m: orthogonal_procrustes(Ym, C)[0] for m, Ym in Y.items()}
            C_new = np.mean([Y[m] @ R[m] for m in Y], axis=0)
            if np.allclose(C_new, C, atol=1e-8):
                break
            C = C_new
        self.consensus_ = C
        for m, W in whitened.items():
            self.maps_[m] = np.vstack([R[m], np.zeros((W.shape[1] - self.rank, self.rank))])

    def _adapt_whitened(self, model, W):
        R = orthogonal_procrustes(W[:, : self.rank], self.consensus_)[0]
        self.maps_[model] = np.vstack([R, np.zeros((W.shape[1] - self.rank, self.rank))])


class RandomAligner(Aligner):
    """Baseline: every model gets its own random orthonormal rank-r projection of its whitened space."""

    name = "random"

    def _random_map(self, model: str, p: int) -> np.ndarray:
        from emobasis.data.splits import stable_seed

        rng = np.random.default_rng(stable_seed(self.seed, "random-basis", model, str(self.rank)))
        Q, _ = np.linalg.qr(rng.normal(size=(p, self.rank)))
        return Q

    def _fit_whitened(self, whitened):
        self.n_shared_ = len(next(iter(whitened.values())))
        for m, W in whitened.items():
            self.maps_[m] = self._random_map(m, W.shape[1])

    def _adapt_whitened(self, model, W):
        self.maps_[model] = self._random_map(model, W.shape[1])


ALIGNERS = {"gcca": GCCAAligner, "procrustes": ProcrustesAligner, "random": RandomAligner}


def make_aligner(name: str, rank: int, **kwargs) -> Aligner:
    if name not in ALIGNERS:
        raise AlignError(f"unknown aligner '{name}'. Fix: use one of {', '.join(sorted(ALIGNERS))} (or lowrank).")
    return ALIGNERS[name](rank, **kwargs)


def orient_profiles(
    profiles: dict[str, np.ndarray], reference: list[str], rows: np.ndarray, rounds: int = 2
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Concept profiles with each model's columns signed to agree with the ``reference`` models, from
    unlabelled rows alone.

    A concept direction is fit per model, and nothing forces a model's profile on one concept to move with
    the other models' on the same prompts: in the default study half of SmolLM2's profiles at prompt_last
    correlate negatively with the other models' on the same prompts, and a head trained on the other
    models then scores it below chance. Here each column of every model gets the sign of its correlation,
    on ``rows`` (the same prompts for every model, no labels), with the reference models' mean column;
    the mean is recomputed with the signs applied (``rounds``). Returns (signed profiles, {model: signs})."""
    signs = {m: np.ones(Z.shape[1]) for m, Z in profiles.items()}
    for _ in range(rounds):
        consensus = np.mean([profiles[m][rows] * signs[m] for m in reference], 0)
        for m, Z in profiles.items():
            c = np.array([np.corrcoef(Z[rows, i], consensus[:, i])[0, 1] for i in range(Z.shape[1])])
            signs[m] = np.where(c < 0, -1.0, 1.0)
    return {m: Z * signs[m] for m, Z in profiles.items()}, signs


def lowrank_basis(
    profiles: dict[str, np.ndarray],
    labels: dict[str, list[np.ndarray]],
    rank: int,
    tr: np.ndarray,
    ref: np.ndarray,
    l2: float = 1.0,
) -> np.ndarray:
    """[K, rank] orthonormal concept combinations shared by the training models' failure predictors.

    ``profiles``: training model -> standardized concept profiles [n, K]; ``labels``: model -> one label
    vector per target. Multi-task reduced rank: each (training model, target) predictor is a ridge-logistic
    head on the profiles' train rows; the basis spans those predictors first (left singular vectors of the
    stacked, normalised coefficients) and is completed by the leading principal components of the pooled
    profiles (unlabelled ``ref`` rows), orthogonalised against them."""
    from emobasis.transfer.heads import fit_logistic

    B = []
    for m, Z in profiles.items():
        for y in labels[m]:
            b = fit_logistic(Z[tr], y[tr], l2=l2)[1:]
            B.append(b / (np.linalg.norm(b) + 1e-12))
    U = np.linalg.svd(np.stack(B, 1), full_matrices=False)[0]
    U = U[:, : min(rank, U.shape[1])]
    pooled = np.concatenate([Z[ref] for Z in profiles.values()])
    pcs = np.linalg.svd(pooled - pooled.mean(0), full_matrices=False)[2].T
    pcs = pcs - U @ (U.T @ pcs)
    extra = np.linalg.qr(pcs)[0][:, : rank - U.shape[1]] if rank > U.shape[1] else np.zeros((len(U), 0))
    return np.concatenate([U, extra], 1)
