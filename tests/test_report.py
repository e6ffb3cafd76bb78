"""The report: verdict rule, summary numbers traced to the tables, basis anatomy, figures, README block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_value
from emobasis.report.plots import plot_data_efficiency, plot_loadings, plot_rank_sweep, plot_subspace
from emobasis.report.readme import (
    COST_END,
    COST_FULL_END,
    COST_FULL_START,
    COST_START,
    DEFAULT_END,
    DEFAULT_START,
    README_END,
    README_START,
    block_source,
    readme_block,
    stale_readme,
    update_readme,
)
from emobasis.report.summary import parse_claims, summary_html, top_alarms, write_summary
from emobasis.report.verdict import ReportError, claims, decide, read_summary
from emobasis.transfer.anatomy import basis_anatomy
from emobasis.transfer.grid import evaluate_holdout, tidy_k, zero_shot_scores
from emobasis.transfer.metrics import AUC_TOLERANCE, auc
from emobasis.transfer.protocol import ALL_K
from emobasis.transfer.simulate import simulate

CFG = {
    "targets": ["tone_masked"],
    "positions": ["prompt_last"],
    "ranks": [4, 6],
    "aligners": ["gcca", "procrustes", "lowrank"],
    "ks": [0, 8, 16, 32, 64, 128, ALL_K],
    "seeds": 10,
    "null_seeds": 50,
    "l2_grid": [0.1, 1.0, 10.0],
    "prior_l2": 1.0,
    "specific_l2": 1.0,
    "pca_dims": 24,
    "n_boot": 200,
}
RULE = {
    "aligner": "gcca",
    "rank": 4,
    "target": "tone_masked",
    "position": "prompt_last",
    "match_k": 32,
    "chance": 0.5,
    "margin": 0.05,
}
HOLDOUTS = ["sim0", "sim1"]
KS = ["0", "8", "16", "32", "64", "128", "all"]


@pytest.fixture(scope="module", params=["shared", "specific"])
def world(request, tmp_path_factory):
    data, _ = simulate(request.param, n_rows=1500, n_shared=400, d=32, seed=1)

    def compute():
        return pd.concat([evaluate_holdout(data, h, CFG, seed=3)[1] for h in HOLDOUTS], ignore_index=True)

    summary = shared_value(tmp_path_factory, f"world-report-{request.param}", compute)
    path = tmp_path_factory.mktemp("report") / "transfer_summary.csv"
    tidy_k(summary).to_csv(path, index=False)  # as gather_transfer writes it
    return request.param, data, read_summary(path)


def test_verdict_rule_gives_the_planted_answer_in_both_worlds(world):
    name, _, summary = world
    v = decide(summary, RULE, HOLDOUTS)
    if name == "shared":
        assert v["verdict"] == "transferable", v
    else:
        assert v["verdict"] == "model-specific", v
        assert not any(h["A_above_chance"] for h in v["per_holdout"].values())


def test_verdict_rule_thresholds_are_applied_as_written(world):
    name, _, summary = world
    # A: with 50 shuffled heads the smallest p is 1/51; Holm over 2 holdouts doubles it
    strict = {**RULE, "alpha": 0.02}  # A fails everywhere: model-specific only where the own probe is shown better
    assert decide(summary, strict, HOLDOUTS)["verdict"] == (
        "model-specific" if name == "specific" else "not decided at this sample size"
    )
    v = decide(summary, RULE, HOLDOUTS)
    for h, (p, adjusted) in v["perm"].items():
        assert p >= 1 / 51 and adjusted >= p
        assert v["per_holdout"][h]["A_above_chance"] == (adjusted <= 0.05)
    if name == "shared":  # C reads `chance`: a stricter chance level fails it, A does not move
        high = decide(summary, {**RULE, "chance": 0.99}, HOLDOUTS)
        assert high["verdict"] == "partially shared" and all(x["A_above_chance"] for x in high["per_holdout"].values())
    no_text = summary[summary["aligner"] != "residualized"]  # criterion C cannot be met without the baseline
    assert decide(no_text, RULE, HOLDOUTS)["verdict"] in ("partially shared", "model-specific")


def test_every_number_in_the_summary_is_the_table_cell_it_names(world):
    _, data, summary = world
    anatomy = basis_anatomy(data, "gcca", 4, [4, 6], ["tone_masked"], 24, seed=0)
    text, cl, verdict = write_summary(
        summary,
        anatomy["fractions"],
        anatomy["angles"],
        RULE,
        HOLDOUTS,
        {"limits": ["simulated"], "provenance": {"seed": 0}},
        KS,
    )
    assert f"**Verdict: {verdict['verdict']}.**" in text
    check_summary_against_table(text, summary)
    assert len(parse_claims(text)) == len(cl) == 13 * len(HOLDOUTS)  # 7 of the rule + 6 quoted baselines
    assert "<table>" in summary_html(text)


def check_summary_against_table(text: str, summary: pd.DataFrame) -> int:
    parsed = parse_claims(text)
    assert len(parsed), "no claims table in the summary"
    for _, row in parsed.iterrows():
        from emobasis.report.verdict import INCREMENT_CLAIM, QUANTITIES

        quantity = (
            "diff_vs_specific"
            if row["claim"].startswith("shared - specific")
            else "diff_vs_own_hidden"
            if row["claim"].startswith("shared - own probe")
            else "diff_incremental"
            if row["claim"] == INCREMENT_CLAIM
            else "auc"
        )
        sel = summary[
            (summary["aligner"] == row["aligner"])
            & ((summary["space"] if "space" in summary else "hidden") == row["space"])
            & (summary["rank"] == int(row["rank"]))
            & (summary["holdout"] == row["holdout"])
            & (summary["k"] == row["k"])
        ]
        cols = QUANTITIES[quantity]
        target_pos = sel[["target", "position"]].drop_duplicates()
        for _, tp in target_pos.iterrows():
            cell = sel[(sel["target"] == tp["target"]) & (sel["position"] == tp["position"])]
            if all(
                abs(float(row[c]) - cell[col].iloc[0]) <= 5e-4 + 1e-9 for c, col in zip(("value", "low", "high"), cols)
            ):
                break
        else:
            raise AssertionError(f"summary claim {dict(row)} matches no cell of transfer_summary.csv")
    return len(parsed)


def test_summary_refuses_a_missing_cell(world):
    _, _, summary = world
    with pytest.raises(ReportError, match="0 rows"):
        claims(summary[summary["k"] != "32"], RULE, HOLDOUTS)


def test_zero_shot_row_scores_reproduce_the_grid_auc(world):
    _, data, summary = world
    for h in HOLDOUTS:
        s = zero_shot_scores(data, h, "gcca", 4, "prompt_last", "tone_masked", CFG, seed=3)
        y = data.rows["tone_masked"].to_numpy()[s.index]
        grid = summary[
            (summary.aligner == "gcca") & (summary["rank"] == 4) & (summary.holdout == h) & (summary.k == "0")
        ]["auc"].item()
        assert auc(s.to_numpy(), y) == pytest.approx(grid, abs=1e-12)
        top = top_alarms(data.rows, s, h, "tone_masked", n=5)
        assert list(top["rank"]) == [1, 2, 3, 4, 5] and top["score"].is_monotonic_decreasing
        assert top["score"].iloc[0] == pytest.approx(s.max(), abs=1e-3)


def test_anatomy_finds_the_planted_subspace(world):
    name, data, _ = world
    a = basis_anatomy(data, "gcca", 4, [4, 6], ["tone_masked"], 24, seed=0)
    fr = a["fractions"][a["fractions"]["rank"] == 4]
    if name == "shared":  # the label lives in the shared latent: nearly all of each predictor is inside
        assert (fr["fraction"] > 0.8).all() and (fr["fraction"] > fr["random_fraction"] + 0.4).all(), fr
        ang = a["angles"][a["angles"]["target"] == "tone_masked"]
        assert (ang["degrees"] < 30).all(), ang
    else:  # the label lives in each model's private latent: the shared subspace holds little of it
        assert (fr["fraction"] < 0.3).all(), fr
    L = a["loadings"][a["loadings"]["model"] == "mean"]
    best = L.loc[L.groupby("direction")["loading"].apply(lambda s: s.abs().idxmax())]
    assert best["concept"].str.startswith("shared").all(), best  # shared directions read the shared concepts


def test_figures_have_a_panel_per_holdout_and_position(world):
    _, data, summary = world
    fig = plot_data_efficiency(summary, "tone_masked", "prompt_last", 4, HOLDOUTS, KS)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split("\n")[0] for ax in axes] == [f"holdout: {h}" for h in HOLDOUTS]
    labels = {line.get_label() for line in axes[0].get_lines()}
    assert {"gcca (shared)", "specific (holdout's own probe, full read)", "surface (TF-IDF on the response)"} <= labels
    x, y = axes[0].get_lines()[0].get_data()
    assert len(x) == len(KS)
    fig = plot_rank_sweep(summary, "tone_masked", ["prompt_last"], [4, 6])
    assert fig.axes[0].get_title() == "prompt_last"
    a = basis_anatomy(data, "gcca", 4, [4, 6], ["tone_masked"], 24, seed=0)
    assert plot_loadings(a["loadings"], data.concepts).axes[0].get_images()[0].get_array().shape == (
        len(data.concepts),
        4,
    )
    assert len(plot_subspace(a["fractions"], a["angles"], "tone_masked").axes) >= 2


def test_readme_block_is_replaced_between_markers():
    md = "# s\n\n**Verdict: partially shared.** x\n\n## Headline\n\nintro\n\n| a |\n|---|\n| 1 |\n\n## In plain words\n"
    block = readme_block(md, "docs/headline.png")
    readme = "top\n<!-- summary:start -->\nold\n<!-- summary:end -->\nbottom\n"
    out = update_readme(readme, block)
    assert out.startswith("top\n") and out.endswith("\nbottom\n") and "old" not in out
    assert "**Verdict: partially shared.**" in out and "| 1 |" in out and "![headline figure](docs/headline.png)" in out
    with pytest.raises(ReportError, match="block"):
        update_readme("no markers", block)


# --- the default study's own report (after `make study`) ------------------------------------------------


def _results():
    from conftest import REPO

    return REPO / "results"


def test_default_study_summary_numbers_equal_the_transfer_table():
    results = _results()
    if not (results / "summary.md").exists():
        pytest.skip("the default study has not been run here (make study writes results/summary.md)")
    text = (results / "summary.md").read_text()
    summary = read_summary(results / "tables" / "transfer_summary.csv")
    if (splits := results / "tables" / "transfer_splits.csv").exists():  # the verdict's cell, over split seeds
        from emobasis.transfer.splitseeds import overlay

        summary = overlay(summary, read_summary(splits))
    assert check_summary_against_table(text, summary) >= 11 * 3
    claims_csv = pd.read_csv(results / "tables" / "summary_claims.csv", dtype={"k": str})
    assert len(claims_csv) == len(parse_claims(text))


def test_readme_blocks_show_the_studies_whose_results_are_here():
    """Each generated block (the headline: the full study once it has run, else the default; the default study's
    own block) names the summary it was written from; each is checked against that summary when it exists here,
    so the tests pass after either study, in either order."""
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    checked = []
    for start, end, figure in (
        (README_START, README_END, "docs/headline.png"),
        (DEFAULT_START, DEFAULT_END, "docs/headline-default.png"),
    ):
        source = block_source(readme, start, end)
        assert source, f"README has no generated {start} block naming its summary. Fix: run `make readme`."
        if not (REPO / source).exists():
            continue
        problems = stale_readme(readme, (REPO / source).read_text(), figure, AUC_TOLERANCE, start, end)
        assert not problems, (
            f"README block {start} does not show {source} (beyond the cross-machine tolerance {AUC_TOLERANCE}):\n"
            + "\n".join(problems)
            + "\nFix: run `make readme` after `make study` or `make study-full`."
        )
        assert (REPO / figure).exists()
        checked.append(source)
    if not checked:
        pytest.skip("neither study has been run here (make study writes results/summary.md)")


def test_readme_has_each_generated_block_and_section_once():
    """A hand edit once pasted the full study's cost section twice (with the default's text inside it): every
    generated block's markers and every heading appear exactly once, in start-end order."""
    import re

    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    for start, end in (
        (README_START, README_END),
        (DEFAULT_START, DEFAULT_END),
        (COST_START, COST_END),
        (COST_FULL_START, COST_FULL_END),
    ):
        assert readme.count(start) == 1 and readme.count(end) == 1, f"README has {start} or {end} more than once"
        assert readme.index(start) < readme.index(end)
    headings = re.findall(r"^#+ .*$", readme, flags=re.M)
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, f"README repeats the headings {repeated}"


