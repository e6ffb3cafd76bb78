"""Leave-one-model-out (LOMO) transfer of early-warning heads through a shared basis, with baselines.

For one holdout model, every method of the registry (:mod:`emobasis.transfer.methods`) turns each model's rows into
features or scores (:mod:`emobasis.transfer.baselines`) at every position and rank; the protocol
(:mod:`emobasis.transfer.protocol`) trains and scores the heads the same way for all of them, and
:func:`summarize` adds bootstrap-over-prompts CIs, paired with the holdout's own probe (``specific``).
The holdout never contributes labels to a basis or a k = 0 head. The grid's files are checked and written
here too: the tidy table's check, the basis files' plain arrays, the k column as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.errors import TransferError
from emobasis.labels.tone import is_echo
from emobasis.transfer import competitors  # noqa: F401  (registers anchors, affine and valence_arousal)
from emobasis.transfer.baselines import FEATURES, SCORES, Context
from emobasis.transfer.heads import predict
from emobasis.transfer.methods import METHODS, REGISTRY, adaptable
from emobasis.transfer.metrics import (
    ALARM_COLUMNS,
    alarm_columns,
    auc_kernel,
    auc_rows,
    bootstrap_auc,
    bootstrap_units,
    group_bootstrap,
    permutation_p,
    recall_rows,
)
from emobasis.transfer.protocol import (
    ALL_K,
    HeadResult,
    Protocol,
    holdout_targets,
    parse_ks,
    standardize,
    study_protocol,
)
from emobasis.transfer.spaces import (
    SPACE_FREE,
    SPACE_PAIRS,
    dimension,
    skip_reason,
    space_ranks,
    space_reads,
    space_reason,
    unswept,
)
from emobasis.transfer.study import StudyData


def grid_config(settings: dict) -> dict:
    """The grid's settings from a rule's ``transfer_settings()`` param (rules/common.smk): the config's
    ``transfer`` block plus ranks, models, suites, stimulus sets and seed; k = "all" parsed; with a
    ``vad_lexicon`` path, each concept's human (valence, arousal) ratings as ``concept_vad`` (the
    valence_arousal method)."""
    cfg = {**settings, "ks": parse_ks(settings["ks"])}
    if settings.get("vad_lexicon") and "concept_vad" not in settings:
        from emobasis.transfer.competitors import concept_ratings

        cfg["concept_vad"] = concept_ratings(list(settings.get("concept_kinds") or {}), settings["vad_lexicon"])
    return cfg


def load_settings_study(
    settings: dict,
    positions=None,
    with_profiles: bool = True,
    with_embeddings: bool | None = None,
    fit_only: bool = True,
) -> StudyData:
    """The study a cross-model job reads, from the standard file layout. ``fit_only``: without the rows of
    the suites marked ``role: test`` (``settings["test_suites"]``), which never enter a fit."""
    from emobasis.transfer.study import load_study_files

    data = load_study_files(
        settings["models"],
        settings["suites"],
        settings["stimulus_sets"],
        positions or settings["positions"],
        with_profiles=with_profiles,
        with_embeddings=settings["embeddings"] if with_embeddings is None else with_embeddings,
        concept_kinds=settings.get("concept_kinds"),
    )
    return fit_suite_data(data, settings) if fit_only else data


def select_rows(data: StudyData, keep: np.ndarray, split: np.ndarray | None = None) -> StudyData:
    """The study cut to the rows under ``keep`` (reads, profiles, embeddings and tables alike); ``split``:
    new split names for the kept rows (the cross-suite protocol relabels them, :mod:`emobasis.transfer.crosssuite`)."""
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


def method_features(ctx: Context, cfg: dict, skipped: list | None = None) -> dict:
    """{(method, rank): {model: standardized features}} for every feature method in the context's space
    (nulls and score methods excluded). A method that cannot run in the space at a rank
    (:func:`emobasis.transfer.spaces.skip_reason`) is left out and recorded in ``skipped``; so is one whose function
    returns None (e.g. no text embeddings)."""
    ranked, rankfree = grid_methods(cfg)
    feats = {}
    for rank, name in [(r, n) for r in cfg["ranks"] for n in ranked] + [(0, n) for n in rankfree]:
        method = METHODS[name]
        if method.head in ("null", "scores"):
            continue
        reason = skip_reason(ctx.data, ctx.space, name, rank, method.ranked) or unswept(ctx.space, rank, method, cfg)
        if reason is None and (F := FEATURES[name](ctx, rank)) is not None:
            feats[(name, rank)] = F
        elif skipped is not None:
            reason = reason or "this study lacks what it reads (e.g. text or prompt embeddings)"
            skipped.append({"space": ctx.space, "aligner": name, "rank": rank, "reason": reason})
    return feats


def run_heads(ctx: Context, feats: dict, proto, cfg: dict, once: dict | None = None) -> dict:
    """Every method's head results for one target in the context's space, in the summary's row order.
    ``once``: results of the methods that do not read the space (:data:`emobasis.transfer.spaces.SPACE_FREE`), shared
    by every space of a (position, target) and filled by the first."""
    ranked, rankfree = grid_methods(cfg)
    once = {} if once is None else once
    store, fitted = {}, {}  # fitted: cv heads by their (rank-independent) features, fit once
    for rank, name in [(r, n) for r in cfg["ranks"] for n in ranked] + [(0, n) for n in rankfree]:
        method = METHODS[name]
        if name in SPACE_FREE and name in once:
            res = once[name]
        elif method.head == "null":
            res = proto.run_shuffled(feats[(method.null_of, rank)]) if (method.null_of, rank) in feats else None
        elif method.head == "scores":
            res = SCORES[name](ctx, proto)
        elif method.cv and (name, rank) in feats:
            F = feats[(name, rank)]
            res = fitted[id(F)] = fitted.get(id(F)) or proto.run_own_cv(F)
        elif (name, rank) in feats:
            res = proto.run(feats[(name, rank)], transfer=method.head == "transfer")
        else:
            res = None
        if name in SPACE_FREE:
            once[name] = res
        if res is not None:
            store[(name, rank)] = res
    return store


def evaluate_holdout(
    data: StudyData,
    holdout: str,
    cfg: dict,
    seed: int = 0,
    keep_bases: bool = False,
    by_suite: bool | dict = False,
    skipped: list | None = None,
):
    """All spaces x methods x ranks x positions x targets x k for one holdout. Returns (tidy per-seed results,
    summary with bootstrap CIs, bases {(space, method, rank, position): basis}). The feature spaces are
    ``cfg["spaces"]`` (default: hidden); a space or (method, rank) that cannot run is recorded in ``skipped``
    (dicts: space, aligner, rank, reason), once per holdout. ``by_suite``: the summary also has, per suite, the
    rows computed on that suite's test rows alone (column ``suite``; pooled rows: "all"; own answers also "no
    echoes", :func:`emobasis.transfer.grid.test_subsets`), from the same heads; a dict (target, position, rank)
    limits them to that cell (:func:`emobasis.transfer.grid.suite_store`).
    Rows of ``cfg["test_suites"]`` are left out (scored only across suites, :mod:`emobasis.transfer.crosssuite`)."""
    data = fit_suite_data(data, cfg)
    if holdout not in data.models or len(data.models) < 3:
        raise TransferError(f"LOMO needs the holdout among >= 3 models (have {data.models}).")
    targets, notes = holdout_targets(data, holdout, cfg["targets"])
    spaces = cfg.get("spaces", ["hidden"])
    for space in spaces:
        if (reason := space_reason(data, space)) is not None:
            notes.append({"space": space, "aligner": "*", "rank": 0, "reason": reason})
    spaces = [s for s in spaces if space_reason(data, s) is None]
    records, summaries, all_bases = [], [], {}
    for i, position in enumerate(cfg["positions"]):
        ctxs = {space: Context(data, holdout, position, cfg, seed, space) for space in spaces}
        cache: dict = {}  # shared by the spaces of one position (e.g. prompt_text's cross-fitted scores)
        for ctx in ctxs.values():
            ctx.cache = cache
        feats = {space: method_features(ctx, cfg, notes if i == 0 else None) for space, ctx in ctxs.items()}
        if keep_bases:
            for space, ctx in ctxs.items():
                all_bases.update({(space, name, rank, position): b for (name, rank), b in ctx.bases.items()})
        for target in targets:
            proto = study_protocol(data, holdout, target, cfg, seed)
            once, store = {}, {}
            for space, ctx in ctxs.items():
                heads = run_heads(ctx, feats[space], proto, cfg, once)
                store.update({(space, name, rank): res for (name, rank), res in heads.items()})
            recs, summ = summarize(store, proto, data.rows, holdout, target, position, cfg, seed)
            records += recs
            summaries += [{**row, "suite": "all"} for row in summ] if by_suite else summ
            sub = suite_store(store, by_suite, target, position)
            for suite, keep in test_subsets(data, holdout, proto).items() if sub else []:
                summaries += summarize(sub, proto, data.rows, holdout, target, position, cfg, seed, keep, suite)[1]
    if skipped is not None:
        skipped += [{"holdout": holdout, "target": "*", **n} for n in notes]
    return pd.DataFrame(records), pd.DataFrame(summaries), all_bases


def summarize(store, proto: Protocol, rows, holdout, target, position, cfg, seed, keep=None, suite=None):
    """Per-seed AUC rows, and bootstrap-over-prompts CIs of the seed-averaged AUC (paired with ``specific``
    of the same space at the same rank and k). Every method is resampled with the same prompt weights.
    ``store`` is keyed (space, method, rank).

    Space ablation: a row in a space of :data:`emobasis.transfer.spaces.SPACE_PAIRS` (concepts, emotions) whose method
    reads the space and also ran in the paired space (hidden, controls) at the same rank and k gets
    ``vs_space`` and the paired difference ``diff_vs_space`` with its CI, from the same bootstrap.

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
    safe_te = ~proto.benign[proto.te][keep] & ~yte.astype(bool)  # harmful prompts refused or answered safely
    groups = np.unique(bootstrap_units(rows)[proto.te][keep], return_inverse=True)[1]  # codes: fast
    W = group_bootstrap(groups, cfg["n_boot"], stable_seed(seed, "boot", target, position, *([suite] if suite else [])))
    recs, summ, kernels, nulls = [], [], {}, {}
    for (space, name, rank), results in store.items():
        for res in results:
            res = res if keep.all() else HeadResult(res.k, res.scores[:, keep], res.thresholds, res.fpr_target)
            aucs = auc_rows(res.scores, yte)
            if METHODS[name].head == "null":  # single permuted-label heads: the null of ``null_of``'s heads
                nulls[(space, METHODS[name].null_of, rank, res.k)] = aucs
            recalls, fprs = (recall_rows(res.scores, rows, res.thresholds) for rows in (yte, benign_te))
            cell = {
                "aligner": name,
                "space": space,
                "rank": rank,
                "holdout": holdout,
                "target": target,
                "position": position,
                "k": res.k,
                **({"suite": suite} if suite else {}),
            }
            for s_i, (a, r, f) in enumerate(zip(aucs, recalls, fprs)):
                recs.append({**cell, "seed": s_i, "auc": float(a), "recall_at_fpr": r, "realized_fpr": f})
            K = kernels[(space, name, rank, res.k)] = auc_kernel(res.scores, yte, groups)
            lo, hi = np.nanpercentile(bootstrap_auc(K, yte, groups, W), [2.5, 97.5])
            summ.append(
                {
                    **cell,
                    "n_seeds": len(aucs),
                    "auc": float(np.mean(aucs)),
                    "auc_ci_low": lo,
                    "auc_ci_high": hi,
                    **alarm_columns(res, yte, benign_te, groups, W, safe_te),
                    "n_test": int(len(yte)),
                    "n_test_pos": int(yte.sum()),
                    "n_test_benign": int(benign_te.sum()),
                    "n_boot": cfg["n_boot"],
                }
            )
            if METHODS[name].head == "null":  # the single heads' spread, not only their mean
                summ[-1]["auc_null_q975"] = float(np.nanpercentile(aucs, 97.5))
    for row in summ:  # per-head permutation test of every head the null was fit for (k > 0: the draws' mean)
        if (null := nulls.get((row["space"], row["aligner"], row["rank"], row["k"]))) is not None:
            row.update(perm_p=permutation_p(row["auc"], null), n_perm=len(null))

    def paired(row, other_space, other, rank, columns):
        key = (other_space, other, rank, row["k"])
        own = kernels[(row["space"], row["aligner"], row["rank"], row["k"])]
        diff = bootstrap_auc(own - kernels[key], yte, groups, W)
        lo, hi = np.nanpercentile(diff, [2.5, 97.5])
        row.update(dict(zip(columns, (row["auc"] - aucs_of[key], lo, hi))))

    aucs_of = {(r["space"], r["aligner"], r["rank"], r["k"]): r["auc"] for r in summ}
    spec_rank = {(sp, k): r for sp, n, r, k in aucs_of if n == "specific"}  # specific: the same at every rank
    for row in summ:
        space, name, rank, k = row["space"], row["aligner"], row["rank"], row["k"]
        if METHODS[name].paired and (space, k) in spec_rank:
            spec = rank if (space, "specific", rank, k) in aucs_of else spec_rank[(space, k)]
            paired(row, space, "specific", spec, ("diff_vs_specific", "diff_ci_low", "diff_ci_high"))
        if METHODS[name].paired and ("hidden", k) in spec_rank:  # the strongest own probe: the full hidden read
            spec = rank if ("hidden", "specific", rank, k) in aucs_of else spec_rank[("hidden", k)]
            paired(row, "hidden", "specific", spec, OWN_HIDDEN_COLUMNS)
        if (base := METHODS[name].increment_of) and (space, base, 0, k) in aucs_of:
            paired(row, space, base, 0, INCREMENT_COLUMNS)
        ref = (space, REFERENCE, cfg.get("ablation_rank"), k)
        if (name, rank) != ref[1:3] and ref in aucs_of and METHODS[name].head != "null":
            paired(row, *ref[:3], REFERENCE_COLUMNS)
        other = SPACE_PAIRS.get(space)
        if (METHODS[name].paired or name == "specific") and (other, name, rank, k) in aucs_of:
            row["vs_space"] = other
            paired(row, other, name, rank, ("diff_vs_space", "diff_space_ci_low", "diff_space_ci_high"))
    return recs, summ


