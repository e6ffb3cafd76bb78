"""The pre-registered verdict and the claims behind it: the project's scientific contract.

Every number the summary quotes is looked up in ``results/tables/transfer_summary.csv`` by :func:`claims`,
one row each, so a test can check them all.

The verdict rule (config ``verdict:``, fixed before results are read; every change is logged in the file
``verdict.history`` names, which the summary prints) is applied per holdout model whose labels pass the audit
gate, at one aligner, space, rank, target and position:

- **A, above chance**: the zero-shot head beats heads fit on permuted labels: its permutation p-value
  (``perm_p``: the share of ``null_seeds`` single shuffled-label heads on the same features whose AUC
  reaches it), Holm-adjusted across the holdouts, is at most ``alpha`` (default 0.05). The labels are permuted
  within model x suite x benign/harmful prompt, and each null head picks its own L2 (issue 27): a head that
  only recognises harmful requests does not beat that null on the pooled rows.
- **B, matches the model's own probe**: at k = ``match_k`` the paired difference (shared - specific)
  has a 95% CI lower bound above ``-margin``. ``own_probe_space: hidden`` (default) pairs with the strongest
  own probe, ``specific`` on the full hidden read, whatever the rule's space (``diff_vs_own_hidden``);
  ``rule_space`` with ``specific`` in the rule's space (``diff_vs_specific``). The summary reports both.
- **C, beyond the words**: ``beyond`` names the method. An incremental method (``Method.increment_of``, e.g.
  ``prompt_text_read``: the prompt's words + the read, against the words alone, on the same folds) passes when
  the paired difference has a 95% CI lower bound above 0. A residualized read (``residualized``,
  ``residualized_prompt``) passes when its zero-shot CI lies above ``chance``.

``transferable``: A, B and C for every holdout. ``partially shared``: A for every holdout, not all of
B and C. ``model-specific``: not partially shared, and some holdout's shared head is shown worse than its own
probe by more than the margin (B's CI upper bound below ``-margin``). ``not decided at this sample size``:
otherwise; :func:`power_rows` says what difference B could detect at the study's n.
"""

from __future__ import annotations

import pandas as pd

from emobasis.data.stimuli import concept_kinds
from emobasis.errors import ConfigError, ReportError
from emobasis.transfer.grid import INCREMENT_COLUMNS, OWN_HIDDEN_COLUMNS, REFERENCE_COLUMNS
from emobasis.transfer.methods import METHODS, REGISTRY, with_null
from emobasis.transfer.metrics import holm
from emobasis.transfer.spaces import space_concepts

UNDECIDED = "not decided at this sample size"
VERDICTS = ("transferable", "partially shared", "model-specific", UNDECIDED)
CRITERIA = {
    "A_above_chance": "(A) above chance",
    "B_matches_specific": "(B) matches its own probe",
    "C_beyond_words": "(C) beyond the words",
}
#: the order in which the summary quotes the baselines' zero-shot AUCs; a registered method with a ``claim``
#: that is not listed here is quoted after them, in registry order
QUOTE_ORDER = (
    "residualized",
    "residualized_prompt",
    "surface",
    "surface_prompt",
    "prompt_embedding",
    "shuffled",
    "random",
)


def quoted_baselines() -> list:
    quoted = [m for m in REGISTRY if m.claim]
    return sorted(quoted, key=lambda m: QUOTE_ORDER.index(m.name) if m.name in QUOTE_ORDER else len(QUOTE_ORDER))


def in_space(summary: pd.DataFrame, space: str) -> pd.DataFrame:
    """The rows of one feature space (a table without a ``space`` column is all ``hidden``)."""
    if "space" not in summary:
        return summary if space == "hidden" else summary.iloc[:0]
    return summary[summary["space"] == space].reset_index(drop=True)


def read_summary(path, space: str | None = None) -> pd.DataFrame:
    """A summary table; ``space``: only that feature space's rows."""
    table = pd.read_csv(path, dtype={"k": str})
    return table if space is None else in_space(table, space)


