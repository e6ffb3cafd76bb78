"""Leave-one-model-out (LOMO) transfer of early-warning heads through a shared basis, with baselines.

For one holdout model, every method of the registry (:mod:`emobasis.methods`) turns each model's rows into
features or scores (:mod:`emobasis.baselines`) at every position and rank; the protocol
(:mod:`emobasis.protocol`) trains and scores the heads the same way for all of them, and
:func:`summarize` adds bootstrap-over-prompts CIs, paired with the holdout's own probe (``specific``).
The holdout never contributes labels to a basis or a k = 0 head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.baselines import FEATURES, SCORES, Context
from emobasis.heads import predict
from emobasis.methods import METHODS, REGISTRY, adaptable
from emobasis.metrics import (
    alarm_rates,
    auc_kernel,
    auc_rows,
    bootstrap_auc,
    group_bootstrap,
    permutation_p,
    recall_at_threshold,
)
from emobasis.protocol import ALL_K, HeadResult, Protocol, check_labels, parse_ks, standardize, study_protocol
from emobasis.splits import stable_seed
from emobasis.study import StudyData, TransferError


def grid_config(settings: dict) -> dict:
    """The grid's settings from a rule's ``transfer_settings()`` param (rules/common.smk): the config's
    ``transfer`` block plus ranks, models, suites, stimulus sets and seed; k = "all" parsed."""
    return {**settings, "ks": parse_ks(settings["ks"])}


def load_settings_study(
    settings: dict,
    positions=None,
    with_profiles: bool = True,
    with_embeddings: bool | None = None,
    fit_only: bool = True,
) -> StudyData:
    """The study a cross-model job reads, from the standard file layout. ``fit_only``: without the rows of
    the suites marked ``role: test`` (``settings["test_suites"]``), which never enter a fit."""
    from emobasis.study import load_study_files

    data = load_study_files(
        settings["models"],
        settings["suites"],
        settings["stimulus_sets"],
        positions or settings["positions"],
        with_profiles=with_profiles,
        with_embeddings=settings["embeddings"] if with_embeddings is None else with_embeddings,
    )
    return fit_suite_data(data, settings) if fit_only else data


def select_rows(data: StudyData, keep: np.ndarray, split: np.ndarray | None = None) -> StudyData:
    """The study cut to the rows under ``keep`` (reads, profiles, embeddings and tables alike); ``split``:
    new split names for the kept rows (the cross-suite protocol relabels them, :mod:`emobasis.crosssuite`)."""
    from dataclasses import replace

    def cut(t: pd.DataFrame) -> pd.DataFrame:
        t = t[keep].reset_index(drop=True)
        return t if split is None else t.assign(split=split)

    emb = data.embeddings
    emb = {m: e[keep] for m, e in emb.items()} if isinstance(emb, dict) else (None if emb is None else emb[keep])
    return replace(
        data,
        rows=cut(data.rows),
        X={m: {p: v[keep] for p, v in d.items()} for m, d in data.X.items()},
        Z={m: {p: v[keep] for p, v in d.items()} for m, d in data.Z.items()},
        embeddings=emb,
        prompt_embeddings=None
        if data.prompt_embeddings is None
        else {m: e[keep] for m, e in data.prompt_embeddings.items()},
        own=None if data.own is None else {m: cut(t) for m, t in data.own.items()},
    )


def fit_suite_data(data: StudyData, cfg: dict) -> StudyData:
    """The study without the rows of test suites (``cfg["test_suites"]``); the same object when there are none."""
    test = cfg.get("test_suites") or []
    if not test:
        return data
    return select_rows(data, ~data.rows["suite"].isin(test).to_numpy())


def grid_methods(cfg: dict) -> tuple[list[str], list[str]]:
    """(ranked, rank-free) methods the grid computes, in the order their rows appear in the summary:
    per rank the cross-model methods (configured aligners and baselines, each followed by its nulls),
    then the holdout-only ones; the rank-free methods in registry order."""
    wanted = [m for m in REGISTRY if m.name in cfg["aligners"] or not m.aligner]
    ranked = [m for m in wanted if m.ranked and m.head == "transfer"]
    ranked = [n for m in ranked for n in (m.name, *(x.name for x in wanted if x.null_of == m.name))]
    ranked += [m.name for m in wanted if m.ranked and m.head == "own"]
    return ranked, [m.name for m in wanted if not m.ranked]


def method_features(ctx: Context, cfg: dict) -> dict:
    """{(method, rank): {model: standardized features}} for every feature method (nulls and score methods
    excluded); a method whose function returns None is left out."""
    ranked, rankfree = grid_methods(cfg)
    feats = {}
    for rank in cfg["ranks"]:
        for name in ranked:
            if METHODS[name].head != "null" and (F := FEATURES[name](ctx, rank)) is not None:
                feats[(name, rank)] = F
    for name in rankfree:
        if METHODS[name].head != "scores" and (F := FEATURES[name](ctx, 0)) is not None:
            feats[(name, 0)] = F
    return feats


def run_heads(ctx: Context, feats: dict, proto, cfg: dict) -> dict[tuple[str, int], list[HeadResult]]:
    """Every method's head results for one target, in the summary's row order."""
    ranked, rankfree = grid_methods(cfg)
    store, fitted = {}, {}  # fitted: cv heads by their (rank-independent) features, fit once
    for rank, name in [(r, n) for r in cfg["ranks"] for n in ranked] + [(0, n) for n in rankfree]:
        method = METHODS[name]
        if method.head == "null":
            if (method.null_of, rank) in feats:
                store[(name, rank)] = proto.run_shuffled(feats[(method.null_of, rank)])
        elif method.head == "scores":
            if (res := SCORES[name](ctx, proto)) is not None:
                store[(name, rank)] = res
        elif method.cv and (name, rank) in feats:
            F = feats[(name, rank)]
            store[(name, rank)] = fitted[id(F)] = fitted.get(id(F)) or proto.run_own_cv(F)
        elif (name, rank) in feats:
            store[(name, rank)] = proto.run(feats[(name, rank)], transfer=method.head == "transfer")
    return store


def evaluate_holdout(
    data: StudyData, holdout: str, cfg: dict, seed: int = 0, keep_bases: bool = False, by_suite: bool = False
):
    """All methods x ranks x positions x targets x k for one holdout.

    Returns (tidy per-seed results, summary with bootstrap CIs, bases {(method, rank, position): basis}).
    ``by_suite``: the summary also has, for every suite, the same rows computed on that suite's test rows
    alone (column ``suite``; the pooled rows have ``suite`` = "all"), from the same heads.
    Rows of the suites in ``cfg["test_suites"]`` are left out of everything (they are scored only across
    suites, :mod:`emobasis.crosssuite`)."""
    data = fit_suite_data(data, cfg)
    if holdout not in data.models or len(data.models) < 3:
        raise TransferError(f"LOMO needs the holdout among >= 3 models (have {data.models}).")
    for target in cfg["targets"]:
        for m in [None] if data.same_texts else data.models:
            check_labels(data.table(m) if m else data.rows, target, m)
    records, summaries, all_bases = [], [], {}
    for position in cfg["positions"]:
        ctx = Context(data, holdout, position, cfg, seed)
        feats = method_features(ctx, cfg)
        if keep_bases:
            all_bases.update({(name, rank, position): b for (name, rank), b in ctx.bases.items()})
        for target in cfg["targets"]:
            proto = study_protocol(data, holdout, target, cfg, seed)
            store = run_heads(ctx, feats, proto, cfg)
            recs, summ = summarize(store, proto, data.rows, holdout, target, position, cfg, seed)
            records += recs
            summaries += [{**row, "suite": "all"} for row in summ] if by_suite else summ
            for suite in dict.fromkeys(data.rows["suite"]) if by_suite else []:
                keep = (data.rows["suite"] == suite).to_numpy()[proto.te]
                summaries += summarize(store, proto, data.rows, holdout, target, position, cfg, seed, keep, suite)[1]
    return pd.DataFrame(records), pd.DataFrame(summaries), all_bases


def summarize(store, proto: Protocol, rows, holdout, target, position, cfg, seed, keep=None, suite=None):
    """Per-seed AUC rows, and bootstrap-over-prompts CIs of the seed-averaged AUC (paired with ``specific``
    at the same rank and k). Every method is resampled with the same prompt weights.

    ``keep`` (a mask over the test rows) and ``suite``: the same on a subset of the test rows, e.g. one
    suite's (the rows get ``suite``); a subset with one class gets NaN AUCs.

    Permutation test: the rows of the method a null is fit for (``shuffled`` is the null of ``gcca``) get
    ``perm_p``, the share of single permuted-label heads (``null_seeds`` of them, same rank and k) whose
    test AUC reaches the row's AUC, and ``n_perm``; the null's own rows keep the 97.5th percentile of those
    single heads (``auc_null_q975``) beside their mean. At k > 0 the row's AUC is the mean over the k draws
    while each null head is one draw, so the test is conservative there."""
    keep = np.ones(proto.te.sum(), bool) if keep is None else keep
    yte = proto.y[proto.te][keep]
    benign_te = proto.benign[proto.te][keep] & ~yte.astype(bool)  # the rows a false alarm can happen on
    groups = rows["item_id"].to_numpy()[proto.te][keep]
    W = group_bootstrap(groups, cfg["n_boot"], stable_seed(seed, "boot", target, position, *([suite] if suite else [])))
    recs, summ, kernels, nulls = [], [], {}, {}
    for (name, rank), results in store.items():
        for res in results:
            res = res if keep.all() else HeadResult(res.k, res.scores[:, keep], res.thresholds, res.fpr_target)
            aucs = auc_rows(res.scores, yte)
            if METHODS[name].head == "null":  # single permuted-label heads: the null of ``null_of``'s heads
                nulls[(METHODS[name].null_of, rank, res.k)] = aucs
            recalls = [recall_at_threshold(s, yte, thr) for s, thr in zip(res.scores, res.thresholds)]
            fprs = [recall_at_threshold(s, benign_te, thr) for s, thr in zip(res.scores, res.thresholds)]
            cell = {
                "aligner": name,
                "rank": rank,
                "holdout": holdout,
                "target": target,
                "position": position,
                "k": res.k,
                **({"suite": suite} if suite else {}),
            }
            for s_i, (a, r, f) in enumerate(zip(aucs, recalls, fprs)):
                recs.append({**cell, "seed": s_i, "auc": float(a), "recall_at_fpr": r, "realized_fpr": f})
            K = kernels[(name, rank, res.k)] = auc_kernel(res.scores, yte, groups)
            lo, hi = np.nanpercentile(bootstrap_auc(K, yte, groups, W), [2.5, 97.5])
            summ.append(
                {
                    **cell,
                    "n_seeds": len(aucs),
                    "auc": float(np.mean(aucs)),
                    "auc_ci_low": lo,
                    "auc_ci_high": hi,
                    **alarm_columns(res, yte, benign_te, groups, W),
                    "n_test": int(len(yte)),
                    "n_test_pos": int(yte.sum()),
                    "n_test_benign": int(benign_te.sum()),
                    "n_boot": cfg["n_boot"],
                }
            )
            if METHODS[name].head == "null":  # the single heads' spread, not only their mean
                summ[-1]["auc_null_q975"] = float(np.nanpercentile(aucs, 97.5))
    for row in summ:  # per-head permutation test of every head the null was fit for (k > 0: the draws' mean)
        if (null := nulls.get((row["aligner"], row["rank"], row["k"]))) is not None:
            row.update(perm_p=permutation_p(row["auc"], null), n_perm=len(null))
    spec_auc = {(r["rank"], r["k"]): r["auc"] for r in summ if r["aligner"] == "specific"}
    for row in summ:
        key = (row["rank"], row["k"])
        if METHODS[row["aligner"]].paired and key in spec_auc:
            diff = bootstrap_auc(kernels[(row["aligner"], *key)] - kernels[("specific", *key)], yte, groups, W)
            lo, hi = np.nanpercentile(diff, [2.5, 97.5])
            row.update(diff_vs_specific=row["auc"] - spec_auc[key], diff_ci_low=lo, diff_ci_high=hi)
    return recs, summ


#: the summary's alarm columns: recall and the false-positive rate realized on benign test rows, at thresholds
#: calibrated for ``fpr_target`` on benign validation rows
ALARM_COLUMNS = ("recall_at_fpr", "recall_ci_low", "recall_ci_high", "realized_fpr", "realized_fpr_ci_low")
ALARM_COLUMNS += ("realized_fpr_ci_high", "fpr_target")
#: the LOMO summary's columns (:func:`summarize`), in table order
SUMMARY_COLUMNS = (
    *("aligner", "rank", "holdout", "target", "position", "k", "n_seeds", "auc", "auc_ci_low", "auc_ci_high"),
    *ALARM_COLUMNS,
    *("n_test", "n_test_pos", "n_test_benign", "n_boot", "diff_vs_specific", "diff_ci_low", "diff_ci_high"),
    *("perm_p", "n_perm", "auc_null_q975"),
)


def alarm_columns(res, yte: np.ndarray, benign_te: np.ndarray, groups: np.ndarray, W: np.ndarray) -> dict:
    """Recall of the positives and the false-positive rate realized on the benign test rows at the heads'
    calibrated thresholds (``fpr_target``), averaged over the heads, each with a 95% CI from the same prompt
    bootstrap as the AUC; NaN without a threshold (no benign calibration rows) or without such rows."""
    ok = ~np.isnan(res.thresholds)
    recall = fpr = (float("nan"),) * 3
    if ok.any():
        alarms = (res.scores[ok] > res.thresholds[ok, None]).mean(0)  # each test row's alarm rate over heads
        recall, fpr = (alarm_rates(alarms, rows, groups, W) for rows in (yte.astype(bool), benign_te))
    return {
        "fpr_target": res.fpr_target,
        **dict(zip(("recall_at_fpr", "recall_ci_low", "recall_ci_high"), recall)),
        **dict(zip(("realized_fpr", "realized_fpr_ci_low", "realized_fpr_ci_high"), fpr)),
    }


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


def check_transfer_table(table: pd.DataFrame, cfg: dict, holdouts: list[str]) -> None:
    """Every aligner x rank x holdout x target x position x k is present, and every AUC lies in [0, 1].

    ``table`` is the tidy per-seed table (k as in the files: ALL_K for "all"). Raises TransferError."""
    ks = parse_ks(cfg["ks"])
    want = pd.MultiIndex.from_product(
        [cfg["aligners"], cfg["ranks"], holdouts, cfg["targets"], cfg["positions"], ks],
        names=["aligner", "rank", "holdout", "target", "position", "k"],
    )
    have = pd.MultiIndex.from_frame(table[list(want.names)].drop_duplicates())
    missing = want.difference(have)
    if len(missing):
        raise TransferError(
            f"the transfer table lacks {len(missing)} combinations, e.g. {list(missing[:3])}. "
            "Fix: rerun the transfer jobs (snakemake -R transfer)."
        )
    auc = table["auc"].to_numpy(float)
    if np.isnan(auc).any() or (auc < 0).any() or (auc > 1).any():
        raise TransferError(
            "AUCs outside [0, 1] (or NaN) in the transfer table. Fix: check the labels of the test split."
        )
    seeds = table[(table["aligner"] == cfg["aligners"][0]) & (table["k"].isin([k for k in ks if 0 < k <= 64]))]
    if len(seeds) and seeds.groupby(["rank", "holdout", "target", "position", "k"])["seed"].nunique().min() < min(
        cfg["seeds"], 20
    ):
        raise TransferError("fewer seeds than configured for k <= 64.")


def fit_basis(data: StudyData, aligner: str, rank: int, position: str, pca_dims: int, holdout: str | None = None):
    """An aligner fit on the shared texts of every model but ``holdout`` (all models when None), the holdout
    adapted from its unlabelled shared texts; returns (basis, {model: standardized [n, rank] coordinates})."""
    ctx = Context(data, holdout, position, {"pca_dims": pca_dims}, seed=0)
    basis = ctx.fit_aligner(aligner, rank)
    return basis, ctx.std({m: basis.transform(m, X) for m, X in ctx.X.items()})


def zero_shot_scores(
    data: StudyData, holdout: str, aligner: str, rank: int, position: str, target: str, cfg: dict, seed: int = 0
) -> pd.Series:
    """The k = 0 head's scores on the holdout's test rows, exactly as in the LOMO grid (a basis at the
    largest swept rank, truncated to ``rank`` for gcca; the same head selection), indexed by row position."""
    if aligner not in adaptable():
        raise TransferError(f"zero-shot row scores are available for {', '.join(adaptable())}, not '{aligner}'.")
    ref = data.ref
    fit_rank = max(cfg["ranks"]) if aligner == "gcca" else rank
    basis, _ = fit_basis(data, aligner, fit_rank, position, cfg["pca_dims"], holdout)
    F = {m: standardize(basis.transform(m, data.X[m][position])[:, :rank], ref) for m in data.models}
    proto = study_protocol(data, holdout, target, {**cfg, "ks": [0]}, seed)
    b0 = proto.fit_zero_shot(F)
    return pd.Series(predict(F[holdout][proto.te], b0), index=np.flatnonzero(proto.te), name="score")


def tidy_k(table: pd.DataFrame) -> pd.DataFrame:
    """The tables' k column as text: "all" for every holdout train row."""
    return table.assign(k=table["k"].map(lambda k: "all" if k == ALL_K else str(k)))
