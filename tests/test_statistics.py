"""The verdict's statistics: per-head permutation p-values against single shuffled-label heads, Holm's
correction, and the null's calibration over many simulated studies without any signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.metrics import auc, auc_rows, holm, permutation_p
from emobasis.transfer.protocol import Protocol
from emobasis.transfer.simulate import simulate
from scipy.stats import binomtest


def test_permutation_p_counts_ties_and_is_never_zero():
    null = np.array([0.4, 0.5, 0.6, 0.7])
    assert permutation_p(0.9, null) == pytest.approx(1 / 5)  # beats every null head: the smallest p, not 0
    assert permutation_p(0.6, null) == pytest.approx(3 / 5)  # a tie counts against the head
    assert permutation_p(0.1, null) == pytest.approx(1.0)
    assert np.isnan(permutation_p(0.9, np.array([np.nan]))) and np.isnan(permutation_p(np.nan, null))


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, np.nan, 0.5]
    adjusted = holm(p)
    # sorted 0.01, 0.03, 0.04, 0.5 with m = 4: 0.04, max(0.04, 0.09), max(0.09, 0.08), max(0.09, 0.5)
    np.testing.assert_allclose(adjusted[[0, 2, 1, 4]], [0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[3])
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]  # capped at 1


CFG = {"ks": [0], "seeds": 1, "null_seeds": 99, "l2_grid": [0.1, 1.0, 10.0], "prior_l2": 1.0, "specific_l2": 1.0}


def null_study(seed: int, n: int = 160, p: int = 6) -> float:
    """One small study with no signal anywhere (three models' features and the labels are independent
    noise): the permutation p-value of the zero-shot head, as the verdict computes it."""
    rng = np.random.default_rng(seed)
    split = np.array(["train"] * 80 + ["val"] * 30 + ["test"] * (n - 110))
    rows = pd.DataFrame({"split": split, "y": rng.random(n) < 0.4, "benign": rng.random(n) < 0.5})
    F = {m: rng.standard_normal((n, p)) for m in ("a", "b", "c")}
    proto = Protocol(rows, "a", ["a", "b", "c"], "y", CFG, seed)
    yte = proto.y[proto.te]
    head = proto.run(F)[0]
    null = proto.run_shuffled(F)[0]
    return permutation_p(auc(head.scores[0], yte), auc_rows(null.scores, yte))


def test_without_signal_the_permutation_test_rejects_at_the_nominal_rate():
    """200 simulated studies with no signal: the share with p <= 0.05 is within a binomial test of 5%
    (two-sided, at the 1% level), and the p-values spread over (0, 1] instead of piling up near 0."""
    p = np.array([null_study(s) for s in range(200)])
    rejections = int((p <= 0.05).sum())
    assert binomtest(rejections, len(p), 0.05).pvalue > 0.01, rejections
    assert 0.35 < np.median(p) < 0.65 and p.min() >= 1 / 100, (np.median(p), p.min())


def test_a_planted_shared_signal_gets_small_p_values_and_the_null_keeps_its_spread():
    data, _ = simulate("shared", n_rows=1200, n_shared=300, d=24, seed=2)
    cfg = {
        "targets": ["tone_masked"],
        "positions": ["prompt_last"],
        "ranks": [4],
        "aligners": ["gcca"],
        "ks": [0, 16],
        "seeds": 5,
        "null_seeds": 49,
        "l2_grid": [1.0],
        "prior_l2": 1.0,
        "specific_l2": 1.0,
        "pca_dims": 16,
        "n_boot": 50,
    }
    _, summary, _ = evaluate_holdout(data, "sim0", cfg, seed=0)
    s = summary.set_index(["aligner", "rank", "k"])
    assert s.loc[("gcca", 4, 0), "perm_p"] == pytest.approx(1 / 50) and s.loc[("gcca", 4, 0), "n_perm"] == 49
    null = s.loc[("shuffled", 4, 0)]
    assert null["auc"] < null["auc_null_q975"] < s.loc[("gcca", 4, 0), "auc"]  # mean < 97.5th pct < the head
    assert pd.isna(s.loc[("specific", 4, 16), "perm_p"])  # only the heads the null was fit for get a p-value


def calibration_study(seed: int, n_val: int, n_test: int = 600) -> tuple[dict, int]:
    """A study whose benign rows are exchangeable between validation and test: the zero-shot head's alarm
    columns, as the summary computes them."""
    from emobasis.transfer.metrics import alarm_columns, group_bootstrap

    rng = np.random.default_rng(seed)
    n = 200 + n_val + n_test
    split = np.array(["train"] * 200 + ["val"] * n_val + ["test"] * n_test)
    y = rng.random(n) < 0.3
    rows = pd.DataFrame({"split": split, "y": y, "benign": ~y})
    F = {m: rng.standard_normal((n, 4)) + 0.8 * y[:, None] for m in ("a", "b", "c")}
    proto = Protocol(rows, "a", ["a", "b", "c"], "y", {**CFG, "l2_grid": [1.0]}, seed)
    head = proto.run(F)[0]
    groups = np.arange(proto.te.sum()) // 2  # two rows per prompt, as several answers to one prompt
    W = group_bootstrap(groups, 200, seed)
    n_cal = 2 * int(proto.cal.sum())  # the two training models' benign validation rows
    return alarm_columns(head, proto.y[proto.te], proto.benign[proto.te], groups, W), n_cal


def test_thresholds_from_benign_validation_rows_give_about_their_fpr_on_test_rows():
    """The threshold is set on benign validation rows only; on exchangeable benign test rows the realized
    false-positive rate is about the target (1%): its CI covers the target in most studies and its mean over
    studies is near it. With fewer than 100 calibration rows the target becomes 1/n, and the column says so."""
    runs = [calibration_study(s, n_val=600)[0] for s in range(30)]
    assert all(r["fpr_target"] == 0.01 for r in runs)
    realized = np.array([r["realized_fpr"] for r in runs])
    covered = np.mean([r["realized_fpr_ci_low"] <= 0.01 <= r["realized_fpr_ci_high"] for r in runs])
    assert 0.005 < realized.mean() < 0.02 and covered >= 0.7, (realized.mean(), covered)
    assert all(0 < r["recall_at_fpr"] < 1 and r["recall_ci_low"] <= r["recall_at_fpr"] for r in runs)
    few, n_cal = calibration_study(0, n_val=40)
    assert n_cal < 100 and few["fpr_target"] == pytest.approx(1 / n_cal)
