"""Deployment: an early-warning monitor fit on every study model, applied to a model outside the study.

``fit_monitor`` learns the shared basis (an aligner from :mod:`emobasis.transfer.align`) on all study models'
unlabelled shared texts and a logistic head on their labelled train rows, and stores everything a new
model needs as plain arrays (``results/basis/<aligner>/r<rank>/all.npz``). ``score_new_model`` adapts a
new model's map from its own activations on the same shared texts (no labels), optionally refits the
head on k labelled rows with the monitor's head as the prior, and returns per-row scores with the alarm
threshold calibrated at 1% false positives (or 1/n with n < 100 rows) on the study's benign validation rows,
which the head is not trained on.
"""

from __future__ import annotations

import numpy as np

from emobasis.errors import MonitorError
from emobasis.transfer.align import make_aligner
from emobasis.transfer.grid import fit_basis
from emobasis.transfer.heads import fit_logistic, predict
from emobasis.transfer.methods import adaptable
from emobasis.transfer.metrics import fpr_threshold, supported_fpr
from emobasis.transfer.protocol import standardize
from emobasis.transfer.study import StudyData


def fit_monitor(data: StudyData, aligner: str, rank: int, position: str, target: str, cfg: dict) -> dict:
    if aligner not in adaptable():
        raise MonitorError(
            f"deploy.aligner '{aligner}' cannot adapt a new model from hidden states. "
            f"Fix: use one of {', '.join(adaptable())}."
        )
    rows = data.rows
    tr = (rows["split"] == "train").to_numpy()
    basis, feats = fit_basis(data, aligner, rank, position, cfg["pca_dims"])
    X = np.concatenate([feats[m][tr] for m in data.models])
    Y = np.concatenate([data.y(m, target)[tr] for m in data.models])
    head = fit_logistic(X, Y, l2=cfg["prior_l2"])
    cal = (rows["split"] == "val").to_numpy() & rows["benign"].to_numpy()  # rows the head is not trained on
    benign = np.concatenate([feats[m][cal] for m in data.models])
    return {
        "consensus": basis.consensus_,
        "head": head,
        "threshold": np.array(fpr_threshold(predict(benign, head))),
        "fpr_target": np.array(supported_fpr(len(benign))),
        "rank": np.array(rank),
        "aligner": np.array(aligner),
        "position": np.array(position),
        "target": np.array(target),
        "models": np.array(data.models),
        "layers": np.array([data.layers.get(m, -1) for m in data.models]),
        "ridge": np.array(basis.ridge),
        "pca_dims": np.array(cfg["pca_dims"]),
    }


def score_new_model(
    monitor: dict,
    X_shared: np.ndarray,
    X_rows: np.ndarray,
    ref: np.ndarray,
    y: np.ndarray | None = None,
    labelled: np.ndarray | None = None,
    prior_l2: float = 1.0,
) -> np.ndarray:
    """Early-warning logits for the rows of a new model (``X_rows``), adapted from ``X_shared`` only.

    ``labelled`` (row positions) with ``y`` refits the head on those k rows, starting from the monitor's head."""
    G = np.asarray(monitor["consensus"])
    if len(X_shared) != len(G):
        raise MonitorError(
            f"the new model read {len(X_shared)} shared texts, the monitor was fit on {len(G)}. "
            "Fix: extract the same stimulus sets and suites (same study.max_rows_per_suite)."
        )
    aligner = make_aligner(
        str(monitor["aligner"]), int(monitor["rank"]), pca_dims=int(monitor["pca_dims"]), ridge=float(monitor["ridge"])
    )
    aligner.n_shared_, aligner.consensus_ = len(G), G
    aligner.adapt("new", X_shared)
    F = standardize(aligner.transform("new", X_rows), ref)
    head = np.asarray(monitor["head"])
    if labelled is not None and len(labelled):
        w = np.zeros(len(F))
        w[labelled] = 1.0
        head = fit_logistic(F, np.asarray(y, float), w, l2=prior_l2, prior=head[1:])
    return predict(F, head)
