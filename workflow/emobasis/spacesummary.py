"""The summary's feature-space section: the verdict rule in the verdict's space and in ``hidden`` side by
side, and the ablation (zero-shot and k = match_k AUC per space, with the paired differences concepts -
hidden and emotions - controls), said in plain words.

Every number is a cell of ``results/tables/transfer_summary.csv`` (column ``space``), with the verdict's cell
replaced by its split-seed average where the split-seed jobs ran it (:func:`emobasis.splitseeds.overlay`).
A space's shared basis is read at the verdict's aligner and rank when the space holds that rank; the
``named`` rows (the space's own concept coordinates, no aligner) compare emotions with controls, whose four
directions hold no rank above 4.
"""

from __future__ import annotations

import pandas as pd

from emobasis.spaces import SPACE_PAIRS
from emobasis.verdict import ReportError, cell_rows, decide, fmt, in_space


def space_verdicts(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> dict[str, str | None]:
    """The verdict rule applied in the rule's space and in hidden (None where the space lacks the cell)."""
    out = {}
    for space in dict.fromkeys([rule.get("space", "hidden"), "hidden"]):
        try:
            out[space] = decide(in_space(summary, space), rule, holdouts)["verdict"]
        except ReportError:  # a space without the verdict's cells has no verdict
            out[space] = None
    return out


def _row(summary, space, method, rank, holdout, rule, k):
    rows = cell_rows(in_space(summary, space), method, rank, holdout, rule["target"], rule["position"], str(k))
    return rows.iloc[0] if len(rows) == 1 else None


def _auc(row) -> str:
    return "n/a" if row is None else fmt(row["auc"], row["auc_ci_low"], row["auc_ci_high"])


def _diff(row) -> str:
    if row is None or pd.isna(row.get("diff_vs_space")):
        return "n/a"
    return fmt(row["diff_vs_space"], row["diff_space_ci_low"], row["diff_space_ci_high"], signed=True)


def ablation_rows(summary: pd.DataFrame, rule: dict) -> list[tuple[str, str, int]]:
    """(space, method, rank) of the ablation table: the verdict's aligner at its rank in every space that
    holds it, then ``named`` in every concept space."""
    spaces = {s: in_space(summary, s) for s in (dict.fromkeys(summary["space"]) if "space" in summary else ["hidden"])}
    a, r = rule["aligner"], rule["rank"]
    shared = [(s, a, r) for s, t in spaces.items() if ((t["aligner"] == a) & (t["rank"] == r)).any()]
    return shared + [(s, "named", 0) for s, t in spaces.items() if (t["aligner"] == "named").any()]


def _judge(diffs: list, lower: str, higher: str) -> str:
    """Plain words for one paired comparison across holdouts (zero-shot)."""
    have = [d for d in diffs if d is not None and not pd.isna(d.get("diff_vs_space"))]
    if not have:
        return f"{lower} and {higher} could not be compared here"
    if all(d["diff_space_ci_low"] > 0 for d in have):
        return f"{lower} transfers better than {higher} for every holdout"
    if all(d["diff_space_ci_high"] < 0 for d in have):
        return f"{higher} carries transferable signal that {lower} lacks, for every holdout"
    better = sum(d["diff_space_ci_low"] > 0 for d in have)
    worse = sum(d["diff_space_ci_high"] < 0 for d in have)
    if better == worse == 0:
        return f"no difference between {lower} and {higher} is detected for any holdout (every CI includes 0)"
    return (
        f"mixed: {lower} is better for {better}, worse for {worse} and not told apart from {higher} for "
        f"{len(have) - better - worse} of {len(have)} holdouts"
    )


def space_section(summary: pd.DataFrame, rule: dict, holdouts: list[str], top: pd.DataFrame | None = None) -> list[str]:
    """The markdown lines of the section (``summary``: every space's rows; ``top``:
    results/tables/top_concepts.csv, the concepts each holdout's zero-shot head leans on)."""
    if "space" not in summary or summary["space"].nunique() < 2:
        return []
    k = rule["match_k"]
    verdicts = space_verdicts(summary, rule, holdouts)
    lines = ["## Feature spaces: emotion vectors or raw states?", ""]
    lines.append(
        "The same rule, in each space it can be applied to: "
        + "; ".join(f"**{s}**: {v or 'not applicable'}" for s, v in verdicts.items())
        + f" (`{rule.get('space', 'hidden')}` is the pre-registered space)."
    )
    lines += [
        "",
        f"Zero-shot and k = {k} AUC per space ({rule['target']} at {rule['position']}; `named`: the space's "
        "own concept coordinates, signs oriented from unlabelled rows, no aligner):",
        "",
        "| holdout | space | method | zero-shot AUC | k=" + str(k) + " AUC | paired diff vs | zero-shot diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in holdouts:
        for space, method, rank in ablation_rows(summary, rule):
            zero, at_k = _row(summary, space, method, rank, h, rule, 0), _row(summary, space, method, rank, h, rule, k)
            label = f"{method} r{rank}" if rank else method
            vs = SPACE_PAIRS.get(space, "") if zero is not None and not pd.isna(zero.get("diff_vs_space")) else ""
            lines.append(f"| {h} | {space} | {label} | {_auc(zero)} | {_auc(at_k)} | {vs} | {_diff(zero)} |")
    a, r = rule["aligner"], rule["rank"]
    lines.append("")
    for lower, higher, method, rank in (("concepts", "hidden", a, r), ("emotions", "controls", "named", 0)):
        zero = [_row(summary, lower, method, rank, h, rule, 0) for h in holdouts]
        at_k = [_row(summary, lower, method, rank, h, rule, k) for h in holdouts]
        if all(z is None for z in zero):
            continue
        label = f"{method} r{rank}" if rank else method
        nums = "; ".join(f"{h} {_diff(z)} (k={k}: {_diff(x)})" for h, z, x in zip(holdouts, zero, at_k))
        words = _judge(zero, lower, higher)
        lines.append(f"- **{lower} - {higher}** ({label}, zero-shot, paired): {nums}. In words: {words}.")
    emo = [_row(summary, "emotions", "named", 0, h, rule, 0) for h in holdouts]
    if all(e is not None for e in emo):
        above = [h for h, e in zip(holdouts, emo) if e["auc_ci_low"] > rule["chance"]]
        rest = [h for h in holdouts if h not in above]
        what = f"the `named` emotion coordinates' zero-shot CI lies above {rule['chance']}"
        answer = f"Yes for {', '.join(above)}: {what}" + (f"; not for {', '.join(rest)}" if rest else "")
        answer = answer if above else f"No: for no holdout does {what.replace('lies', 'lie')}"
        lines.append(f"- **Do the emotion vectors alone warn zero-shot?** {answer}.")
    if top is not None and len(top):
        per = [
            f"{h}: " + ", ".join(f"{c} {w:+.2f}" for c, w in zip(g["concept"], g["correlation"]))
            for h, g in top.groupby("holdout", sort=False)
        ]
        lines.append(
            f"- **Which concepts warn** (correlation of each holdout's zero-shot score, {rule['aligner']} rank "
            f"{rule['rank']} in {top['space'].iloc[0]}, with its concept profiles over unlabelled rows; + = the "
            "concept rises with the alarm; `results/tables/top_concepts.csv`): " + "; ".join(per) + "."
        )
    return lines
