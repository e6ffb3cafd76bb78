"""The report: figures, the pre-registered verdict, and ``results/summary.md`` in plain words.

Every number in the summary is looked up in ``results/tables/transfer_summary.csv`` (or the basis
anatomy tables) by :func:`claims`, and printed from that one table, so a test can check them all.

The verdict rule (config ``verdict:``, fixed before results are read) is applied per holdout model at
one aligner, rank, target and position:

- **A, above chance**: the zero-shot AUC's 95% CI lies above ``chance``;
- **B, matches the model's own probe**: at k = ``match_k`` the paired difference (shared - specific)
  has a 95% CI lower bound above ``-margin``;
- **C, beyond the words**: the ``residualized`` read (shared features after regressing out a sentence
  embedding of the response) still has a zero-shot CI above ``chance``.

``transferable``: A, B and C for every holdout. ``partially shared``: A for every holdout, not all of
B and C. ``model-specific``: otherwise.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd

from emobasis import EmobasisError

KS = ["0", "8", "16", "32", "64", "128", "all"]
VERDICTS = ("transferable", "partially shared", "model-specific")
CRITERIA = {"A_above_chance": "(A) above chance", "B_matches_specific": "(B) matches its own probe",
            "C_beyond_words": "(C) beyond the words"}
STYLE = {  # method -> (colour, linestyle, label)
    "gcca": ("#1f77b4", "-", "gcca (shared)"),
    "procrustes": ("#17becf", "-", "procrustes (shared)"),
    "lowrank": ("#9467bd", "-", "lowrank (shared, named concepts)"),
    "specific": ("#d62728", "-", "specific (holdout's own probe)"),
    "random": ("#7f7f7f", ":", "random basis"),
    "residualized": ("#2ca02c", "--", "residualized (gcca minus text embedding)"),
    "surface": ("#ff7f0e", "--", "surface (TF-IDF on the response)"),
    "shuffled": ("#bbbbbb", "-.", "shuffled labels"),
}


class ReportError(EmobasisError):
    """The report cannot be built from the tables it was given."""


def read_summary(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"k": str})


def _rows(summary: pd.DataFrame, aligner: str, rank: int, holdout: str, target: str, position: str,
          k: str) -> pd.DataFrame:
    return summary[(summary["aligner"] == aligner) & (summary["rank"] == rank) & (summary["holdout"] == holdout)
                   & (summary["target"] == target) & (summary["position"] == position) & (summary["k"] == str(k))]


def _cell(summary: pd.DataFrame, aligner: str, rank: int, holdout: str, target: str, position: str, k: str) -> pd.Series:
    sel = _rows(summary, aligner, rank, holdout, target, position, k)
    if len(sel) != 1:
        raise ReportError(f"transfer_summary.csv has {len(sel)} rows for {aligner} r{rank} {holdout} {target} "
                          f"{position} k={k}. Fix: rerun gather_transfer with this config.")
    return sel.iloc[0]


# --- claims and verdict ---------------------------------------------------------------------------------

def claims(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> pd.DataFrame:
    """Every number the summary quotes, one row each, with the key that finds it in transfer_summary.csv.

    quantity: ``auc`` (auc, auc_ci_low, auc_ci_high) or ``diff_vs_specific`` (diff, diff_ci_low, diff_ci_high)."""
    r, t, p, a = rule["rank"], rule["target"], rule["position"], rule["aligner"]
    want = [("zero-shot", a, r, "0", "auc"), ("residualized zero-shot", "residualized", r, "0", "auc"),
            ("surface zero-shot", "surface", 0, "0", "auc"), ("shuffled zero-shot", "shuffled", r, "0", "auc"),
            ("random basis zero-shot", "random", r, "0", "auc"),
            (f"shared at k={rule['match_k']}", a, r, str(rule["match_k"]), "auc"),
            (f"specific at k={rule['match_k']}", "specific", r, str(rule["match_k"]), "auc"),
            (f"shared - specific at k={rule['match_k']}", a, r, str(rule["match_k"]), "diff_vs_specific"),
            ("shared at k=all", a, r, "all", "auc"), ("specific at k=all", "specific", r, "all", "auc"),
            ("shared - specific at k=all", a, r, "all", "diff_vs_specific")]
    out = []
    for h in holdouts:
        for claim, aligner, rank, k, quantity in want:
            row = _cell(summary, aligner, rank, h, t, p, k)
            cols = ("auc", "auc_ci_low", "auc_ci_high") if quantity == "auc" else \
                ("diff_vs_specific", "diff_ci_low", "diff_ci_high")
            out.append({"claim": claim, "holdout": h, "aligner": aligner, "rank": rank, "target": t, "position": p,
                        "k": k, "quantity": quantity, "value": row[cols[0]], "ci_low": row[cols[1]],
                        "ci_high": row[cols[2]]})
    return pd.DataFrame(out)


def first_k(summary: pd.DataFrame, rule: dict, holdout: str, bound: float) -> str:
    """Smallest k > 0 at which the shared basis's paired difference with specific has CI low > bound."""
    for k in KS[1:]:
        sel = _rows(summary, rule["aligner"], rule["rank"], holdout, rule["target"], rule["position"], k)
        if len(sel) and sel["diff_ci_low"].iloc[0] > bound:
            return k
    return "never"


