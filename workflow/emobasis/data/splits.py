"""Prompt-disjoint, stratified, seeded train/val/test splits."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def stable_seed(seed: int, *names: str) -> int:
    """A seed that depends on ``seed`` and names, stable across Python processes (unlike hash())."""
    return (seed * 1_000_003 + zlib.crc32("/".join(names).encode())) % (2**32)


def prompt_disjoint_split(item_ids: pd.Series, strata: pd.Series, fractions: dict, seed: int) -> pd.Series:
    """Assign each row a split so that all rows sharing an ``item_id`` share a split.

    Items are stratified by ``strata`` (one value per item, e.g. "has any unsafe response") so that
    rare positives reach every split. Returns a Series of split names aligned with ``item_ids``.
    """
    items = pd.DataFrame({"item_id": item_ids.values, "stratum": strata.values})
    per_item = items.groupby("item_id", sort=True)["stratum"].max()
    rng = np.random.default_rng(seed)
    fr = np.array([fractions[s] for s in SPLITS], dtype=float)
    fr = fr / fr.sum()
    assign = {}
    for _, ids in per_item.groupby(per_item, sort=True):
        ids = ids.index.to_numpy()
        ids = ids[rng.permutation(len(ids))]
        bounds = np.round(np.cumsum(fr) * len(ids)).astype(int)
        start = 0
        for name, end in zip(SPLITS, bounds):
            for i in ids[start:end]:
                assign[i] = name
            start = end
    return pd.Series([assign[i] for i in item_ids.values], index=item_ids.index, name="split")


def train_side(rows: pd.DataFrame) -> np.ndarray:
    """Rows of the train and validation splits: the unlabelled rows that fix each model's feature scaling
    and the shared texts (test rows never enter a fit)."""
    return rows["split"].isin(["train", "val"]).to_numpy()