def test_readme_check_allows_the_tolerance_and_catches_a_stale_block():
    summary = "\n".join(
        [
            "# s",
            "",
            "**Verdict: partially shared.** a: (A) above chance yes",
            "",
            "## Headline",
            "",
            "| holdout | zero-shot gcca |",
            "|---|---|",
            "| a | 0.657 [0.560, 0.743] |",
            "",
            "## Next",
        ]
    )
    readme = update_readme(f"x\n{README_START}\n{README_END}\ny", readme_block(summary, "h.png"))
    assert stale_readme(readme, summary, "h.png", 0.02) == []
    moved = summary.replace("0.657 [0.560, 0.743]", "0.668 [0.551, 0.750]")  # another machine: within 0.02
    assert stale_readme(readme, moved, "h.png", 0.02) == []
    far = summary.replace("0.657", "0.701")
    assert "differs by 0.044" in stale_readme(readme, far, "h.png", 0.02)[0]
    other = summary.replace("partially shared", "transferable")
    assert "Verdict: transferable" in stale_readme(readme, other, "h.png", 0.02)[0]


def test_a_new_k_and_a_registered_baseline_reach_the_grid_the_figures_and_the_claims():
    """Adding a baseline is one registry entry plus its function; adding a k is one config value. Both must
    reach the LOMO table, the data behind the figures and the summary's claims with no other edit."""
    from emobasis.report.plots import data_efficiency_data
    from emobasis.transfer.baselines import FEATURES, features
    from emobasis.transfer.methods import Method, register, unregister
    from emobasis.transfer.protocol import standardize

    data, _ = simulate("shared", n_rows=900, n_shared=300, d=24, seed=5)

    register(
        Method(
            "profiles_all",
            "every model's own concept profiles",
            ranked=False,
            style=("#000000", ":"),
            claim="profiles zero-shot",
        )
    )

    @features("profiles_all")
    def profiles_all(ctx, rank):
        return {m: standardize(ctx.data.Z[m][ctx.position], ctx.ref) for m in ctx.data.models}

    try:
        cfg = {**CFG, "ranks": [4], "ks": [0, 4, 8, 32, ALL_K], "seeds": 4, "null_seeds": 10, "n_boot": 50}
        summary = tidy_k(pd.concat([evaluate_holdout(data, h, cfg, seed=1)[1] for h in HOLDOUTS]))
        ks = ["0", "4", "8", "32", "all"]
        mine = summary[summary["aligner"] == "profiles_all"]
        assert set(mine["k"]) == set(ks) and (mine["rank"] == 0).all()
        assert "4" in set(summary[summary["aligner"] == "gcca"]["k"])
        drawn = data_efficiency_data(summary, "tone_masked", "prompt_last", 4, HOLDOUTS, ks)
        assert {"profiles_all", "gcca", "surface"} <= set(drawn["aligner"])
        assert set(drawn[drawn["aligner"] == "profiles_all"]["x"]) == {0, 1, 2, 3, 4}
        cl = claims(summary, {**RULE, "match_k": 4}, HOLDOUTS)
        assert "profiles zero-shot" in set(cl["claim"]) and "shared at k=4" in set(cl["claim"])
        row = cl[(cl["claim"] == "profiles zero-shot") & (cl["holdout"] == "sim0")].iloc[0]
        cell = mine[(mine["holdout"] == "sim0") & (mine["k"] == "0")].iloc[0]
        assert row["value"] == cell["auc"] and row["ci_low"] == cell["auc_ci_low"]
        text = write_summary(
            summary,
            pd.DataFrame(columns=["position", "target", "rank"]),
            pd.DataFrame(columns=["position", "target"]),
            {**RULE, "match_k": 4},
            HOLDOUTS,
            {},
            ks,
        )[0]
        assert "| sim0 | profiles zero-shot |" in text and "| sim0 | shared at k=4 |" in text
    finally:
        unregister("profiles_all")
        FEATURES.pop("profiles_all", None)


