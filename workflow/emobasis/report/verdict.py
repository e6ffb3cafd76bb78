"""The pre-registered verdict and the claims behind it: the project's scientific contract.

Every number the summary quotes is looked up in ``results/tables/transfer_summary.csv`` by :func:`claims`,
one row each, so a test can check them all.

The verdict rule (config ``verdict:``, fixed before results are read) is applied per holdout model at
one aligner, rank, target and position:

- **A, above chance**: the zero-shot head beats heads fit on permuted labels: its permutation p-value
  (``perm_p``: the share of ``null_seeds`` single shuffled-label heads on the same features whose AUC
  reaches it), Holm-adjusted across the holdouts, is at most ``alpha`` (default 0.05). Until session 5
  (2026-11-29) A read "the zero-shot 95% CI lies above chance"; the bootstrap CI resamples test prompts
  only, so it ignored how far a head fit on noise can land (issue 13). The summary still quotes the CI.
- **B, matches the model's own probe**: at k = ``match_k`` the paired difference (shared - specific)
  has a 95% CI lower bound above ``-margin``;
- **C, beyond the words**: the ``beyond`` method's read (default ``residualized``: shared features after
  regressing out a sentence embedding of the response; the own-answer study sets ``residualized_prompt``:
  after regressing out, cross-fitted, the embedding of the prompt, the only words that exist at
  ``prompt_last``) still has a zero-shot CI above ``chance``.

``transferable``: A, B and C for every holdout. ``partially shared``: A for every holdout, not all of
B and C. ``model-specific``: otherwise.
"""

from __future__ import annotations

import pandas as pd

from emobasis.data.stimuli import concept_kinds
from emobasis.errors import ConfigError, ReportError
from emobasis.transfer.methods import REGISTRY, with_null
from emobasis.transfer.metrics import holm
from emobasis.transfer.spaces import space_concepts

VERDICTS = ("transferable", "partially shared", "model-specific")
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
    if v["aligner"] not in with_null():  # criterion A is a permutation test against shuffled-label heads
        raise ConfigError(
            f"verdict.aligner = {v['aligner']!r} has no shuffled-label null, which criterion A tests against. "
            f"Fix: set verdict.aligner to {' or '.join(with_null())}."
        )


# --- claims and verdict ---------------------------------------------------------------------------------


def claims(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> pd.DataFrame:
    """Every number the summary quotes, one row each, with the key that finds it in transfer_summary.csv.

    quantity: ``auc`` (auc, auc_ci_low, auc_ci_high) or ``diff_vs_specific`` (diff, diff_ci_low, diff_ci_high)."""
    r, t, p, a = rule["rank"], rule["target"], rule["position"], rule["aligner"]
    present = set(summary["aligner"])  # a baseline this study cannot compute (e.g. prompt-only ones in a reader study)
    want = [
        ("zero-shot", a, r, "0", "auc"),
        *[(m.claim, m.name, r if m.ranked else 0, "0", "auc") for m in quoted_baselines() if m.name in present],
        (f"shared at k={rule['match_k']}", a, r, str(rule["match_k"]), "auc"),
        (f"specific at k={rule['match_k']}", "specific", r, str(rule["match_k"]), "auc"),
        (f"shared - specific at k={rule['match_k']}", a, r, str(rule["match_k"]), "diff_vs_specific"),
        ("shared at k=all", a, r, "all", "auc"),
        ("specific at k=all", "specific", r, "all", "auc"),
        ("shared - specific at k=all", a, r, "all", "diff_vs_specific"),
    ]
    out = []
    for h in holdouts:
        for claim, aligner, rank, k, quantity in want:
            row = cell(summary, aligner, rank, h, t, p, k)
            cols = (
                ("auc", "auc_ci_low", "auc_ci_high")
                if quantity == "auc"
                else ("diff_vs_specific", "diff_ci_low", "diff_ci_high")
            )
            out.append(
                {
                    "claim": claim,
                    "holdout": h,
                    "aligner": aligner,
                    "space": rule.get("space", "hidden"),
                    "rank": rank,
                    "target": t,
                    "position": p,
                    "k": k,
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
            se = max((row["diff_ci_high"] - row["diff_ci_low"]) / (2 * norm.ppf(0.975)), 1e-12)
            scanned.append(k)
            p.append(float(norm.sf((row["diff_vs_specific"] - bound) / se)))
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


def decide(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> dict:
    """Apply the verdict rule. Returns {verdict, per holdout criteria, per holdout (p, Holm-adjusted p)}."""
    per, perm, alpha = {}, permutation_tests(summary, rule, holdouts), rule.get("alpha", 0.05)
    for h in holdouts:
        m = cell(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], str(rule["match_k"]))
        res = cell_rows(summary, beyond(rule), rule["rank"], h, rule["target"], rule["position"], "0")
        per[h] = {
            "A_above_chance": bool(perm[h][1] <= alpha),
            "B_matches_specific": bool(m["diff_ci_low"] > -rule["margin"]),
            "C_beyond_words": bool(len(res) == 1 and res["auc_ci_low"].iloc[0] > rule["chance"]),
        }
    if all(all(v.values()) for v in per.values()):
        verdict = "transferable"
    elif all(v["A_above_chance"] for v in per.values()):
        verdict = "partially shared"
    else:
        verdict = "model-specific"
    return {"verdict": verdict, "per_holdout": per, "perm": perm}


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
    v = decide(summary, rule, valid) if valid else {"verdict": "not decided", "per_holdout": {}, "perm": {}}
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
    return (
        f"At {rule['aligner']} rank {rule['rank']}, target {rule['target']}, position {rule['position']}, "
        f"for each holdout model: (A) the zero-shot head beats heads fit on permuted labels (permutation "
        f"p-value, Holm-adjusted across the holdouts, at most {rule.get('alpha', 0.05)}); (B) at k = {k} the paired "
        f"difference shared - specific has a 95% CI lower bound above -{mg}; (C) the {beyond(rule)} read's "
        f"zero-shot 95% CI lies above {c}. **transferable**: A, B and C for every holdout; **partially "
        "shared**: A for every holdout but not all of B and C; **model-specific**: otherwise."
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
