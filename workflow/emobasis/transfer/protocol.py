"""The LOMO protocol shared by every method: k draws, head training and scoring for one (holdout, target).

- **k = 0 (zero-shot)**: ridge-logistic head on the *training* models' train rows (L2 chosen on their
  validation rows), applied to the holdout's test rows.
- **k > 0**: k labelled holdout train rows (seeded draws with both classes, the same draws for every
  method), head refit with the zero-shot head as its prior (warm start); ``k = all`` uses every holdout
  train row once.
- recall at a calibrated FPR: the alarm threshold is set on *benign* rows of the **validation** split,
  which no head is trained on: the training models' (for holdout-only methods, the holdout's own), whatever
  rows the target is defined on (a deployer sets the alarm level on benign traffic, which needs no label).
  The target is 1%, or 1/n when only n < 100 benign rows calibrate it (``fpr_target``); the summary reports
  the false-positive rate the threshold really gives on the holdout's benign test rows, and on its harmful
  test prompts that it refused or answered safely.
- the shuffled-label null permutes the labels within strata (model, suite, benign or harmful prompt), so it
  keeps what "this request is harmful" earns and tests only what lies beyond it; each null head chooses its
  own L2 on its own permuted validation labels, as the real head does.
The holdout never contributes labels to a k = 0 head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.errors import TransferError
from emobasis.labels.targets import CONDITIONAL_TARGETS
from emobasis.transfer.heads import fit_logistic, predict
from emobasis.transfer.metrics import auc, supported_fpr
from emobasis.transfer.study import StudyData

ALL_K = -1  # k = "all" in tables
#: the own probe's L2 strengths (``transfer.specific_l2_grid`` overrides), chosen by CV inside the k rows
SPECIFIC_L2_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
CV_FOLDS = 5


def parse_ks(ks) -> list[int]:
    return [ALL_K if k == "all" else int(k) for k in ks]


def standardize(F: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Features scaled to zero mean and unit variance on the reference (train-side) rows."""
    mu, sd = F[ref].mean(0), F[ref].std(0) + 1e-8
    return (F - mu) / sd


def check_labels(rows: pd.DataFrame, target: str, model: str | None = None) -> None:
    whose = f" for model '{model}'" if model else ""
    for split in ("train", "val", "test"):
        y = rows.loc[rows["split"] == split, target]
        if y.nunique() < 2:
            raise TransferError(
                f"target '{target}' has a single class ({y.iloc[0] if len(y) else 'no rows'}) in the "
                f"{split} split{whose}. Fix: add suites or rows with both classes, or raise "
                "study.max_rows_per_suite."
            )


def holdout_targets(data: StudyData, holdout: str, targets: list[str]) -> tuple[list[str], list[dict]]:
    """The targets the holdout is scored on, and a skip note for each conditional one it is not: it does not
    support it itself, or no training model does (:meth:`StudyData.target_reason`). The others must have both
    classes in every split (:func:`check_labels`: an error, as no holdout could be scored)."""
    keep, notes = [], []
    for target in targets:
        if target not in CONDITIONAL_TARGETS:
            for m in [None] if data.same_texts else data.models:
                check_labels(data.table(m) if m else data.rows, target, m)
            keep.append(target)
            continue
        why = {m: data.target_reason(m, target) for m in data.models}
        if why[holdout] is None and all(why[m] is not None for m in data.models if m != holdout):
            why[holdout] = f"{target}: no training model supports it (" + "; ".join(filter(None, why.values())) + ")"
        if why[holdout] is None:
            keep.append(target)
        else:
            notes.append({"space": "*", "aligner": "*", "rank": 0, "target": target, "reason": why[holdout]})
    return keep, notes


def draw_k(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k row positions (out of len(y)) with both classes present; seeded."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if k >= len(y):
        return np.arange(len(y))
    if k < 2 or len(pos) == 0 or len(neg) == 0:
        return rng.choice(len(y), size=k, replace=False)
    n_pos = int(np.clip(rng.binomial(k, len(pos) / len(y)), 1, min(k - 1, len(pos))))
    n_pos = min(n_pos, len(pos))
    n_neg = min(k - n_pos, len(neg))
    return np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]))


@dataclass
class HeadResult:
    k: int
    scores: np.ndarray  # [S, n_test]
    thresholds: np.ndarray  # [S]
    fpr_target: float = float("nan")  # the false-positive rate the thresholds were calibrated for