def test_per_suite_rows_are_the_same_heads_scored_on_each_suites_test_rows(tmp_path):
    """by_suite: the pooled rows are unchanged; a suite's zero-shot AUC is the pooled heads' AUC on that suite's
    test rows; the summary judges the rule per suite and says where the pooled verdict holds."""
    from emobasis.report.sections import per_suite_section
    from emobasis.transfer.grid import Context, method_features, run_heads
    from emobasis.transfer.protocol import study_protocol

    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=24, seed=5)
    data.rows["suite"] = np.where(np.arange(len(data.rows)) % 3 == 0, "small", "large")
    cfg = {**CFG, "ks": [0, 32, ALL_K], "aligners": ["gcca"], "ranks": [4]}
    pooled = evaluate_holdout(data, "sim0", cfg, seed=3)[1]
    both = evaluate_holdout(data, "sim0", cfg, seed=3, by_suite=True)[1]
    assert set(both["suite"]) == {"all", "small", "large"}
    key = ["aligner", "rank", "k", "target", "position"]
    np.testing.assert_array_equal(
        both[both["suite"] == "all"].drop(columns="suite")[[*key, "auc"]].to_numpy(), pooled[[*key, "auc"]].to_numpy()
    )
    proto = study_protocol(data, "sim0", "tone_masked", cfg, 3)
    store = run_heads(
        Context(data, "sim0", "prompt_last", cfg, 3),
        method_features(Context(data, "sim0", "prompt_last", cfg, 3), cfg),
        proto,
        cfg,
    )
    small = (data.rows["suite"] == "small").to_numpy()[proto.te]
    scores = store[("gcca", 4)][0].scores[0]
    direct = auc(scores[small], proto.y[proto.te][small])
    row = both[(both["suite"] == "small") & (both["aligner"] == "gcca") & (both["k"] == 0)]
    assert abs(row["auc"].iloc[0] - direct) < 1e-12
    assert row["n_test"].iloc[0] == small.sum() and row["perm_p"].notna().all()
    # the workflow computes them for the verdict's cell only (rank 4 here, and the rank-free methods): the same rows
    cell = {"target": "tone_masked", "position": "prompt_last", "rank": 4}
    cfg2 = {**cfg, "ranks": [3, 4]}
    only = evaluate_holdout(data, "sim0", cfg2, seed=3, by_suite=cell)[1]
    full = evaluate_holdout(data, "sim0", cfg2, seed=3, by_suite=True)[1]
    per = only[only["suite"] != "all"]
    assert set(per["rank"]) == {0, 4} and len(per) < len(full[full["suite"] != "all"])
    np.testing.assert_array_equal(only[only["suite"] == "all"]["auc"], full[full["suite"] == "all"]["auc"])
    merged = per.merge(full, on=[*key, "suite", "space", "holdout"], suffixes=("", "_full"), validate="one_to_one")
    assert len(merged) == len(per) and (merged["auc"] == merged["auc_full"]).all()
    assert (merged["diff_vs_specific"].fillna(9) == merged["diff_vs_specific_full"].fillna(9)).all()

    both = both[both["suite"] != "all"].copy()
    rule = {**RULE, "rank": 4}
    text = "\n".join(per_suite_section(tidy_k(both.assign(holdout="sim0")), rule, ["sim0"], "transferable"))
    assert "- **small** (test positives/negatives: sim0 " in text and "- **large**" in text
    assert "holds within every suite" in text or "not within" in text
    one_class = both.assign(n_test_pos=np.where(both["suite"] == "small", 0, both["n_test_pos"]))
    text = "\n".join(per_suite_section(tidy_k(one_class), rule, ["sim0"], "transferable"))
    assert "- **small** (test positives/negatives: sim0 0/" in text and "not judged, sim0 has one class" in text
    assert "not within small" in text


