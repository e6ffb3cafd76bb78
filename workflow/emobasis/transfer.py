"""Leave-one-model-out (LOMO) transfer of early-warning heads through a shared basis, with baselines.

For one holdout model and one position, every method turns each model's rows into features; a head is
then trained and scored the same way for all of them:

- **k = 0 (zero-shot)**: ridge-logistic head on the *training* models' train rows (L2 chosen on their
  validation rows), applied to the holdout's test rows.
- **k > 0**: k labelled holdout train rows (seeded draws with both classes, the same draws for every
  method), head refit with the zero-shot head as its prior (warm start); ``k = all`` uses every holdout
  train row once.
- recall at 1% FPR: the alarm threshold is the 99th percentile of the head's scores on *benign* rows
  of the training side (for ``specific`` and other holdout-only methods, the holdout's own train rows).

Methods (the ``aligner`` column): ``gcca``, ``procrustes``, ``lowrank`` (shared bases); baselines
``specific`` (the holdout alone: its own PCA-r), ``specific_profiles`` (its own concept profiles),
``random`` (random rank-r maps), ``shuffled`` (gcca with permuted labels), ``surface`` (TF-IDF logistic
on the response text), ``residualized`` (gcca features after regressing out a sentence embedding of the
response), and label-free ``mismatch_style`` / ``mismatch_concern`` scores (k = 0 only).
The holdout never contributes labels to a basis or a k = 0 head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from emobasis import EmobasisError
from emobasis.align import Whitener, make_aligner
from emobasis.heads import fit_logistic, predict
from emobasis.metrics import (auc, auc_kernel, auc_rows, bootstrap_auc, fpr_threshold, group_bootstrap,
                              recall_at_threshold)
from emobasis.splits import stable_seed

SHARED = ("gcca", "procrustes", "lowrank")
ALL_K = -1  # k = "all" in tables


class TransferError(EmobasisError):
    """The LOMO evaluation cannot run on the given data."""


#: columns that belong to one response (and so to one model in own-response mode); the rest describe the
#: prompt slot (item_id, split, suite, benign, attack, category, ...) and are shared by every model
RESPONSE_COLUMNS = ("row_id", "prompt", "responder", "response", "unsafe", "calm", "tone_masked", "tone_score",
                    "tone_refusal", "tone_warning", "tone_hedge", "tone_alarm")


@dataclass
class StudyData:
    """Everything LOMO needs, rows aligned across models.

    Reader mode (``own is None``): every model read the same study rows, in the same order; ``rows`` holds
    them. Own-response mode: each model read its own responder's responses; ``rows`` holds the prompt slots
    (item, attack) every model answered, with the slot columns only, and ``own[m]`` the model's own rows
    (labels, texts) aligned with them. Use :meth:`table` and :meth:`y` for anything a response decides."""

    rows: pd.DataFrame  # row_id, item_id, split, suite, benign, calm, tone_score, response, + targets
    X: dict[str, dict[str, np.ndarray]]  # model -> position -> [n, d_m] suite activations
    Z: dict[str, dict[str, np.ndarray]]  # model -> position -> [n, K] concept profiles
    shared: dict[str, np.ndarray]  # model -> [n_shared, d_m] stimulus activations (unlabelled)
    concepts: list[str]
    embeddings: np.ndarray | dict | None = None  # [n, e] sentence embeddings of the responses (per model if own)
    layers: dict[str, int] = field(default_factory=dict)
    own: dict[str, pd.DataFrame] | None = None

    @property
    def models(self) -> list[str]:
        return list(self.X)

    @property
    def same_texts(self) -> bool:
        """True when every model read the same texts (reader mode): suite rows can serve as shared texts."""
        return self.own is None

    def table(self, model: str) -> pd.DataFrame:
        """The rows as ``model`` read them (its own responses and labels in own-response mode)."""
        return self.rows if self.own is None else self.own[model]

    def y(self, model: str, target: str) -> np.ndarray:
        return self.table(model)[target].to_numpy().astype(bool)

    def emb(self, model: str) -> np.ndarray | None:
        return self.embeddings.get(model) if isinstance(self.embeddings, dict) else self.embeddings


def _standardize(F: np.ndarray, ref: np.ndarray) -> np.ndarray:
    mu, sd = F[ref].mean(0), F[ref].std(0) + 1e-8
    return (F - mu) / sd


def check_labels(rows: pd.DataFrame, target: str, model: str | None = None) -> None:
    whose = f" for model '{model}'" if model else ""
    for split in ("train", "val", "test"):
        y = rows.loc[rows["split"] == split, target]
        if y.nunique() < 2:
            raise TransferError(f"target '{target}' has a single class ({y.iloc[0] if len(y) else 'no rows'}) in the "
                                f"{split} split{whose}. Fix: add suites or rows with both classes, or raise "
                                "study.max_rows_per_suite.")


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


class Protocol:
    """Head training and scoring shared by every method, for one (holdout, target)."""

    def __init__(self, rows: pd.DataFrame, holdout: str, models: list[str], target: str, cfg: dict, seed: int,
                 labels: dict[str, np.ndarray] | None = None):
        """``labels``: model -> labels of its rows (own-response mode); default: ``rows[target]`` for all."""
        self.holdout, self.train_models, self.cfg, self.seed = holdout, [m for m in models if m != holdout], cfg, seed
        shared_y = rows[target].to_numpy().astype(bool) if labels is None else None
        self.Y = labels if labels is not None else {m: shared_y for m in models}
        self.y = self.Y[holdout]
        self.split = rows["split"].to_numpy()
        self.benign = rows["benign"].to_numpy().astype(bool)
        self.tr, self.va, self.te = (self.split == s for s in ("train", "val", "test"))
        self.ref = self.tr | self.va  # unlabelled rows that fix each model's feature scaling
        self.draws = {}
        y_h = self.y[self.tr]
        for k in cfg["ks"]:
            if k == 0:
                continue
            if k == ALL_K or k >= len(y_h):
                self.draws[k] = [np.arange(len(y_h))]
            else:
                self.draws[k] = [draw_k(y_h, k, stable_seed(seed, target, str(k), str(s))) for s in range(cfg["seeds"])]

    def _pool(self, F: dict, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training models' rows under ``mask``, stacked, with their labels."""
        return (np.concatenate([F[m][mask] for m in self.train_models]),
                np.concatenate([self.Y[m][mask] for m in self.train_models]))

    def _fit_zero_shot(self, F: dict) -> np.ndarray:
        Xtr, ytr = self._pool(F, self.tr)
        Xva, yva = self._pool(F, self.va)
        best, best_auc = None, -1.0
        for l2 in self.cfg["l2_grid"]:  # chosen on the training models' validation rows only
            b = fit_logistic(Xtr, ytr, l2=l2)
            a = auc(predict(Xva, b), yva)
            if a > best_auc:
                best, best_auc = b, a
        return best

    def _k_shot(self, Xh, Y, prior, l2, benign, Xte) -> dict:
        out = {}
        for k, draws in self.draws.items():
            S = len(draws)
            W = np.zeros((S, len(Xh)))
            for s, idx in enumerate(draws):
                W[s, idx] = 1.0
            B = fit_logistic(np.broadcast_to(Xh, (S,) + Xh.shape), Y[:S], W, l2=l2, prior=prior[:S])
            thr = np.array([fpr_threshold(v) for v in predict(benign, B)]) if len(benign) else np.full(S, np.nan)
            out[k] = HeadResult(k, predict(Xte, B), thr)
        return out

    def run(self, F: dict, *, transfer: bool = True) -> list[HeadResult]:
        """F: model -> standardized features [n, p]. transfer=False: the holdout alone (no k = 0)."""
        h = F[self.holdout]
        Xh, yh = h[self.tr], self.y[self.tr]
        S = self.cfg["seeds"]
        if transfer:
            b0 = self._fit_zero_shot(F)
            benign = self._pool(F, self.tr & self.benign)[0]
            zero = HeadResult(0, predict(h[self.te], b0)[None], np.array([fpr_threshold(predict(benign, b0))]))
            prior, l2 = np.broadcast_to(b0[1:], (S, len(b0) - 1)), self.cfg["prior_l2"]
        else:
            benign = h[self.tr & self.benign]
            zero, prior, l2 = None, np.zeros((S, h.shape[1])), self.cfg["specific_l2"]
        res = self._k_shot(Xh, np.broadcast_to(yh, (S, len(yh))), prior, l2, benign, h[self.te])
        return ([zero] if zero else []) + list(res.values())

    def run_shuffled(self, F: dict) -> list[HeadResult]:
        """Null baseline: each of ``null_seeds`` heads sees its own permutation of the labels (training side and
        k-shot alike), with the k-shot draws reused in turn. The L2 strength is fixed: tuning it on real
        validation labels would leak them into a null model. Many permutations are needed: with a strong
        signal in the features, a single permuted-label head is a random direction whose AUC can land anywhere."""
        S, l2 = self.cfg["null_seeds"], self.cfg["prior_l2"]
        rng = np.random.default_rng(stable_seed(self.seed, "shuffle"))
        Xtr, ytr = self._pool(F, self.tr)
        B0 = fit_logistic(np.broadcast_to(Xtr, (S,) + Xtr.shape), np.stack([rng.permutation(ytr) for _ in range(S)]),
                          l2=l2)
        benign = self._pool(F, self.tr & self.benign)[0]
        h = F[self.holdout]
        Xh, yh = h[self.tr], self.y[self.tr]
        out = [HeadResult(0, predict(h[self.te], B0), np.array([fpr_threshold(v) for v in predict(benign, B0)]))]
        for k, draws in self.draws.items():
            W = np.zeros((S, len(Xh)))
            for s in range(S):
                W[s, draws[s % len(draws)]] = 1.0
            Y = np.stack([rng.permutation(yh) for _ in range(S)])
            B = fit_logistic(np.broadcast_to(Xh, (S,) + Xh.shape), Y, W, l2=l2, prior=B0[:, 1:])
            out.append(HeadResult(k, predict(h[self.te], B), np.array([fpr_threshold(v) for v in predict(benign, B)])))
        return out


