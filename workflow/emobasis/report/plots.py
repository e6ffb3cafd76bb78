"""The report's figures: plain functions from tables to matplotlib figures (the rules save them).

Which methods are drawn, and how, comes from the registry (:mod:`emobasis.transfer.methods`); the k axis from the
study's ``transfer.ks``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
