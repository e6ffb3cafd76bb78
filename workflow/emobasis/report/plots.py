"""The report's figures: plain functions from tables to matplotlib figures (the rules save them).

Which methods are drawn, and how, comes from the registry (:mod:`emobasis.transfer.methods`); the k axis from the
study's ``transfer.ks``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.errors import ReportError
from emobasis.transfer.methods import METHODS, REGISTRY


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def data_efficiency_data(
    summary: pd.DataFrame, target: str, position: str, rank: int, holdouts: list[str], ks: list[str]
) -> pd.DataFrame:
    """The rows the data-efficiency figure draws: every method with a plot style (rank-free ones at rank 0),
    each k of the study at its x position."""
    x = {str(k): i for i, k in enumerate(ks)}
    styled = [m for m in REGISTRY if m.style]
    out = []
    for h in holdouts:
        sub = summary[(summary["holdout"] == h) & (summary["target"] == target) & (summary["position"] == position)]
        for m in styled:
            sel = sub[(sub["aligner"] == m.name) & (sub["rank"] == (rank if m.ranked else 0)) & sub["k"].isin(list(x))]
            if len(sel):  # a method this study does not compute (e.g. prompt-only ones in a reader study)
                out.append(sel.assign(x=sel["k"].map(x)).sort_values("x"))
    cols = ["holdout", "aligner", "rank", "k", "x", "auc", "auc_ci_low", "auc_ci_high", "n_test", "n_test_pos"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def plot_data_efficiency(
    summary: pd.DataFrame,
    target: str,
    position: str,
    rank: int,
    holdouts: list[str],
    ks: list[str],
    title: str | None = None,
):
    """AUC against k (doubling steps: a log scale), one panel per holdout, CI bands."""
    plt = _plt()
    ks = [str(k) for k in ks]
    data = data_efficiency_data(summary, target, position, rank, holdouts, ks)
    fig, axes = plt.subplots(1, len(holdouts), figsize=(4.2 * len(holdouts), 3.9), sharey=True, squeeze=False)
    for ax, h in zip(axes[0], holdouts):
        sub = data[data["holdout"] == h]
        for method in METHODS.values():
            m = sub[sub["aligner"] == method.name]
            if not method.style or not len(m):
                continue
            colour, ls = method.style
            ax.plot(m["x"], m["auc"], ls, color=colour, marker="o", ms=3, lw=1.6, label=method.description)
            ax.fill_between(m["x"], m["auc_ci_low"], m["auc_ci_high"], color=colour, alpha=0.12, lw=0)
        ax.axhline(0.5, color="black", lw=0.6)
        ax.set_xticks(range(len(ks)), [f"{k}\n(zero-shot)" if k == "0" else k for k in ks])
        counts = f"test rows {sub['n_test'].max()}, positives {sub['n_test_pos'].max()}"
        ax.set_title(f"holdout: {h}\n({counts if len(sub) else 'not scored: see transfer_skipped.csv'})", fontsize=9)
        ax.set_xlabel("k labelled holdout rows (log scale)")
        ax.set_ylim(min(0.3, np.floor(sub["auc_ci_low"].min() * 10) / 10), 1.0)
    axes[0][0].set_ylabel(f"AUROC ({target})")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.suptitle(
        title or f"Data efficiency at {position}, rank {rank}: shared bases vs the holdout's own probe", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def plot_rank_sweep(summary: pd.DataFrame, target: str, positions: list[str], ranks: list[int], match_k: int = 32):
    """AUC against rank per aligner, zero-shot (solid) and at k = match_k (dashed), mean over holdouts with
    the mean CI as a band."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(positions), figsize=(4.2 * len(positions), 3.8), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], positions):
        sub = summary[(summary["target"] == target) & (summary["position"] == p) & summary["rank"].isin(ranks)]
        for method in [m.name for m in REGISTRY if m.sweep]:
            colour = METHODS[method].style[0]
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
    fig.suptitle(f"Rank sweep: zero-shot (solid) and k = {match_k} (dashed)", fontsize=10)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def plot_loadings(loadings: pd.DataFrame, concepts: list[str]):
    """Heatmap of each shared direction's mean loading (correlation) on the named concepts, per position."""
    plt = _plt()
    mean = loadings[loadings["model"] == "mean"]
    positions = list(dict.fromkeys(mean["position"]))
    r = int(mean["direction"].max())
    fig, axes = plt.subplots(
        1, len(positions), figsize=(0.42 * r * len(positions) + 2.5, 0.24 * len(concepts) + 1.6), squeeze=False
    )
    for i, (ax, p) in enumerate(zip(axes[0], positions)):
        M = mean[mean["position"] == p].pivot(index="concept", columns="direction", values="loading").loc[concepts]
        im = ax.imshow(M.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        for (a, b), val in np.ndenumerate(M.to_numpy()):
            if abs(val) >= 0.3:
                ax.text(
                    b,
                    a,
                    f"{val:.1f}",
                    ha="center",
                    va="center",
                    fontsize=5.5,
                    color="white" if abs(val) > 0.6 else "black",
                )
        ax.set_xticks(range(r), [str(j) for j in M.columns])
        ax.set_yticks(range(len(concepts)), concepts if i == 0 else [""] * len(concepts), fontsize=7)
        ax.set_xlabel("shared direction")
        ax.set_title(p)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.6, label="correlation with concept score (mean over models)")
    space = loadings["space"].iloc[0] if "space" in loadings else "hidden"
    fig.suptitle(f"What the shared basis is made of (fit in the {space} space)", fontsize=10)
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


