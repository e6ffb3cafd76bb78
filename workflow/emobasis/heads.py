"""Logistic heads fit in batches: many small L2-regularised problems solved at once by Newton's method.

``fit_logistic(X, y, w, l2, prior)`` solves, for every problem s,

    min_b  sum_i w[s,i] * logloss(y[s,i], X[s,i] @ b[1:] + b[0])  +  l2/2 * ||b[1:] - prior[s]||^2

(intercept unpenalised). Row weights of 0 switch rows off, so problems with different numbers of
labelled rows (the k-shot curve over seeds) share one array. A warm start is ``prior`` = the zero-shot
head's coefficients; ``prior`` = 0 is ordinary ridge-logistic regression.
"""

from __future__ import annotations

import numpy as np


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    l2: float | np.ndarray = 1.0,
    prior: np.ndarray | None = None,
    iters: int = 30,
) -> np.ndarray:
    """X [S, n, p] (or [n, p]), y and w [S, n]; ``l2`` one strength or one per problem [S]; returns
    coefficients [S, p + 1] (intercept first)."""
    single = X.ndim == 2
    if single:
        X, y = X[None], y[None]
        w = None if w is None else w[None]
        prior = None if prior is None else np.asarray(prior)[None]
    S, n, p = X.shape
    w = np.ones((S, n)) if w is None else np.asarray(w, float)
    y = np.asarray(y, float)
    Xb = np.concatenate([np.ones((S, n, 1)), X], axis=2)
    pri = np.zeros((S, p + 1))
    if prior is not None:
        pri[:, 1:] = prior
    penalty = np.repeat(np.broadcast_to(np.asarray(l2, float), (S,))[:, None], p + 1, axis=1)
    penalty[:, 0] = 1e-8
    b = pri.copy()
    # start the intercept at the weighted log-odds
    rate = np.clip((w * y).sum(1) / np.maximum(w.sum(1), 1e-12), 1e-3, 1 - 1e-3)
    b[:, 0] = np.log(rate / (1 - rate)) - np.einsum("snp,sp,sn->s", X, b[:, 1:], w) / np.maximum(w.sum(1), 1e-12)
    eye = np.eye(p + 1)
    for _ in range(iters):
        z = np.matmul(Xb, b[..., None])[..., 0]
        mu = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        XbT = np.swapaxes(Xb, 1, 2)
        g = np.matmul(XbT, (w * (mu - y))[..., None])[..., 0] + penalty * (b - pri)
        h = np.matmul(XbT * (w * mu * (1 - mu))[:, None, :], Xb) + penalty[:, :, None] * eye
        step = np.linalg.solve(h, g[..., None])[..., 0]
        b = b - step
        if np.abs(step).max() < 1e-8:
            break
    return b[0] if single else b


def predict(X: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logits: X [n, p] with b [p+1] -> [n]; X [n, p] with b [S, p+1] -> [S, n]."""
    return X @ b[..., 1:].T + b[..., 0] if b.ndim == 1 else b[:, None, 0] + np.einsum("np,sp->sn", X, b[:, 1:])