def decide(summary: pd.DataFrame, rule: dict, holdouts: list[str]) -> dict:
    """Apply the verdict rule. Returns {verdict, per holdout criteria}."""
    per = {}
    for h in holdouts:
        z = _cell(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], "0")
        m = _cell(summary, rule["aligner"], rule["rank"], h, rule["target"], rule["position"], str(rule["match_k"]))
        res = _rows(summary, "residualized", rule["rank"], h, rule["target"], rule["position"], "0")
        per[h] = {"A_above_chance": bool(z["auc_ci_low"] > rule["chance"]),
                  "B_matches_specific": bool(m["diff_ci_low"] > -rule["margin"]),
                  "C_beyond_words": bool(len(res) == 1 and res["auc_ci_low"].iloc[0] > rule["chance"])}
    if all(all(v.values()) for v in per.values()):
        verdict = "transferable"
    elif all(v["A_above_chance"] for v in per.values()):
        verdict = "partially shared"
    else:
        verdict = "model-specific"
    return {"verdict": verdict, "per_holdout": per}


def describe_rule(rule: dict) -> str:
    c, k, mg = rule["chance"], rule["match_k"], rule["margin"]
    return (f"At {rule['aligner']} rank {rule['rank']}, target {rule['target']}, position {rule['position']}, "
            f"for each holdout model: (A) the zero-shot AUC's 95% CI lies above {c}; (B) at k = {k} the paired "
            f"difference shared - specific has a 95% CI lower bound above -{mg}; (C) the residualized read's "
            f"zero-shot 95% CI lies above {c}. **transferable**: A, B and C for every holdout; **partially "
            "shared**: A for every holdout but not all of B and C; **model-specific**: otherwise.")


# --- summary.md -----------------------------------------------------------------------------------------

def fmt(value: float, low: float, high: float, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(value)} [{f.format(low)}, {f.format(high)}]"


def fmt_claim(claim: pd.Series) -> str:
    """A row of :func:`claims` as printed: value [CI], differences signed."""
    return fmt(claim["value"], claim["ci_low"], claim["ci_high"], signed=claim["quantity"] != "auc")


def _claim(cl: pd.DataFrame, holdout: str, claim: str) -> pd.Series:
    return cl[(cl["holdout"] == holdout) & (cl["claim"] == claim)].iloc[0]


def claims_markdown(cl: pd.DataFrame) -> str:
    lines = ["| holdout | claim | aligner | rank | k | value [95% CI] |", "|---|---|---|---|---|---|"]
    for _, r in cl.iterrows():
        lines.append(f"| {r['holdout']} | {r['claim']} | {r['aligner']} | {r['rank']} | {r['k']} | {fmt_claim(r)} |")
    return "\n".join(lines)


def headline_markdown(cl: pd.DataFrame, rule: dict) -> str:
    """One line per holdout: the numbers a reader wants first."""
    k = str(rule["match_k"])
    lines = [f"| holdout | zero-shot {rule['aligner']} | shared - specific at k={k} | shared - specific at k=all | "
             "residualized zero-shot | surface zero-shot |", "|---|---|---|---|---|---|"]
    for h in cl["holdout"].unique():
        cells = ["zero-shot", f"shared - specific at k={k}", "shared - specific at k=all", "residualized zero-shot",
                 "surface zero-shot"]
        lines.append(f"| {h} | " + " | ".join(fmt_claim(_claim(cl, h, c)) for c in cells) + " |")
    return "\n".join(lines)


