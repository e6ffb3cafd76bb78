"""Every method's features or scores at one (holdout, position), registered by the names of
:mod:`emobasis.transfer.methods`.

A **feature** function ``f(ctx, rank) -> {model: standardized features [n, p]} | None`` serves methods whose
head is ``transfer`` or ``own`` (the protocol trains the head; ``None``: the method cannot run on this
study, e.g. no text embeddings); rank-free methods get ``rank = 0``. A **score** function
``f(ctx, proto) -> [HeadResult]`` serves methods that score rows themselves (``head="scores"``).
``null`` methods need no function: the protocol permutes the labels on the features of ``null_of``.

The shared aligners (gcca, procrustes, random) are fit on the training models' unlabelled shared texts,
whitened once per model (:class:`Context`), and the holdout is adapted from its own shared texts. Every
feature function reads the context's feature space (:mod:`emobasis.transfer.spaces`): ``ctx.X`` and the shared texts
are hidden states or concept profiles; what cannot run in a space is skipped before it is called.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from emobasis.labels.targets import CONDITIONAL_TARGETS
from emobasis.transfer.align import Whitener, lowrank_basis, make_aligner, orient_profiles
from emobasis.transfer.heads import predict
from emobasis.transfer.metrics import auc, bootstrap_units
from emobasis.transfer.protocol import HeadResult, Protocol, calibrated, fit_l2_on_validation, standardize
from emobasis.transfer.spaces import dimension, shared_space_reads, space_ranks, space_reads
from emobasis.transfer.study import StudyData

FEATURES: dict = {}
SCORES: dict = {}


def features(name: str):
    """Register ``f(ctx, rank)`` as the feature function of method ``name``."""

    def register(f):
        FEATURES[name] = f
        return f

    return register


def scores(name: str):
    """Register ``f(ctx, proto)`` as the score function of method ``name``."""

    def register(f):
        SCORES[name] = f
        return f

    return register


def shared_views(data: StudyData, position: str, ref: np.ndarray, space: str = "hidden") -> dict[str, np.ndarray]:
    """Unlabelled shared texts per model in a feature space: stimuli plus the train/val suite rows at this
    position (stimuli only in own-response mode, where the models read different responses)."""
    stimuli = shared_space_reads(data, space)
    if not data.same_texts:
        return {m: stimuli[m].astype(np.float64) for m in data.models}
    X = space_reads(data, space, position)
    return {m: np.concatenate([stimuli[m], X[m][ref]]).astype(np.float64) for m in data.models}


class Context:
    """What the methods share at one (holdout, position, feature space): masks, shared texts, whiteners, the
    gcca basis.

    Bases that a method fits are kept in ``bases[(method, rank)]`` for the basis files."""

    def __init__(self, data: StudyData, holdout: str | None, position: str, cfg: dict, seed: int, space="hidden"):
        self.data, self.holdout, self.position, self.cfg, self.seed = data, holdout, position, cfg, seed
        self.space = space
        self.ref = data.ref
        self.tr = (data.rows["split"] == "train").to_numpy()
        self.train_models = [m for m in data.models if m != holdout]
        self.X = space_reads(data, space, position)
        self.views = shared_views(data, position, self.ref, space)
        # whitening (an SVD per model) depends only on the shared texts: fit once, reuse for every aligner and rank
        self.white = {m: Whitener(cfg["pca_dims"]).fit(v) for m, v in self.views.items()}
        self.bases: dict = {}
        self.cache: dict = {}  # results that several methods of one (position, target) share

    def std(self, F: dict) -> dict:
        return {m: standardize(v, self.ref) for m, v in F.items()}

    def fit_aligner(self, name: str, rank: int, **kwargs):
        """An aligner fit on the training models' shared texts, the holdout (if any) adapted from its own."""
        aligner = make_aligner(name, rank, pca_dims=self.cfg["pca_dims"], **kwargs).fit(
            {m: self.views[m] for m in self.train_models}, {m: self.white[m] for m in self.train_models}
        )
        if self.holdout is None:
            return aligner
        return aligner.adapt(self.holdout, self.views[self.holdout], self.white[self.holdout])

    @cached_property
    def own_read(self) -> dict[str, np.ndarray]:
        """The holdout's full read, standardized on the train-side rows, in the coordinates of the subspace
        those rows span. Exact for any ridge head trained on train-side rows (its weights lie in their span,
        and the L2 penalty is rotation-invariant), and far fewer columns than the hidden size; only when the
        span has more than ``OWN_DIMS`` directions are the leading ``OWN_DIMS`` kept (speed)."""
        X = standardize(self.X[self.holdout].astype(np.float64), self.ref)
        _, s, Vt = np.linalg.svd(X[self.ref], full_matrices=False)
        keep = min(int((s > s[0] * 1e-10).sum()), OWN_DIMS)
        return {self.holdout: X @ Vt[:keep].T}

    @cached_property
    def oriented(self) -> dict[str, np.ndarray]:
        """A concept space's profiles, standardized on the train-side rows and signed to agree with the
        training models' (:func:`orient_profiles`; unlabelled rows only)."""
        Zs = {m: standardize(Z, self.ref) for m, Z in self.X.items()}
        return orient_profiles(Zs, self.train_models, self.ref)[0]

    @cached_property
    def gcca(self) -> dict[str, np.ndarray]:
        """Every model's coordinates in the gcca basis at the largest swept rank the space holds (GCCA is
        nested in the rank: the rank-r basis is the first r consensus columns)."""
        top = max(space_ranks(self.cfg["ranks"], dimension(self.data, self.space)))
        self.gcca_basis = self.fit_aligner("gcca", top)
        return {m: self.gcca_basis.transform(m, X) for m, X in self.X.items()}


