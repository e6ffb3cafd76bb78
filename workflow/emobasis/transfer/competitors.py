"""Competing cross-model methods: other published ways to carry a probe from some models to a new one. Each is
one registry entry (:mod:`emobasis.transfer.methods`) and one function here, registered by name with the
decorators of :mod:`emobasis.transfer.baselines`, so the same protocol trains and scores it on the same test
prompts as the shared bases. None of them uses a label of the held-out model.

- ``anchors`` (features, rank-free): relative, anchor-projected representations (Moschella et al., ICLR 2023;
  Kim & Han 2026 carry behaviour probes to held-out model families this way). A fixed, seeded set of
  :data:`N_ANCHORS` anchor texts is drawn from the stimuli (:func:`anchor_rows`): the same texts for every
  model, since the shared texts' rows are aligned, and texts no label concerns (a labelled suite row among the
  anchors would be its own anchor, a cosine of 1 the zero-shot head could memorise its label by). Each row's
  read becomes its cosine similarities to the anchors' reads, both centred on the mean of that model's shared
  texts (:func:`relative_features`): invariant to a rotation and a rescaling of a model's read, so the
  coordinates mean the same thing in every model with nothing fit across models, zero-shot by construction.
  The transfer head is trained on them as on any features. Runs in every space.
- ``affine`` (scores, zero-shot): an affine map between models' reads (Chen et al., NeurIPS 2025). Each
  training model keeps its own probe: a logistic head on its whitened read (``ctx.white``), trained on its own
  train rows and labels, L2 chosen on its validation rows. The holdout's whitened read is mapped into each
  training model's by a ridge regression with intercept (RidgeCV over :data:`MAP_ALPHAS`) fit on the shared
  texts alone, scored by that model's probe and standardized on the unlabelled train-side rows, so every
  training model counts equally; the score is the mean over the training models. A training model with a
  single class in its train (or validation) rows is left out.
- ``valence_arousal`` (features, rank-free, concept spaces): a rank-2 basis of the emotion directions weighted
  by human valence and arousal ratings of the emotion words (NRC VAD; cf. arXiv 2604.03147, where a
  valence-arousal subspace moves refusal and sycophancy). The weights (:func:`valence_arousal_weights`) are
  each rated concept's ratings centred over the rated concepts of the space, 0 for an unrated concept (the
  controls); the features are the standardized concept profiles times the weights. The ratings are the
  transfer config's ``concept_vad`` (concept -> (valence, arousal), :func:`concept_ratings` of the lexicon of
  ``concepts.valence_source``); without them, or in ``hidden``, the method does not run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emobasis.concepts.directions import read_nrc_ratings
from emobasis.transfer.baselines import Context, features, label_free, scores
from emobasis.transfer.heads import predict
from emobasis.transfer.protocol import HeadResult, Protocol, fit_l2_on_validation, standardize
from emobasis.transfer.spaces import concept_columns, shared_space_reads

#: how many stimuli serve as anchor texts (all of them when there are fewer)
N_ANCHORS = 64
#: the anchors are drawn with this seed from the stimuli's row order, which every model shares
ANCHOR_SEED = 0
#: ridge strengths of the affine maps (RidgeCV chooses one per training model, by leave-one-out)
MAP_ALPHAS = np.logspace(-2, 4, 13)
#: the fewest rated concepts a valence-arousal basis needs
MIN_RATED = 3


def anchor_rows(n_texts: int, n: int = N_ANCHORS, seed: int = ANCHOR_SEED) -> np.ndarray:
    """The anchors' row positions among ``n_texts`` aligned shared texts, sorted: ``n`` drawn with ``seed``,
    or every row when there are no more than ``n``. The same for every model and every call."""
    if n_texts <= n:
        return np.arange(n_texts)
    return np.sort(np.random.default_rng(seed).choice(n_texts, size=n, replace=False))


def relative_features(X: np.ndarray, anchors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Cosine similarities [n, n_anchors] of each row of ``X`` to each row of ``anchors`` (the anchor texts'
    reads), both centred on ``centre`` (the mean of the model's shared texts). Unchanged when one model's reads,
    anchors and centre alike, are rotated and rescaled."""

    def unit(A):
        A = np.asarray(A, np.float64) - centre
        return A / (np.linalg.norm(A, axis=1, keepdims=True) + 1e-12)

    return unit(X) @ unit(anchors).T


