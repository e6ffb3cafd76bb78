"""The method registry: every name that can stand in the ``aligner`` column of the transfer tables.

One table says what each method is; config validation, the transfer job's file names, the LOMO grid,
the monitor, the verdict's claims and the figures all read it. Adding a baseline is one :class:`Method`
entry here plus its function, registered by name in :mod:`emobasis.transfer.baselines` (features or scores).

Fields:

- ``aligner``: a shared basis the config can list in ``transfer.aligners`` (one ``.npz`` basis file per
  rank); baselines are always computed.
- ``ranked``: one result per basis rank (files ``r<rank>``); otherwise rank 0.
- ``head``: how a head is trained on the method's features: ``transfer`` (k = 0 on the training models,
  k > 0 warm-started on the holdout), ``own`` (the holdout's own labels only, no k = 0), ``null``
  (``transfer`` with permuted labels, on the features of ``null_of``) or ``scores`` (the function returns
  scores itself).
- ``paired``: the summary pairs its AUC with ``specific`` at the same rank and k (shared - specific).
- ``adapts``: a new model is mapped into the basis from unlabelled shared texts alone, so the monitor
  and the zero-shot row scores can use it.
- ``cv``: an ``own`` head whose L2 is chosen by cross-validation inside each draw's k labelled rows
  (``transfer.specific_l2_grid``); its features are the same at every rank, so it is fit once.
- ``increment_of``: the summary pairs its AUC with this method's (same space and k): incremental validity,
  what the method adds to the one it extends (``diff_incremental``).
- ``sweep``: drawn in the rank-sweep figure; ``style``: (colour, line style) in the data-efficiency
  figure (None: not drawn); ``claim``: the summary quotes its zero-shot AUC under this name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    head: str = "transfer"
    aligner: bool = False
    ranked: bool = True
    paired: bool = False
    adapts: bool = False
    sweep: bool = False
    style: tuple[str, str] | None = None
    claim: str | None = None
    null_of: str | None = None
    cv: bool = False
    increment_of: str | None = None


REGISTRY: list[Method] = [
    Method("gcca", "gcca (shared)", aligner=True, paired=True, adapts=True, sweep=True, style=("#1f77b4", "-")),
    Method(
        "procrustes", "procrustes (shared)", aligner=True, paired=True, adapts=True, sweep=True, style=("#17becf", "-")
    ),
    Method(
        "lowrank", "lowrank (shared, named concepts)", aligner=True, paired=True, sweep=True, style=("#9467bd", "-")
    ),
    Method(
        "specific",
        "specific (holdout's own probe, full read)",
        head="own",
        cv=True,
        sweep=True,
        style=("#d62728", "-"),
    ),
    Method(
        "specific_pca",
        "specific_pca (holdout's own top-r PCs)",
        head="own",
        sweep=True,
        style=("#ff9896", "-"),
    ),
    Method("random", "random basis", sweep=True, style=("#7f7f7f", ":"), claim="random basis zero-shot"),
    Method(
        "shuffled", "shuffled labels", head="null", null_of="gcca", style=("#bbbbbb", "-."), claim="shuffled zero-shot"
    ),
    Method(
        "residualized",
        "residualized (gcca minus text embedding)",
        style=("#2ca02c", "--"),
        claim="residualized zero-shot",
    ),
    Method(
        "residualized_prompt",
        "residualized (gcca minus prompt embedding, cross-fitted ridge)",
        style=("#98df8a", "--"),
        claim="residualized (prompt) zero-shot",
    ),
    Method(
        "anchors",
        "anchors (cosine similarities to shared anchor texts' reads: relative representations)",
        ranked=False,
        paired=True,
        adapts=False,
        style=("#1f4e79", "-."),
    ),
    Method(
        "affine",
        "affine (ridge map from the holdout's read to each training model's, their own heads averaged)",
        head="scores",
        ranked=False,
    ),
    Method(
        "valence_arousal",
        "valence_arousal (rank-2 basis: emotion directions weighted by human valence and arousal ratings)",
        ranked=False,
        paired=True,
    ),
    Method(
        "named",
        "named concepts (the space's coordinates, signs oriented; concept spaces)",
        ranked=False,
        paired=True,
        style=("#bcbd22", "-"),
    ),
    Method(
        "prompt_embedding",
        "prompt embedding (own answers: the prompt alone)",
        ranked=False,
        style=("#8c564b", ":"),
        claim="prompt embedding zero-shot",
    ),
    Method(
        "surface_prompt",
        "surface (TF-IDF on the prompt; own answers)",
        head="scores",
        ranked=False,
        style=("#e377c2", "--"),
        claim="surface (prompt) zero-shot",
    ),
    Method(
        "prompt_text",
        "prompt_text (TF-IDF + sentence embedding of the prompt, C by grouped CV; own answers)",
        head="scores",
        ranked=False,
        claim="prompt text zero-shot",
    ),
    Method(
        "prompt_text_read",
        "prompt_text_read (prompt_text's cross-fitted score + the read's gcca coordinates; own answers)",
        head="scores",
        ranked=False,
        increment_of="prompt_text",
    ),
    Method(
        "surface",
        "surface (TF-IDF on the response)",
        head="scores",
        ranked=False,
        style=("#ff7f0e", "--"),
        claim="surface zero-shot",
    ),
    Method(
        "is_harmful",
        "is_harmful (the prompt's harmful label as the score: harm recognition alone)",
        head="scores",
        ranked=False,
        claim="is_harmful zero-shot",
    ),
    Method(
        "harm_intent",
        "harm_intent (gcca head trained to tell harmful from benign prompts: learned harm recognition)",
        head="scores",
        ranked=False,
        claim="harm_intent zero-shot",
    ),
    Method("mismatch_style", "label-free: warm, unworried, sure (transfer.mismatch)", head="scores", ranked=False),
    Method(
        "mismatch_caution", "label-free: calm without harm salience (transfer.mismatch)", head="scores", ranked=False
    ),
]

METHODS: dict[str, Method] = {m.name: m for m in REGISTRY}


def aligners() -> list[str]:
    """Names the config may list in ``transfer.aligners``."""
    return [m.name for m in REGISTRY if m.aligner]


def baselines(ranked: bool) -> list[str]:
    """Baselines (always computed), ranked or rank-free, in registry order."""
    return [m.name for m in REGISTRY if not m.aligner and m.ranked == ranked]


def result_methods(config_aligners: list[str]) -> list[str]:
    """Methods whose result files a transfer job writes, in file order: the configured aligners, then the
    ranked baselines, then the rank-free ones."""
    return [*config_aligners, *baselines(True), *baselines(False)]


def adaptable() -> list[str]:
    return [m.name for m in REGISTRY if m.adapts]


def with_null() -> list[str]:
    """Methods a shuffled-label null is fit for (``null_of``): the aligners criterion A can test."""
    return sorted({m.null_of for m in REGISTRY if m.null_of})


def null_of(name: str) -> str | None:
    """The null method fit on ``name``'s features (e.g. ``shuffled`` for ``gcca``), or None."""
    return next((m.name for m in REGISTRY if m.null_of == name), None)


def register(method: Method) -> None:
    """Add a method (e.g. a study's own baseline) to the registry; its function is registered in
    :mod:`emobasis.transfer.baselines`."""
    if method.name in METHODS:
        raise ValueError(f"method '{method.name}' is already registered")
    REGISTRY.append(method)
    METHODS[method.name] = method


def unregister(name: str) -> None:
    REGISTRY[:] = [m for m in REGISTRY if m.name != name]
    METHODS.pop(name, None)
