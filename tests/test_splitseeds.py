"""Split seeds: re-drawn prompt-disjoint splits of the verdict's cell, combined with random-effects CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from emobasis.transfer.grid import evaluate_holdout
from emobasis.transfer.protocol import ALL_K
from emobasis.transfer.simulate import simulate
from emobasis.transfer.splitseeds import CELL, combine, evaluate_split_seeds, overlay, resplit

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
CFG = {
    "targets": ["tone_masked"],
    "positions": ["prompt_last"],
    "ranks": [4],
    "aligners": ["gcca"],
    "ks": [0, 16, ALL_K],
    "seeds": 5,
    "null_seeds": 30,
    "l2_grid": [0.1, 1.0, 10.0],
    "prior_l2": 1.0,
    "specific_l2": 1.0,
    "pca_dims": 16,
    "n_boot": 200,
}
CELL_CFG = {"rank": 4, "target": "tone_masked", "position": "prompt_last"}


def test_resplit_keeps_seed_0_and_redraws_whole_groups_per_suite():
    rows = pd.DataFrame(
        {
            "suite": np.repeat(["a", "b"], 200),
            "item_id": [f"i{i}" for i in range(400)],
            "group": [f"g{i // 2}" for i in range(400)],  # twins: two prompts per group
            "benign": np.tile([True, False], 200),
            "unsafe": False,
            "split": "train",
        }
    )
    np.testing.assert_array_equal(resplit(rows, FRACTIONS, 7, 0), rows["split"].to_numpy())
    one, two = resplit(rows, FRACTIONS, 7, 1), resplit(rows, FRACTIONS, 7, 2)
    assert (one != two).any() and set(one) == {"train", "val", "test"}
    assert pd.Series(one).groupby(rows["group"]).nunique().max() == 1  # a group never straddles two splits
    for suite in ("a", "b"):
        share = pd.Series(one[rows["suite"] == suite]).value_counts(normalize=True)
        assert abs(share["test"] - 0.2) < 0.03 and abs(share["train"] - 0.6) < 0.03
    np.testing.assert_array_equal(one, resplit(rows, FRACTIONS, 7, 1))  # seeded


def test_combine_averages_seeds_and_widens_the_ci_by_their_spread():
    base = {"aligner": "gcca", "space": "hidden", "rank": 4, "holdout": "h", "target": "t", "position": "p", "k": "0"}
    z = 3.919927969080108
    per = pd.DataFrame(
        [
            {**base, "split_seed": s, "auc": a, "auc_ci_low": a - 0.05 * z / 2, "auc_ci_high": a + 0.05 * z / 2}
            | {"fpr_target": 0.01, "n_test": 100, "n_test_pos": 40, "n_test_benign": 30, "n_boot": 200}
            for s, a in enumerate([0.70, 0.74, 0.78])
        ]
    )
    nulls = pd.DataFrame(
        [
            {**base, "aligner": "shuffled", "split_seed": s, "head": h, "auc": 0.5 + 0.01 * h}
            for s in range(3)
            for h in range(19)
        ]
    )
    out = combine(per, nulls).iloc[0]
    assert abs(out["auc"] - 0.74) < 1e-12
    half = 1.959963984540054 * np.sqrt(0.05**2 + np.var([0.70, 0.74, 0.78], ddof=1))
    assert abs(out["auc_ci_high"] - (0.74 + half)) < 1e-9 and abs(out["auc_ci_low"] - (0.74 - half)) < 1e-9
    assert out["auc_seed_min"] == 0.70 and out["auc_seed_max"] == 0.78 and out["n_split_seeds"] == 3
    # 0.74 is reached by the seed-averaged heads 0.74..0.68 (h >= 18 -> 0.68 < 0.74: none): p = 1/20
    assert abs(out["perm_p"] - 1 / 20) < 1e-12 and out["n_perm"] == 19


def test_split_seed_0_is_the_grid_and_the_overlay_replaces_only_the_verdict_cell():
    data, _ = simulate("shared", n_rows=900, n_shared=300, d=24, seed=6)
    per, nulls = evaluate_split_seeds(data, "sim0", CFG, CELL_CFG, FRACTIONS, 2, seed=3)
    grid = evaluate_holdout(data, "sim0", CFG, seed=3)[1]
    key = ["aligner", "rank", "k"]
    first = per[per["split_seed"] == 0].set_index(key)["auc"]
    np.testing.assert_allclose(first.loc[grid.set_index(key).index], grid.set_index(key)["auc"], atol=0)
    second = per[per["split_seed"] == 1].set_index(key)["auc"]
    assert (second != first.loc[second.index]).any()  # another split, other numbers
    combined = combine(per, nulls)
    g = combined[(combined["aligner"] == "gcca") & (combined["k"] == 0)].iloc[0]
    assert g["n_split_seeds"] == 2 and g["perm_p"] <= 1 / 31 + 1e-12 and g["auc_ci_low"] > 0.7
    wide = pd.concat([grid.assign(rank=grid["rank"]), grid.assign(rank=8)], ignore_index=True)
    merged = overlay(wide, combined)
    assert len(merged) == len(wide)
    at = merged[(merged["rank"] == 4) & (merged["aligner"] == "gcca") & (merged["k"] == 0)]
    assert len(at) == 1 and at["n_split_seeds"].iloc[0] == 2
    assert merged[merged["rank"] == 8]["n_split_seeds"].isna().all()
    assert set(CELL) <= set(combined.columns)
