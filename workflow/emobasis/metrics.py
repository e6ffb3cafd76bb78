"""AUROC, recall at a fixed false-positive rate, and bootstrap over prompts (vectorised)."""

from __future__ import annotations

import numpy as np


def weighted_auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of one score vector under many row-weight vectors (ties count 1/2).

    ``scores``, ``y``: [n]; ``weights``: [B, n] (e.g. bootstrap multiplicities). Returns [B]."""
    order = np.argsort(scores, kind="mergesort")
    s, yy, w = scores[order], y[order].astype(bool), weights[:, order]
    if len(s) < 2 or (np.diff(s) > 0).all():  # no ties: each positive beats the negatives sorted below it
        wn = np.where(~yy, w, 0.0)
        wp = np.where(yy, w, 0.0)
        num = (wp * (np.cumsum(wn, axis=1) - wn)).sum(1)
        den = wp.sum(1) * wn.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)
    # group ties: every row in a tie group sees the negatives strictly below plus half of those tied
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    wn = np.where(~yy, w, 0.0)
    wp = np.where(yy, w, 0.0)
    cum_neg = np.cumsum(wn, axis=1)
    below = np.concatenate([np.zeros((len(w), 1)), cum_neg], axis=1)[:, start]  # negatives below each group
    group_neg = np.add.reduceat(wn, start, axis=1)
    group_pos = np.add.reduceat(wp, start, axis=1)
    num = (group_pos * (below + 0.5 * group_neg)).sum(1)
    den = wp.sum(1) * wn.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    return float(weighted_auc(np.asarray(scores, float), np.asarray(y), np.ones((1, len(y))))[0])


def recall_at_threshold(scores: np.ndarray, y: np.ndarray, threshold: float) -> float:
    pos = np.asarray(y, bool)
    return float((np.asarray(scores)[pos] > threshold).mean()) if pos.any() else float("nan")


def fpr_threshold(benign_scores: np.ndarray, fpr: float = 0.01) -> float:
    """Score above which at most ``fpr`` of benign rows fall (the monitor's calibrated alarm level)."""
    return float(np.quantile(np.asarray(benign_scores, float), 1 - fpr)) if len(benign_scores) else float("nan")


def bootstrap_weights(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] row weights from resampling ``groups`` (prompts) with replacement."""
    uniq, inverse = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(uniq), np.full(len(uniq), 1 / len(uniq)), size=n_boot)
    return counts[:, inverse].astype(float)