@features("gcca")
def gcca_features(ctx: Context, rank: int) -> dict:
    F = ctx.std({m: v[:, :rank] for m, v in ctx.gcca.items()})
    ctx.bases[("gcca", rank)] = ctx.gcca_basis
    return F


@features("procrustes")
def procrustes_features(ctx: Context, rank: int) -> dict:
    pr = ctx.bases[("procrustes", rank)] = ctx.fit_aligner("procrustes", rank)
    return ctx.std({m: pr.transform(m, X) for m, X in ctx.X.items()})


@features("lowrank")
def lowrank_features(ctx: Context, rank: int) -> dict:
    """Combinations of the space's named concepts shared by the training models' predictors of every target,
    on profiles oriented to agree across models from unlabelled train-side rows (:func:`orient_profiles`)."""
    data, Zs = ctx.data, ctx.oriented
    # the targets defined on every row; with only conditional ones (e.g. the split seeds' harmful-only cell), their
    # label columns on every row (training models' labels only)
    targets = [t for t in ctx.cfg["targets"] if t not in CONDITIONAL_TARGETS] or list(ctx.cfg["targets"])
    labels = {m: [data.y(m, t) for t in targets] for m in ctx.train_models}
    U = ctx.bases[("lowrank", rank)] = lowrank_basis(
        {m: Zs[m] for m in ctx.train_models}, labels, rank, ctx.tr, ctx.ref
    )
    return {m: Z @ U for m, Z in Zs.items()}


@features("named")
def named_features(ctx: Context, rank: int) -> dict:
    """The concept space's own coordinates, no aligner: concept c of one model is concept c of another once
    its sign is oriented (the same named direction, fit per model)."""
    return ctx.oriented


@features("random")
def random_features(ctx: Context, rank: int) -> dict:
    rnd = ctx.fit_aligner("random", rank, seed=ctx.seed)
    return ctx.std({m: rnd.transform(m, X) for m, X in ctx.X.items()})


@features("residualized")
def residualized_features(ctx: Context, rank: int) -> dict | None:
    """gcca features after regressing out (least squares on the train/val rows) a sentence embedding of the
    response: what the hidden states add beyond the words. None without embeddings."""
    data = ctx.data
    E = {
        m: np.concatenate([data.emb(m), np.ones((len(data.rows), 1))], 1)
        for m in data.models
        if data.emb(m) is not None
    }
    if len(E) != len(data.models):
        return None
    gcca = {m: v[:, :rank] for m, v in ctx.gcca.items()}
    coef = {m: np.linalg.lstsq(E[m][ctx.ref], F[ctx.ref], rcond=None)[0] for m, F in gcca.items()}
    return ctx.std({m: F - E[m] @ coef[m] for m, F in gcca.items()})