def write_summary(summary: pd.DataFrame, fractions: pd.DataFrame, angles: pd.DataFrame, rule: dict,
                  holdouts: list[str], context: dict) -> tuple[str, pd.DataFrame, dict]:
    """The text of results/summary.md, the claims behind it, and the verdict."""
    cl = claims(summary, rule, holdouts)
    v = decide(summary, rule, holdouts)
    each = lambda c: "; ".join(f"{h} {fmt_claim(_claim(cl, h, c))}" for h in holdouts)  # noqa: E731
    fr = fractions[(fractions["position"] == rule["position"]) & (fractions["target"] == rule["target"])
                   & (fractions["rank"] == rule["rank"])]
    ang = angles[(angles["position"] == rule["position"]) & (angles["target"] == rule["target"])]
    shuffled = summary[summary["aligner"] == "shuffled"]["auc"]
    matches = {h: first_k(summary, rule, h, -rule["margin"]) for h in holdouts}
    beats = {h: first_k(summary, rule, h, 0.0) for h in holdouts}
    crit = lambda h: ", ".join(f"{CRITERIA[name]} {'yes' if ok else 'no'}" for name, ok in v["per_holdout"][h].items())  # noqa: E731
    lines = [
        "# emobasis — summary of this study",
        "",
        f"**Verdict: {v['verdict']}.** " + "; ".join(f"{h}: {crit(h)}" for h in holdouts) + ".",
        "",
        "## The rule (from the config, fixed before the results were read)",
        "",
        describe_rule(rule),
        "",
        "```yaml",
        "verdict:",
        *[f"  {key}: {val}" for key, val in rule.items()],
        "```",
        "",
        "## Headline",
        "",
        f"AUROC on each holdout model's test prompts (prompt-disjoint), {rule['target']} at {rule['position']}, "
        f"{rule['aligner']} rank {rule['rank']}; 95% CIs from {int(summary['n_boot'].max())} bootstrap resamples "
        "of prompts; differences are paired on the same resamples.",
        "",
        headline_markdown(cl, rule),
        "",
        "## In plain words",
        "",
        f"- **Zero-shot transfer vs chance (0.5)**: a head trained on the other models' shared coordinates "
        f"scores the held-out model at {each('zero-shot')}. Shuffled-label heads stay at "
        f"{shuffled.min():.3f}-{shuffled.max():.3f} over every cell of the grid.",
        f"- **Labels needed to match the model's own probe** (first k whose paired-difference CI lower bound is "
        f"above -{rule['margin']}): " + "; ".join(f"{h} k={matches[h]}" for h in holdouts)
        + ". First k where shared is significantly better (CI above 0): "
        + "; ".join(f"{h} {beats[h]}" for h in holdouts) + ".",
        f"- **Cost at full data** (k = all, shared - specific): {each('shared - specific at k=all')}.",
        "- **Does the inside signal add anything beyond the words?** Residualized on a sentence embedding of "
        f"the response: {each('residualized zero-shot')}. TF-IDF on the response text alone: "
        f"{each('surface zero-shot')}.",
    ]
    if len(fr):
        lines.append(f"- **How much is shared**: at rank {rule['rank']}, the fraction of each model's own "
                     f"{rule['target']} predictor's variance inside the shared subspace is "
                     + "; ".join(f"{r['model']} {r['fraction']:.2f} (random {r['rank']}-dim subspace: "
                                 f"{r['random_fraction']:.2f})" for _, r in fr.iterrows()) + ".")
    if len(ang):
        lines.append(f"- **Do the models' predictors point the same way in the shared coordinates** (rank "
                     f"{int(ang['rank'].max())}, angle between predictors, 90 = unrelated): "
                     + "; ".join(f"{r['model_a']} vs {r['model_b']} {r['degrees']:.0f} deg"
                                 for _, r in ang.iterrows()) + ".")
    lines += [
        "",
        "## Limits of this run",
        "",
        *[f"- {item}" for item in context.get("limits", [])],
        "",
        "## Every number above",
        "",
        "Each row is one cell of `results/tables/transfer_summary.csv` (aligner, rank, holdout, target, position, k).",
        "",
        claims_markdown(cl),
        "",
        "## Provenance",
        "",
        *[f"- {key}: {val}" for key, val in context.get("provenance", {}).items()],
        "",
    ]
    return "\n".join(lines), cl, v


