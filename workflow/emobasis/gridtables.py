"""The LOMO grid's files: the tidy table's check, the basis files' plain arrays, the k column as text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.protocol import ALL_K, parse_ks
from emobasis.study import TransferError
from emobasis.tone import is_echo

#: the subset of test rows without echoes (own answers): the verdict's cell summarized on it, a sensitivity check
NO_ECHOES = "no echoes"


def basis_arrays(basis, rank: int, position: str) -> dict[str, np.ndarray]:
    """Plain arrays (no pickled objects) describing a fitted basis at one rank and position (the caller
    prefixes the keys with the space)."""
    if isinstance(basis, np.ndarray):  # lowrank: [K_space, rank] combinations of the space's concepts
        return {f"{position}/concept_loadings": basis[:, :rank]}
    out = {}
    for m, w in basis.whiteners_.items():
        out[f"{position}/{m}/mean"] = w.mean_
        out[f"{position}/{m}/components"] = w.components_
        out[f"{position}/{m}/scale"] = w.scale_
        out[f"{position}/{m}/map"] = basis.maps_[m][:, :rank]
    if hasattr(basis, "canonical_correlations_"):
        out[f"{position}/canonical_correlations"] = basis.canonical_correlations_[:rank]
    return out


def check_transfer_table(
    table: pd.DataFrame, cfg: dict, holdouts: list[str], skipped: pd.DataFrame | None = None
) -> None:
    """Every space x aligner x rank x holdout x target x position x k is present unless ``skipped`` (the
    grid's recorded skips: holdout, space, aligner ("*": the whole space), rank, target) says why not, and every AUC
    lies in [0, 1].

    ``table`` is the tidy per-seed table (k as in the files: ALL_K for "all"). Raises TransferError."""
    ks = parse_ks(cfg["ks"])
    want = pd.MultiIndex.from_product(
        [cfg.get("spaces", ["hidden"]), cfg["aligners"], cfg["ranks"], holdouts, cfg["targets"], cfg["positions"], ks],
        names=["space", "aligner", "rank", "holdout", "target", "position", "k"],
    )
    if skipped is not None and len(skipped):
        cells = want.to_frame(index=False)
        keys = ["holdout", "space", "aligner", "rank"]
        whole = skipped[skipped["aligner"] == "*"]
        named = cells.merge(skipped[keys], on=keys, how="left", indicator=True)["_merge"].eq("both").to_numpy()
        spaces = cells.set_index(["holdout", "space"]).index.isin(whole.set_index(["holdout", "space"]).index)
        out = named | spaces
        if "target" in skipped:  # a conditional target a holdout does not support (space "*": every space)
            gone = skipped[skipped["target"].fillna("*") != "*"].set_index(["holdout", "target"]).index
            out |= cells.set_index(["holdout", "target"]).index.isin(gone)
        want = want[~out]
    have = pd.MultiIndex.from_frame(table[list(want.names)].drop_duplicates())
    missing = want.difference(have)
    if len(missing):
        raise TransferError(
            f"the transfer table lacks {len(missing)} combinations, e.g. {list(missing[:3])}. "
            "Fix: rerun the transfer jobs (snakemake -R transfer)."
        )
    auc = table["auc"].to_numpy(float)
    if np.isnan(auc).any() or (auc < 0).any() or (auc > 1).any():
        raise TransferError(
            "AUCs outside [0, 1] (or NaN) in the transfer table. Fix: check the labels of the test split."
        )
    seeds = table[(table["aligner"] == cfg["aligners"][0]) & (table["k"].isin([k for k in ks if 0 < k <= 64]))]
    cells = ["space", "rank", "holdout", "target", "position", "k"]
    if len(seeds) and seeds.groupby(cells)["seed"].nunique().min() < min(cfg["seeds"], 20):
        raise TransferError("fewer seeds than configured for k <= 64.")


def tidy_k(table: pd.DataFrame) -> pd.DataFrame:
    """The tables' k column as text: "all" for every holdout train row."""
    return table.assign(k=table["k"].map(lambda k: "all" if k == ALL_K else str(k)))


def suite_store(store: dict, by_suite, target: str, position: str) -> dict:
    """The heads whose per-suite rows are computed: all (``by_suite`` True), none (False), or only a cell's
    (a dict with target, position and rank: the verdict's, all the per-suite summary reads) and rank-free ones."""
    if not isinstance(by_suite, dict):
        return store if by_suite else {}
    if (target, position) != (by_suite["target"], by_suite["position"]):
        return {}
    return {key: res for key, res in store.items() if key[2] in (0, by_suite["rank"])}


def test_subsets(data, holdout: str, proto) -> dict[str, np.ndarray]:
    """Masks over the holdout's test rows that :func:`suite_store`'s heads are also summarized on: each suite's,
    and in own-answer studies :data:`NO_ECHOES`, the holdout's answers that add at least ``ECHO_NEW_WORDS``
    content words to the request (an echo of a harmful request gives nothing, yet a text judge may score it
    unsafe: does the read still warn without those answers?)."""
    suites = data.rows["suite"].to_numpy()[proto.te]
    out = {s: suites == s for s in dict.fromkeys(data.rows["suite"])}
    if not data.same_texts and {"prompt", "response"} <= set(data.table(holdout)):
        t = data.table(holdout)
        out[NO_ECHOES] = ~is_echo(t["prompt"], t["response"])[proto.te]
    return out