def cell_rows(
    summary: pd.DataFrame, aligner: str, rank: int, holdout: str, target: str, position: str, k: str
) -> pd.DataFrame:
    return summary[
        (summary["aligner"] == aligner)
        & (summary["rank"] == rank)
        & (summary["holdout"] == holdout)
        & (summary["target"] == target)
        & (summary["position"] == position)
        & (summary["k"] == str(k))
    ]


def cell(summary: pd.DataFrame, aligner: str, rank: int, holdout: str, target: str, position: str, k: str) -> pd.Series:
    sel = cell_rows(summary, aligner, rank, holdout, target, position, k)
    if len(sel) != 1:
        raise ReportError(
            f"transfer_summary.csv has {len(sel)} rows for {aligner} r{rank} {holdout} {target} "
            f"{position} k={k}. Fix: rerun gather_transfer with this config."
        )
    return sel.iloc[0]


def check_verdict_config(cfg: dict) -> None:
    """The pre-registered rule reads a cell the study computes (a check of :mod:`emobasis.config`)."""
    v, t = cfg["verdict"], cfg["transfer"]
    for key, allowed, where in (
        ("aligner", t["aligners"], "transfer.aligners"),
        ("space", t["spaces"], "transfer.spaces"),
        ("rank", cfg["basis"]["ranks"], "basis.ranks"),
        ("target", t["targets"], "transfer.targets"),
        ("position", t["positions"], "transfer.positions"),
        ("match_k", [k for k in t["ks"] if k != "all"], "transfer.ks"),
    ):
        if v[key] not in allowed:
            raise ConfigError(
                f"verdict.{key} = {v[key]!r} is not in {where} ({allowed}). Fix: the verdict must "
                f"read a cell the study computes; pick one of {where}."
            )
    kinds = concept_kinds(cfg)
    if v["space"] != "hidden" and v["rank"] > (dim := len(space_concepts(kinds, v["space"]))):
        raise ConfigError(
            f"verdict.rank = {v['rank']} exceeds the {v['space']} space's {dim} concepts. Fix: lower verdict.rank "
            "or set verdict.space to a larger space (concepts or hidden)."
        )
    known = set(kinds)
    for score, formula in t.get("mismatch", {}).items():
        if unknown := [c for c in formula if c not in known]:
            raise ConfigError(
                f"transfer.mismatch.{score} weighs {unknown}, which no stimulus set of the study defines. Fix: use "
                f"concepts of study.stimulus_sets ({', '.join(sorted(known))})."
            )
    if "controls_unrelated" in t["spaces"] and not cfg["concepts"].get("shuffled_controls"):
        raise ConfigError(
            "transfer.spaces lists controls_unrelated, the shuffled-label directions, but concepts.shuffled_controls "
            "is off, so no model fits them. Fix: set concepts.shuffled_controls: true, or drop controls_unrelated."
        )
    if own_probe_quantity(v) == "diff_vs_own_hidden" and "hidden" not in t["spaces"]:
        raise ConfigError(
            "verdict.own_probe_space = hidden pairs the shared head with the own probe on the full hidden read, but "
            "transfer.spaces lacks hidden. Fix: add hidden to transfer.spaces, or set verdict.own_probe_space: "
            "rule_space."
        )
    if v["aligner"] not in with_null():  # criterion A is a permutation test against shuffled-label heads
        raise ConfigError(
            f"verdict.aligner = {v['aligner']!r} has no shuffled-label null, which criterion A tests against. "
            f"Fix: set verdict.aligner to {' or '.join(with_null())}."
        )


def check_verdict_inputs(cfg: dict) -> None:
    """The rule's criterion C reads what the study has: an incremental method reads the prompt's words, which
    only an own-answer study has (run after the suite checks, whose messages are more specific)."""
    v = cfg["verdict"]
    if is_incremental(v) and cfg["study"].get("reader_mode") != "own_answers":
        raise ConfigError(
            f"verdict.beyond = {v['beyond']!r} reads the prompt's words, which only an own-answer study has "
            "(study.reader_mode: own_answers). Fix: set verdict.beyond to residualized."
        )