#: the paired difference with the strongest own probe, ``specific`` on the full hidden read, whatever the row's space
OWN_HIDDEN_COLUMNS = ("diff_vs_own_hidden", "diff_own_hidden_ci_low", "diff_own_hidden_ci_high")
#: incremental validity: a method's AUC minus that of the method it adds to (``Method.increment_of``)
INCREMENT_COLUMNS = ("diff_incremental", "diff_inc_ci_low", "diff_inc_ci_high")

#: every method against the reference shared head (gcca at the verdict's rank, ``ablation_rank``) in the same space
#: and k, paired on the same resamples: which cross-model method transfers best, and by how much
REFERENCE = "gcca"
REFERENCE_COLUMNS = ("diff_vs_gcca", "diff_gcca_ci_low", "diff_gcca_ci_high")

#: the LOMO summary's columns (:func:`summarize`), in table order
SUMMARY_COLUMNS = (
    *("aligner", "space", "rank", "holdout", "target", "position", "k", "n_seeds", "auc", "auc_ci_low", "auc_ci_high"),
    *ALARM_COLUMNS,
    *("n_test", "n_test_pos", "n_test_benign", "n_boot", "diff_vs_specific", "diff_ci_low", "diff_ci_high"),
    *("perm_p", "n_perm", "auc_null_q975", "vs_space", "diff_vs_space", "diff_space_ci_low", "diff_space_ci_high"),
    *OWN_HIDDEN_COLUMNS,
    *INCREMENT_COLUMNS,
    *REFERENCE_COLUMNS,
)