@features("anchors")
def anchor_features(ctx: Context, rank: int) -> dict:
    """Each model's rows as cosine similarities to the anchor stimuli's reads, centred on the mean of the
    model's shared texts, standardized on the train-side rows. ``rank`` is ignored."""
    stimuli = shared_space_reads(ctx.data, ctx.space)
    anchors = anchor_rows(min(len(v) for v in stimuli.values()))
    return ctx.std({m: relative_features(X, stimuli[m][anchors], ctx.views[m].mean(0)) for m, X in ctx.X.items()})


@scores("affine")
def affine_scores(ctx: Context, proto: Protocol) -> list[HeadResult] | None:
    """The holdout's whitened read mapped into each training model's (ridge on the shared texts), scored by
    that model's own head; the scores, each standardized on the train-side rows, averaged over the training
    models. Zero-shot only; None when no training model has both classes in its train and validation rows."""
    from sklearn.linear_model import RidgeCV

    h = proto.holdout
    read_h = ctx.white[h].transform(ctx.X[h])
    shared_h = ctx.white[h].transform(ctx.views[h])
    per_model = []
    for m in proto.train_models:
        tr, va = proto.rows_of(m, proto.tr), proto.rows_of(m, proto.va)
        y_tr, y_va = proto.Y[m][tr], proto.Y[m][va]
        if y_tr.all() or not y_tr.any() or y_va.all() or not y_va.any():
            continue
        read_m = ctx.white[m].transform(ctx.X[m])
        head = fit_l2_on_validation(read_m[tr], y_tr, read_m[va], y_va, ctx.cfg["l2_grid"])
        to_m = RidgeCV(alphas=MAP_ALPHAS).fit(shared_h, ctx.white[m].transform(ctx.views[m]))
        per_model.append(standardize(predict(to_m.predict(read_h), head)[:, None], ctx.ref)[:, 0])
    if not per_model:
        return None
    return label_free(np.mean(per_model, axis=0), proto)


def concept_ratings(concepts: list[str], lexicon: str | Path | dict) -> dict[str, tuple[float, float]]:
    """Each concept's (valence, arousal): its name's ratings in ``lexicon`` (the NRC VAD lexicon's path, or a
    word -> (valence, arousal) dict as :func:`emobasis.concepts.directions.read_nrc_ratings` reads it). A
    concept whose name is not a rated word (e.g. ``harm_salience``) is left out: unrated."""
    words = lexicon if isinstance(lexicon, dict) else read_nrc_ratings(lexicon)
    out = {}
    for c in concepts:
        word = c if c in words else c.lower()
        if word in words:
            out[c] = (float(words[word][0]), float(words[word][1]))
    return out


def valence_arousal_weights(concepts: list[str], ratings: dict) -> np.ndarray | None:
    """[K, 2] weights of the space's concepts: the rated ones' valence and arousal, each centred over the rated
    concepts of the space; 0 for an unrated concept. None with fewer than :data:`MIN_RATED` rated concepts."""
    rated = [i for i, c in enumerate(concepts) if c in ratings]
    if len(rated) < MIN_RATED:
        return None
    R = np.array([ratings[concepts[i]] for i in rated], np.float64)
    W = np.zeros((len(concepts), 2))
    W[rated] = R - R.mean(0)
    return W


@features("valence_arousal")
def valence_arousal_features(ctx: Context, rank: int) -> dict | None:
    """Each model's concept profiles, standardized on the train-side rows, projected on the valence and arousal
    weights, standardized again. None in ``hidden``, without ratings (``concept_vad``) or with too few rated
    concepts in the space. ``rank`` is ignored."""
    ratings, cols = ctx.cfg.get("concept_vad"), concept_columns(ctx.data, ctx.space)
    if not ratings or cols is None:
        return None
    W = valence_arousal_weights([ctx.data.concepts[i] for i in cols], ratings)
    if W is None:
        return None
    return ctx.std({m: standardize(Z, ctx.ref) @ W for m, Z in ctx.X.items()})