# --- claims and verdict ---------------------------------------------------------------------------------


#: a claim's quantity -> its (value, CI low, CI high) columns in transfer_summary.csv
QUANTITIES = {
    "auc": ("auc", "auc_ci_low", "auc_ci_high"),
    "diff_vs_specific": ("diff_vs_specific", "diff_ci_low", "diff_ci_high"),
    "diff_vs_own_hidden": OWN_HIDDEN_COLUMNS,
    "diff_incremental": INCREMENT_COLUMNS,
    "diff_vs_gcca": REFERENCE_COLUMNS,
}
#: claim names of the pairings the rule reads besides the AUCs
OWN_HIDDEN_CLAIM = "shared - own probe on the hidden read at k={k}"
INCREMENT_CLAIM = "prompt words + read - prompt words"


def own_probe_quantity(rule: dict) -> str:
    """The column criterion B reads: the pairing with ``specific`` on the full hidden read (the default) or in
    the rule's space."""
    if rule.get("own_probe_space", "hidden") == "hidden" and rule.get("space", "hidden") != "hidden":
        return "diff_vs_own_hidden"
    return "diff_vs_specific"


def claims(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> pd.DataFrame:
    """Every number the summary quotes, one row each, with the key that finds it in transfer_summary.csv.

    quantity: a key of :data:`QUANTITIES` (the value and CI columns it reads)."""
    r, t, p, a = rule["rank"], rule["target"], rule["position"], rule["aligner"]
    k = str(rule["match_k"])
    present = set(summary["aligner"])  # a baseline this study cannot compute (e.g. prompt-only ones in a reader study)
    own_hidden = own_probe_quantity(rule) == "diff_vs_own_hidden"
    b = beyond(rule)
    want = [
        ("zero-shot", a, r, "0", "auc"),
        *[(m.claim, m.name, r if m.ranked else 0, "0", "auc") for m in quoted_baselines() if m.name in present],
        (f"shared at k={k}", a, r, k, "auc"),
        (f"specific at k={k}", "specific", r, k, "auc"),
        (f"shared - specific at k={k}", a, r, k, "diff_vs_specific"),
        *([(OWN_HIDDEN_CLAIM.format(k=k), a, r, k, "diff_vs_own_hidden")] if own_hidden else []),
        ("shared at k=all", a, r, "all", "auc"),
        ("specific at k=all", "specific", r, "all", "auc"),
        ("shared - specific at k=all", a, r, "all", "diff_vs_specific"),
        *([(INCREMENT_CLAIM, b, 0, "0", "diff_incremental")] if is_incremental(rule) and b in present else []),
    ]
    out = []
    for h in holdouts:
        for claim, aligner, rank, kk, quantity in want:
            row = cell(summary, aligner, rank, h, t, p, kk)
            cols = QUANTITIES[quantity]
            out.append(
                {
                    "claim": claim,
                    "holdout": h,
                    "aligner": aligner,
                    "space": rule.get("space", "hidden"),
                    "rank": rank,
                    "target": t,
                    "position": p,
                    "k": kk,
                    "quantity": quantity,
                    "value": row[cols[0]],
                    "ci_low": row[cols[1]],
                    "ci_high": row[cols[2]],
                }
            )
    return pd.DataFrame(out)


def first_k(summary: pd.DataFrame, rule: dict, holdout: str, bound: float, ks: list[str]) -> str:
    """Smallest k > 0 (of the study's ``ks``) at which the shared basis's paired difference with specific is
    above ``bound``, Holm-corrected for scanning the k values: each k's one-sided p-value of "difference <=
    bound" comes from a normal approximation of its 95% bootstrap CI (se = CI width / 3.92), the p-values are
    Holm-adjusted across the scanned k, and a k counts at adjusted p <= 0.025 (a single k at 0.025 is the
    same as "CI lower bound above bound"). "never" when no k qualifies."""
    from scipy.stats import norm

    scanned, p = [], []
    for k in [str(k) for k in ks if str(k) != "0"]:
        sel = cell_rows(summary, rule["aligner"], rule["rank"], holdout, rule["target"], rule["position"], k)
        if len(sel):
            row = sel.iloc[0]
            value, low, high = (row.get(c, float("nan")) for c in QUANTITIES[own_probe_quantity(rule)])
            if pd.isna(value):
                continue
            se = max((high - low) / (2 * norm.ppf(0.975)), 1e-12)
            scanned.append(k)
            p.append(float(norm.sf((value - bound) / se)))
    adjusted = holm(p)
    return next((k for k, q in zip(scanned, adjusted) if q <= 0.025), "never")


def permutation_tests(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> dict[str, tuple[float, float]]:
    """holdout -> (permutation p of the zero-shot head, Holm-adjusted across the holdouts)."""
    p = []
    for h in holdouts:
        z = cell(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], "0")
        value = z.get("perm_p", float("nan"))
        if pd.isna(value):
            fix = (
                "rerun the transfer jobs with this version, which write perm_p (snakemake --forcerun transfer)"
                if rule["aligner"] in with_null()
                else f"set verdict.aligner to one that has a shuffled-label null ({', '.join(with_null())})"
            )
            raise ReportError(
                f"transfer_summary.csv has no permutation p-value for {rule['aligner']} r{rule['rank']} {h} "
                f"zero-shot (criterion A needs one). Fix: {fix}."
            )
        p.append(float(value))
    return dict(zip(holdouts, zip(p, holm(p).tolist())))


def is_incremental(rule: dict) -> bool:
    """Criterion C reads a paired incremental difference (``Method.increment_of``), not a residualized AUC."""
    b = beyond(rule)
    return b in METHODS and METHODS[b].increment_of is not None


def criterion_c(summary: pd.DataFrame, rule: dict, holdout: str) -> bool:
    """C for one holdout: the incremental difference's CI lower bound above 0, or the residualized read's
    zero-shot CI above chance. False when the study lacks the cell."""
    b = beyond(rule)
    ranked = METHODS[b].ranked if b in METHODS else True
    res = cell_rows(summary, b, rule["rank"] if ranked else 0, holdout, rule["target"], rule["position"], "0")
    if len(res) != 1:
        return False
    if is_incremental(rule):
        return bool(res["diff_inc_ci_low"].iloc[0] > 0)
    return bool(res["auc_ci_low"].iloc[0] > rule["chance"])


def decide(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> dict:
    """Apply the verdict rule. Returns {verdict, per holdout criteria, per holdout (p, Holm-adjusted p),
    per holdout ``worse`` (the shared head shown worse than its own probe by more than the margin)}."""
    per, worse, perm, alpha = {}, {}, permutation_tests(summary, rule, holdouts), rule.get("alpha", 0.05)
    diff = QUANTITIES[own_probe_quantity(rule)]
    for h in holdouts:
        m = cell(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], str(rule["match_k"]))
        if pd.isna(m.get(diff[1], float("nan"))):
            raise ReportError(
                f"transfer_summary.csv has no {diff[0]} for {rule['aligner']} r{rule['rank']} {h} "
                f"k={rule['match_k']} (criterion B). Fix: run the transfer jobs with this version "
                "(snakemake --forcerun transfer split_seeds), which pair every shared head with the own probe."
            )
        per[h] = {
            "A_above_chance": bool(perm[h][1] <= alpha),
            "B_matches_specific": bool(m[diff[1]] > -rule["margin"]),
            "C_beyond_words": criterion_c(summary, rule, h),
        }
        worse[h] = bool(m[diff[2]] < -rule["margin"])
    if all(all(v.values()) for v in per.values()):
        verdict = "transferable"
    elif all(v["A_above_chance"] for v in per.values()):
        verdict = "partially shared"
    elif any(worse.values()):
        verdict = "model-specific"
    else:
        verdict = UNDECIDED
    return {"verdict": verdict, "per_holdout": per, "perm": perm, "worse": worse}


#: one-sided power of B's decision: a true difference this many CI half-widths from -margin is told apart from
#: it with 80% power at the 95% level ((z_0.975 + z_0.80) / z_0.975)
POWER_FACTOR = (1.959963984540054 + 0.8416212335729143) / 1.959963984540054


def power_rows(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> pd.DataFrame:
    """Per holdout: the test counts behind the rule's cell, the CI half-width of the zero-shot AUC, and the
    smallest difference criterion B can detect: B's CI half-width times :data:`POWER_FACTOR`, i.e. a true
    shared - own difference closer to ``-margin`` than this is decided (either way) with less than 80% power."""
    diff = QUANTITIES[own_probe_quantity(rule)]
    out = []
    for h in holdouts:
        z = cell_rows(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], "0")
        m = cell_rows(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], str(rule["match_k"]))
        if not len(z) or not len(m):
            continue
        z, m = z.iloc[0], m.iloc[0]
        half_b = (m.get(diff[2], float("nan")) - m.get(diff[1], float("nan"))) / 2
        out.append(
            {
                "holdout": h,
                "n_test": int(z["n_test"]),
                "n_test_pos": int(z["n_test_pos"]),
                "auc_half_width": float((z["auc_ci_high"] - z["auc_ci_low"]) / 2),
                "b_half_width": float(half_b),
                "b_detectable": float(half_b * POWER_FACTOR),
            }
        )
    return pd.DataFrame(out)