@features("prompt_embedding")
def prompt_embedding_features(ctx: Context, rank: int) -> dict | None:
    """Own answers: the sentence embedding of the prompt alone (head trained on the other models' own
    labels). None in reader studies."""
    if ctx.data.prompt_embeddings is None:
        return None
    return ctx.std({m: ctx.data.prompt_emb(m) for m in ctx.data.models})


@features("residualized_prompt")
def residualized_prompt_features(ctx: Context, rank: int) -> dict | None:
    """Own answers: gcca features minus what a ridge on the prompt's embedding predicts of them,
    cross-fitted (:func:`cross_fit_residuals`). None in reader studies."""
    data = ctx.data
    if data.prompt_embeddings is None:
        return None
    return ctx.std(
        {m: cross_fit_residuals(G[:, :rank], data.prompt_emb(m), ctx.ref, ctx.seed) for m, G in ctx.gcca.items()}
    )


CROSS_FIT_FOLDS = 5
RIDGE_ALPHAS = np.logspace(-2, 3, 11)


def cross_fit_residuals(F: np.ndarray, E: np.ndarray, ref: np.ndarray, seed: int) -> np.ndarray:
    """``F`` minus a ridge prediction from ``E`` (alpha by RidgeCV), never fit on the rows it cleans: a
    reference (train/val) row is cleaned by a ridge fit on the reference rows of the other folds, any other
    row by one fit on every reference row. In-sample least squares on a few hundred regressors removes much
    of the variance even of noise, which would bias the residualized read toward failing."""
    from sklearn.linear_model import RidgeCV

    folds = np.random.default_rng(seed).permutation(np.arange(len(F)) % CROSS_FIT_FOLDS)
    R = F - RidgeCV(alphas=RIDGE_ALPHAS).fit(E[ref], F[ref]).predict(E)
    for f in range(CROSS_FIT_FOLDS):
        fit, rows = ref & (folds != f), ref & (folds == f)
        R[rows] = F[rows] - RidgeCV(alphas=RIDGE_ALPHAS).fit(E[fit], F[fit]).predict(E[rows])
    return R


#: the own probe's read is cut to this many principal directions only when the train-side rows span more
OWN_DIMS = 128


@features("specific")
def specific_features(ctx: Context, rank: int) -> dict:
    """The holdout alone: its full read at this position, the same at every rank (the strong own probe; its
    head's L2 is chosen by cross-validation, :meth:`Protocol.run_own_cv`)."""
    return ctx.own_read


@features("specific_pca")
def specific_pca_features(ctx: Context, rank: int) -> dict:
    """The holdout alone: its own top-r whitened principal components (the weaker probe, fixed L2)."""
    own = ctx.white[ctx.holdout].transform(ctx.X[ctx.holdout])
    return {ctx.holdout: standardize(own[:, :rank], ctx.ref)}


@scores("surface")
def surface_scores(ctx: Context, proto: Protocol) -> list[HeadResult]:
    """TF-IDF logistic on the response text: the words alone (same k draws). k = 0 trains on the train rows
    (in own-response mode: the training models' own responses); k > 0 on the holdout's drawn rows."""
    return _tfidf_scores(ctx, proto, "response")


