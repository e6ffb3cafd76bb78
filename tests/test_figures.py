"""The headline figures: at most five lines per panel, a legend clear of the axes, the harmful-only chart's data."""

from __future__ import annotations

import runpy
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import REPO
from emobasis.errors import ReportError
from emobasis.report.plots import (
    CHANCE_GID,
    best_shared,
    harmful_only_data,
    headline_data,
    plot_harmful_only,
    plot_headline,
)
from emobasis.report.verdict import read_summary
from emobasis.transfer.methods import METHODS, REGISTRY

KS = ["0", "8", "16", "32", "all"]
HOLDOUTS = ["model_a", "model_b"]
TARGET, POSITION, RANK = "tone_masked_harmful", "prompt_last", 8
REAL = REPO / "results" / "tables" / "transfer_summary.csv"

#: zero-shot AUC per holdout of the shared candidates (procrustes has the best mean, 0.7)
ZERO_SHOT = {"gcca": (0.60, 0.60), "procrustes": (0.90, 0.50), "named": (0.65, 0.70), "lowrank": (0.50, 0.50)}


def summary_frame(methods=None, target=TARGET, position=POSITION) -> pd.DataFrame:
    """A small transfer_summary: every registry method (or ``methods``) for two holdouts, ranked ones at
    rank 5 and 8, rank-free ones at 0; ``specific`` without k = 0, the zero-shot-only scores at k = 0 only."""
    rows = []
    for m in REGISTRY:
        if methods is not None and m.name not in methods:
            continue
        ranks = [5, RANK] if m.ranked else [0]
        ks = KS[1:] if m.head == "own" else (["0"] if m.head == "scores" and m.name != "surface_prompt" else KS)
        for rank in ranks:
            for i, h in enumerate(HOLDOUTS):
                for j, k in enumerate(ks):
                    auc = ZERO_SHOT.get(m.name, (0.55, 0.55))[i] if k == "0" else 0.55 + 0.02 * j
                    if rank == 5 and m.name == "lowrank" and k == "0":
                        auc = 0.99  # the wrong rank: must not win
                    rows.append(
                        {
                            "aligner": m.name,
                            "space": "concepts",
                            "rank": rank,
                            "holdout": h,
                            "target": target,
                            "position": position,
                            "k": k,
                            "auc": auc,
                            "auc_ci_low": auc - 0.1,
                            "auc_ci_high": min(auc + 0.1, 1.0),
                            "n_test": 60,
                            "n_test_pos": 20,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def method_lines(ax) -> list:
    """The data lines of an axes: every Line2D but the chance reference."""
    return [line for line in ax.get_lines() if line.get_gid() != CHANCE_GID]


def assert_legend_clear(fig):
    """Rendered: each legend's box overlaps no axes' tight box (tick labels, axis labels, titles) and lies
    inside the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends, "the figure has no legend"
    figbox = fig.bbox
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            tight = ax.get_tightbbox(renderer)
            assert not box.overlaps(tight), f"legend {box} overlaps axes {ax.get_title()!r} {tight}"
        assert figbox.x0 - 1 <= box.x0 and box.x1 <= figbox.x1 + 1, f"legend {box} leaves the figure {figbox}"
        assert figbox.y0 - 1 <= box.y0 and box.y1 <= figbox.y1 + 1, f"legend {box} leaves the figure {figbox}"


# --- best shared -------------------------------------------------------------------------------------------


def test_best_shared_is_the_highest_mean_zero_shot_auc_at_the_rank():
    summary = summary_frame()
    # procrustes 0.70 > named 0.675 > gcca 0.60 > lowrank 0.50 (lowrank's 0.99 at rank 5 is another rank)
    assert best_shared(summary, TARGET, POSITION, RANK, HOLDOUTS) == "procrustes"
    assert best_shared(summary, TARGET, POSITION, 5, HOLDOUTS) == "lowrank"
    assert best_shared(summary, TARGET, POSITION, RANK, ["model_b"]) == "named"  # 0.70 on model_b alone


def test_best_shared_breaks_ties_in_registry_order_and_skips_absent_candidates():
    summary = summary_frame()
    gcca = (summary["aligner"] == "gcca") & (summary["k"] == "0")
    summary.loc[gcca, "auc"] = summary.loc[gcca, "holdout"].map({"model_a": 0.9, "model_b": 0.5})  # = procrustes
    assert best_shared(summary, TARGET, POSITION, RANK, HOLDOUTS) == "gcca"
    no_procrustes = summary_frame([m.name for m in REGISTRY if m.name != "procrustes"])
    assert best_shared(no_procrustes, TARGET, POSITION, RANK, HOLDOUTS) == "named"


def test_shared_overrides_the_choice():
    data = headline_data(summary_frame(), TARGET, POSITION, RANK, HOLDOUTS, KS, shared="gcca")
    shared = data[data["role"] == "shared"]
    assert set(shared["aligner"]) == {"gcca"} and set(shared["rank"]) == {RANK}
    assert set(shared["label"]) == {f"shared: gcca (rank {RANK})"}
    auto = headline_data(summary_frame(), TARGET, POSITION, RANK, HOLDOUTS, KS)
    assert set(auto.loc[auto["role"] == "shared", "label"]) == {f"best shared: procrustes (rank {RANK})"}
    with pytest.raises(ReportError, match="Fix: pass shared="):
        headline_data(summary_frame(["gcca", "specific"]), TARGET, POSITION, RANK, HOLDOUTS, KS, shared="anchors")


# --- the headline figure -----------------------------------------------------------------------------------


def test_headline_draws_at_most_five_lines_per_panel_and_a_legend_clear_of_the_axes():
    fig = plot_headline(summary_frame(), TARGET, POSITION, RANK, HOLDOUTS, KS)
    assert len(fig.axes) == len(HOLDOUTS)
    for ax in fig.axes:
        lines = method_lines(ax)
        assert 0 < len(lines) <= 5, [line.get_label() for line in lines]
        assert any(line.get_gid() == CHANCE_GID for line in ax.get_lines()), "no chance line at 0.5"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0].startswith("best shared: procrustes") and len(labels) == 5, labels
    assert "harmful prompts only" in fig._suptitle.get_text() and TARGET in fig._suptitle.get_text()
    assert_legend_clear(fig)


def test_headline_lines_start_where_the_method_has_rows():
    data = headline_data(summary_frame(), TARGET, POSITION, RANK, HOLDOUTS, KS)
    assert list(dict.fromkeys(data["role"])) == ["shared", "specific", "surface_prompt", "harm_intent", "shuffled"]
    assert data[data["role"] == "specific"]["x"].min() == 1  # no zero-shot row: from the first k
    assert set(data[data["role"] == "harm_intent"]["k"]) == {"0"}
    fig = plot_headline(summary_frame(), TARGET, POSITION, RANK, HOLDOUTS, KS)
    ax = fig.axes[0]
    (harm,) = [line for line in ax.get_lines() if line.get_label().startswith("harm_intent")]
    assert len(set(harm.get_ydata())) == 1, "harm_intent is a flat line across k"
    (specific,) = [line for line in ax.get_lines() if line.get_label().startswith("specific")]
    assert min(specific.get_xdata()) == 1


def test_a_missing_method_is_skipped():
    absent = {"surface_prompt", "harm_intent"}
    summary = summary_frame([m.name for m in REGISTRY if m.name not in absent])
    fig = plot_headline(summary, TARGET, POSITION, RANK, HOLDOUTS, KS)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == 3 and not any(label.split(":")[0] in absent for label in labels), labels
    for ax in fig.axes:
        assert len(method_lines(ax)) == 3
    data = harmful_only_data(summary, TARGET, POSITION, RANK, HOLDOUTS)
    assert not absent & set(data["method"])


def test_a_pooled_target_says_so_in_the_title():
    summary = summary_frame(target="tone_masked")
    fig = plot_headline(summary, "tone_masked", POSITION, RANK, HOLDOUTS, KS)
    assert "all prompts" in fig._suptitle.get_text() and "harmful prompts only" not in fig._suptitle.get_text()


def test_an_empty_table_raises_a_report_error_naming_the_fix():
    summary = summary_frame()
    for call in (
        lambda s: plot_headline(s, TARGET, POSITION, RANK, HOLDOUTS, KS),
        lambda s: best_shared(s, TARGET, POSITION, RANK, HOLDOUTS),
        lambda s: harmful_only_data(s, TARGET, POSITION, RANK, HOLDOUTS),
        lambda s: plot_harmful_only(s, TARGET, POSITION, RANK, HOLDOUTS),
    ):
        with pytest.raises(ReportError, match="Fix: list tone_masked_harmful in transfer.targets"):
            call(summary.iloc[:0])
        with pytest.raises(ReportError, match="Fix: list .* transfer.positions"):
            call(summary.assign(position="response_mean"))
    no_shared = summary_frame(["specific", "surface_prompt", "shuffled"])
    with pytest.raises(ReportError, match="no zero-shot rows of a shared method.*Fix:"):
        plot_headline(no_shared, TARGET, POSITION, RANK, HOLDOUTS, KS)
    mixed = pd.concat([summary, summary.assign(space="hidden")])
    with pytest.raises(ReportError, match="mixes feature spaces.*Fix: read it with read_summary"):
        plot_headline(mixed, TARGET, POSITION, RANK, HOLDOUTS, KS)


# --- harmful prompts only ----------------------------------------------------------------------------------


def test_harmful_only_data_has_one_row_per_method_and_holdout_with_its_ci():
    summary = summary_frame()
    data = harmful_only_data(summary, TARGET, POSITION, RANK, HOLDOUTS, own_k=32)
    for col in ("method", "label", "holdout", "rank", "k", "auc", "auc_ci_low", "auc_ci_high", "mean_auc"):
        assert col in data, col
    assert not data.duplicated(["method", "holdout"]).any()
    assert (data.groupby("method").size() == len(HOLDOUTS)).all()
    zero_shot = set(summary.loc[summary["k"] == "0", "aligner"])
    assert set(data["method"]) == zero_shot | {"specific"}  # every method with a zero-shot row, and specific
    assert (data["auc_ci_low"] <= data["auc"]).all() and (data["auc"] <= data["auc_ci_high"]).all()
    for name, rows in data.groupby("method"):
        assert set(rows["rank"]) == {RANK if METHODS[name].ranked else 0}, name
        assert set(rows["k"]) == ({"32"} if name == "specific" else {"0"}), name
    assert data.set_index(["method", "holdout"]).loc[("lowrank", "model_a"), "auc"] == 0.5  # not rank 5's 0.99
    assert set(data.loc[data["method"] == "specific", "label"]) == {"specific (own probe at k = 32: not zero-shot)"}
    means = data.drop_duplicates("method")["mean_auc"].tolist()
    assert means == sorted(means, reverse=True), "sorted by mean AUC, best first"
    assert "specific" not in set(harmful_only_data(summary, TARGET, POSITION, RANK, HOLDOUTS)["method"])


def test_harmful_only_chart_draws_every_method_per_holdout_with_chance_and_a_clear_legend():
    summary = summary_frame()
    fig = plot_harmful_only(summary, TARGET, POSITION, RANK, HOLDOUTS, own_k=32)
    (ax,) = fig.axes
    data = harmful_only_data(summary, TARGET, POSITION, RANK, HOLDOUTS, own_k=32)
    assert len(ax.get_yticks()) == data["method"].nunique()
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == data["label"].iloc[0]  # the best at the top
    assert any(line.get_gid() == CHANCE_GID and set(line.get_xdata()) == {0.5} for line in ax.get_lines())
    assert len(ax.containers) == len(HOLDOUTS)  # one errorbar series per holdout
    assert fig._suptitle.get_text() == (
        "Among harmful prompts only: will this model fail on this harmful request? (zero-shot)"
    )
    assert_legend_clear(fig)
    with pytest.raises(ReportError, match="Fix: pass tone_masked_harmful"):
        plot_harmful_only(summary_frame(target="tone_masked"), "tone_masked", POSITION, RANK, HOLDOUTS)


# --- the Snakemake script and the real table ---------------------------------------------------------------


def test_the_script_writes_both_figures(tmp_path):
    """A pooled target draws its headline and the harmful-only chart of its ``_harmful`` twin, in the space
    the params name."""
    path = tmp_path / "transfer_summary.csv"
    frames = [summary_frame(), summary_frame(target="tone_masked"), summary_frame().assign(space="hidden")]
    pd.concat(frames).to_csv(path, index=False)
    params = SimpleNamespace(
        space="concepts", target="tone_masked", position=POSITION, rank=RANK, holdouts=HOLDOUTS, ks=KS, match_k=32
    )
    output = SimpleNamespace(headline=str(tmp_path / "headline.png"), harmful_only=str(tmp_path / "harmful.png"))
    snakemake = SimpleNamespace(input=[str(path)], output=output, params=params, log=[str(tmp_path / "log")])
    stderr = sys.stderr
    try:  # the script sends stderr to its log
        runpy.run_path(str(REPO / "workflow" / "scripts" / "plot_headline.py"), init_globals={"snakemake": snakemake})
    finally:
        sys.stderr.close()
        sys.stderr = stderr
    assert (tmp_path / "headline.png").stat().st_size > 0 and (tmp_path / "harmful.png").stat().st_size > 0


@pytest.mark.skipif(not REAL.exists(), reason=f"{REAL} does not exist (no finished study run in this checkout)")
def test_both_figures_render_from_the_real_table(tmp_path):
    summary = read_summary(REAL, "concepts")
    holdouts = list(dict.fromkeys(summary["holdout"]))
    if not len(summary[(summary["target"] == TARGET) & (summary["position"] == POSITION)]):
        pytest.skip(f"{REAL} has no {TARGET} rows at {POSITION} in the concepts space")
    fig = plot_headline(summary, TARGET, POSITION, RANK, holdouts, KS)
    for ax in fig.axes:
        assert len(method_lines(ax)) <= 5
    assert_legend_clear(fig)
    fig.savefig(tmp_path / "headline.png", dpi=120)
    fig = plot_harmful_only(summary, TARGET, POSITION, RANK, holdouts, own_k=32)
    assert_legend_clear(fig)
    fig.savefig(tmp_path / "harmful_only.png", dpi=120)