def plot_cross_suite(table: pd.DataFrame, target: str, position: str, rank: int, holdouts: list[str]):
    """Zero-shot AUC in-suite (heads fit on every fit suite) vs cross-suite (fit on the other fit suites) per
    method and scored suite, with 95% CIs; one panel per holdout (``results/tables/cross_suite.csv``)."""
    plt = _plt()
    t = table[(table["target"] == target) & (table["position"] == position) & (table["k"].astype(str) == "0")]
    t = t[t["auc"].notna() & ((t["rank"] == rank) | (t["rank"] == 0))]
    suites = list(dict.fromkeys(t["suite"]))
    methods = [m.name for m in REGISTRY if m.name in set(t["aligner"])]
    fig, axes = plt.subplots(1, len(holdouts), figsize=(max(6.0, 4.6 * len(holdouts)), 4.4), sharey=True, squeeze=False)
    for ax, h in zip(axes[0], holdouts):
        for j, s in enumerate(suites):
            for i, name in enumerate(methods):
                colour = (METHODS[name].style or ("#444444", "-"))[0]
                for cond, dx, marker in (("in-suite", -0.15, "o"), ("cross-suite", 0.15, "s")):
                    r = t[(t["holdout"] == h) & (t["suite"] == s) & (t["aligner"] == name) & (t["condition"] == cond)]
                    if not len(r):
                        continue
                    x, r = j * (len(methods) + 1) + i + dx, r.iloc[0]
                    err = [[r["auc"] - r["auc_ci_low"]], [r["auc_ci_high"] - r["auc"]]]
                    ax.errorbar(
                        x, r["auc"], yerr=err, fmt=marker, color=colour, ms=4, lw=1, mfc="white" if dx > 0 else colour
                    )
        ax.axhline(0.5, color="black", lw=0.6)
        ticks = [j * (len(methods) + 1) + i for j in range(len(suites)) for i in range(len(methods))]
        ax.set_xticks(ticks, [f"{s}: {m}" for s in suites for m in methods], fontsize=6)
        ax.tick_params(axis="x", rotation=60)
        ax.set_title(f"holdout: {h}", fontsize=9)
    axes[0][0].set_ylabel(f"zero-shot AUROC ({target})")
    fig.suptitle(
        f"Zero-shot AUC in-suite (filled circles) vs cross-suite (open squares)\nat {position}, rank {rank}, "
        "one group per scored suite",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_answer_rates(counts: pd.DataFrame, path) -> None:
    """Each model's own failure rates per suite: unsafe and tone_masked among harmful-prompt answers, and
    calm among all answers (the 2 x 2 of unsafe x calm is in results/tables/answers.csv)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = counts[counts["split"] == "all"]
    suites = list(dict.fromkeys(d["suite"]))
    fig, axes = plt.subplots(1, len(suites), figsize=(4.2 * len(suites), 3.6), sharey=True, squeeze=False)
    bars = (("unsafe", "harmful", "unsafe / harmful"), ("tone_masked", "harmful", "tone_masked / harmful"))
    for ax, suite in zip(axes[0], suites):
        ds = d[d["suite"] == suite].reset_index(drop=True)
        x = np.arange(len(ds))
        for j, (num, den, label) in enumerate((*bars, ("calm", "answers", "calm / answers"))):
            rate = ds[num] / ds[den].where(ds[den] > 0)
            ax.bar(x + (j - 1) * 0.27, rate, 0.27, label=label)
        ax.set_xticks(x, ds["model"], rotation=20, ha="right", fontsize=8)
        ax.set_title(suite)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("share of the model's own answers")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- the headline figures (at most five lines; harmful prompts only) -------------------------------------

#: methods the headline figure may pick its "best shared" line from (those the table has for the cell)
SHARED_CANDIDATES = ("gcca", "procrustes", "lowrank", "named", "anchors", "affine", "valence_arousal")
#: the headline's lines after the shared one: (method, role, legend label, colour, line style, marker)
HEADLINE_LINES = (
    ("specific", "specific", "specific: own probe (its labels)", "#d62728", "-", "s"),
    ("surface_prompt", "surface_prompt", "surface_prompt: prompt TF-IDF", "#e377c2", "--", "^"),
    ("harm_intent", "harm_intent", "harm_intent: harm recognition (zero-shot)", "#ff7f0e", ":", "D"),
    ("shuffled", "shuffled", "shuffled labels (null)", "#7f7f7f", "-.", "x"),
)
SHARED_STYLE = ("#1f77b4", "-", "o")
CHANCE_GID = "chance"
CELL_COLS = ["aligner", "rank", "holdout", "k", "auc", "auc_ci_low", "auc_ci_high", "n_test", "n_test_pos"]


def _space_note(summary: pd.DataFrame) -> str:
    return f", {summary['space'].iloc[0]} space" if "space" in summary and len(summary) else ""


def _legend_below(fig, handles, labels, **kw):
    """A legend under the panels (constrained layout makes room), in as many columns as fit the figure's width."""
    renderer = fig.canvas.get_renderer()
    for ncol in range(len(labels), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, fontsize=8, **kw)
        if ncol == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return legend
        legend.remove()


def is_harmful_only(target: str) -> bool:
    """A target scored among harmful prompts only (``tone_masked_harmful``)."""
    return target.endswith("_harmful")


def _cell_table(summary: pd.DataFrame, target: str, position: str, holdouts: list[str]) -> pd.DataFrame:
    """The rows of one target and position for the holdouts; one feature space only."""
    if "space" in summary and summary["space"].nunique() > 1:
        raise ReportError(
            f"the summary passed to the headline figures mixes feature spaces ({sorted(set(summary['space']))}). "
            "Fix: read it with read_summary(path, space) (the verdict's space)."
        )
    sub = summary[(summary["target"] == target) & (summary["position"] == position)]
    sub = sub[sub["holdout"].isin(holdouts) & sub["auc"].notna()].copy()
    sub["k"] = sub["k"].astype(str)
    if not len(sub):
        raise ReportError(
            f"transfer_summary.csv has no rows for target {target} at position {position} for holdouts "
            f"{', '.join(holdouts)}. Fix: list {target} in transfer.targets and {position} in transfer.positions "
            "(and the holdouts in models), then rerun gather_transfer."
        )
    return sub


def _method_rows(sub: pd.DataFrame, name: str, rank: int) -> pd.DataFrame:
    """One method's rows at its rank: ``rank`` when the registry says it is ranked, 0 when rank-free (a name
    the registry does not know: ``rank`` if the table has it there, else 0)."""
    rows = sub[sub["aligner"] == name]
    if name in METHODS:
        rows = rows[rows["rank"] == (rank if METHODS[name].ranked else 0)]
    else:
        rows = rows[rows["rank"] == (rank if (rows["rank"] == rank).any() else 0)]
    dup = rows.duplicated(["holdout", "k"])
    if dup.any():
        raise ReportError(
            f"transfer_summary.csv has more than one row for {name} rank {rank} at one holdout and k "
            "(several split seeds or spaces?). Fix: rerun gather_transfer, which writes one row per cell."
        )
    return rows


def _method_order(names) -> list[str]:
    """Registry order, then names the registry does not know, in the order given."""
    names = list(dict.fromkeys(names))
    return [m.name for m in REGISTRY if m.name in names] + [n for n in names if n not in METHODS]


def best_shared(summary: pd.DataFrame, target: str, position: str, rank: int, holdouts: list[str]) -> str:
    """The shared cross-model method with the highest zero-shot AUC averaged over the holdouts, among
    :data:`SHARED_CANDIDATES` that the table has for this target and position (ranked methods at ``rank``,
    rank-free ones at rank 0; a tie goes to the one first in the registry).

    The choice is made on the same test rows the figure then draws, so the winner's zero-shot AUC is
    optimistic (chosen as the best of several); the verdict reads its pre-registered aligner instead."""
    sub = _cell_table(summary, target, position, holdouts)
    best, best_auc = None, -np.inf
    for name in _method_order([c for c in SHARED_CANDIDATES if c in set(sub["aligner"])]):
        rows = _method_rows(sub, name, rank)
        zero = rows[rows["k"] == "0"]
        if len(zero) and (mean := float(zero["auc"].mean())) > best_auc:
            best, best_auc = name, mean
    if best is None:
        raise ReportError(
            f"transfer_summary.csv has no zero-shot rows of a shared method ({', '.join(SHARED_CANDIDATES)}) for "
            f"{target} at {position}, rank {rank}. Fix: list an aligner in transfer.aligners (e.g. gcca) and "
            "rerun the transfer jobs and gather_transfer."
        )
    return best


def headline_data(
    summary: pd.DataFrame,
    target: str,
    position: str,
    rank: int,
    holdouts: list[str],
    ks: list[str],
    shared: str | None = None,
) -> pd.DataFrame:
    """The rows the headline figure draws: the best shared method (or ``shared``), ``specific``,
    ``surface_prompt``, ``harm_intent`` and ``shuffled`` (any the table lacks is skipped), each k of the
    study at its x position (0, 1, ... as in :func:`plot_data_efficiency`). Columns: role (``shared`` or the
    method's name), label (its legend entry) and :data:`CELL_COLS` plus x."""
    sub = _cell_table(summary, target, position, holdouts)
    x = {str(k): i for i, k in enumerate(ks)}
    sub = sub[sub["k"].isin(list(x))]
    if shared is None:
        shared, how = best_shared(summary, target, position, rank, holdouts), "best shared"
    else:
        how = "shared"
        if not len(_method_rows(sub, shared, rank)):
            raise ReportError(
                f"transfer_summary.csv has no rows of {shared} for {target} at {position}, rank {rank}. Fix: pass "
                f"shared= one of the methods the table has ({', '.join(_method_order(set(sub['aligner'])))})."
            )
    ranked = METHODS[shared].ranked if shared in METHODS else True
    lines = [(shared, "shared", f"{how}: {shared} ({f'rank {rank}' if ranked else 'rank-free'})")]
    lines += [(name, role, label) for name, role, label, *_ in HEADLINE_LINES if name != shared]
    out = []
    for name, role, label in lines:
        rows = _method_rows(sub, name, rank)
        if len(rows):  # a method this study does not compute is left out
            out.append(rows.assign(role=role, label=label, x=rows["k"].map(x)))
    cols = ["role", "label", *CELL_COLS, "x"]
    return pd.concat(out, ignore_index=True)[cols]  # in line order, each method's rows in the table's order


def plot_headline(
    summary: pd.DataFrame,
    target: str,
    position: str,
    rank: int,
    holdouts: list[str],
    ks: list[str],
    shared: str | None = None,
):
    """The headline data-efficiency figure: AUC against k (the x axis of :func:`plot_data_efficiency`), one
    panel per holdout, at most five lines, each with its 95% CI band: the best shared cross-model method
    (:func:`best_shared`, or ``shared``), the holdout's own probe (``specific``, from the first k > 0: it has
    no zero-shot row), the prompt's words (``surface_prompt``), learned harm recognition (``harm_intent``)
    and the shuffled-label null. ``harm_intent`` is a zero-shot score that no k changes, so it is drawn as a
    horizontal dotted line across every k, with a diamond and its 95% CI as a whisker at k = 0, where it is
    measured (a flat band that wide would hide the other lines). The legend sits below the panels (constrained
    layout), clear of every axis."""
    plt = _plt()
    ks = [str(k) for k in ks]
    data = headline_data(summary, target, position, rank, holdouts, ks, shared)
    styles = {"shared": SHARED_STYLE, **{role: (c, ls, mk) for _, role, _, c, ls, mk in HEADLINE_LINES}}
    fig, axes = plt.subplots(
        1, len(holdouts), figsize=(3.9 * len(holdouts) + 0.6, 4.6), sharey=True, squeeze=False, layout="constrained"
    )
    last = len(ks) - 1
    for ax, h in zip(axes[0], holdouts):
        sub = data[data["holdout"] == h]
        for role in dict.fromkeys(data["role"]):  # line order (shared first) in every panel: one legend for all
            m = sub[sub["role"] == role].sort_values("x")
            if not len(m):
                continue
            colour, ls, marker = styles[role]
            label = m["label"].iloc[0]
            if role == "harm_intent":
                z = m[m["k"] == "0"].iloc[0] if (m["k"] == "0").any() else m.iloc[0]
                ax.plot(
                    [-0.1, last],
                    [z["auc"]] * 2,
                    ls,
                    color=colour,
                    lw=1.8,
                    marker=marker,
                    ms=4,
                    markevery=[0],
                    label=label,
                )  # a little left of k = 0, so that its whisker does not hide the shared method's first point
                ax.vlines(-0.1, z["auc_ci_low"], z["auc_ci_high"], color=colour, lw=1.4)  # its CI, where it is measured
                continue
            lw = 2.2 if role == "shared" else 1.6
            ax.plot(m["x"], m["auc"], ls, color=colour, marker=marker, ms=4, lw=lw, label=label)
            ax.fill_between(m["x"], m["auc_ci_low"], m["auc_ci_high"], color=colour, alpha=0.15, lw=0)
        ax.axhline(0.5, color="black", lw=0.6, label="_chance", gid=CHANCE_GID)
        ax.set_xticks(range(len(ks)), [f"{k}\n(zero-shot)" if k == "0" else k for k in ks])
        ax.set_xlim(-0.25, last + 0.25)
        counts = f"test rows {sub['n_test'].max()}, failures {sub['n_test_pos'].max()}"
        ax.set_title(f"holdout: {h}\n({counts if len(sub) else 'not scored: see transfer_skipped.csv'})", fontsize=9)
        ax.set_xlabel("k labelled holdout rows (log scale)")
        ax.grid(axis="y", color="#dddddd", lw=0.5)
    low = data["auc_ci_low"].min()
    axes[0][0].set_ylim(min(0.3, np.floor(low * 10) / 10) if np.isfinite(low) else 0.3, 1.0)
    axes[0][0].set_ylabel(f"AUROC ({target})")
    handles, labels = [], []
    for ax in axes[0]:  # every role once, even one a panel lacks
        for hd, lb in zip(*ax.get_legend_handles_labels()):
            if lb not in labels:
                handles.append(hd)
                labels.append(lb)
    _legend_below(fig, handles, labels)
    condition = "harmful prompts only" if is_harmful_only(target) else "all prompts (harmful and benign)"
    fig.suptitle(
        f"Will the model fail? {target} at {position}, {condition}\n"
        f"AUROC against k labelled holdout rows; rank {rank}{_space_note(summary)}; bands: 95% CIs",
        fontsize=10,
    )
    return fig


def harmful_only_data(
    summary: pd.DataFrame,
    target: str,
    position: str,
    rank: int,
    holdouts: list[str],
    own_k: int | str | None = None,
) -> pd.DataFrame:
    """Zero-shot AUC with its 95% CI, one row per (method, holdout): every method the table has a zero-shot
    row of for this target and position (ranked ones at ``rank``, rank-free ones at 0), plus ``specific``
    (which has no zero-shot row) at k = ``own_k`` when given (the study's ``verdict.match_k``), labelled so.
    Columns: method, label, holdout, rank, k, auc, auc_ci_low, auc_ci_high, n_test, n_test_pos, mean_auc
    (the method's mean over holdouts); sorted by mean_auc, highest first."""
    sub = _cell_table(summary, target, position, holdouts)
    out = []
    for name in _method_order(sub["aligner"]):
        rows = _method_rows(sub, name, rank)
        label = name
        if name == "specific":
            if own_k is None:
                continue
            rows, label = rows[rows["k"] == str(own_k)], f"specific (own probe at k = {own_k}: not zero-shot)"
        else:
            rows = rows[rows["k"] == "0"]
        if len(rows):
            out.append(rows.assign(method=name, label=label))
    if not out:
        raise ReportError(
            f"transfer_summary.csv has no zero-shot rows for {target} at {position} (rank {rank} or rank-free). "
            "Fix: rerun the transfer jobs and gather_transfer with this config."
        )
    data = pd.concat(out, ignore_index=True)
    data["mean_auc"] = data.groupby("method")["auc"].transform("mean")
    cols = ["method", "label", "holdout", "rank", "k", "auc", "auc_ci_low", "auc_ci_high", "n_test", "n_test_pos"]
    return data.sort_values(["mean_auc", "method"], ascending=[False, True], kind="stable")[[*cols, "mean_auc"]]


def plot_harmful_only(
    summary: pd.DataFrame,
    target: str,
    position: str,
    rank: int,
    holdouts: list[str],
    own_k: int | str | None = None,
):
    """Dot-and-whisker chart of :func:`harmful_only_data`: methods on the y axis (highest mean AUC at the
    top; the shared cross-model methods of :data:`SHARED_CANDIDATES` in bold), one colour and marker per
    holdout (small vertical offsets), 95% CIs as whiskers, chance at 0.5. ``target`` must be a harmful-only
    one (``..._harmful``): the title asks that question."""
    if not is_harmful_only(target):
        raise ReportError(
            f"plot_harmful_only draws a harmful-only target, got {target}. Fix: pass {target}_harmful and list it "
            "in transfer.targets."
        )
    plt = _plt()
    data = harmful_only_data(summary, target, position, rank, holdouts, own_k)
    methods = list(dict.fromkeys(data["method"]))[::-1]  # the best at the top
    y = {m: i for i, m in enumerate(methods)}
    fig, ax = plt.subplots(figsize=(8.4, 0.34 * len(methods) + 2.2), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "os^DvP*X"
    step = 0.6 / max(len(holdouts), 1)
    for j, h in enumerate(holdouts):
        d = data[data["holdout"] == h]
        if not len(d):
            continue
        pos = d["method"].map(y) + (j - (len(holdouts) - 1) / 2) * step
        err = [d["auc"] - d["auc_ci_low"], d["auc_ci_high"] - d["auc"]]
        label = f"{h}\n{d['n_test'].max()} test rows, {d['n_test_pos'].max()} failures"
        ax.errorbar(
            d["auc"],
            pos,
            xerr=err,
            fmt=markers[j % len(markers)],
            color=colours[j % 10],
            ms=4.5,
            lw=1,
            capsize=0,
            label=label,
        )
    ax.axvline(0.5, color="black", lw=0.8, ls="--", gid=CHANCE_GID)
    for i in range(len(methods) - 1):
        ax.axhline(i + 0.5, color="#eeeeee", lw=0.6)
    labels = dict(zip(data["method"], data["label"]))
    ax.set_yticks(range(len(methods)), [labels[m] for m in methods], fontsize=8)
    for tick, m in zip(ax.get_yticklabels(), methods):
        tick.set_fontweight("bold" if m in SHARED_CANDIDATES else "normal")
    ax.set_ylim(-0.6, len(methods) - 0.4)
    ax.set_xlim(min(0.0, data["auc_ci_low"].min() - 0.02), max(1.0, data["auc_ci_high"].max() + 0.02))
    ax.set_xlabel(
        f"AUROC with 95% CI\n{target} at {position}{_space_note(summary)}, ranked methods at rank {rank}\n"
        "bold: shared cross-model methods; left of the dashed line: worse than chance"
    )
    _legend_below(fig, *ax.get_legend_handles_labels(), title="holdout model", title_fontsize=8)
    fig.suptitle("Among harmful prompts only: will this model fail on this harmful request? (zero-shot)", fontsize=10)
    return fig
