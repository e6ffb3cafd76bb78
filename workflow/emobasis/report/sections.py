"""The summary's sections that read many cells at once: where shuffled-label heads land, the zero-shot head
as an alarm, the label-free scores, the verdict rule applied per suite, and the feature-space section (the
verdict rule in the verdict's space and in ``hidden`` side by side, and the ablation: zero-shot and
k = match_k AUC per space, with the paired differences concepts - hidden and emotions - controls).

Every number is a cell of ``results/tables/transfer_summary.csv`` (column ``space``), with the verdict's cell
replaced by its split-seed average where the split-seed jobs ran it (:func:`emobasis.transfer.splitseeds.overlay`).
A space's shared basis is read at the verdict's aligner and rank when the space holds that rank; the
``named`` rows (the space's own concept coordinates, no aligner) compare emotions with controls, whose four
directions hold no rank above 4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.errors import ReportError
from emobasis.labels.targets import MIN_CONDITIONAL_CLASS
from emobasis.labels.tone import ECHO_NEW_WORDS
from emobasis.report.verdict import (
    QUANTITIES,
    beyond,
    cell,
    cell_rows,
    decide,
    describe_stability,
    fmt,
    in_space,
    is_incremental,
    own_probe_quantity,
)
from emobasis.transfer.crosssuite import decide_stability, stability_cells
from emobasis.transfer.grid import NO_ECHOES
from emobasis.transfer.methods import METHODS, null_of
from emobasis.transfer.spaces import SPACE_PAIRS


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

    def rate(row, col):
        return "n/a" if pd.isna(row.get(col, np.nan)) else fmt(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"])

    return (
        f"- **As an alarm** (zero-shot, threshold set on the training models' benign validation rows for a "
        f"{target:.1%} false-positive rate{why}): recall / false alarms realized on benign test prompts / false "
        "alarms on the harmful test prompts the model refused or answered safely (what a deployer sees among "
        "harmful traffic), 95% CIs: "
        + "; ".join(
            f"{row['holdout']} {fmt(row['recall_at_fpr'], row['recall_ci_low'], row['recall_ci_high'])} / "
            f"{rate(row, 'realized_fpr')} (n = {int(row['n_test_benign'])}) / {rate(row, 'realized_fpr_safe')}"
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


def c_text(summary: pd.DataFrame, rule: dict, holdout: str) -> str:
    """Criterion C's number for one holdout, as ", <method> value [CI]" ('' without the cell)."""
    b = beyond(rule)
    rank = 0 if is_incremental(rule) else rule["rank"]
    c = cell_rows(summary, b, rank, holdout, rule["target"], rule["position"], "0")
    if len(c) != 1:
        return ""
    if is_incremental(rule):
        return f", {b} - prompt_text {fmt(*c.iloc[0][list(QUANTITIES['diff_incremental'])], signed=True)}"
    return f", {b} {fmt(*c.iloc[0][['auc', 'auc_ci_low', 'auc_ci_high']])}"


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
            diff = QUANTITIES[own_probe_quantity(rule)]
            parts.append(
                f"{h} zero-shot {fmt(zero[h]['auc'], zero[h]['auc_ci_low'], zero[h]['auc_ci_high'])} "
                f"(perm. p {v['perm'][h][0]:.3f}, Holm {v['perm'][h][1]:.3f}), shared - own probe at k={k} "
                f"{fmt(*(m[c] for c in diff), signed=True)}" + c_text(rows, rule, h)
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


def stability_summary(stab: pd.DataFrame, verdict: dict) -> tuple[str, list[str]]:
    """(the line printed under the main verdict, the summary's section) for the stability claim."""
    rule, v = verdict["stability"], decide_stability(stab, verdict)
    method, base = stability_cells(stab, verdict, rule["method"]), stability_cells(stab, verdict, rule["baseline"])
    ci = lambda r, c: fmt(r[c], r[f"{c}_ci_low"], r[f"{c}_ci_high"], signed=True) if pd.notna(r.get(c)) else "n/a"  # noqa: E731
    lines = [
        f"| holdout | suite | {rule['method']} in-suite | {rule['method']} cross-suite | {rule['method']} drop | "
        f"{rule['baseline']} drop | difference of drops | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in method.iterrows():
        b = base[(base["holdout"] == r["holdout"]) & (base["suite"] == r["suite"])]
        b = b.iloc[0] if len(b) else pd.Series(dtype=object)
        num, note = (lambda x: f"{x:.3f}" if pd.notna(x) else "n/a"), r.get("note")  # noqa: E731
        lines.append(
            f"| {r['holdout']} | {r['suite']} | {num(r.get('auc_in'))} | {num(r.get('auc_cross'))} | {ci(r, 'drop')} "
            f"| {ci(b, 'drop')} | {ci(r, 'drop_diff')} | {note if isinstance(note, str) else ''} |"
        )
    head = f"**Stability across suites ({rule['method']} vs {rule['baseline']}): {v['outcome']}.**"
    section = [
        "## Stability across suites (leave-one-suite-out)",
        "",
        describe_stability(verdict),
        "",
        "```yaml",
        "verdict:",
        "  stability:",
        *[f"    {key}: {val}" for key, val in rule.items()],
        "```",
        "",
        "Rows of `results/tables/cross_suite_stability.csv`; 95% CIs over the suite's test prompts, paired.",
        "",
        *lines,
    ]
    return head, section


def answers_section(counts: pd.DataFrame, validation: pd.DataFrame, target: str) -> list[str]:
    """The own-answer study's labels: each model's test answers (all suites), the 2 x 2 of unsafe x calm, and
    the judge's leave-one-source-out validation."""
    test = counts[(counts["suite"] == "all") & (counts["split"] == "test")]
    whole = counts[(counts["suite"] == "all") & (counts["split"] == "all")].set_index("model")
    lines = [
        "## Own answers",
        "",
        "Every study model answered every prompt itself. Each answer carries three behaviour labels "
        "(`config/audit/PROTOCOL.md`): `complied` and `cautioned` from transparent rules "
        "(`emobasis.labels.behaviour`; `calm` = not cautioned) and `unsafe` from the judge (it gives the harmful "
        "help asked for, on a harmful prompt). `tone_masked` = complied and calm on a harmful prompt. Test "
        f"answers per model, all suites (the study needs both classes of {target}; the judge's unsafe rate over "
        "every harmful prompt in the last column):",
        "",
        "| model | test answers | benign | harmful | complied | cautioned | unsafe | calm | tone_masked "
        "| unsafe & calm | unsafe & cautioned | safe & calm | safe & cautioned | unsafe / harmful (all splits) |",
        "|---|" + "---|" * 13,
    ]
    for _, r in test.iterrows():
        cols = ("answers", "benign", "harmful", "complied", "cautioned", "unsafe", "calm", "tone_masked")
        cols += ("unsafe_calm", "unsafe_alarmed", "safe_calm", "safe_alarmed")
        rate = whole.loc[r["model"], "unsafe_rate_harmful"]
        lines.append(f"| {r['model']} | " + " | ".join(str(int(r[c])) for c in cols) + f" | {rate:.2f} |")
    small = {m: (int(r["unsafe_calm"]), int(r["unsafe_alarmed"])) for m, r in whole.iterrows()}
    lines += [
        "",
        f"Among unsafe answers, does the read tell a calm one from an alarmed one (`masked_given_unsafe`)? It "
        f"needs {MIN_CONDITIONAL_CLASS} answers of each kind per model; calm / alarmed unsafe answers (all splits): "
        + "; ".join(f"{m} {c} / {a}" for m, (c, a) in small.items())
        + (
            ", so it is evaluated nowhere in this study."
            if sum(min(v) >= MIN_CONDITIONAL_CLASS for v in small.values()) < 2
            else "; with `masked_given_unsafe` in transfer.targets, each model that has them is scored on its own "
            "unsafe answers (results/tables/transfer_skipped.csv names the others)."
        ),
    ]
    echo = {m: (int(r["unsafe_echo"]), int(r["unsafe"])) for m, r in whole.iterrows() if "unsafe_echo" in r}
    if echo:
        lines += [
            "",
            f"Unsafe answers that only restate the request (fewer than {ECHO_NEW_WORDS} content words not in the "
            "prompt; they give no help, but the judge scores them like compliance; counted, not relabelled; "
            "see `new_words` in `results/tables/judge_audit.csv`): "
            + "; ".join(f"{m} {e} of {u}" for m, (e, u) in echo.items())
            + ".",
        ]
        worst = [m for m, (e, u) in echo.items() if u and e / u > 0.25]
        if worst:
            lines.append(f"**Caution:** {', '.join(worst)}: over a quarter of its unsafe answers are such echoes.")
    lines += [
        "",
        "Judge (TF-IDF + logistic, fit only on labelled responses from the sources below), leave-one-source-out: "
        "each source scored by a judge fit on the others, threshold fixed on their validation split.",
        "",
        "| held-out source | answers | unsafe | AUC | accuracy | Cohen's kappa |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['source']} | {int(r['n'])} | {int(r['n_unsafe'])} | {r['auc']:.3f} | {r['accuracy']:.3f} | "
            f"{r['kappa']:.3f} |"
            for _, r in validation.iterrows()
        ],
        "",
        "Check the labels by eye in `results/tables/judge_audit.csv`; rates per suite are in "
        "`results/tables/answers.csv` and `results/figures/answers.png`.",
    ]
    return lines


#: the harmful-only target of each pooled one (emobasis.labels.targets)
HARMFUL_ONLY = {"tone_masked": "tone_masked_harmful", "unsafe": "unsafe_harmful"}
POOLED = {v: k for k, v in HARMFUL_ONLY.items()}
#: the bounds the section quotes beside them: (column title, method, space; None = the rule's)
BOUNDS = (
    ("harm_intent", "harm_intent", None),
    ("prompt TF-IDF", "surface_prompt", None),
    ("prompt words (TF-IDF + embedding)", "prompt_text", None),
    ("gcca on shuffled-label directions", "gcca", "controls_unrelated"),
    ("gcca without harm_salience", "gcca", "concepts_no_harm"),
)


def best_cross_model(summary: pd.DataFrame, rule: dict, target: str, holdouts: list[str]) -> str | None:
    """The cross-model method with the highest zero-shot AUC at ``target`` averaged over the holdouts, in the
    rule's space (:func:`emobasis.report.plots.best_shared`, as the headline figure picks it); None without one."""
    from emobasis.report.plots import best_shared

    try:
        return best_shared(
            in_space(summary, rule.get("space", "hidden")), target, rule["position"], rule["rank"], holdouts
        )
    except ReportError:
        return None


def harmful_only_section(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> list[str]:
    """Early warning, not harm recognition: the rule's cell among harmful prompts only (``summary``: every
    space's rows), beside the pooled one. Per holdout, zero-shot: the rule's aligner, the best cross-model
    method with its paired difference from gcca, the bounds (learned harm recognition, the prompt's words,
    shuffled-label directions, the concepts without harm_salience) and the incremental difference
    (prompt words + read - prompt words); at k = match_k the shared heads against the own probes. Empty when
    the study has no harmful-only target."""
    a, r, pos, mk = rule["aligner"], rule["rank"], rule["position"], str(rule["match_k"])
    space = rule.get("space", "hidden")
    target = rule["target"] if rule["target"] in POOLED else HARMFUL_ONLY.get(rule["target"])
    pooled_t = POOLED.get(target)
    if target is None or not (summary["target"] == target).any():
        return []

    def row(method, rank, h, t=target, k="0", sp=None):
        rows = cell_rows(in_space(summary, sp or space), method, rank, h, t, pos, k)
        return rows.iloc[0] if len(rows) == 1 else None

    def q(method, rank, h, t=target, k="0", sp=None, cols=("auc", "auc_ci_low", "auc_ci_high")):
        x = row(method, rank, h, t, k, sp)
        if x is None or pd.isna(x.get(cols[0], np.nan)):
            return "n/a"
        return fmt(*(x[c] for c in cols), signed=cols[0] != "auc")

    best = best_cross_model(summary, rule, target, holdouts) or a
    rank_of = lambda m: r if METHODS[m].ranked else 0  # noqa: E731
    best_rank = rank_of(best)
    gcca_diff = QUANTITIES["diff_vs_gcca"]
    bounds = [(t, m, sp) for t, m, sp in BOUNDS if row(m, rank_of(m), holdouts[0], sp=sp) is not None]
    head = (
        f"| holdout | harmful test prompts (failures) | {a} pooled | **{a} harmful only** | best cross-model: {best} "
        f"| {best} - {a} | " + " | ".join(t for t, _, _ in bounds) + " | prompt words + read - prompt words |"
    )
    lines = [
        f"## Early warning, not harm recognition: among harmful prompts only ({target})",
        "",
        f'Every benign prompt is a negative of {pooled_t}, so a score that only knows "this request is harmful" '
        "does well on the pooled rows (`is_harmful`, the prompt's label as the score: "
        + "; ".join(f"{h} {q('is_harmful', 0, h, pooled_t)}" for h in holdouts)
        + "). Among harmful prompts the question is the early warning's own: which harmful requests will this "
        "model fail on? Pools, k draws, test rows and shuffled-label nulls stay inside the harmful prompts. "
        f"Zero-shot AUCs in the {space} space at rank {r}, 95% intervals (where the split seeds ran the cell, "
        f"their mean and prediction interval); `{best} - {a}`: paired on the same resamples; the last column is "
        "criterion C's incremental difference.",
        "",
        head,
        "|---|" + "---|" * (6 + len(bounds)),
    ]
    for h in holdouts:
        z = row(a, r, h)
        if z is None:
            lines.append(f"| {h} | not scored (see results/tables/transfer_skipped.csv) |" + " |" * (5 + len(bounds)))
            continue
        cells = [f"{int(z['n_test'])} ({int(z['n_test_pos'])})", q(a, r, h, pooled_t), q(a, r, h)]
        cells += [q(best, best_rank, h), q(best, best_rank, h, cols=gcca_diff) if best != a else "0"]
        cells += [q(m, rank_of(m), h, sp=sp) for _, m, sp in bounds]
        cells.append(q("prompt_text_read", 0, h, cols=QUANTITIES["diff_incremental"]))
        lines.append(f"| {h} | " + " | ".join(cells) + " |")
    own = QUANTITIES["diff_vs_own_hidden"]
    lines += [
        "",
        f"At k = {mk} labelled harmful prompts of the holdout (warm-started shared heads against the holdout's own "
        f"probes, paired): {a} - specific in {space}; {a} - specific on the full hidden read (the strongest own "
        f"probe); {best} - the same; and the AUCs.",
        "",
        f"| holdout | {a} at k={mk} | specific ({space}) | {a} - specific ({space}) | {a} - specific (hidden) | "
        f"{best} at k={mk} | {best} - specific (hidden) |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in holdouts:
        if row(a, r, h, k=mk) is None:
            continue
        cells = [
            q(a, r, h, k=mk),
            q("specific", r, h, k=mk),
            q(a, r, h, k=mk, cols=QUANTITIES["diff_vs_specific"]),
            q(a, r, h, k=mk, cols=own),
            q(best, best_rank, h, k=mk),
            q(best, best_rank, h, k=mk, cols=own),
        ]
        lines.append(f"| {h} | " + " | ".join(cells) + " |")
    return lines


def label_validity_section(validity: pd.DataFrame, gate: pd.DataFrame, rule: dict) -> list[str]:
    """Do the labels mean what they say on these models' answers? Agreement with the audit set per model."""
    v = validity[~validity["model"].astype(str).str.startswith(("public:", "all"))]
    cell = lambda m, label, labeler: v[(v["model"] == m) & (v["label"] == label) & (v["labeler"] == labeler)]  # noqa: E731

    def kappa(m, label, labeler):
        r = cell(m, label, labeler)
        if r.empty or not np.isfinite(r["kappa"].iloc[0]):
            return "n/a"
        r = r.iloc[0]
        return f"{r['kappa']:.2f} [{r['kappa_lo']:.2f}, {r['kappa_hi']:.2f}] (n {int(r['n'])})"

    lines = [
        "## Are the labels valid on these answers?",
        "",
        "Reference: the audit set (`config/audit/labels.csv`, protocol `config/audit/PROTOCOL.md`), answers read "
        "blind to every automatic label by the project's maintainers. They are not crowd, user-study or "
        "published labels. Cohen's kappa of each automatic label with the reading, 95% bootstrap CI over the "
        "audited answers (tone_masked and harmful_content: answers to harmful prompts only). `before`: the "
        "study's labels before issue 26 (the judge's unsafe and the tone scorer's calm); `second labeler`: the "
        "judge's unsafe and the rules' calm (`tone_masked_judge`); `embedding head`: a logistic head on sentence "
        "embeddings trained on the OTHER models' audit labels (leave one model out; reported, not used).",
        "",
        f"Gate, fixed before any audit label was written: {rule['label']} by the {rule['labeler']} labeler at "
        f"kappa >= {rule['min_kappa']} on at least {rule['min_audited']} audited answers.",
        "",
        "| model | audited (stale) | tone_masked | tone_masked before | tone_masked, second labeler "
        "| tone_masked, embedding head | complied (rules) | complied (judge) | cautioned | harmful_content | gate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, g in gate.iterrows():
        m = g["model"]
        lines.append(
            f"| {m} | {int(g['audited'])} ({int(g['stale'])}) | {kappa(m, 'tone_masked', 'rules')} | "
            f"{kappa(m, 'tone_masked', 'judge+tone')} | {kappa(m, 'tone_masked', 'judge+rules')} | "
            f"{kappa(m, 'tone_masked', 'embedding head')} | {kappa(m, 'complied', 'rules')} | "
            f"{kappa(m, 'complied', 'judge')} | {kappa(m, 'cautioned', 'rules')} | "
            f"{kappa(m, 'harmful_content', 'rules')} | {'valid' if g['valid'] else 'not valid'}: {g['reason']} |"
        )
    readers = validity[validity["labeler"] == "second reader"]
    if len(readers):
        lines += [
            "",
            "Two maintainers read some answers twice, blind to each other: "
            + "; ".join(
                f"{r['label']} kappa {r['kappa']:.2f} [{r['kappa_lo']:.2f}, {r['kappa_hi']:.2f}] (n {int(r['n'])})"
                for _, r in readers.iterrows()
            )
            + ".",
        ]
    public = validity[(validity["model"] == "public:xstest") & (validity["label"] == "complied")]
    if len(public):
        r = public.iloc[0]
        lines += [
            "",
            f"On public answers of other models (XSTest's completions, human compliance labels, n {int(r['n'])}) "
            f"the rule compliance labeler reaches kappa {r['kappa']:.2f} [{r['kappa_lo']:.2f}, {r['kappa_hi']:.2f}]: "
            "the rules read fluent answers well; the study's small models write answers they were not built for.",
        ]
    if not int(gate["audited"].sum()):
        lines += ["", "**No answer of this study is audited yet**: no model passes the gate."]
    return lines