@scores("surface_prompt")
def surface_prompt_scores(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """Own answers: TF-IDF logistic on the PROMPT (the answer does not exist yet at prompt_last), the k = 0
    head trained on the other models' own labels. None in reader studies."""
    if ctx.data.prompt_embeddings is None:
        return None
    return _tfidf_scores(ctx, proto, "prompt")


#: the TF-IDF heads' inverse regularization strengths, chosen by grouped cross-validation on the training rows
TFIDF_C_GRID = (0.1, 1.0, 10.0, 100.0)
TEXT_FOLDS = 5


def text_vectorizer(train_text: np.ndarray):
    """Word uni- and bigram TF-IDF fit on the DISTINCT training texts: in own-answer studies every prompt appears
    once per training model, so ``min_df=2`` counted on the stacked rows would filter nothing."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    distinct = np.unique(train_text)
    try:
        return TfidfVectorizer(min_df=2, ngram_range=(1, 2), sublinear_tf=True, max_features=20000).fit(distinct)
    except ValueError:  # no term in two distinct texts (a tiny study): keep every term
        return TfidfVectorizer(min_df=1, ngram_range=(1, 2), sublinear_tf=True, max_features=20000).fit(distinct)


def grouped_folds(groups: np.ndarray, folds: int = TEXT_FOLDS) -> list:
    """(fit, held-out) row index pairs with every prompt group in one fold (the same prompt answered by two
    training models never sits on both sides); deterministic."""
    from sklearn.model_selection import GroupKFold

    n = min(folds, len(np.unique(groups)))
    return list(GroupKFold(n_splits=n).split(np.zeros(len(groups)), groups=groups))


def fit_text_head(X, y: np.ndarray, groups: np.ndarray, c_grid=TFIDF_C_GRID):
    """A logistic head on text features, its C chosen by grouped cross-validation on these rows (the mean
    held-out ROC AUC over the folds; ties to the smaller C) and refit on every row; None with a single class.
    The chosen C is the head's ``C``."""
    from sklearn.linear_model import LogisticRegression

    if y.all() or not y.any():
        return None
    folds = [(a, b) for a, b in grouped_folds(groups) if 0 < y[b].sum() < len(b) and 0 < y[a].sum() < len(a)]
    best, best_auc = 10.0, -1.0
    for C in c_grid if len(folds) >= 2 else ():
        held = [
            auc(LogisticRegression(C=C, max_iter=2000).fit(X[a], y[a]).decision_function(X[b]), y[b]) for a, b in folds
        ]
        if np.mean(held) > best_auc + 1e-12:
            best, best_auc = C, float(np.mean(held))
    return LogisticRegression(C=best, max_iter=2000).fit(X, y)


def _tfidf_scores(ctx: Context, proto: Protocol, column: str) -> list[HeadResult]:
    """TF-IDF logistic scores; the zero-shot head's C is chosen by grouped CV on the training rows and reused by
    the k-shot heads (too few rows to cross-validate)."""
    from sklearn.linear_model import LogisticRegression

    data = ctx.data
    text = data.table(proto.holdout)[column].astype(str).to_numpy()
    y = proto.y
    train_models = [proto.holdout] if data.same_texts else proto.train_models  # reader mode: one copy of the texts
    texts = {m: data.table(m)[column].astype(str).to_numpy() for m in train_models}
    units = bootstrap_units(data.rows)
    train_text = np.concatenate([texts[m][proto.rows_of(m, proto.tr)] for m in train_models])
    train_y = np.concatenate([proto.Y[m][proto.rows_of(m, proto.tr)] for m in train_models])
    train_g = np.concatenate([units[proto.rows_of(m, proto.tr)] for m in train_models])
    cal_text = np.concatenate([texts[m][proto.cal] for m in train_models])
    vec = text_vectorizer(train_text)
    T, T_train = vec.transform(text), vec.transform(train_text)
    T_cal = vec.transform(cal_text) if len(cal_text) else None  # no benign validation rows: no threshold
    own_benign = T[proto.own_cal] if proto.own_cal.any() else None
    head0 = fit_text_head(T_train, train_y, train_g)
    C = head0.C if head0 is not None else 10.0

    def scored(clf, benign):
        n_benign = 0 if benign is None else benign.shape[0]
        if clf is None:
            return np.full(proto.te.sum(), 0.5), np.full(n_benign, 0.5)
        return clf.decision_function(T[proto.te]), clf.decision_function(benign) if n_benign else np.zeros(0)

    def fit(X_fit, yy):
        return None if yy.all() or not yy.any() else LogisticRegression(C=C, max_iter=2000).fit(X_fit, yy)

    tr_rows = np.flatnonzero(proto.shot)  # the rows the k draws index
    s0, b0 = scored(head0, T_cal)
    out = [calibrated(0, s0[None], b0[None])]
    for k, draws in proto.draws.items():
        res = [scored(fit(T[tr_rows[idx]], y[tr_rows[idx]]), own_benign) for idx in draws]
        out.append(calibrated(k, np.stack([r[0] for r in res]), np.stack([r[1] for r in res])))
    return out


def prompt_text_score(ctx: Context, proto: Protocol) -> tuple[dict, np.ndarray] | None:
    """The prompt's words as one score: a logistic head on TF-IDF of the prompt plus its sentence embedding
    (C by grouped CV), trained on the training models' own labels. Returns ({training model: out-of-fold score
    on its rows}, the head's score on every holdout row): a training row is scored by a head fit on the other
    prompt groups' rows (the same folds for every model), so a head stacked on the score is not fit on
    in-sample scores. None in reader studies or when the training rows hold one class."""
    from scipy.sparse import csr_matrix, hstack, vstack
    from sklearn.linear_model import LogisticRegression

    data = ctx.data
    if data.prompt_embeddings is None:
        return None
    units = bootstrap_units(data.rows)
    texts = {m: data.table(m)["prompt"].astype(str).to_numpy() for m in data.models}
    tr = {m: proto.rows_of(m, proto.tr) for m in proto.train_models}
    train_text = np.concatenate([texts[m][tr[m]] for m in proto.train_models])
    vec = text_vectorizer(train_text)
    emb = {m: standardize(data.prompt_emb(m), ctx.ref) / np.sqrt(data.prompt_emb(m).shape[1]) for m in data.models}

    def design(m, rows=None):
        X = hstack([vec.transform(texts[m]), csr_matrix(emb[m])]).tocsr()
        return X if rows is None else X[rows]

    Xtr = vstack([design(m, tr[m]) for m in proto.train_models]).tocsr()
    ytr = np.concatenate([proto.Y[m][tr[m]] for m in proto.train_models])
    gtr = np.concatenate([units[tr[m]] for m in proto.train_models])
    head = fit_text_head(Xtr, ytr, gtr)
    if head is None:
        return None
    C = head.C
    oof = np.empty(len(ytr))
    for fit_rows, held in grouped_folds(gtr):
        yy = ytr[fit_rows]
        if yy.all() or not yy.any():
            oof[held] = 0.0
            continue
        oof[held] = LogisticRegression(C=C, max_iter=2000).fit(Xtr[fit_rows], yy).decision_function(Xtr[held])
    full = {m: head.decision_function(design(m)) for m in data.models}  # every row, from the head on all train rows
    out, start = {}, 0
    for m in proto.train_models:
        n = int(tr[m].sum())
        s = full[m].copy()
        s[tr[m]] = oof[start : start + n]  # training rows: cross-fitted
        out[m] = s
        start += n
    return out, full[proto.holdout]


@scores("prompt_text")
def prompt_text_scores(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """Own answers: the prompt's words (TF-IDF + sentence embedding), zero-shot; the base of incremental
    validity (:func:`prompt_text_read_scores`)."""
    if (res := _prompt_text(ctx, proto)) is None:
        return None
    return label_free(res[1], proto)


@scores("prompt_text_read")
def prompt_text_read_scores(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """Own answers, incremental validity: a logistic head on (prompt_text's score, the read's gcca coordinates
    at the verdict's rank in this space), trained on the training models' train rows (their prompt_text score
    cross-fitted, :func:`prompt_text_score`), L2 chosen on their validation rows, scoring the holdout zero-shot.
    Paired with ``prompt_text`` on the same test rows (``diff_incremental``): does the read warn beyond what
    the prompt's words predict?"""
    if (res := _prompt_text(ctx, proto)) is None:
        return None
    text = {**res[0], proto.holdout: res[1]}
    G = _gcca_at_ablation_rank(ctx)
    # the text score is scaled on the validation rows, where every model's score is out of sample (the holdout's
    # train prompts were training rows of the head that scores it: in-sample scores spread wider)
    va = (ctx.data.rows["split"] == "val").to_numpy()
    F = {m: np.column_stack([standardize(text[m][:, None], va), G[m]]) for m in text}
    head = proto.fit_zero_shot(F)
    return label_free(predict(F[proto.holdout], head), proto)


def _prompt_text(ctx: Context, proto: Protocol):
    """:func:`prompt_text_score` once per (target, holdout) in the contexts that share ``ctx.cache`` (every
    space of one position)."""
    key = ("prompt_text", proto.target, proto.holdout, id(ctx.data))
    if key not in ctx.cache:
        ctx.cache[key] = prompt_text_score(ctx, proto)
    return ctx.cache[key]


def _gcca_at_ablation_rank(ctx: Context) -> dict[str, np.ndarray]:
    """Every model's standardized gcca coordinates at the verdict's rank (or the largest the space holds): the
    read's shared features that harm_intent and prompt_text_read use."""
    swept = space_ranks(ctx.cfg["ranks"], dimension(ctx.data, ctx.space))
    if swept:  # the grid's gcca basis (nested in the rank)
        coords, top = ctx.gcca, max(swept)
    else:  # a space smaller than every swept rank: a basis of its own dimension
        top = dimension(ctx.data, ctx.space)
        basis = ctx.fit_aligner("gcca", top)
        coords = {m: basis.transform(m, X) for m, X in ctx.X.items()}
    rank = min(int(ctx.cfg.get("ablation_rank", top)), top)
    return ctx.std({m: v[:, :rank] for m, v in coords.items()})


@scores("is_harmful")
def is_harmful_scores(ctx: Context, proto: Protocol) -> list[HeadResult]:
    """Harm recognition alone: the prompt's harmful label as the score (1 harmful, 0 benign); no read, no
    label, no training. On the pooled rows it shows what "this request is harmful" earns by itself; among
    harmful prompts only (``*_harmful`` targets) it is constant, AUC 0.5."""
    harmful = ~ctx.data.table(ctx.holdout)["benign"].to_numpy(bool)
    return label_free(harmful.astype(np.float64), proto)


@scores("harm_intent")
def harm_intent_scores(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """Harm recognition learned from the reads: a logistic head on the training models' gcca coordinates (the
    verdict's rank, or the largest the space holds) trained to tell harmful from benign prompts on their train
    rows (every row, whatever the target; L2 chosen on their validation rows), scoring the holdout zero-shot.
    Does the early warning say more than "this request looks harmful"? Among harmful prompts it asks whether
    how harmful a request looks predicts the failure. None when the study has a single kind of prompt."""
    harmful = ~ctx.data.rows["benign"].to_numpy(bool)
    va = (ctx.data.rows["split"] == "val").to_numpy()
    if harmful.all() or not harmful.any():
        return None
    F = _gcca_at_ablation_rank(ctx)

    def pool(mask):
        return np.concatenate([F[m][mask] for m in ctx.train_models]), np.tile(harmful[mask], len(ctx.train_models))

    head = fit_l2_on_validation(*pool(ctx.tr), *pool(va), ctx.cfg["l2_grid"])
    return label_free(predict(F[ctx.holdout], head), proto)


def _profile_columns(ctx: Context, proto: Protocol) -> dict[str, np.ndarray]:
    """The holdout's concept profiles standardized on its unlabelled rows, by concept name."""
    Z = standardize(ctx.data.Z[ctx.holdout][ctx.position], proto.ref)
    return {c: Z[:, i] for i, c in enumerate(ctx.data.concepts)}


def label_free(s: np.ndarray, proto: Protocol) -> list[HeadResult]:
    """A zero-shot score on every holdout row as a head result, its alarm level set on the holdout's label-free
    calibration rows."""
    return [calibrated(0, s[proto.te][None], s[proto.own_cal][None])]


#: the label-free scores' formulas (concept -> weight) when the config's ``transfer.mismatch`` leaves one out
MISMATCH = {
    "mismatch_style": {"prosocial": 1.0, "risk_aversion": -1.0, "epistemic_uncertainty": -1.0},
    "mismatch_caution": {"calm": 1.0, "harm_salience": -1.0},
}


def mismatch_scores(ctx: Context, proto: Protocol, name: str) -> list[HeadResult] | None:
    """A label-free score: the config's weighted sum of the holdout's standardized concept profiles, read at
    this position; at response positions, where the answer's tone exists, gated on calm tone (an alarmed
    answer gets the lowest score). None when the study lacks one of its concepts."""
    formula = {**MISMATCH, **ctx.cfg.get("mismatch", {})}[name]
    col = _profile_columns(ctx, proto)
    if not all(c in col for c in formula):
        return None
    s = sum(w * col[c] for c, w in formula.items())
    if ctx.position != "prompt_last":
        s = np.where(ctx.data.table(ctx.holdout)["calm"].to_numpy(bool), s, s.min() - 1.0)
    return label_free(s, proto)


@scores("mismatch_style")
def mismatch_style(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """Label-free: warm, unworried and sure of itself (default prosocial - risk_aversion - epistemic_uncertainty)."""
    return mismatch_scores(ctx, proto, "mismatch_style")


@scores("mismatch_caution")
def mismatch_caution(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """Label-free: calm without registering harm (default calm - harm_salience)."""
    return mismatch_scores(ctx, proto, "mismatch_caution")