def calibrated(k: int, scores: np.ndarray, benign_scores: np.ndarray) -> HeadResult:
    """Head results with alarm thresholds set on benign calibration rows: ``benign_scores`` [S, n_benign]."""
    n = benign_scores.shape[1]
    thr = np.quantile(benign_scores, 1 - supported_fpr(n), axis=1) if n else np.full(len(scores), np.nan)
    return HeadResult(k, scores, thr, supported_fpr(n))


def fit_l2_on_validation(Xtr, ytr, Xva, yva, l2_grid) -> np.ndarray:
    """A logistic head fit on the train rows at each L2 of ``l2_grid``, the one with the best validation AUC
    (the first of equals, in the grid's order)."""
    best, best_auc = None, -1.0
    for l2 in l2_grid:
        b = fit_logistic(Xtr, ytr, l2=l2)
        a = auc(predict(Xva, b), yva)
        if a > best_auc:
            best, best_auc = b, a
    return best


class Protocol:
    """Head training and scoring shared by every method, for one (holdout, target)."""

    def __init__(
        self,
        rows: pd.DataFrame,
        holdout: str,
        models: list[str],
        target: str,
        cfg: dict,
        seed: int,
        labels: dict[str, np.ndarray] | None = None,
        shot: np.ndarray | None = None,
        eligible: dict[str, np.ndarray] | None = None,
    ):
        """``labels``: model -> labels of its rows (own-response mode); default: ``rows[target]`` for all.
        ``shot``: the holdout rows the k labels are drawn from (default: its train rows; cross-suite: the
        scored suite's train rows, :mod:`emobasis.transfer.crosssuite`). ``eligible``: model -> the rows its target is
        defined on (a conditional target, :data:`emobasis.transfer.study.CONDITIONAL_TARGETS`); every pool, draw, test
        and calibration row is cut to them (default: all rows)."""
        self.holdout, self.train_models, self.cfg, self.seed = holdout, [m for m in models if m != holdout], cfg, seed
        self.target = target
        shared_y = rows[target].to_numpy().astype(bool) if labels is None else None
        self.Y = labels if labels is not None else {m: shared_y for m in models}
        self.y = self.Y[holdout]
        self.split = rows["split"].to_numpy()
        self.benign = rows["benign"].to_numpy().astype(bool)
        # permutation strata of the shuffled-label null: suite x (benign or harmful prompt), per model
        suite = rows["suite"].astype(str) if "suite" in rows else pd.Series("", index=rows.index)
        self.stratum = pd.factorize(suite + "|" + rows["benign"].astype(str))[0]
        self.E = {m: np.ones(len(rows), bool) for m in models} | (eligible or {})
        self.tr, self.va, self.te = (self.split == s for s in ("train", "val", "test"))
        self.te = self.te & self.E[holdout]
        self.ref = self.tr | self.va  # unlabelled rows that fix each model's feature scaling (train_side)
        self.cal = self.va & self.benign  # benign rows no head is trained on: they set the alarm thresholds
        self.own_cal = self.cal  # the holdout's, for heads fit on the holdout alone (label-free: every target)
        self.shot = (self.tr if shot is None else shot) & self.E[holdout]
        self.draws = {}
        y_h = self.y[self.shot]
        for k in cfg["ks"]:
            if k == 0:
                continue
            if k == ALL_K or k >= len(y_h):
                self.draws[k] = [np.arange(len(y_h))]
            else:
                self.draws[k] = [draw_k(y_h, k, stable_seed(seed, target, str(k), str(s))) for s in range(cfg["seeds"])]

    def rows_of(self, model: str, mask: np.ndarray) -> np.ndarray:
        """``mask`` cut to the rows the model's target is defined on."""
        return mask & self.E[model]

    def _pool(self, F: dict, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training models' rows under ``mask`` (each cut to its eligible rows), stacked, with their labels."""
        return (
            np.concatenate([F[m][self.rows_of(m, mask)] for m in self.train_models]),
            np.concatenate([self.Y[m][self.rows_of(m, mask)] for m in self.train_models]),
        )

    def benign_cal(self, F: dict) -> np.ndarray:
        """The training models' benign validation rows, stacked: they set a transfer head's alarm threshold
        (label-free, so the same rows for every target)."""
        return np.concatenate([F[m][self.cal] for m in self.train_models])

    def _strata(self, mask: np.ndarray) -> np.ndarray:
        """The permutation stratum of each row of :meth:`_pool` ``(F, mask)``: model x suite x benign."""
        n = self.stratum.max() + 1
        return np.concatenate([self.stratum[self.rows_of(m, mask)] + i * n for i, m in enumerate(self.train_models)])

    def fit_zero_shot(self, F: dict) -> np.ndarray:
        """The k = 0 head: trained on the training models' train rows, L2 chosen on their validation rows."""
        return fit_l2_on_validation(*self._pool(F, self.tr), *self._pool(F, self.va), self.cfg["l2_grid"])

    def _k_shot(self, Xh, Y, prior, l2, benign, Xte) -> dict:
        out = {}
        for k, draws in self.draws.items():
            S = len(draws)
            W = np.zeros((S, len(Xh)))
            for s, idx in enumerate(draws):
                W[s, idx] = 1.0
            B = fit_logistic(np.broadcast_to(Xh, (S,) + Xh.shape), Y[:S], W, l2=l2, prior=prior[:S])
            out[k] = calibrated(k, predict(Xte, B), predict(benign, B))
        return out

    def run(self, F: dict, *, transfer: bool = True) -> list[HeadResult]:
        """F: model -> standardized features [n, p]. transfer=False: the holdout alone (no k = 0)."""
        h = F[self.holdout]
        Xh, yh = h[self.shot], self.y[self.shot]
        S = self.cfg["seeds"]
        if transfer:
            b0 = self.fit_zero_shot(F)
            benign = self.benign_cal(F)
            zero = calibrated(0, predict(h[self.te], b0)[None], predict(benign, b0)[None])
            prior, l2 = np.broadcast_to(b0[1:], (S, len(b0) - 1)), self.cfg["prior_l2"]
        else:
            benign = h[self.own_cal]
            zero, prior, l2 = None, np.zeros((S, h.shape[1])), self.cfg["specific_l2"]
        res = self._k_shot(Xh, np.broadcast_to(yh, (S, len(yh))), prior, l2, benign, h[self.te])
        return ([zero] if zero else []) + list(res.values())

    def run_own_cv(self, F: dict, folds: int = CV_FOLDS) -> list[HeadResult]:
        """The holdout's own probe at its best: for every k draw a ridge-logistic head on the holdout's drawn
        rows alone, its L2 strength (``transfer.specific_l2_grid``) chosen by stratified ``folds``-fold
        cross-validation inside those k rows (the strongest L2 within 1% of the lowest out-of-fold log-loss). A draw
        with fewer than 2 rows of a class cannot be cross-validated and uses ``specific_l2``. No k = 0."""
        h = F[self.holdout]
        Xh, yh = h[self.shot], self.y[self.shot].astype(bool)
        grid = np.sort(np.asarray(self.cfg.get("specific_l2_grid", SPECIFIC_L2_GRID), float))[::-1]
        out = []
        for k, draws in self.draws.items():
            chosen = [
                self._cv_l2(Xh, yh, idx, grid, folds, stable_seed(self.seed, "cv", str(k), str(s)))
                for s, idx in enumerate(draws)
            ]
            W = np.zeros((len(draws), len(Xh)))
            for s, idx in enumerate(draws):
                W[s, idx] = 1.0
            B = fit_logistic(
                np.broadcast_to(Xh, (len(draws),) + Xh.shape), np.broadcast_to(yh, W.shape), W, l2=np.array(chosen)
            )
            out.append(calibrated(k, predict(h[self.te], B), predict(h[self.own_cal], B)))
        return out

    def _cv_l2(self, X: np.ndarray, y: np.ndarray, idx: np.ndarray, grid: np.ndarray, folds: int, seed: int) -> float:
        """The strongest L2 of ``grid`` (sorted strongest first) whose out-of-fold log-loss on the rows ``idx``
        of (X, y) is within 1% of the lowest; ``specific_l2`` when a class has fewer than 2 of those rows."""
        X, y = X[idx], y[idx]
        n_f = min(folds, int(y.sum()), int((~y).sum()))
        if n_f < 2:
            return float(self.cfg["specific_l2"])
        rng = np.random.default_rng(seed)
        fold = np.empty(len(y), int)
        for cls in (True, False):  # stratified: each class dealt round-robin over the folds in a seeded order
            rows = np.flatnonzero(y == cls)
            fold[rng.permutation(rows)] = np.arange(len(rows)) % n_f
        L = len(grid)
        W = np.repeat((fold[None, :] != np.arange(n_f)[:, None]).astype(float), L, axis=0)  # [n_f * L, n]
        B = fit_logistic(np.broadcast_to(X, (len(W),) + X.shape), np.broadcast_to(y, W.shape), W, l2=np.tile(grid, n_f))
        p = 1 / (1 + np.exp(-np.clip(predict(X, B), -30, 30)))  # [n_f * L, n]
        ll = np.where(y, np.log(p + 1e-12), np.log(1 - p + 1e-12)) * (1 - W)  # out-of-fold rows only
        loss = -ll.reshape(n_f, L, -1).sum((0, 2))
        # the strongest L2 within 1% of the best loss: near-ties (a flat loss curve) go to the simpler head, so
        # float noise from another machine does not flip the choice between two equally good strengths
        return float(grid[int(np.flatnonzero(loss <= loss.min() * 1.01 + 1e-9)[0])])

    def run_shuffled(self, F: dict) -> list[HeadResult]:
        """Null baseline: each of ``null_seeds`` heads sees its own permutation of the labels (training side and
        k-shot alike), with the k-shot draws reused in turn. Labels move only within a stratum (model, suite,
        benign or harmful prompt: :func:`permute_within`): every benign prompt stays a negative, so the null
        keeps what harm recognition alone earns and criterion A asks what lies beyond it. Each zero-shot null
        head chooses its L2 from ``l2_grid`` on its own permuted validation labels, as the real head does on
        the real ones; the k-shot refit uses ``prior_l2``, as the real k-shot head does. Many permutations are
        needed: with a strong signal in the features, a single permuted-label head is a random direction whose
        AUC can land anywhere."""
        S, grid = self.cfg["null_seeds"], np.asarray(self.cfg["l2_grid"], float)
        L = len(grid)
        rng = np.random.default_rng(stable_seed(self.seed, "shuffle"))
        Xtr, ytr = self._pool(F, self.tr)
        Xva, yva = self._pool(F, self.va)
        Ytr = np.stack([permute_within(ytr, self._strata(self.tr), rng) for _ in range(S)])
        Yva = np.stack([permute_within(yva, self._strata(self.va), rng) for _ in range(S)])
        B = fit_logistic(np.broadcast_to(Xtr, (S * L,) + Xtr.shape), np.repeat(Ytr, L, 0), l2=np.tile(grid, S))
        V = predict(Xva, B).reshape(S, L, -1)
        val = np.array([[auc(V[s, j], Yva[s]) for j in range(L)] for s in range(S)])
        best = np.where(np.isnan(val), -1.0, val).argmax(1)  # the first of equals in the grid's order, as the real head
        B0 = B.reshape(S, L, -1)[np.arange(S), best]
        benign = self.benign_cal(F)
        h = F[self.holdout]
        Xh, yh = h[self.shot], self.y[self.shot]
        strata_h = self.stratum[self.shot]
        out = [calibrated(0, predict(h[self.te], B0), predict(benign, B0))]
        for k, draws in self.draws.items():
            W = np.zeros((S, len(Xh)))
            for s in range(S):
                W[s, draws[s % len(draws)]] = 1.0
            Y = np.stack([permute_within(yh, strata_h, rng) for _ in range(S)])
            B = fit_logistic(np.broadcast_to(Xh, (S,) + Xh.shape), Y, W, l2=self.cfg["prior_l2"], prior=B0[:, 1:])
            out.append(calibrated(k, predict(h[self.te], B), predict(benign, B)))
        return out


def permute_within(y: np.ndarray, strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``y`` with its values permuted within each stratum (rows with equal ``strata``), independently."""
    out = np.array(y, copy=True)
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        out[rows] = y[rng.permutation(rows)]
    return out


def study_protocol(data: StudyData, holdout: str, target: str, cfg: dict, seed: int) -> Protocol:
    """The holdout's protocol. A conditional target (:data:`emobasis.transfer.study.CONDITIONAL_TARGETS`) is fit on the
    training models that support it (:meth:`StudyData.target_reason`), each on its own eligible rows."""
    if target not in CONDITIONAL_TARGETS:
        labels = None if data.same_texts else {m: data.y(m, target) for m in data.models}
        return Protocol(data.rows, holdout, data.models, target, cfg, seed, labels=labels)
    models = [m for m in data.models if m == holdout or data.target_reason(m, target) is None]
    labels, eligible = ({m: f(m, target) for m in models} for f in (data.y, data.eligible))
    return Protocol(data.rows, holdout, models, target, cfg, seed, labels=labels, eligible=eligible)