CLAIM_ROW = re.compile(r"^\| (?P<holdout>[^|]+) \| (?P<claim>[^|]+) \| (?P<aligner>[^|]+) \| (?P<rank>\d+) \| "
                       r"(?P<k>[^|]+) \| (?P<value>[-+0-9.]+) \[(?P<low>[-+0-9.]+), (?P<high>[-+0-9.]+)\] \|$")


def parse_claims(markdown: str) -> pd.DataFrame:
    """The claims table of a summary.md, back as numbers (for checking it against the tables)."""
    rows = [m.groupdict() for m in map(CLAIM_ROW.match, markdown.splitlines()) if m]
    return pd.DataFrame(rows)


# --- README block ---------------------------------------------------------------------------------------

README_START, README_END = "<!-- summary:start -->", "<!-- summary:end -->"


def readme_block(summary_md: str, figure: str) -> str:
    """The README's generated block: verdict line, headline table and figure, from results/summary.md."""
    verdict = next(line for line in summary_md.splitlines() if line.startswith("**Verdict:"))
    table = summary_md.split("## Headline\n\n", 1)[1].split("\n## ", 1)[0].strip()
    return "\n".join([README_START, "<!-- generated by `make readme` from results/summary.md; do not edit -->", "",
                      verdict, "", table, "", f"![headline figure]({figure})", "", README_END])


def update_readme(readme: str, block: str) -> str:
    if README_START not in readme or README_END not in readme:
        raise ReportError(f"README has no {README_START} ... {README_END} block to update.")
    head, rest = readme.split(README_START, 1)
    return head + block + rest.split(README_END, 1)[1]