def test_first_k_is_holm_corrected_across_the_scanned_ks():
    """A k whose 95% CI lower bound only just clears the bound counts alone, not among four scanned k; a clear
    one counts either way."""
    from emobasis.report.verdict import first_k

    def table(diffs):
        rows = [
            {
                **{c: RULE[c] for c in ("aligner", "rank", "target", "position")},
                "holdout": "h",
                "k": k,
                "diff_vs_specific": d,
                "diff_ci_low": d - 0.0392,
                "diff_ci_high": d + 0.0392,
            }
            for k, d in diffs.items()
        ]
        return pd.DataFrame(rows)

    just = 0.041  # lower bound 0.0018 > 0: one-sided p about 0.018 alone, about 0.07 after Holm over 4
    assert first_k(table({"8": just}), RULE, "h", 0.0, ["0", "8"]) == "8"
    assert first_k(table({"8": just, "16": -0.1, "32": -0.1, "64": -0.1}), RULE, "h", 0.0, KS[:5]) == "never"
    assert first_k(table({"8": -0.1, "16": 0.2, "32": 0.3, "64": 0.3}), RULE, "h", 0.0, KS[:5]) == "16"


def test_models_below_the_label_gate_take_no_part_in_the_verdict(world, monkeypatch):
    from emobasis.report import verdict as V

    _, _, summary = world
    valid = pd.DataFrame({"model": HOLDOUTS, "valid": [True, True], "reason": ["kappa 0.80 >= 0.6"] * 2})
    monkeypatch.setattr(V, "MIN_VALID_MODELS", 2)
    assert V.gated_decide(summary, RULE, HOLDOUTS, valid)["verdict"] == decide(summary, RULE, HOLDOUTS)["verdict"]
    one = valid.assign(valid=[True, False], reason=["kappa 0.80 >= 0.6", "kappa 0.31 below 0.6"])
    v = V.gated_decide(summary, RULE, HOLDOUTS, one)
    assert list(v["per_holdout"]) == ["sim0"] and v["invalid"] == {"sim1": "kappa 0.31 below 0.6"}
    assert v["verdict"] == "not decided (labels not valid)"
    assert "not valid (results/tables/label_gate.csv) for sim1." in v["gate_line"]
    assert "has 1, so it is not decided" in v["gate_line"]
    none = V.gated_decide(summary, RULE, HOLDOUTS, one.assign(valid=False))
    assert none["per_holdout"] == {} and none["verdict"] == "not decided (labels not valid)"
    assert V.gated_decide(summary, RULE, HOLDOUTS, None)["verdict"] == decide(summary, RULE, HOLDOUTS)["verdict"]


def test_default_study_audit_matches_the_current_answers():
    from conftest import REPO

    gate_csv = _results() / "tables" / "label_gate.csv"
    if not gate_csv.exists() or not (REPO / "config" / "audit" / "labels.csv").exists():
        pytest.skip("the default study or its audit labels are not here (make study writes label_gate.csv)")
    gate = pd.read_csv(gate_csv)
    # every audited answer is matched by its sha256: none is stale, and each model keeps its 160
    assert (gate["stale"] == 0).all(), gate
    assert (gate["audited"] >= 150).all(), gate
    text = (_results() / "summary.md").read_text()
    assert "## Are the labels valid on these answers?" in text
    for _, g in gate.iterrows():
        assert f"| {g['model']} | {int(g['audited'])} (0) |" in text