def fit_basis(
    data: StudyData, aligner: str, rank: int, position: str, pca_dims: int, holdout: str | None = None, space="hidden"
):
    """An aligner fit in a feature space on the shared texts of every model but ``holdout`` (all models when
    None), the holdout adapted from its unlabelled shared texts; returns (basis, {model: standardized [n, rank]
    coordinates})."""
    ctx = Context(data, holdout, position, {"pca_dims": pca_dims}, seed=0, space=space)
    basis = ctx.fit_aligner(aligner, rank)
    return basis, ctx.std({m: basis.transform(m, X) for m, X in ctx.X.items()})


def zero_shot_head(
    data: StudyData,
    holdout: str,
    aligner: str,
    rank: int,
    position: str,
    target: str,
    cfg: dict,
    seed: int = 0,
    space: str = "hidden",
) -> tuple[np.ndarray, np.ndarray, Protocol]:
    """The k = 0 head as in the grid (gcca: fit at the space's largest swept rank, cut to ``rank``): (the
    holdout's standardized features on every row, the head's coefficients, the protocol)."""
    if aligner not in adaptable():
        raise TransferError(f"zero-shot row scores are available for {', '.join(adaptable())}, not '{aligner}'.")
    fit_rank = max(space_ranks(cfg["ranks"], dimension(data, space))) if aligner == "gcca" else rank
    basis, _ = fit_basis(data, aligner, fit_rank, position, cfg["pca_dims"], holdout, space)
    reads = space_reads(data, space, position)
    F = {m: standardize(basis.transform(m, reads[m])[:, :rank], data.ref) for m in data.models}
    proto = study_protocol(data, holdout, target, {**cfg, "ks": [0]}, seed)
    return F[holdout], proto.fit_zero_shot(F), proto


