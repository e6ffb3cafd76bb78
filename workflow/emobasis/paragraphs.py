"""The summary's paragraphs that read many cells at once: where shuffled-label heads land, the zero-shot head
as an alarm, the label-free scores, and the verdict rule applied per suite."""

from __future__ import annotations

import pandas as pd

from emobasis.gridtables import NO_ECHOES
from emobasis.methods import null_of
from emobasis.tone import ECHO_NEW_WORDS
from emobasis.verdict import beyond, cell, cell_rows, decide, fmt

# --- the null and the alarm, in words -------------------------------------------------------------------


def null_spread(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> str:
    """Where single shuffled-label heads reach (97.5th percentile of their AUCs) at the verdict's cell."""
    r, t, pos = rule["rank"], rule["target"], rule["position"]
    null = null_of(rule["aligner"])
    q = {h: cell_rows(summary, null, r, h, t, pos, "0").get("auc_null_q975") for h in holdouts}
    q = {h: float(v.iloc[0]) for h, v in q.items() if v is not None and len(v) == 1 and v.notna().all()}
    if not q:
        return "this table does not keep their spread"
    row = cell_rows(summary, rule["aligner"], r, holdouts[0], t, pos, "0").iloc[0]
    n = int(row["n_perm"])
    seeds = row.get("n_split_seeds")
    averaged = f" (each averaged over the {int(seeds)} split seeds)" if seeds is not None and pd.notna(seeds) else ""
    floor = len(holdouts) / (n + 1)  # the smallest Holm-adjusted p that n shuffled heads allow
    short = (
        f" (with {n} shuffled heads the smallest Holm-adjusted p is {floor:.3f} > alpha, so A cannot hold: "
        "raise transfer.null_seeds)"
        if floor > rule.get("alpha", 0.05)
        else ""
    )
    return (
        f"the 97.5th percentile of {n} single heads' zero-shot AUC{averaged} is "
        + "; ".join(f"{h} {v:.3f}" for h, v in q.items())
        + short
    )


def alarms_line(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> str:
    """The zero-shot head as an alarm: recall and the false-positive rate it really gives on benign test rows."""
    r, t, pos = rule["rank"], rule["target"], rule["position"]
    z = pd.concat([cell_rows(summary, rule["aligner"], r, h, t, pos, "0") for h in holdouts])
    if "realized_fpr" not in z or z["fpr_target"].isna().all():
        return "- **As an alarm**: this table has no calibrated thresholds (no benign validation rows)."
    target = z["fpr_target"].max()
    why = "" if target <= 0.01 else f" (too few benign validation rows for 1%: 1/n = {target:.1%} is the smallest)"
    return (
        f"- **As an alarm** (zero-shot, threshold set on the training models' benign validation rows for a "
        f"{target:.1%} false-positive rate{why}): recall / false-positive rate realized on benign test rows, "
        "95% CIs: "
        + "; ".join(
            f"{row['holdout']} {fmt(row['recall_at_fpr'], row['recall_ci_low'], row['recall_ci_high'])} / "
            f"{fmt(row['realized_fpr'], row['realized_fpr_ci_low'], row['realized_fpr_ci_high'])} "
            f"(n = {int(row['n_test_benign'])})"
            for _, row in z.iterrows()
        )
        + "."
    )


def mismatch_line(summary: pd.DataFrame, formulas: dict, rule: dict, holdouts: list[str]) -> list[str]:
    """The label-free scores' zero-shot AUCs at the verdict's target and position, with their formulas."""
    t, pos = rule["target"], rule["position"]
    parts = []
    for name, formula in formulas.items():
        rows = {h: cell_rows(summary, name, 0, h, t, pos, "0") for h in holdouts}
        if all(len(r) == 1 for r in rows.values()):
            terms = " ".join(f"{'-' if w < 0 else '+'} {abs(w):g} {c}" for c, w in formula.items()).lstrip("+ ")
            nums = "; ".join(f"{h} {fmt(*r.iloc[0][['auc', 'auc_ci_low', 'auc_ci_high']])}" for h, r in rows.items())
            parts.append(f"`{name}` = {terms}: {nums}")
    gate = "" if pos == "prompt_last" else " (gated on calm tone: an alarmed answer scores lowest)"
    return (
        [
            f"- **Label-free scores** (the concept profiles alone, no labels from any model; formulas fixed in "
            f"transfer.mismatch before their numbers were read){gate}: " + ". ".join(parts) + "."
        ]
        if parts
        else []
    )


# --- per suite ------------------------------------------------------------------------------------------


def per_suite_section(by_suite: pd.DataFrame, rule: dict, holdouts: list[str], pooled: str) -> list[str]:
    """The rule applied to each suite's test prompts alone (``results/tables/transfer_by_suite.csv``: the
    same heads and thresholds, CIs and permutation p-values recomputed on the suite's rows), with the
    numbers it rests on, and whether the pooled verdict holds within every suite."""
    r, t, pos, k = rule["rank"], rule["target"], rule["position"], str(rule["match_k"])
    lines, held = {}, {}
    for suite in dict.fromkeys(by_suite["suite"]):
        rows = by_suite[by_suite["suite"] == suite]
        zero = {h: cell(rows, rule["aligner"], r, h, t, pos, "0") for h in holdouts}
        counts = ", ".join(f"{h} {int(z['n_test_pos'])}/{int(z['n_test'] - z['n_test_pos'])}" for h, z in zero.items())
        one_class = [h for h, z in zero.items() if z["n_test_pos"] in (0, z["n_test"])]
        if one_class:
            lines[suite] = (
                f"- **{suite}** (test positives/negatives: {counts}): not judged, {', '.join(one_class)} "
                f"{'has' if len(one_class) == 1 else 'have'} one class among these test prompts."
            )
            continue
        v = decide(rows, rule, holdouts)
        held[suite] = v["verdict"]
        parts = []
        for h in holdouts:
            m = cell(rows, rule["aligner"], r, h, t, pos, k)
            c = cell_rows(rows, beyond(rule), r, h, t, pos, "0")
            parts.append(
                f"{h} zero-shot {fmt(zero[h]['auc'], zero[h]['auc_ci_low'], zero[h]['auc_ci_high'])} "
                f"(perm. p {v['perm'][h][0]:.3f}, Holm {v['perm'][h][1]:.3f}), shared - specific at k={k} "
                f"{fmt(m['diff_vs_specific'], m['diff_ci_low'], m['diff_ci_high'], signed=True)}"
                + (f", {beyond(rule)} {fmt(*c.iloc[0][['auc', 'auc_ci_low', 'auc_ci_high']])}" if len(c) == 1 else "")
            )
        lines[suite] = f"- **{suite}** (test positives/negatives: {counts}): **{v['verdict']}**. {'; '.join(parts)}."
    suites = [s for s in lines if s != NO_ECHOES]
    same = [s for s in suites if held.get(s) == pooled]
    words = f"The pooled verdict ({pooled}) holds within " + (
        "every suite."
        if len(same) == len(suites)
        else f"{', '.join(same) or 'no suite'}, not within {', '.join(s for s in suites if s not in same)}."
    )
    return [
        "## Per suite",
        "",
        "The same rule on each suite's test prompts alone: the same heads and alarm thresholds, CIs and "
        "permutation p-values recomputed on that suite's rows (Holm across the holdouts within the suite). "
        f"{words} The pooled verdict is the study's.",
        "",
        *(lines[s] for s in suites),
        *(
            [
                "",
                f"**Without echoes.** The same rule on the test answers that add at least {ECHO_NEW_WORDS} content "
                "words to the request (each holdout's own echoes of the request left out: an echo of a harmful request "
                "gives nothing, yet the judge may score it unsafe; the same heads and thresholds). The pooled verdict "
                f"{'holds' if held.get(NO_ECHOES) == pooled else 'does not hold'} without them.",
                "",
                lines[NO_ECHOES],
            ]
            if NO_ECHOES in lines
            else []
        ),
    ]


def split_seed_line(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> list[str]:
    """How far the zero-shot AUC moves between split seeds (empty when the verdict's cell has one split)."""
    rows = {
        h: cell_rows(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], "0") for h in holdouts
    }
    if "n_split_seeds" not in summary or any(len(r) != 1 or pd.isna(r["n_split_seeds"].iloc[0]) for r in rows.values()):
        return []
    n = int(rows[holdouts[0]]["n_split_seeds"].iloc[0])
    return [
        f"- **Across {n} split seeds** (prompt-disjoint splits re-drawn the same way; seed 0 is the one every other "
        "table uses): the numbers above at the verdict's cell are their mean, with CIs that add the spread across "
        "seeds to the test prompts' (random effects; `results/tables/split_seeds.csv` has each seed). Zero-shot "
        "AUC, lowest to highest seed: "
        + "; ".join(f"{h} {r['auc_seed_min'].iloc[0]:.3f}-{r['auc_seed_max'].iloc[0]:.3f}" for h, r in rows.items())
        + "."
    ]