def power_line(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> str:
    """The summary's power sentence (:func:`power_rows`)."""
    rows = power_rows(summary, rule, holdouts)
    if not len(rows):
        return ""
    return (
        f"**Power at this sample size** ({rule['target']}, {rule['position']}): "
        + "; ".join(
            f"{r.holdout}: {r.n_test} test prompts ({r.n_test_pos} failures), zero-shot AUC CI half-width "
            f"{r.auc_half_width:.3f}, B's CI half-width {r.b_half_width:.3f}, so B detects a true difference "
            f"only {r.b_detectable:.3f} or more away from -{rule['margin']} (80% power)"
            for r in rows.itertuples()
        )
        + "."
    )


def read_history(path) -> pd.DataFrame:
    """The rule's change log (``verdict.history``): date, change, results_existed, issue. Raises ReportError for a
    file without those columns."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"date", "change", "results_existed", "issue"} - set(table.columns)
    if missing:
        raise ReportError(
            f"{path} lacks the column(s) {sorted(missing)}. Fix: keep one row per change of the verdict block with "
            "date, change, results_existed and issue."
        )
    return table


def history_markdown(history: pd.DataFrame) -> list[str]:
    """The rule's history as a table: every change, and whether results existed when it was made."""
    lines = ["| date | change | results existed then | issue |", "|---|---|---|---|"]
    for r in history.itertuples():
        lines.append(f"| {r.date} | {r.change} | {r.results_existed} | {r.issue} |")
    return lines


#: the fewest models with valid labels the verdict needs (leave-one-model-out then learns from two)
MIN_VALID_MODELS = 3


def gated_decide(summary: pd.DataFrame, rule: dict, holdouts: list[str], gate: pd.DataFrame | None) -> dict:
    """:func:`decide` over the holdouts whose labels pass the validity gate (results/tables/label_gate.csv).

    A model below the gate takes no part (``invalid``: model -> the gate's reason). With fewer than
    :data:`MIN_VALID_MODELS` valid models the verdict is "not decided"; ``gate_line`` says why and what the
    rule gives on the valid ones. No gate (a reader study): :func:`decide` over every holdout."""
    if gate is None:
        return {**decide(summary, rule, holdouts), "invalid": {}}
    ok = dict(zip(gate["model"].astype(str), gate["valid"].astype(bool)))
    reasons = dict(zip(gate["model"].astype(str), gate["reason"].astype(str)))
    valid = [h for h in holdouts if ok.get(h, False)]
    invalid = {h: reasons.get(h, "not audited") for h in holdouts if h not in valid}
    v = (
        decide(summary, rule, valid)
        if valid
        else {"verdict": "not decided", "per_holdout": {}, "perm": {}, "worse": {}}
    )
    v["invalid"] = invalid
    if invalid:
        v["gate_line"] = f"Labels not valid (results/tables/label_gate.csv) for {', '.join(invalid)}."
    if len(valid) < MIN_VALID_MODELS:
        on_valid = f" The rule on the {len(valid)} valid model(s) alone gives: {v['verdict']}." if valid else ""
        v["gate_line"] = (
            v.get("gate_line", "")
            + f" The verdict needs valid labels for at least {MIN_VALID_MODELS} models and has {len(valid)}, so it is "
            "not decided." + on_valid
        ).strip()
        v["verdict"] = "not decided (labels not valid)"
    return v


def beyond(rule: dict) -> str:
    """The method of criterion C (``verdict.beyond``, default ``residualized``)."""
    return rule.get("beyond", "residualized")


def describe_rule(rule: dict) -> str:
    c, k, mg = rule["chance"], rule["match_k"], rule["margin"]
    own = (
        "the holdout's own probe on its full hidden read (the strongest own probe)"
        if own_probe_quantity(rule) == "diff_vs_own_hidden"
        else f"the holdout's own probe in the {rule.get('space', 'hidden')} space"
    )
    criterion_c_text = (
        f"the paired difference AUC(prompt words + the read) - AUC(prompt words) ({beyond(rule)}, zero-shot, same "
        "folds) has a 95% CI lower bound above 0"
        if is_incremental(rule)
        else f"the {beyond(rule)} read's zero-shot 95% CI lies above {c}"
    )
    harmful = " (among harmful prompts only)" if rule["target"].endswith("_harmful") else ""
    return (
        f"At {rule['aligner']} rank {rule['rank']} in the {rule.get('space', 'hidden')} space, target "
        f"{rule['target']}{harmful}, position {rule['position']}, for each holdout model whose labels pass the audit "
        f"gate: (A) the zero-shot head beats heads fit on labels permuted within model, suite and benign/harmful "
        f"prompt, each choosing its own L2 (permutation p-value, Holm-adjusted across the holdouts, at most "
        f"{rule.get('alpha', 0.05)}); (B) at k = {k} the paired difference shared - {own} has a 95% CI lower bound "
        f"above -{mg}; (C) {criterion_c_text}. **transferable**: A, B and C for every holdout; **partially "
        "shared**: A for every holdout but not all of B and C; **model-specific**: otherwise, when some holdout's "
        f"shared head is shown worse than its own probe by more than {mg} (B's CI upper bound below -{mg}); "
        f"**{UNDECIDED}**: otherwise."
    )


def describe_stability(verdict: dict) -> str:
    r = verdict["stability"]
    return (
        f"At {verdict['target']}, {verdict['position']}, rank {verdict['rank']}, zero-shot: for each holdout and "
        f"each fit suite S, drop = in-suite AUC (heads fit on every fit suite) - cross-suite AUC (heads fit on "
        f"the other fit suites), both on S's test prompts; the paired difference of drops {r['method']} - "
        f"{r['baseline']} is bootstrapped over S's prompts. **more stable**: its 95% CI upper bound is below 0 "
        f"everywhere; **no less stable**: below {r['margin']} everywhere; **not shown**: otherwise. Test suites "
        "never fit anything and have no in-suite AUC."
    )


# --- formatting -----------------------------------------------------------------------------------------


def fmt(value: float, low: float, high: float, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(value)} [{f.format(low)}, {f.format(high)}]"


def fmt_claim(claim: pd.Series) -> str:
    """A row of :func:`claims` as printed: value [CI], differences signed."""
    return fmt(claim["value"], claim["ci_low"], claim["ci_high"], signed=claim["quantity"] != "auc")


def claim_of(cl: pd.DataFrame, holdout: str, claim: str) -> pd.Series:
    return cl[(cl["holdout"] == holdout) & (cl["claim"] == claim)].iloc[0]
