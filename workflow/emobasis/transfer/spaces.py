"""Feature spaces: what a model's read is before any aligner or head sees it.

- ``hidden``: the raw hidden states at the chosen layer (an aligner whitens them to ``pca_dims`` PCs);
  the reference the emotion spaces are compared with.
- ``concepts``: the model's profile on its fitted concept directions, emotions and controls together
  (:func:`emobasis.concepts.directions.concept_profiles`: the read minus the neutral centre, projected on each unit
  direction). A basis learned here is a combination of named emotion and control vectors.
- ``emotions``: the profile on the emotion directions only; ``controls``: on the four control directions
  only (harm salience, risk aversion, epistemic uncertainty, prosocial style).
- ``concepts_no_harm``: ``concepts`` without ``harm_salience``: does the warning need the direction that
  names the request's harm?
- ``controls_unrelated``: the profile on directions fit the same way as the concepts' from the same stimuli
  with their labels shuffled (kind ``unrelated``, :func:`emobasis.concepts.directions.fit_concepts`): as many
  directions as ``concepts``, in the stimuli's span, naming nothing. A warning read off the named concepts
  should beat it.

The unlabelled shared texts of a concept space are the stimuli's profiles (the same projection of the
stimulus reads), plus the train-side suite rows' profiles when every model read the same texts.

A method that cannot run in a space is skipped with a recorded reason (:func:`skip_reason`), never an
error: a rank above the space's dimension, ``lowrank`` and ``named`` in ``hidden`` (raw coordinates mean
nothing shared across models), a concept space in a study without concept kinds.

Methods that do not read the space (the text baselines and the label-free mismatch scores) are computed
once and give the same rows in every space, so that each space's slice of a table is complete.
"""

from __future__ import annotations

import numpy as np

from emobasis.transfer.study import StudyData

SPACES = ("hidden", "concepts", "emotions", "controls", "concepts_no_harm", "controls_unrelated")
#: the stimulus-set kinds of the named concept spaces (``unrelated``: shuffled-label directions)
NAMED_KINDS = ("emotions", "controls")
#: the concept a space leaves out of ``concepts``
WITHOUT = {"concepts_no_harm": "harm_salience"}
#: the stimulus kind each single-kind space reads
KIND_OF = {"emotions": "emotions", "controls": "controls", "controls_unrelated": "unrelated"}
#: the paired space comparisons of the ablation: rows in the key space get ``diff_vs_space`` against the value
SPACE_PAIRS = {"concepts": "hidden", "emotions": "controls"}
#: methods that read the named coordinates themselves (the same concept in every model): concept spaces only
NAMED_ONLY = ("lowrank", "named", "valence_arousal")
#: methods that do not read the space (same rows in every space)
SPACE_FREE = (
    "surface",
    "surface_prompt",
    "prompt_embedding",
    "prompt_text",
    "is_harmful",
    "mismatch_style",
    "mismatch_caution",
)


def space_concepts(kinds: dict[str, str | None], space: str) -> list[str] | None:
    """The space's concepts among ``kinds`` (concept -> emotions | controls), in order; None for ``hidden``.
    The stimulus-set kinds are named like the spaces."""
    if space == "hidden":
        return None
    if space in KIND_OF:
        return [c for c, kind in kinds.items() if kind == KIND_OF[space]]
    return [c for c, kind in kinds.items() if kind in NAMED_KINDS and c != WITHOUT.get(space)]


def concept_columns(data: StudyData, space: str) -> np.ndarray | None:
    """Indices of the space's concepts in ``data.concepts`` (None for ``hidden``)."""
    names = space_concepts({c: data.concept_kinds.get(c) for c in data.concepts}, space)
    return None if names is None else np.array([data.concepts.index(c) for c in names], int)


def dimension(data: StudyData, space: str) -> int | None:
    """Columns of the space's read (None for ``hidden``, whose whitened dimension the aligner decides)."""
    cols = concept_columns(data, space)
    return None if cols is None else len(cols)


def space_reason(data: StudyData, space: str) -> str | None:
    """Why the space cannot be used on this study at all, or None."""
    if space not in SPACES:
        return f"unknown feature space '{space}' (use one of {', '.join(SPACES)})"
    if space == "hidden":
        return None
    if not data.Z or not next(iter(data.Z.values())):
        return "the study has no concept profiles"
    if not dimension(data, space):
        if space == "controls_unrelated":
            return "the concept files hold no shuffled-label directions (concepts.shuffled_controls: true)"
        if space not in KIND_OF:  # concepts, concepts_no_harm: the named kinds
            return "no named concept (kind emotions or controls) in the study (stimulus_sets: kind)"
        return f"no concept of kind '{KIND_OF[space]}' in the study (stimulus_sets: kind)"
    if data.shared_Z is None:
        return "the stimuli's concept profiles are missing"
    return None


def skip_reason(data: StudyData, space: str, method: str, rank: int, ranked: bool) -> str | None:
    """Why ``method`` at ``rank`` is skipped in ``space``, or None when it runs."""
    if (reason := space_reason(data, space)) is not None:
        return reason
    if space == "hidden" and method in NAMED_ONLY:
        return f"{method} reads named concept coordinates; the raw hidden coordinates are not shared across models"
    dim = dimension(data, space)
    if ranked and dim is not None and rank > dim:
        return f"rank {rank} exceeds the {space} space's dimension {dim}"
    return None


def space_reads(data: StudyData, space: str, position: str) -> dict[str, np.ndarray]:
    """Every model's read in the space at ``position``: [n, d_m] hidden states or [n, K_space] profiles."""
    cols = concept_columns(data, space)
    if cols is None:
        return {m: data.X[m][position] for m in data.models}
    return {m: data.Z[m][position][:, cols] for m in data.models}


def shared_space_reads(data: StudyData, space: str) -> dict[str, np.ndarray]:
    """Every model's unlabelled stimulus reads in the space."""
    cols = concept_columns(data, space)
    if cols is None:
        return data.shared
    return {m: data.shared_Z[m][:, cols] for m in data.models}


def space_ranks(ranks: list[int], dim: int | None) -> list[int]:
    """The configured ranks a space can hold."""
    return [r for r in ranks if dim is None or r <= dim]


def unswept(space: str, rank: int, method, cfg: dict) -> str | None:
    """Why a ranked method does not run at ``rank`` in ``space``: only the spaces in
    ``transfer.rank_sweep_spaces`` (default: every space) sweep the ranks; the others run at
    ``ablation_rank`` (the verdict's rank) alone, which is all the ablation reads."""
    sweep = cfg.get("rank_sweep_spaces")
    if not method.ranked or sweep is None or space in sweep or rank == cfg.get("ablation_rank"):
        return None
    return f"{space} runs at the verdict's rank {cfg.get('ablation_rank')} only (transfer.rank_sweep_spaces)"
