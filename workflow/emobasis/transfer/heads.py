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
    if p > n and (S == 1 or X.strides[0] == 0):  # more features than rows, the same rows for every problem
        return _fit_in_row_span(X[0], y, w, l2, prior, iters, single)
    w = np.ones((S, n)) if w is None else np.asarray(w, float)
    y = np.broadcast_to(np.asarray(y, float), (S, n))
    m = int((w != 0).sum(1).max())
    if m < n // 2:  # few labelled rows per problem (k-shot draws): keep only those, padded with weight-0 rows
        keep = np.argsort(w == 0, axis=1, kind="stable")[:, :m]
        X = X[np.arange(S)[:, None], keep] if X.strides[0] else X[0][keep]
        y, w = np.take_along_axis(y, keep, 1), np.take_along_axis(w, keep, 1)
        n = m
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


def _fit_in_row_span(X, y, w, l2, prior, iters, single) -> np.ndarray:
    """The same problems in the coordinates of the rows' span (n < p): the penalised solution moves from the
    prior only inside that span (its gradient condition puts b - prior there), so fitting the rows' coordinates
    V'x with the prior's V'prior and mapping back is exact, and the Newton systems shrink from p + 1 to at most
    n + 1 unknowns (e.g. 385 -> 68 for a sentence embedding read by a k-shot head)."""
    _, sv, Vt = np.linalg.svd(X, full_matrices=False)
    V = Vt[: max(int((sv > sv[0] * 1e-10).sum()), 1)].T  # [p, r]
    S = len(y) if np.ndim(y) == 2 else 1
    pri = np.zeros((S, X.shape[1])) if prior is None else np.broadcast_to(prior, (S, X.shape[1]))
    XV = X @ V
    c = fit_logistic(np.broadcast_to(XV, (S,) + XV.shape), y, w, l2, pri @ V, iters)
    b = np.concatenate([c[:, :1], pri + (c[:, 1:] - pri @ V) @ V.T], axis=1)
    return b[0] if single else b


def predict(X: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logits: X [n, p] with b [p+1] -> [n]; X [n, p] with b [S, p+1] -> [S, n]."""
    return X @ b[..., 1:].T + b[..., 0] if b.ndim == 1 else b[:, None, 0] + np.einsum("np,sp->sn", X, b[:, 1:])