# --- figures --------------------------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def plot_data_efficiency(summary: pd.DataFrame, target: str, position: str, rank: int, holdouts: list[str],
                         title: str | None = None):
    """AUC against k (doubling steps: a log scale), one panel per holdout, CI bands."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(holdouts), figsize=(4.2 * len(holdouts), 3.9), sharey=True, squeeze=False)
    x = {k: i for i, k in enumerate(KS)}
    for ax, h in zip(axes[0], holdouts):
        sub = summary[(summary["holdout"] == h) & (summary["target"] == target) & (summary["position"] == position)]
        for method, (colour, ls, label) in STYLE.items():
            m = sub[(sub["aligner"] == method) & (sub["rank"] == (0 if method == "surface" else rank))]
            m = m.assign(x=m["k"].map(x)).sort_values("x")
            if not len(m):
                continue
            ax.plot(m["x"], m["auc"], ls, color=colour, marker="o", ms=3, lw=1.6, label=label)
            ax.fill_between(m["x"], m["auc_ci_low"], m["auc_ci_high"], color=colour, alpha=0.12, lw=0)
        n_train = sub["n_test"].max()
        ax.axhline(0.5, color="black", lw=0.6)
        ax.set_xticks(range(len(KS)), ["0\n(zero-shot)", *KS[1:-1], "all"])
        ax.set_title(f"holdout: {h}\n(test rows {n_train}, positives {sub['n_test_pos'].max()})", fontsize=9)
        ax.set_xlabel("k labelled holdout rows (log scale)")
        ax.set_ylim(min(0.3, np.floor(sub["auc_ci_low"].min() * 10) / 10), 1.0)
    axes[0][0].set_ylabel(f"AUROC ({target})")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.suptitle(title or f"Data efficiency at {position}, rank {rank}: shared bases vs the holdout's own probe",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def plot_rank_sweep(summary: pd.DataFrame, target: str, positions: list[str], ranks: list[int], match_k: int = 32):
    """AUC against rank per aligner, zero-shot (solid) and at k = match_k (dashed), mean over holdouts with
    the mean CI as a band."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(positions), figsize=(4.2 * len(positions), 3.8), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], positions):
        sub = summary[(summary["target"] == target) & (summary["position"] == p) & summary["rank"].isin(ranks)]
        for method in ("gcca", "procrustes", "lowrank", "random", "specific"):
            colour = STYLE[method][0]
            for k, ls in (("0", "-"), (str(match_k), "--")):
                m = sub[(sub["aligner"] == method) & (sub["k"] == k)]
                if not len(m):
                    continue
                g = m.groupby("rank")[["auc", "auc_ci_low", "auc_ci_high"]].mean()
                ax.plot(g.index, g["auc"], ls, color=colour, lw=1.5, label=f"{method}, k={k}")
                ax.fill_between(g.index, g["auc_ci_low"], g["auc_ci_high"], color=colour, alpha=0.08, lw=0)
        ax.axhline(0.5, color="black", lw=0.6)
        ax.set_title(p)
        ax.set_xlabel("rank r")
        ax.set_xticks(ranks[::3] if len(ranks) > 8 else ranks)
    axes[0][0].set_ylabel(f"AUROC ({target}), mean over holdouts")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, frameon=False, fontsize=8)
    fig.suptitle("Rank sweep: zero-shot (solid) and k = %d (dashed)" % match_k, fontsize=10)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def plot_loadings(loadings: pd.DataFrame, concepts: list[str]):
    """Heatmap of each shared direction's mean loading (correlation) on the named concepts, per position."""
    plt = _plt()
    mean = loadings[loadings["model"] == "mean"]
    positions = list(dict.fromkeys(mean["position"]))
    r = int(mean["direction"].max())
    fig, axes = plt.subplots(1, len(positions), figsize=(0.42 * r * len(positions) + 2.5, 0.24 * len(concepts) + 1.6),
                             squeeze=False)
    for i, (ax, p) in enumerate(zip(axes[0], positions)):
        M = mean[mean["position"] == p].pivot(index="concept", columns="direction", values="loading").loc[concepts]
        im = ax.imshow(M.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        for (a, b), val in np.ndenumerate(M.to_numpy()):
            if abs(val) >= 0.3:
                ax.text(b, a, f"{val:.1f}", ha="center", va="center", fontsize=5.5,
                        color="white" if abs(val) > 0.6 else "black")
        ax.set_xticks(range(r), [str(j) for j in M.columns])
        ax.set_yticks(range(len(concepts)), concepts if i == 0 else [""] * len(concepts), fontsize=7)
        ax.set_xlabel("shared direction")
        ax.set_title(p)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.6, label="correlation with concept score (mean over models)")
    fig.suptitle("What the shared basis is made of", fontsize=10)
    return fig