def study_protocol(data: StudyData, holdout: str, target: str, cfg: dict, seed: int) -> Protocol:
    labels = None if data.same_texts else {m: data.y(m, target) for m in data.models}
    return Protocol(data.rows, holdout, data.models, target, cfg, seed, labels=labels)


# --- features per method -------------------------------------------------------------------------------

def shared_views(data: StudyData, position: str, ref: np.ndarray) -> dict[str, np.ndarray]:
    """Unlabelled shared texts per model: stimuli plus the train/val suite rows at this position (stimuli only
    in own-response mode, where the models read different responses)."""
    if not data.same_texts:
        return {m: data.shared[m].astype(np.float64) for m in data.models}
    return {m: np.concatenate([data.shared[m], data.X[m][position][ref]]).astype(np.float64) for m in data.models}


def lowrank_basis(data: StudyData, position: str, train_models: list[str], targets: list[str], rank: int,
                  tr: np.ndarray, ref: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """[K, rank] orthonormal concept combinations shared by the training models' failure predictors.

    Multi-task reduced rank: each (training model, target) predictor is a ridge-logistic head on the
    standardized profiles; the basis spans those predictors first (left singular vectors of the stacked,
    normalised coefficients) and is completed by the leading principal components of the pooled profiles
    (unlabelled), orthogonalised against them."""
    Zs = {m: _standardize(data.Z[m][position], ref) for m in train_models}
    B = []
    for m in train_models:
        for t in targets:
            b = fit_logistic(Zs[m][tr], data.y(m, t)[tr], l2=l2)[1:]
            B.append(b / (np.linalg.norm(b) + 1e-12))
    U = np.linalg.svd(np.stack(B, 1), full_matrices=False)[0]
    U = U[:, : min(rank, U.shape[1])]
    pooled = np.concatenate([Zs[m][ref] for m in train_models])
    pcs = np.linalg.svd(pooled - pooled.mean(0), full_matrices=False)[2].T
    pcs = pcs - U @ (U.T @ pcs)
    extra = np.linalg.qr(pcs)[0][:, : rank - U.shape[1]] if rank > U.shape[1] else np.zeros((len(U), 0))
    return np.concatenate([U, extra], 1)


def surface_scores(data: StudyData, target: str, proto: Protocol) -> list[HeadResult]:
    """TF-IDF logistic on the response text: the words alone (same k draws). k = 0 trains on the train rows
    (in own-response mode: the training models' own responses); k > 0 on the holdout's drawn rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    text = data.table(proto.holdout)["response"].astype(str).to_numpy()
    y = proto.y
    train_models = [proto.holdout] if data.same_texts else proto.train_models  # reader mode: one copy of the texts
    train_text = np.concatenate([data.table(m)["response"].astype(str).to_numpy()[proto.tr] for m in train_models])
    train_y = np.concatenate([proto.Y[m][proto.tr] for m in train_models])
    train_benign = np.concatenate([proto.benign[proto.tr] for _ in train_models])
    vec = TfidfVectorizer(min_df=2, ngram_range=(1, 2), sublinear_tf=True, max_features=20000).fit(train_text)
    T, T_train = vec.transform(text), vec.transform(train_text)
    own_benign = T[proto.tr & proto.benign]

    def fit_score(X_fit, yy, benign):
        if yy.all() or not yy.any():
            return np.full(proto.te.sum(), 0.5), np.nan
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(X_fit, yy)
        thr = fpr_threshold(clf.decision_function(benign)) if benign.shape[0] else np.nan
        return clf.decision_function(T[proto.te]), thr

    tr_rows = np.flatnonzero(proto.tr)
    s0, t0 = fit_score(T_train, train_y, T_train[train_benign])
    out = [HeadResult(0, s0[None], np.array([t0]))]
    for k, draws in proto.draws.items():
        res = [fit_score(T[tr_rows[idx]], y[tr_rows[idx]], own_benign) for idx in draws]
        out.append(HeadResult(k, np.stack([r[0] for r in res]), np.array([r[1] for r in res])))
    return out


def mismatch_scores(data: StudyData, holdout: str, position: str, proto: Protocol) -> dict[str, list[HeadResult]]:
    """Label-free scores from the holdout's own profiles (standardized on its unlabelled rows).

    mismatch_style: prosocial - risk_aversion + confidence (warm, unworried, sure of itself).
    mismatch_concern: harm_salience + fear - tone_score (inner concern under a calm surface)."""
    Z = _standardize(data.Z[holdout][position], proto.ref)
    col = {c: Z[:, i] for i, c in enumerate(data.concepts)}
    tone = data.table(holdout)["tone_score"].to_numpy(float)
    tone = (tone - tone[proto.ref].mean()) / (tone[proto.ref].std() + 1e-8)
    out = {}
    formulas = {"mismatch_style": ("prosocial", "risk_aversion", "confidence"),
                "mismatch_concern": ("harm_salience", "fear")}
    for name, needed in formulas.items():
        if not all(c in col for c in needed):
            continue
        s = col[needed[0]] - col[needed[1]] + col[needed[2]] if name == "mismatch_style" else \
            col["harm_salience"] + col["fear"] - tone
        out[name] = [HeadResult(0, s[proto.te][None], np.array([fpr_threshold(s[proto.tr & proto.benign])]))]
    return out


# --- one holdout ---------------------------------------------------------------------------------------

def method_features(data: StudyData, holdout: str, position: str, cfg: dict, seed: int, keep_bases: bool = False):
    """{(method, rank): {model: standardized features}} for every rank-dependent method; plus bases."""
    rows = data.rows
    ref = rows["split"].isin(["train", "val"]).to_numpy()
    tr = (rows["split"] == "train").to_numpy()
    views = shared_views(data, position, ref)
    train_models = [m for m in data.models if m != holdout]
    train_views = {m: views[m] for m in train_models}
    # whitening (an SVD per model) depends only on the shared texts: fit it once, reuse for every aligner and rank
    white = {m: Whitener(cfg["pca_dims"]).fit(v) for m, v in views.items()}
    train_white = {m: white[m] for m in train_models}
    gcca_full = make_aligner("gcca", max(cfg["ranks"]), pca_dims=cfg["pca_dims"]).fit(train_views, train_white)
    gcca_full.adapt(holdout, views[holdout], white[holdout])
    X = {m: data.X[m][position] for m in data.models}
    std = lambda F: {m: _standardize(v, ref) for m, v in F.items()}  # noqa: E731
    gcca_all = {m: gcca_full.transform(m, X[m]) for m in data.models}
    own = gcca_full.whiteners_[holdout].transform(X[holdout])
    E = {m: np.concatenate([data.emb(m), np.ones((len(rows), 1))], 1) for m in data.models
         if data.emb(m) is not None}
    feats, bases = {}, {}
    for rank in cfg["ranks"]:
        # GCCA is nested in the rank: the rank-r basis is the first r consensus columns
        gcca = {m: v[:, :rank] for m, v in gcca_all.items()}
        feats[("gcca", rank)] = std(gcca)
        if "procrustes" in cfg["aligners"]:
            pr = make_aligner("procrustes", rank, pca_dims=cfg["pca_dims"]).fit(train_views, train_white).adapt(
                holdout, views[holdout], white[holdout])
            feats[("procrustes", rank)] = std({m: pr.transform(m, X[m]) for m in data.models})
            bases[("procrustes", rank)] = pr
        if "lowrank" in cfg["aligners"]:
            U = lowrank_basis(data, position, train_models, cfg["targets"], rank, tr, ref)
            feats[("lowrank", rank)] = {m: _standardize(data.Z[m][position], ref) @ U for m in data.models}
            bases[("lowrank", rank)] = U
        rnd = make_aligner("random", rank, pca_dims=cfg["pca_dims"], seed=seed).fit(train_views, train_white).adapt(
            holdout, views[holdout], white[holdout])
        feats[("random", rank)] = std({m: rnd.transform(m, X[m]) for m in data.models})
        if len(E) == len(data.models):
            coef = {m: np.linalg.lstsq(E[m][ref], F[ref], rcond=None)[0] for m, F in gcca.items()}
            feats[("residualized", rank)] = std({m: F - E[m] @ coef[m] for m, F in gcca.items()})
        feats[("specific", rank)] = {holdout: _standardize(own[:, :rank], ref)}
        bases[("gcca", rank)] = gcca_full
    return feats, (bases if keep_bases else {})


def evaluate_holdout(data: StudyData, holdout: str, cfg: dict, seed: int = 0, keep_bases: bool = False):
    """All methods x ranks x positions x targets x k for one holdout.

    Returns (tidy per-seed results, summary with bootstrap CIs, bases {(method, rank, position): basis})."""
    if holdout not in data.models or len(data.models) < 3:
        raise TransferError(f"LOMO needs the holdout among >= 3 models (have {data.models}).")
    rows = data.rows
    for target in cfg["targets"]:
        for m in ([None] if data.same_texts else data.models):
            check_labels(data.table(m) if m else rows, target, m)
    records, summaries, all_bases = [], [], {}
    for position in cfg["positions"]:
        feats, bases = method_features(data, holdout, position, cfg, seed, keep_bases)
        all_bases.update({(name, rank, position): b for (name, rank), b in bases.items()})
        ref = rows["split"].isin(["train", "val"]).to_numpy()
        for target in cfg["targets"]:
            proto = study_protocol(data, holdout, target, cfg, seed)
            store: dict[tuple[str, int], list[HeadResult]] = {}
            for (name, rank), F in feats.items():
                store[(name, rank)] = proto.run(F, transfer=name != "specific")
                if name == "gcca":
                    store[("shuffled", rank)] = proto.run_shuffled(F)
            store[("specific_profiles", 0)] = proto.run({holdout: _standardize(data.Z[holdout][position], ref)},
                                                        transfer=False)
            store[("surface", 0)] = surface_scores(data, target, proto)
            for name, res in mismatch_scores(data, holdout, position, proto).items():
                store[(name, 0)] = res
            recs, summ = summarize(store, proto, rows, holdout, target, position, cfg, seed)
            records += recs
            summaries += summ
    return pd.DataFrame(records), pd.DataFrame(summaries), all_bases


def summarize(store, proto: Protocol, rows, holdout, target, position, cfg, seed):
    """Per-seed AUC rows, and bootstrap-over-prompts CIs of the seed-averaged AUC (paired with ``specific``
    at the same rank and k). Every method is resampled with the same prompt weights."""
    yte = proto.y[proto.te]
    groups = rows["item_id"].to_numpy()[proto.te]
    W = group_bootstrap(groups, cfg["n_boot"], stable_seed(seed, "boot", target, position))
    recs, summ, kernels = [], [], {}
    for (name, rank), results in store.items():
        for res in results:
            aucs = auc_rows(res.scores, yte)
            recalls = [recall_at_threshold(s, yte, thr) for s, thr in zip(res.scores, res.thresholds)]
            for s_i, (a, r) in enumerate(zip(aucs, recalls)):
                recs.append({"aligner": name, "rank": rank, "holdout": holdout, "target": target, "position": position,
                             "k": res.k, "seed": s_i, "auc": float(a), "recall_at_1pct_fpr": r})
            K = kernels[(name, rank, res.k)] = auc_kernel(res.scores, yte, groups)
            lo, hi = np.nanpercentile(bootstrap_auc(K, yte, groups, W), [2.5, 97.5])
            summ.append({"aligner": name, "rank": rank, "holdout": holdout, "target": target, "position": position,
                         "k": res.k, "n_seeds": len(aucs), "auc": float(np.mean(aucs)), "auc_ci_low": lo,
                         "auc_ci_high": hi, "recall_at_1pct_fpr": float(np.nanmean(recalls)),
                         "n_test": int(len(yte)), "n_test_pos": int(yte.sum()), "n_boot": cfg["n_boot"]})
    spec_auc = {(r["rank"], r["k"]): r["auc"] for r in summ if r["aligner"] == "specific"}
    for row in summ:
        key = (row["rank"], row["k"])
        if row["aligner"] in SHARED and key in spec_auc:
            diff = bootstrap_auc(kernels[(row["aligner"], *key)] - kernels[("specific", *key)], yte, groups, W)
            lo, hi = np.nanpercentile(diff, [2.5, 97.5])
            row.update(diff_vs_specific=row["auc"] - spec_auc[key], diff_ci_low=lo, diff_ci_high=hi)
    return recs, summ


# --- files -> StudyData, results -> files -------------------------------------------------------------

def load_study(models: list[str], suites: list[str], suite_tables: dict, activations: dict, profiles: dict,
               stimulus_activations: dict, concept_meta: dict, embeddings: dict | None = None,
               positions=("prompt_last", "response_first", "response_mean")) -> StudyData:
    """Assemble StudyData from the workflow's files (paths keyed by model and suite / stimulus set).

    Reader mode: every model must have read the same study rows. Own-response mode (the activation
    manifests name a responder): each model read its own responder's rows; they are aligned on the prompt
    slots (item, attack) that every model answered, and each model keeps its own labels and texts
    (``StudyData.own``). The chosen layer of each model comes from its concept file, and the shared
    (unlabelled) texts are its stimulus reads at that layer."""
    from emobasis.extract import activation_manifest_path, load_activations
    from emobasis.suites import prompt_slots

    rows, X, Z, shared, layers = [], {m: {p: [] for p in positions} for m in models}, \
        {m: {p: [] for p in positions} for m in models}, {}, {}
    concepts = None
    for m in models:
        layers[m] = concept_meta[m]["chosen_layer"]
        concepts = concepts or concept_meta[m]["concepts"]
        if concept_meta[m]["concepts"] != concepts:
            raise TransferError(f"model '{m}' has different concepts from the others. Fix: rerun fit_concepts.")
        reads = []
        for path in stimulus_activations[m]:
            arrays, _ = load_activations(path)
            reads.append(arrays[f"{concept_meta[m]['stimulus_position']}/layer{layers[m]}"].astype(np.float32))
        shared[m] = np.concatenate(reads)
    responders = {m: {s: json.loads(activation_manifest_path(activations[m][s]).read_text()).get("responder")
                      for s in suites} for m in models}
    own_mode = any(r for v in responders.values() for r in v.values())
    if own_mode and not all(r for v in responders.values() for r in v.values()):
        raise TransferError("some models read their own responses and others every response. Fix: rerun the "
                            "extraction with one study.reader_mode for all models.")
    rows, own = [], {m: [] for m in models}
    emb, emb_own = [], {m: [] for m in models}
    for suite in suites:
        table = pd.read_parquet(suite_tables[suite])
        reads = {m: load_activations(activations[m][suite]) for m in models}
        if own_mode:  # align the models' own rows on the prompt slots (item, attack) that every model answered
            slot = prompt_slots(table)
            keys = {m: slot[reads[m][1]] for m in models}
            for m, k in keys.items():
                if len(set(k)) != len(k):
                    raise TransferError(f"model '{m}' read two responses to one prompt slot of suite '{suite}'. "
                                        "Fix: check the suite's responder column.")
            common = sorted(set.intersection(*(set(k) for k in keys.values())))
            if not common:
                raise TransferError(f"the models' own responses in suite '{suite}' share no prompt. Fix: choose "
                                    "responders that answered the same prompts.")
            pick = {m: pd.Series(np.arange(len(k)), index=k).loc[common].to_numpy() for m, k in keys.items()}
            index_of = {m: reads[m][1][pick[m]] for m in models}
        else:
            index = reads[models[0]][1]
            for m in models[1:]:
                if not np.array_equal(index, reads[m][1]):
                    raise TransferError(f"models read different rows of suite '{suite}'. Fix: rerun extraction with "
                                        "one config for all models.")
            pick = {m: np.arange(len(index)) for m in models}
            index_of = {m: index for m in models}
        for m in models:
            arrays = reads[m][0]
            prof = pd.read_parquet(profiles[m][suite]) if profiles else None
            for p in positions:
                X[m][p].append(arrays[f"{p}/layer{layers[m]}"][pick[m]].astype(np.float32))
                if prof is not None:
                    Z[m][p].append(prof[prof["position"] == p][concepts].to_numpy(np.float32)[pick[m]])
            own[m].append(table.iloc[index_of[m]].reset_index(drop=True))
        rows.append(own[models[0]][-1])
        if embeddings:
            e_arrays, e_index = load_activations(embeddings[suite])
            where = pd.Series(np.arange(len(e_index)), index=e_index)
            for m in models:
                missing = np.setdiff1d(index_of[m], e_index)
                if len(missing):
                    raise TransferError(f"embeddings of suite '{suite}' lack {len(missing)} rows model '{m}' read. "
                                        "Fix: rerun embed_responses.")
                emb_own[m].append(e_arrays["embedding"][where.loc[index_of[m]].to_numpy()].astype(np.float32))
    rows = pd.concat(rows, ignore_index=True)
    own_tables = None
    if own_mode:
        own_tables = {m: pd.concat(v, ignore_index=True) for m, v in own.items()}
        rows = rows.drop(columns=[c for c in RESPONSE_COLUMNS if c in rows.columns])
    embedding = None
    if embeddings:
        embedding = {m: np.concatenate(v) for m, v in emb_own.items()} if own_mode else np.concatenate(
            emb_own[models[0]])
    data = StudyData(rows=rows, X={m: {p: np.concatenate(v) for p, v in X[m].items()} for m in models},
                     Z={m: {p: np.concatenate(v) for p, v in Z[m].items() if v} for m in models},
                     shared=shared, concepts=concepts, embeddings=embedding, layers=layers, own=own_tables)
    for m in models:
        for p in positions:
            if not np.isfinite(data.X[m][p]).all():
                raise TransferError(f"non-finite activations for model '{m}' at '{p}'. Fix: rebuild its extraction.")
    return data


def basis_arrays(basis, rank: int, position: str) -> dict[str, np.ndarray]:
    """Plain arrays (no pickled objects) describing a fitted basis at one rank and position."""
    if isinstance(basis, np.ndarray):  # lowrank: [K, rank] concept combinations
        return {f"{position}/concept_loadings": basis[:, :rank]}
    out = {}
    for m, w in basis.whiteners_.items():
        out[f"{position}/{m}/mean"] = w.mean_
        out[f"{position}/{m}/components"] = w.components_
        out[f"{position}/{m}/scale"] = w.scale_
        out[f"{position}/{m}/map"] = basis.maps_[m][:, :rank]
    if hasattr(basis, "canonical_correlations_"):
        out[f"{position}/canonical_correlations"] = basis.canonical_correlations_[:rank]
    return out


def parse_ks(ks) -> list[int]:
    return [ALL_K if k == "all" else int(k) for k in ks]


def check_transfer_table(table: pd.DataFrame, cfg: dict, holdouts: list[str]) -> None:
    """Every aligner x rank x holdout x target x position x k is present, and every AUC lies in [0, 1].

    ``table`` is the tidy per-seed table (k as in the files: ALL_K for "all"). Raises TransferError."""
    ks = parse_ks(cfg["ks"])
    want = pd.MultiIndex.from_product([cfg["aligners"], cfg["ranks"], holdouts, cfg["targets"], cfg["positions"], ks],
                                      names=["aligner", "rank", "holdout", "target", "position", "k"])
    have = pd.MultiIndex.from_frame(table[list(want.names)].drop_duplicates())
    missing = want.difference(have)
    if len(missing):
        raise TransferError(f"the transfer table lacks {len(missing)} combinations, e.g. {list(missing[:3])}. "
                            "Fix: rerun the transfer jobs (snakemake -R transfer).")
    auc = table["auc"].to_numpy(float)
    if np.isnan(auc).any() or (auc < 0).any() or (auc > 1).any():
        raise TransferError("AUCs outside [0, 1] (or NaN) in the transfer table. Fix: check the labels of the test split.")
    seeds = table[(table["aligner"] == cfg["aligners"][0]) & (table["k"].isin([k for k in ks if 0 < k <= 64]))]
    if len(seeds) and seeds.groupby(["rank", "holdout", "target", "position", "k"])["seed"].nunique().min() < min(
            cfg["seeds"], 20):
        raise TransferError("fewer seeds than configured for k <= 64.")


def load_study_from_inputs(inputs, models: list[str], suites: list[str], positions, with_profiles: bool = True,
                           with_embeddings: bool = True) -> StudyData:
    """StudyData from a Snakemake job's named inputs (``tables``, ``acts``, ``profiles``, ``stimuli``,
    ``concepts``, ``embeddings``), laid out model-major as in rules/common.smk."""
    from safetensors import safe_open

    meta = {}
    for m, path in zip(models, inputs.concepts):
        with safe_open(path, "numpy") as fh:
            meta[m] = json.loads(fh.metadata()["emobasis"])

    def per_model(paths):
        return {m: dict(zip(suites, paths[i * len(suites):(i + 1) * len(suites)])) for i, m in enumerate(models)}

    n_sets = len(inputs.stimuli) // len(models)
    embeddings = getattr(inputs, "embeddings", None) if with_embeddings else None
    return load_study(models, suites, dict(zip(suites, inputs.tables)), per_model(inputs.acts),
                      per_model(inputs.profiles) if with_profiles else None,
                      {m: inputs.stimuli[i * n_sets:(i + 1) * n_sets] for i, m in enumerate(models)}, meta,
                      dict(zip(suites, embeddings)) if embeddings else None, positions=positions)


def fit_basis(data: StudyData, aligner: str, rank: int, position: str, pca_dims: int, holdout: str | None = None):
    """An aligner fit on the shared texts of every model but ``holdout`` (all models when None), the holdout
    adapted from its unlabelled shared texts; returns (basis, {model: standardized [n, rank] coordinates})."""
    ref = data.rows["split"].isin(["train", "val"]).to_numpy()
    views = shared_views(data, position, ref)
    white = {m: Whitener(pca_dims).fit(v) for m, v in views.items()}
    fit_on = [m for m in data.models if m != holdout]
    basis = make_aligner(aligner, rank, pca_dims=pca_dims).fit({m: views[m] for m in fit_on},
                                                               {m: white[m] for m in fit_on})
    if holdout is not None:
        basis.adapt(holdout, views[holdout], white[holdout])
    return basis, {m: _standardize(basis.transform(m, data.X[m][position]), ref) for m in data.models}


def zero_shot_scores(data: StudyData, holdout: str, aligner: str, rank: int, position: str, target: str, cfg: dict,
                     seed: int = 0) -> pd.Series:
    """The k = 0 head's scores on the holdout's test rows, exactly as in the LOMO grid (a basis at the
    largest swept rank, truncated to ``rank`` for gcca; the same head selection), indexed by row position."""
    if aligner not in ("gcca", "procrustes"):
        raise TransferError(f"zero-shot row scores are available for gcca and procrustes, not '{aligner}'.")
    ref = data.rows["split"].isin(["train", "val"]).to_numpy()
    fit_rank = max(cfg["ranks"]) if aligner == "gcca" else rank
    basis, _ = fit_basis(data, aligner, fit_rank, position, cfg["pca_dims"], holdout)
    F = {m: _standardize(basis.transform(m, data.X[m][position])[:, :rank], ref) for m in data.models}
    proto = study_protocol(data, holdout, target, {**cfg, "ks": [0]}, seed)
    b0 = proto._fit_zero_shot(F)
    return pd.Series(predict(F[holdout][proto.te], b0), index=np.flatnonzero(proto.te), name="score")