def zero_shot_scores(*args, **kwargs) -> pd.Series:
    """The k = 0 head's scores on the holdout's test rows, indexed by row position (the arguments of
    :func:`zero_shot_head`)."""
    F, b0, proto = zero_shot_head(*args, **kwargs)
    return pd.Series(predict(F[proto.te], b0), index=np.flatnonzero(proto.te), name="score")


#: the subset of test rows without echoes (own answers): the verdict's cell summarized on it, a sensitivity check
NO_ECHOES = "no echoes"


def basis_arrays(basis, rank: int, position: str) -> dict[str, np.ndarray]:
    """Plain arrays (no pickled objects) describing a fitted basis at one rank and position (the caller
    prefixes the keys with the space)."""
    if isinstance(basis, np.ndarray):  # lowrank: [K_space, rank] combinations of the space's concepts
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


def check_transfer_table(
    table: pd.DataFrame, cfg: dict, holdouts: list[str], skipped: pd.DataFrame | None = None
) -> None:
    """Every space x aligner x rank x holdout x target x position x k is present unless ``skipped`` (the
    grid's recorded skips: holdout, space, aligner ("*": the whole space), rank, target) says why not, and every AUC
    lies in [0, 1].

    ``table`` is the tidy per-seed table (k as in the files: ALL_K for "all"). Raises TransferError."""
    ks = parse_ks(cfg["ks"])
    want = pd.MultiIndex.from_product(
        [cfg.get("spaces", ["hidden"]), cfg["aligners"], cfg["ranks"], holdouts, cfg["targets"], cfg["positions"], ks],
        names=["space", "aligner", "rank", "holdout", "target", "position", "k"],
    )
    if skipped is not None and len(skipped):
        cells = want.to_frame(index=False)
        keys = ["holdout", "space", "aligner", "rank"]
        whole = skipped[skipped["aligner"] == "*"]
        named = cells.merge(skipped[keys], on=keys, how="left", indicator=True)["_merge"].eq("both").to_numpy()
        spaces = cells.set_index(["holdout", "space"]).index.isin(whole.set_index(["holdout", "space"]).index)
        out = named | spaces
        if "target" in skipped:  # a conditional target a holdout does not support (space "*": every space)
            gone = skipped[skipped["target"].fillna("*") != "*"].set_index(["holdout", "target"]).index
            out |= cells.set_index(["holdout", "target"]).index.isin(gone)
        want = want[~out]
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
    cells = ["space", "rank", "holdout", "target", "position", "k"]
    if len(seeds) and seeds.groupby(cells)["seed"].nunique().min() < min(cfg["seeds"], 20):
        raise TransferError("fewer seeds than configured for k <= 64.")


