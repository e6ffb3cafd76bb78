"""Across tasks (leave-one-suite-out) on the planted simulator: the table's rows, test suites never fit, the
stability claim's CI logic, cells that cannot be evaluated, and the workflow's cross_suite jobs."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, job_counts
from emobasis.config import ConfigError, validate_config
from emobasis.report.sections import stability_summary
from emobasis.transfer.crosssuite import (
    EXTRA_COLUMNS,
    decide_stability,
    evaluate_cross_suite,
    stability_rows,
    tidy_table,
)
from emobasis.transfer.grid import SUMMARY_COLUMNS, evaluate_holdout
from emobasis.transfer.protocol import ALL_K
from emobasis.transfer.simulate import simulate

CFG = {
    "targets": ["tone_masked"],
    "positions": ["prompt_last"],
    "ranks": [4],
    "aligners": ["gcca", "procrustes", "lowrank"],
    "space": "concepts",  # the verdict's feature space, as in the default study (lowrank runs in concept spaces)
    "ks": [0, 8, ALL_K],
    "seeds": 4,
    "null_seeds": 10,
    "l2_grid": [0.1, 1.0, 10.0],
    "prior_l2": 1.0,
    "specific_l2": 1.0,
    "pca_dims": 24,
    "n_boot": 200,
}
VERDICT = {"rank": 4, "target": "tone_masked", "position": "prompt_last"}
RULE = {**VERDICT, "stability": {"method": "gcca", "baseline": "surface", "margin": 0.05}}
ROLES = {"a": "fit", "b": "fit", "c": "test"}
METHODS = {"gcca", "procrustes", "lowrank", "random", "residualized", "shuffled", "specific", "surface"}


def three_suites(seed: int = 1):
    """Shared-world simulator split by prompt into fit suites a, b and test suite c. A word ("alarmword") marks
    the positives in a and the negatives in b, and is noise in c: a word-level head fit on one suite breaks
    on another, while the planted shared latent carries the label in every suite."""
    data, _ = simulate("shared", n_rows=1500, n_shared=400, d=32, seed=seed)
    rng = np.random.default_rng(seed)
    rows = data.rows
    rows["suite"] = rng.choice(["a", "b", "c"], size=len(rows), p=[0.4, 0.35, 0.25])
    y = rows["tone_masked"].to_numpy()
    marked = np.where(rows["suite"] == "a", y, np.where(rows["suite"] == "b", ~y, rng.random(len(rows)) < 0.5))
    marked &= rng.random(len(rows)) < 0.9
    rows["response"] = [r + " alarmword" * int(m) for r, m in zip(rows["response"], marked)]
    return data


@pytest.fixture(scope="module")
def cross():
    data = three_suites()
    summary, kernels = evaluate_cross_suite(data, "sim0", CFG, ROLES, seed=3)
    return data, summary, stability_rows(kernels, "sim0", "surface", ["a", "b", "c"], ROLES), kernels


def test_the_table_has_every_expected_row(cross):
    _, summary, _, _ = cross
    assert list(summary.columns) == [*SUMMARY_COLUMNS, *EXTRA_COLUMNS]
    assert (summary["note"] == "").all() and summary["auc"].between(0, 1).all()
    zero = summary[summary["k"] == 0]
    for suite, train in (("a", "b"), ("b", "a"), ("c", "a+b")):
        cross_rows = zero[(zero["suite"] == suite) & (zero["condition"] == "cross-suite")]
        assert set(cross_rows["aligner"]) == METHODS and set(cross_rows["train_suites"]) == {train}
    in_suite = zero[zero["condition"] == "in-suite"]
    assert set(in_suite["suite"]) == {"a", "b"} and set(in_suite["train_suites"]) == {"a+b"}  # c never fits
    shared_k = summary[(summary["condition"] == "cross-suite") & (summary["aligner"] == "gcca")]
    assert sorted(shared_k.groupby("suite")["k"].apply(set).iloc[0]) == [ALL_K, 0, 8]
    # the scored rows are the suite's test rows, the bootstrap runs over its prompts
    data = cross[0]
    for suite in "abc":
        te = (data.rows["suite"] == suite) & (data.rows["split"] == "test")
        assert (summary.loc[summary["suite"] == suite, "n_test"] == te.sum()).all()
    # the word trap: the shared basis transfers across suites, the surface head breaks
    at = lambda s, m: zero[(zero.suite == s) & (zero.aligner == m) & (zero.condition == "cross-suite")]["auc"].item()  # noqa: E731
    assert at("a", "gcca") > 0.8 and at("a", "surface") < 0.4
    assert tidy_table(summary)["k"].isin(["0", "8", "all"]).all()


def test_figure_draws_in_suite_and_cross_suite_points(cross, tmp_path):
    from emobasis.report.plots import plot_cross_suite

    _, summary, _, _ = cross
    path = tmp_path / "csv"
    tidy_table(summary).to_csv(path, index=False)
    table = pd.read_csv(path, dtype={"k": str}, keep_default_na=False, na_values=[""])  # as the plot rule reads it
    fig = plot_cross_suite(table, "tone_masked", "prompt_last", 4, ["sim0"])
    ax = fig.axes[0]
    assert len(ax.lines) >= 2 * 8 * 2 + 8  # in-suite (a, b) and cross-suite (a, b, c) points, 8 methods each
    fig.savefig(os.environ.get("CROSS_SUITE_FIGURE", tmp_path / "cross_suite.png"))


def test_test_suites_never_enter_a_fit():
    """Changing a test suite's labels and reads changes no fit-suite number and no fitted array."""
    data, other = three_suites(), three_suites()
    c = (other.rows["suite"] == "c").to_numpy()
    for col in ("tone_masked", "unsafe"):
        other.rows.loc[c, col] = ~other.rows.loc[c, col].to_numpy()
    other.rows.loc[c, "benign"] = False
    for m in other.models:
        other.X[m]["prompt_last"][c] *= -3.0
    cfg = {**CFG, "test_suites": ["c"], "ranks": [4], "ks": [0, 8], "null_seeds": 5, "n_boot": 50}
    _, s1, b1 = evaluate_holdout(data, "sim1", cfg, keep_bases=True)
    _, s2, b2 = evaluate_holdout(other, "sim1", cfg, keep_bases=True)
    pd.testing.assert_frame_equal(s1, s2)
    for key in b1:
        for m in b1[key].maps_ if hasattr(b1[key], "maps_") else []:
            np.testing.assert_array_equal(b1[key].maps_[m], b2[key].maps_[m])
            np.testing.assert_array_equal(b1[key].whiteners_[m].components_, b2[key].whiteners_[m].components_)
    n_fit = int(((data.rows["suite"] != "c") & (data.rows["split"] == "test")).sum())
    assert (s1["n_test"] == n_fit).all()  # the in-suite grid scores fit suites only
    t1, _ = evaluate_cross_suite(data, "sim1", cfg, ROLES)
    t2, _ = evaluate_cross_suite(other, "sim1", cfg, ROLES)
    fit_rows = lambda t: t[t["suite"] != "c"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(fit_rows(t1), fit_rows(t2))
    assert not t1[t1["suite"] == "c"]["auc"].equals(t2[t2["suite"] == "c"]["auc"])  # c itself is scored


def test_stability_claim_on_the_word_trap(cross):
    _, _, stab, kernels = cross
    g = stab[(stab["aligner"] == "gcca") & (stab["suite"] != "c")]
    assert (g["drop_ci_low"] <= g["drop"]).all() and (g["drop"] <= g["drop_ci_high"]).all()
    assert (g["drop_diff_ci_high"] < 0).all(), g  # the surface head loses far more across suites
    assert decide_stability(stab, RULE)["outcome"] == "more stable"
    reverse = {**RULE, "stability": {"method": "surface", "baseline": "gcca", "margin": 0.05}}
    assert (
        decide_stability(stability_rows(kernels, "sim0", "gcca", list("abc"), ROLES), reverse)["outcome"] == "not shown"
    )
    assert stab[stab["suite"] == "c"]["note"].str.contains("test suite").all()
    head, section = stability_summary(stab, RULE)
    assert head == "**Stability across suites (gcca vs surface): more stable.**"
    assert sum(line.startswith("| sim0 |") for line in section) == 3  # a, b and the test suite c (n/a)


@pytest.mark.parametrize(
    "highs, outcome",
    [
        ([-0.1, -0.01], "more stable"),
        ([-0.1, 0.03], "no less stable"),
        ([-0.1, 0.06], "not shown"),
        ([], "not evaluable"),
    ],
)
def test_stability_rule_reads_the_ci_upper_bounds(highs, outcome):
    stab = pd.DataFrame(
        {
            "holdout": [f"m{i}" for i in range(len(highs))],
            "suite": "a",
            "target": "tone_masked",
            "position": "prompt_last",
            "aligner": "gcca",
            "rank": 4,
            "baseline": "surface",
            "drop_diff_ci_high": highs,
        }
    )
    assert decide_stability(stab, RULE)["outcome"] == outcome


def test_cells_that_cannot_be_evaluated_get_a_row_saying_why():
    data = three_suites(seed=2)
    rows = data.rows
    rng = np.random.default_rng(0)
    items = rows["item_id"].to_numpy()
    # d: one class; e: no benign rows; f: four prompts only
    pick = rng.random(len(rows))
    rows.loc[(rows["suite"] == "c") & (pick < 0.3), "suite"] = "d"
    rows.loc[(rows["suite"] == "c") & (pick > 0.7), "suite"] = "e"
    rows.loc[rows["suite"] == "d", ["tone_masked", "unsafe"]] = False
    rows.loc[rows["suite"] == "e", "benign"] = False
    few = np.isin(items, rows.loc[(rows["suite"] == "c") & (rows["split"] == "test"), "item_id"].to_numpy()[:4])
    rows.loc[rows["suite"] == "c", "suite"] = "unused"
    rows.loc[few, "suite"] = "f"
    rows.loc[rows["suite"] == "unused", "suite"] = "a"
    roles = {"a": "fit", "b": "fit", "d": "test", "e": "test", "f": "test"}
    cfg = {**CFG, "ks": [0, 8], "null_seeds": 5, "n_boot": 50}
    summary, kernels = evaluate_cross_suite(data, "sim0", cfg, roles)
    note = lambda s: set(summary[summary["suite"] == s]["note"])  # noqa: E731
    assert note("d") == {"tone_masked has a single class (False) in d's test rows"}
    assert summary[summary["suite"] == "d"]["auc"].isna().all()
    e = summary[summary["suite"] == "e"]
    # no benign test rows: the alarm (its level set on the training suites' benign validation rows) still has
    # a recall and its false alarms among the harmful prompts answered safely, no benign false-positive rate
    assert e["auc"].notna().all() and e["realized_fpr"].isna().all() and e["realized_fpr_safe"].notna().all()
    assert e["recall_at_fpr"].notna().all() and note("e") == {""}
    assert note("f") == {"f has 4 test prompts, fewer than the 10 the bootstrap needs"}
    # a study with one fit suite: scoring it across suites leaves nothing to train on
    solo, _ = evaluate_cross_suite(data, "sim0", cfg, {"a": "fit", "b": "test", "d": "test", "e": "test", "f": "test"})
    assert set(solo[(solo["suite"] == "a") & (solo["condition"] == "cross-suite")]["note"]) == {
        "no fit suite other than a to train on"
    }
    assert len(stability_rows(kernels, "sim0", "surface", list(roles), roles))


def test_write_summary_with_and_without_stability(cross, tmp_path):
    from emobasis.report.summary import write_summary
    from emobasis.report.verdict import read_summary
    from emobasis.transfer.grid import tidy_k

    data, _ = simulate("shared", n_rows=900, n_shared=300, d=24, seed=1)
    cfg = {**CFG, "ks": [0, 32, ALL_K], "seeds": 3, "null_seeds": 5, "n_boot": 50}
    summary = pd.concat([evaluate_holdout(data, h, cfg)[1] for h in ("sim0", "sim1")], ignore_index=True)
    tidy_k(summary).to_csv(tmp_path / "transfer_summary.csv", index=False)
    summary = read_summary(tmp_path / "transfer_summary.csv")
    main = {"aligner": "gcca", **VERDICT, "match_k": 32, "chance": 0.5, "margin": 0.05}
    fractions = pd.DataFrame(columns=["model", "fraction", "random_fraction", "rank", "position", "target"])
    angles = pd.DataFrame(columns=["model_a", "model_b", "degrees", "rank", "position", "target"])
    args = (summary, fractions, angles)
    rest = (["sim0", "sim1"], {"limits": [], "provenance": {}}, ["0", "32", "all"])
    plain, cl, _ = write_summary(*args, main, *rest)
    with_rule, cl2, _ = write_summary(*args, {**main, **RULE}, *rest)
    assert plain == with_rule and cl.equals(cl2)  # the rule's stability block alone changes nothing
    assert "Stability" not in plain
    _, _, stab, kernels = cross
    text, cl3, _ = write_summary(*args, {**main, **RULE}, *rest, stability=stab)
    assert cl3.equals(cl)  # the claims table is unchanged
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("**Verdict:"))
    assert lines[i + 1] == "**Stability across suites (gcca vs surface): more stable.**"
    section = "\n".join(stability_summary(stab, {**main, **RULE})[1])
    assert section in text
    assert text.replace(lines[i + 1] + "\n", "").replace("\n" + section + "\n", "") == plain


