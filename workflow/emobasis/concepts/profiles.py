"""Concept profiles: each row's score on every concept, the read minus the model's neutral centre projected on
each unit direction, at the model's chosen layer (suite rows per position, and the stimuli)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def concept_profiles(
    arrays: dict, row_index: np.ndarray, table: pd.DataFrame, fit: dict, layer: int, positions: list[str]
) -> pd.DataFrame:
    """Long table: one row per (suite row, position) with the row keys and one score column per concept."""
    keys = table.iloc[row_index][["row_id", "item_id", "split"]].reset_index(drop=True)
    frames = []
    for p in positions:
        X = arrays[f"{p}/layer{layer}"].astype(np.float32)
        S = (X - fit["neutral_mean"]) @ fit["directions"].T
        frames.append(
            pd.concat([keys.assign(position=p, layer=layer), pd.DataFrame(S, columns=fit["concepts"])], axis=1)
        )
    return pd.concat(frames, ignore_index=True)


def stimulus_profiles(shared: np.ndarray, fit: dict) -> np.ndarray:
    """The stimuli's concept profiles, computed as :func:`concept_profiles` computes the
    suite rows'."""
    return ((shared.astype(np.float32) - fit["neutral_mean"]) @ fit["directions"].T).astype(np.float32)