def tidy_k(table: pd.DataFrame) -> pd.DataFrame:
    """The tables' k column as text: "all" for every holdout train row."""
    return table.assign(k=table["k"].map(lambda k: "all" if k == ALL_K else str(k)))


def suite_store(store: dict, by_suite, target: str, position: str) -> dict:
    """The heads whose per-suite rows are computed: all (``by_suite`` True), none (False), or only a cell's
    (a dict with target, position and rank: the verdict's, all the per-suite summary reads) and rank-free ones."""
    if not isinstance(by_suite, dict):
        return store if by_suite else {}
    if (target, position) != (by_suite["target"], by_suite["position"]):
        return {}
    return {key: res for key, res in store.items() if key[2] in (0, by_suite["rank"])}


def test_subsets(data, holdout: str, proto) -> dict[str, np.ndarray]:
    """Masks over the holdout's test rows that :func:`suite_store`'s heads are also summarized on: each suite's,
    and in own-answer studies :data:`NO_ECHOES`, the holdout's answers that add at least ``ECHO_NEW_WORDS``
    content words to the request (an echo of a harmful request gives nothing, yet a text judge may score it
    unsafe: does the read still warn without those answers?)."""
    suites = data.rows["suite"].to_numpy()[proto.te]
    out = {s: suites == s for s in dict.fromkeys(data.rows["suite"])}
    if not data.same_texts and {"prompt", "response"} <= set(data.table(holdout)):
        t = data.table(holdout)
        out[NO_ECHOES] = ~is_echo(t["prompt"], t["response"])[proto.te]
    return out
