"""AUROC, recall at a fixed false-positive rate, bootstrap over prompts (vectorised), permutation p-values
and Holm's correction."""

from __future__ import annotations

import numpy as np

#: The reproducibility contract. On one machine every table is byte-identical between runs. Across
#: machines (other CPUs, BLAS kernels, thread counts, batch composition) float32 and float16 arithmetic
#: rounds differently, and every reported AUC, CI bound and paired difference may move by at most this
#: much. Measured on the tiny study by re-running extraction and everything after it with 1 instead of 2
#: threads and token_budget 256 instead of 1024: AUCs moved by <= 0.0035, bootstrap CI bounds by <= 0.015;
#: about twice that is allowed (tests/test_study.py).
AUC_TOLERANCE = 0.03


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


def recall_rows(scores: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """:func:`recall_at_threshold` of each row of ``scores`` [S, n] at its threshold [S] (a NaN one alarms never)."""
    pos = np.asarray(y, bool)
    return (scores[:, pos] > thresholds[:, None]).mean(1) if pos.any() else np.full(len(scores), np.nan)


def supported_fpr(n_benign: int, fpr: float = 0.01) -> float:
    """The false-positive rate ``n_benign`` calibration rows can set a threshold for: ``fpr``, or 1/n when
    there are fewer than 1/fpr rows (a 1% level cannot be read off 40 rows). NaN without rows."""
    return max(fpr, 1.0 / n_benign) if n_benign else float("nan")


def fpr_threshold(benign_scores: np.ndarray, fpr: float = 0.01) -> float:
    """Score above which about ``supported_fpr(len(benign_scores), fpr)`` of the benign calibration rows fall
    (the monitor's calibrated alarm level)."""
    n = len(benign_scores)
    return float(np.quantile(np.asarray(benign_scores, float), 1 - supported_fpr(n, fpr))) if n else float("nan")


def alarm_rates(alarms: np.ndarray, rows: np.ndarray, groups: np.ndarray, W: np.ndarray) -> tuple[float, float, float]:
    """Share of ``rows`` (a mask over test rows) that raise an alarm, and its 95% bootstrap CI: ``alarms`` is
    each test row's alarm rate over heads [n_test]; ``W`` the prompt-bootstrap weights [B, n_groups] of the
    rows' ``groups`` (from :func:`group_bootstrap`), so every row of a resampled prompt counts with it."""
    if not rows.any():
        return (float("nan"),) * 3
    Wr = W[:, np.unique(groups, return_inverse=True)[1][rows]]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (Wr * alarms[rows]).sum(1) / Wr.sum(1)
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return float(alarms[rows].mean()), float(lo), float(hi)


def auc_rows(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` [S, n] (midranks for ties)."""
    from scipy.stats import rankdata

    y = np.asarray(y, bool)
    n_pos, n_neg = y.sum(), (~y).sum()
    if n_pos == 0 or n_neg == 0:
        return np.full(len(scores), np.nan)
    r = rankdata(scores, axis=1)
    return (r[:, y].sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_kernel(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Seed-averaged comparison matrix between prompts: K[a, c] = mean over seeds of
    sum_{i positive in prompt a, j negative in prompt c} (1[s_i > s_j] + 1/2 1[s_i = s_j]).

    With prompt weights w (a bootstrap resample), the seed-averaged AUC is w'Kw / (Wpos * Wneg), so one
    kernel serves every resample and every paired difference (see :func:`bootstrap_auc`)."""
    y = np.asarray(y, bool)
    _, inv = np.unique(groups, return_inverse=True)
    n_groups = inv.max() + 1
    sp, sn = scores[:, y], scores[:, ~y]
    cmp = (sp[:, :, None] > sn[:, None, :]).mean(0) + 0.5 * (sp[:, :, None] == sn[:, None, :]).mean(0)
    A = np.zeros((y.sum(), n_groups))
    A[np.arange(y.sum()), inv[y]] = 1
    C = np.zeros(((~y).sum(), n_groups))
    C[np.arange((~y).sum()), inv[~y]] = 1
    return A.T @ cmp @ C


def bootstrap_auc(kernel: np.ndarray, y: np.ndarray, groups: np.ndarray, W: np.ndarray) -> np.ndarray:
    """[B] seed-averaged AUCs under prompt-weight resamples W [B, n_groups] (from :func:`group_bootstrap`)."""
    y = np.asarray(y, bool)
    _, inv = np.unique(groups, return_inverse=True)
    n_pos = np.bincount(inv[y], minlength=W.shape[1])
    n_neg = np.bincount(inv[~y], minlength=W.shape[1])
    num = ((W @ kernel) * W).sum(1)
    den = (W @ n_pos) * (W @ n_neg)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def bootstrap_units(rows) -> np.ndarray:
    """What the bootstrap resamples, per row: an own-answer prompt set's ``group`` (an XSTest safe prompt and
    its unsafe contrast twin share one, so they are resampled together; prefixed by the suite), else the
    prompt (``item_id``)."""
    if "group" in rows and rows["group"].notna().all():
        return (rows["suite"].astype(str) + "|" + rows["group"].astype(str)).to_numpy()
    return rows["item_id"].to_numpy()


def group_bootstrap(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_groups] multiplicities of prompts drawn with replacement (groups sorted as np.unique)."""
    n = len(np.unique(groups))
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=n_boot).astype(float)


def permutation_p(observed: float, null: np.ndarray) -> float:
    """One-sided permutation p-value of an AUC against the AUCs of single heads fit on permuted labels:
    (1 + #{null >= observed}) / (1 + n), never 0 (Phipson & Smyth 2010). NaN without a null or an AUC."""
    null = np.asarray(null, float)
    null = null[~np.isnan(null)]
    if not len(null) or np.isnan(observed):
        return float("nan")
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + len(null)))


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate), in the input order; NaNs stay NaN and do
    not count toward the family size."""
    p = np.asarray(p, float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="mergesort")]
    m, running = len(order), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


#: the summary's alarm columns: recall, the false-positive rate realized on benign test rows, and the false-alarm
#: rate on the harmful test prompts the model refused or answered safely (``realized_fpr_safe``: what a deployer
#: sees among harmful traffic), at thresholds calibrated for ``fpr_target`` on benign validation rows
ALARM_COLUMNS = ("recall_at_fpr", "recall_ci_low", "recall_ci_high", "realized_fpr", "realized_fpr_ci_low")
ALARM_COLUMNS += ("realized_fpr_ci_high", "realized_fpr_safe", "realized_fpr_safe_ci_low", "realized_fpr_safe_ci_high")
ALARM_COLUMNS += ("fpr_target",)


def alarm_columns(
    res, yte: np.ndarray, benign_te: np.ndarray, groups: np.ndarray, W: np.ndarray, safe_te: np.ndarray | None = None
) -> dict:
    """Recall of the positives, the false-positive rate realized on the benign test rows and on ``safe_te``
    (the harmful test prompts answered safely) at the heads' calibrated thresholds (``fpr_target``), averaged
    over the heads, each with a 95% CI from the same prompt bootstrap as the AUC; NaN without a threshold (no
    benign calibration rows) or without such rows."""
    ok = ~np.isnan(res.thresholds)
    safe_te = np.zeros(len(yte), bool) if safe_te is None else safe_te
    recall = fpr = safe = (float("nan"),) * 3
    if ok.any():
        alarms = (res.scores[ok] > res.thresholds[ok, None]).mean(0)  # each test row's alarm rate over heads
        recall, fpr, safe = (alarm_rates(alarms, rows, groups, W) for rows in (yte.astype(bool), benign_te, safe_te))
    return {
        "fpr_target": res.fpr_target,
        **dict(zip(("recall_at_fpr", "recall_ci_low", "recall_ci_high"), recall)),
        **dict(zip(("realized_fpr", "realized_fpr_ci_low", "realized_fpr_ci_high"), fpr)),
        **dict(zip(("realized_fpr_safe", "realized_fpr_safe_ci_low", "realized_fpr_safe_ci_high"), safe)),
    }