def plot_subspace(fractions: pd.DataFrame, angles: pd.DataFrame, target: str):
    """Left panels: fraction of each model's own predictor inside the first r shared directions, with a
    random-subspace reference. Right: angles between models' predictors in the shared coordinates."""
    plt = _plt()
    positions = list(dict.fromkeys(fractions["position"]))
    fig, axes = plt.subplots(1, len(positions) + 1, figsize=(3.6 * (len(positions) + 1), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, p in zip(axes[0], positions):
        sub = fractions[(fractions["position"] == p) & (fractions["target"] == target)]
        for i, (m, g) in enumerate(sub.groupby("model", sort=False)):
            ax.plot(g["rank"], g["fraction"], "-o", ms=2.5, color=colours[i % 10], label=m)
            ax.plot(g["rank"], g["random_fraction"], ":", color=colours[i % 10], lw=1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("rank r")
        ax.set_title(p)
    axes[0][0].set_ylabel(f"fraction of own {target} predictor\ninside the shared subspace")
    axes[0][0].legend(fontsize=7, title="dotted: random subspace", title_fontsize=7)
    ax = axes[0][-1]
    sub = angles[(angles["target"] == target)]
    pairs = list(dict.fromkeys(zip(sub["model_a"], sub["model_b"])))
    A = np.full((len(positions), len(pairs)), np.nan)
    for i, p in enumerate(positions):
        for j, pair in enumerate(pairs):
            v = sub[(sub["position"] == p) & (sub["model_a"] == pair[0]) & (sub["model_b"] == pair[1])]["degrees"]
            A[i, j] = v.iloc[0] if len(v) else np.nan
    im = ax.imshow(A, cmap="viridis_r", vmin=0, vmax=90, aspect="auto")
    for (a, b), val in np.ndenumerate(A):
        ax.text(b, a, f"{val:.0f}", ha="center", va="center", color="white", fontsize=8)
    ax.set_yticks(range(len(positions)), positions, fontsize=7)
    ax.set_xticks(range(len(pairs)), [f"{a} vs\n{b}" for a, b in pairs], fontsize=6, rotation=30, ha="right")
    ax.set_title(f"angle between predictors (deg)\nrank {int(sub['rank'].max()) if len(sub) else '?'}", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.suptitle("How much of each model's own predictor lies in the shared subspace", fontsize=10)
    fig.tight_layout()
    return fig


def plot_concepts(diagnostics: pd.DataFrame, model: str):
    """Held-out AUC per concept and layer (heatmap) and the mean per kind plus valence r against depth."""
    plt = _plt()
    d = diagnostics[diagnostics["model"] == model]
    auc = d[d["metric"] == "heldout_auc"]
    M = auc.pivot_table(index="concept", columns="relative_depth", values="value")
    order = list(dict.fromkeys(auc.sort_values(["kind", "concept"], ascending=[False, True])["concept"]))
    M = M.loc[order]
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 0.2 * len(M) + 1.8), gridspec_kw={"width_ratios": [1.2, 1]})
    im = a0.imshow(M.to_numpy(), cmap="magma", vmin=0.4, vmax=1.0, aspect="auto")
    a0.set_yticks(range(len(M)), M.index, fontsize=6.5)
    a0.set_xticks(range(M.shape[1]), [f"{c:.2f}" for c in M.columns])
    a0.set_xlabel("relative depth")
    fig.colorbar(im, ax=a0, shrink=0.6, label="held-out AUC (one vs rest)")
    for kind, ls in (("emotions", "-o"), ("controls", "-s")):
        g = auc[auc["kind"] == kind].groupby("relative_depth")["value"].mean()
        a1.plot(g.index, g.values, ls, label=f"{kind}: mean held-out AUC")
    val = d[d["metric"] == "valence_r"].sort_values("relative_depth")
    a1.plot(val["relative_depth"], val["value"], "-^", label="PC1 vs NRC-VAD valence r")
    chosen = d[d["chosen"].astype(bool)]["relative_depth"]
    if len(chosen):
        a1.axvline(chosen.iloc[0], color="grey", ls="--", lw=1, label="chosen layer")
    a1.set_ylim(0, 1)
    a1.set_xlabel("relative depth")
    a1.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Concept diagnostics: {model}", fontsize=10)
    fig.tight_layout()
    return fig


def top_alarms(rows: pd.DataFrame, scores: pd.Series, holdout: str, target: str, n: int = 10,
               width: int = 160) -> pd.DataFrame:
    """The holdout's test rows the zero-shot monitor scores highest, with their labels and texts."""
    sub = rows.iloc[scores.index].assign(score=scores.to_numpy())
    sub = sub.sort_values("score", ascending=False, kind="mergesort").head(n)
    short = lambda s: textwrap.shorten(str(s), width=width, placeholder=" ...")  # noqa: E731
    out = pd.DataFrame({"holdout": holdout, "rank": np.arange(1, len(sub) + 1), "score": sub["score"].round(3).to_numpy()})
    for col in dict.fromkeys([target, "unsafe", "calm"]):
        out[col] = sub[col].astype(bool).to_numpy()
    for col in ("suite", "responder", "prompt", "response"):  # whichever the suite tables carry
        if col in sub:
            out[col] = sub[col].map(short).to_numpy() if col in ("prompt", "response") else sub[col].to_numpy()
    return out


def study_context(config: dict, models: list[dict], sources: dict, suites: dict, summary: pd.DataFrame) -> dict:
    """Provenance (models, data, config hash) and the limits of the run, from the study's own files."""
    import hashlib
    import json

    prov = {}
    for m in models:
        if m.get("source") == "hub":
            where = f"{m['repo']}@{m['revision']}"
        elif m.get("source") == "local":
            where = str(m.get("path"))
        else:
            where = ", ".join(f"{p['package']}:{p['path']}" for p in m.get("parts") or [])
        prov[f"model {m['id']}"] = (f"{m.get('source')} {m.get('format')} ({where}); sha256 {m.get('sha256')}; "
                                    f"{m.get('num_hidden_layers')} layers, hidden {m.get('hidden_size')}")
    for name, man in sources.items():
        digest = hashlib.sha256("".join(sorted(f["sha256"] for f in man["files"].values())).encode()).hexdigest()
        prov[f"data {name}"] = f"{config['sources'][name]['url']} ({len(man['files'])} files, sha256 of hashes {digest[:16]})"
    prov["config sha256"] = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    prov["seed"] = config["seed"]
    ex, st = config["extraction"], config["study"]
    formats = sorted({m.get("format") for m in models})
    labels = {s: v["labels"]["all"] for s, v in suites.items()}
    t = config["verdict"]["target"]
    limits = [
        f"{len(models)} reader models ({', '.join(m['id'] for m in models)}), "
        + ("GGUF-quantized weights dequantized to float32" if "gguf" in formats else "full-precision weights")
        + ": small models, far from the responders that wrote the suites.",
        "Reader mode: the models read responses written by other models (the suites' responders), not their "
        "own generations; an own-response study needs the GPU config.",
        f"Suites {', '.join(st['suites'])}: " + "; ".join(
            f"{s} {v['rows']} rows, {v[t]} {t}" for s, v in labels.items())
        + (f"; each model read at most {st['max_rows_per_suite']} rows per suite" if st.get("max_rows_per_suite")
           else "") + f" ({int(summary['n_test'].max())} test rows, {int(summary['n_test_pos'].max())} positive "
        "per holdout at most): wide CIs.",
        f"Truncation: prompts keep their last {ex['max_prompt_tokens']} tokens, responses their first "
        f"{ex['max_response_tokens']}.",
        "tone_masked is defined from the response text (unsafe and calm by a transparent tone scorer), so a "
        "text-only baseline can reach it by construction; the residualized and surface rows say how much the "
        "hidden states add.",
    ]
    return {"provenance": prov, "limits": limits}


def summary_html(markdown: str, title: str = "emobasis summary") -> str:
    """A self-contained HTML page of summary.md (for the Snakemake report, which shows HTML, not markdown)."""
    from markdown_it import MarkdownIt

    return html_page(MarkdownIt("commonmark").enable("table").render(markdown), title)


def table_html(table: pd.DataFrame, title: str, intro: str = "") -> str:
    """A self-contained HTML page showing a table (the Snakemake report cannot display CSV inline)."""
    from html import escape

    return html_page(f"<h1>{escape(title)}</h1>\n<p>{escape(intro)}</p>\n" + table.to_html(index=False, escape=True),
                     title)


def html_page(body: str, title: str) -> str:
    css = ("body{font-family:system-ui,sans-serif;max-width:68em;margin:1.5em auto;padding:0 1em;line-height:1.45;"
           "color:#222}table{border-collapse:collapse;font-size:.9em;margin:.6em 0}td,th{border:1px solid #ccc;"
           "padding:.25em .55em;text-align:left}th{background:#f3f3f3}code,pre{background:#f6f6f6}"
           "pre{padding:.6em;overflow-x:auto}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.4em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title><style>{css}</style></head>"
            f"<body>\n{body}</body></html>\n")


def regenerate_readme(results: str, readme: str, figure: str, config: str = "config/config.yaml") -> None:
    """Copy the headline figure (data efficiency at the verdict's target and position) next to the README and
    rewrite the README's summary block from results/summary.md."""
    import os
    import shutil
    from pathlib import Path

    from emobasis.config import load_config

    rule = load_config(config)["verdict"]
    src = Path(results) / "figures" / "data_efficiency" / f"{rule['target']}.{rule['position']}.png"
    md = Path(results) / "summary.md"
    for path in (src, md):
        if not path.exists():
            raise ReportError(f"{path} does not exist. Fix: run `make study` first.")
    Path(figure).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, figure)
    rel = os.path.relpath(figure, Path(readme).parent)
    text = Path(readme).read_text()
    Path(readme).write_text(update_readme(text, readme_block(md.read_text(), rel)))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="emobasis report helpers")
    parser.add_argument("command", choices=["readme"])
    parser.add_argument("--results", default="results")
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--figure", default="docs/headline.png")
    parser.add_argument("--config", default="config/config.yaml")
    args = parser.parse_args()
    regenerate_readme(args.results, args.readme, args.figure, args.config)
    print(f"updated {args.readme} and {args.figure} from {args.results}/")
