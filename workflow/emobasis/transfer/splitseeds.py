"""Split seeds: the verdict's cell of the LOMO grid re-run on several prompt-disjoint splits, and its numbers
combined so that their CIs hold the variation from the split as well as from the test prompts.

Split seed 0 is the study's own split (the one every other table uses). Seed s > 0 re-draws each suite's
split with the same fractions and the same grouping (an XSTest safe prompt and its contrast twin stay
together; every model's answer to a prompt lands in one split), stratified as the suite was built: by
``benign`` in own-answer suites, by ``unsafe`` in reader suites (by ``benign`` when each model reads its own
responses and the labels are per model). Every split seed runs the same methods at
the verdict's rank, target and position, with every k (:func:`evaluate_split_seeds`).

**Combination** (:func:`combine`), per cell: the estimate is the mean over split seeds; its 95% CI is a
random-effects interval, mean +- 1.96 sqrt(w + b), with w the mean over seeds of the within-seed bootstrap
variance ((CI width / 3.92)^2, test prompts) and b the variance of the estimate across seeds. b is not
divided by the number of seeds: the test sets of different splits overlap, so their errors do not average
out, and the interval is meant to cover the AUC of one more split. The permutation p-value compares the
seed-averaged AUC with seed-averaged single shuffled-label heads (head i of every seed, averaged).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.data.splits import prompt_disjoint_split, stable_seed
from emobasis.transfer.grid import INCREMENT_COLUMNS, OWN_HIDDEN_COLUMNS, REFERENCE_COLUMNS
from emobasis.transfer.methods import METHODS, null_of
from emobasis.transfer.metrics import permutation_p
from emobasis.transfer.study import StudyData

#: the summary's estimates (columns) and their CI columns, combined across split seeds
ESTIMATES = {
    "auc": ("auc_ci_low", "auc_ci_high"),
    "diff_vs_specific": ("diff_ci_low", "diff_ci_high"),
    "diff_vs_space": ("diff_space_ci_low", "diff_space_ci_high"),
    "recall_at_fpr": ("recall_ci_low", "recall_ci_high"),
    "realized_fpr": ("realized_fpr_ci_low", "realized_fpr_ci_high"),
    "realized_fpr_safe": ("realized_fpr_safe_ci_low", "realized_fpr_safe_ci_high"),
    **{cols[0]: cols[1:] for cols in (OWN_HIDDEN_COLUMNS, INCREMENT_COLUMNS, REFERENCE_COLUMNS)},
}
CELL = ["aligner", "space", "rank", "holdout", "target", "position", "k"]


def resplit(rows: pd.DataFrame, fractions: dict, seed: int, split_seed: int) -> np.ndarray:
    """Split names for ``rows`` under ``split_seed`` (0: the rows' own split), suite by suite."""
    if split_seed == 0:
        return rows["split"].to_numpy()
    out = np.empty(len(rows), dtype=object)
    for suite, idx in rows.groupby("suite", sort=False).indices.items():
        sub = rows.iloc[idx]
        own = "group" in sub and sub["group"].notna().all()
        groups = sub["group"] if own else sub["item_id"]
        if own:  # own-answer prompt sets: labels differ per model, so stratify as they were built, by benign
            strata = ~sub.groupby(groups)["benign"].transform("min")
        else:  # reader suites: by the label (own-response mode keeps labels per model: by benign)
            strata = sub["unsafe"] if "unsafe" in sub else sub["benign"]
        out[idx] = prompt_disjoint_split(
            groups.astype(str), strata.astype(int), fractions, stable_seed(seed, "split", suite, str(split_seed))
        ).to_numpy()
    return out


def evaluate_split_seeds(data: StudyData, holdout: str, cfg: dict, cell: dict, fractions: dict, n: int, seed: int):
    """Per split seed, the summary rows of every method at the verdict's ``cell`` (rank, target, position,
    and its feature ``spaces``, default hidden) and every k, and the shuffled heads' AUCs per head. Returns
    (summary with ``split_seed``, null AUCs [split_seed, aligner, space, rank, holdout, target, position, k,
    head, auc])."""
    from emobasis.transfer.grid import evaluate_holdout, fit_suite_data, select_rows

    data = fit_suite_data(data, cfg)
    small = {**cfg, "ranks": [cell["rank"]], "targets": [cell["target"]], "positions": [cell["position"]]}
    small["spaces"] = cell.get("spaces", ["hidden"])
    summaries, nulls = [], []
    for s in range(n):
        d = select_rows(data, np.ones(len(data.rows), bool), split=resplit(data.rows, fractions, seed, s))
        results, summary, _ = evaluate_holdout(d, holdout, small, seed=seed)
        summaries.append(summary.assign(split_seed=s))
        null = results[results["aligner"].map(lambda m: METHODS[m].head == "null")]
        nulls.append(null.rename(columns={"seed": "head"}).assign(split_seed=s))
    return pd.concat(summaries, ignore_index=True), pd.concat(nulls, ignore_index=True)


def combine(per_seed: pd.DataFrame, nulls: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: estimates averaged over split seeds with random-effects CIs, the spread of the AUC
    across seeds (``auc_seed_min``, ``auc_seed_max``), and for the methods a null is fit for, the
    permutation p-value of the seed-averaged AUC (``perm_p``, ``n_perm``)."""
    z = 2 * 1.959963984540054
    rows = []
    for key, g in per_seed.groupby(CELL, sort=False, dropna=False):
        row = dict(zip(CELL, key))
        for col, (lo, hi) in ESTIMATES.items():
            if col not in g or g[col].isna().all():
                row.update({col: np.nan, lo: np.nan, hi: np.nan})
                continue
            v = g[col].to_numpy(float)
            within = np.nanmean(((g[hi] - g[lo]).to_numpy(float) / z) ** 2)
            between = np.nanvar(v, ddof=1) if np.isfinite(v).sum() > 1 else 0.0
            half = 0.5 * z * np.sqrt(within + between)
            m = float(np.nanmean(v))
            bound = (-1.0, 1.0) if col.startswith("diff") else (0.0, 1.0)
            row.update({col: m, lo: max(bound[0], m - half), hi: min(bound[1], m + half)})
        if "vs_space" in g and g["vs_space"].notna().any():
            row["vs_space"] = g["vs_space"].dropna().iloc[0]
        row.update(
            split_seed="all",
            n_split_seeds=int(g["split_seed"].nunique()),
            auc_seed_min=float(g["auc"].min()),
            auc_seed_max=float(g["auc"].max()),
            fpr_target=float(g["fpr_target"].max()),
            **{c: int(round(g[c].mean())) for c in ("n_test", "n_test_pos", "n_test_benign", "n_boot")},
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    keys = CELL
    averaged = {key: g.groupby("head")["auc"].mean().to_numpy(float) for key, g in nulls.groupby(keys)}
    for i, row in out.iterrows():
        method = METHODS[row["aligner"]]
        null_name = null_of(method.name)
        key = tuple(row[c] for c in keys)
        if null_name is not None and (null := averaged.get((null_name, *key[1:]))) is not None:  # same space
            out.loc[i, ["perm_p", "n_perm"]] = [permutation_p(row["auc"], null), len(null)]
        if method.head == "null" and key in averaged:
            out.loc[i, "auc_null_q975"] = float(np.nanpercentile(averaged[key], 97.5))
    return out


def overlay(summary: pd.DataFrame, combined: pd.DataFrame) -> pd.DataFrame:
    """The LOMO summary with the cells that were run on every split seed replaced by their combined rows:
    the table the summary's claims and verdict read."""

    def index(t: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(t[CELL].astype(str))

    return pd.concat([summary[~index(summary).isin(index(combined))], combined], ignore_index=True)