def test_config_roles_and_stability_rule(raw_config):
    cfg = validate_config(raw_config)
    assert cfg["verdict"]["stability"] == {"method": "gcca", "baseline": "surface", "margin": 0.05}
    raw_config["suites"]["xstest"]["role"] = "test"
    assert validate_config(raw_config)["suites"]["xstest"]["role"] == "test"
    raw_config["suites"]["jailbreakbench"]["role"] = "test"
    with pytest.raises(ConfigError, match="role: test.*Fix: give at least one suite role: fit"):
        validate_config(raw_config)
    raw_config["suites"]["jailbreakbench"]["role"] = "train"
    with pytest.raises(ConfigError, match="invalid value 'train' at 'suites.jailbreakbench.role'.*fit, test"):
        validate_config(raw_config)
    raw_config["suites"]["jailbreakbench"]["role"] = "fit"
    raw_config["verdict"]["stability"]["method"] = "surface"
    with pytest.raises(ConfigError, match="verdict.stability.method = 'surface' is not in transfer.aligners"):
        validate_config(raw_config)


#: a user's CSV suite added as role: test (only planned in these tests: its file is never read)
TEST_SUITE_OVERLAY = {
    "sources": {"mine": {"mirror_dir": "mine", "files": {"answers.csv": "0" * 64}}},
    "suites": {
        "mine": {
            "adapter": "table",
            "source": "mine",
            "file": "answers.csv",
            "columns": {"item_id": "qid", "prompt": "question", "response": "answer", "unsafe": "label"},
            "role": "test",
        }
    },
    "study": {"suites": ["jailbreakbench", "xstest", "mine"]},
}


def test_dry_run_schedules_cross_suite_jobs_with_a_test_suite(tmp_path):
    overlay = TEST_SUITE_OVERLAY
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--directory", str(tmp_path / "work")]
        + ["--configfile", str(REPO / "config/study-reader.yaml"), str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ},
    )
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    counts = job_counts(res.stdout)
    assert counts["cross_suite"] == 3 and counts["gather_cross_suite"] == 1 and counts["plot_cross_suite"] == 1
    assert counts["transfer"] == 3 and counts["build_suite"] == 3 and counts["extract"] == 3 * 5


@pytest.mark.long(1)
@pytest.mark.data
@pytest.mark.e2e
def test_adding_a_test_suite_to_a_finished_study_refits_nothing(tiny_clean_run, tmp_path):
    """Bring your own suite as ``role: test`` to a finished study: Snakemake schedules only that suite's
    data, extraction, profiles and embeddings, the cross-suite scoring and the report, never a fit."""
    from conftest import TINY_TARGETS, copy_run, smk

    work, config, _ = tiny_clean_run
    run = copy_run(work, tmp_path / "run")
    overlay = TEST_SUITE_OVERLAY
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    res = smk(run, [config, path], "-n", *TINY_TARGETS)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    counts = job_counts(res.stdout)
    counts.pop("total", None)
    allowed = {"fetch_source", "build_suite", "extract", "profiles", "embed_responses"}
    allowed |= {"cross_suite", "gather_cross_suite", "write_summary"}
    assert set(counts) <= allowed, counts
    assert counts["fetch_source"] == counts["build_suite"] == counts["embed_responses"] == 1
    assert counts["extract"] == counts["profiles"] == counts["cross_suite"] == 3  # one per model, new suite only
    for fit in ("transfer", "fit_concepts", "fit_monitor", "basis_anatomy", "gather_transfer"):
        assert fit not in counts
