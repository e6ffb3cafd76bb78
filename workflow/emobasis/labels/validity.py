"""How far the automatic labels can be trusted on each model's own answers: agreement with the audit set.

The reference is the audit set (:mod:`emobasis.labels.audit`): answers read blind by the project's
maintainers. For every model, label and labeler, :func:`label_validity` reports Cohen's kappa, precision and
recall of the automatic label against the reading, with percentile bootstrap CIs over the audited answers.

Labels compared (the reading's side in brackets):

- ``complied`` [complied], ``cautioned`` [cautioned]: on every audited answer;
- ``harmful_content`` [harmful_content] and ``tone_masked`` [complied and not cautioned]: on answers to
  harmful prompts (on a benign prompt both sides are 0 by definition, which would only inflate kappa).

Labelers: ``rules`` (:mod:`emobasis.labels.behaviour`; ``harmful_content`` = rules' complied and the judge's
unsafe), ``judge`` (the judge's unsafe read as complied, and as harmful content), ``judge+rules``
(``tone_masked_judge``: the judge's unsafe and the rules' calm, the second labeler), ``judge+tone``, the
study's labels before issue 26 (``tone_masked`` = the judge's unsafe and the tone scorer's calm), and, where
the script adds its columns, ``embedding head`` (:func:`crossfit_embedding_labeler`, trained on the audit and
scored leave-one-model-out; reported, not used by the study).

:func:`label_gate` applies the config's rule (``labels.gate``) per model: a model whose ``label`` by
``labeler`` has fewer than ``min_audited`` audited answers or a kappa below ``min_kappa`` fails, and takes
no part in the verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.errors import AuditError

#: label -> (rows it is compared on, how the reading's side is built from the audit labels)
REFERENCE = {
    "complied": ("all", lambda a: a["complied"]),
    "cautioned": ("all", lambda a: a["cautioned"]),
    "harmful_content": ("harmful", lambda a: a["harmful_content"]),
    "tone_masked": ("harmful", lambda a: a["complied"] & ~a["cautioned"]),
}

#: labeler -> label -> the suite table's column holding that labeler's automatic label
LABELERS = {
    "rules": {
        "complied": "complied",
        "cautioned": "cautioned",
        "harmful_content": "harmful_content",
        "tone_masked": "tone_masked",
    },
    "judge": {"complied": "judge_unsafe", "harmful_content": "judge_unsafe"},
    "judge+tone": {"tone_masked": "tone_masked_before"},
    "judge+rules": {"tone_masked": "tone_masked_judge"},
    "embedding head": {"complied": "emb_complied", "cautioned": "emb_cautioned", "tone_masked": "emb_tone_masked"},
}


def _stats(auto: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Cohen's kappa, precision and recall of each row of ``auto`` against the same row of ``ref`` ([..., n]
    booleans; one row per bootstrap resample), from the 2 x 2 counts; NaN where a statistic is undefined
    (kappa when both sides hold one and the same class)."""
    n = auto.shape[-1]
    tp, fp, fn = (auto & ref).sum(-1), (auto & ~ref).sum(-1), (~auto & ref).sum(-1)
    tn = n - tp - fp - fn
    with np.errstate(invalid="ignore", divide="ignore"):
        po = (tp + tn) / n
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n**2
        kappa = np.where(pe < 1, (po - pe) / (1 - pe), np.nan)
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
    return np.stack([kappa, precision, recall], axis=-1)


def agreement(auto, ref, n_boot: int = 1000, seed: int = 0) -> dict:
    """Cohen's kappa, precision and recall of ``auto`` against ``ref`` (booleans), each with a 95% percentile
    bootstrap CI over the rows (resamples where a statistic is undefined are left out)."""
    auto, ref = np.asarray(auto, bool), np.asarray(ref, bool)
    if auto.shape != ref.shape:
        raise AuditError(f"agreement: {len(auto)} automatic labels against {len(ref)} reference labels.")
    if not len(auto):
        point, boots = np.full(3, np.nan), np.full((1, 3), np.nan)
    else:
        point = _stats(auto, ref)
        draws = np.random.default_rng(seed).integers(0, len(auto), (n_boot, len(auto)))
        boots = _stats(auto[draws], ref[draws])
    out = {"n": int(len(auto)), "n_reading_1": int(ref.sum()), "n_auto_1": int(auto.sum())}
    for j, name in enumerate(("kappa", "precision", "recall")):
        col = boots[:, j][np.isfinite(boots[:, j])]
        lo, hi = np.percentile(col, [2.5, 97.5]) if len(col) else (np.nan, np.nan)
        out.update({name: float(point[j]), f"{name}_lo": float(lo), f"{name}_hi": float(hi)})
    return out


def label_validity(table: pd.DataFrame, labels: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per (model, label, labeler): agreement of the automatic label with the audit reading.

    ``table``: the suite tables of every model (``responder``, ``benign`` and the labelers' columns);
    ``labels``: :func:`emobasis.labels.audit.match_audit`'s labels for the same rows (``<NA>`` = unaudited)."""
    rows = []
    for model in dict.fromkeys(table["responder"]):
        mine = (table["responder"] == model).to_numpy()
        for label, (condition, build) in REFERENCE.items():
            ref_all = build(labels[mine])
            keep = ref_all.notna().to_numpy()
            if condition == "harmful":
                keep = keep & ~table.loc[mine, "benign"].to_numpy(bool)
            ref = ref_all.to_numpy()[keep].astype(bool)
            for labeler, columns in LABELERS.items():
                if label not in columns or columns[label] not in table.columns:
                    continue
                auto = table.loc[mine, columns[label]].to_numpy(bool)[keep]
                rows.append(
                    {
                        "model": model,
                        "label": label,
                        "labeler": labeler,
                        "rows": condition,
                        **agreement(auto, ref, n_boot, stable_seed(seed, f"validity/{model}/{label}/{labeler}")),
                    }
                )
        if {"complied", "judge_unsafe"} <= set(table.columns):  # the two compliance labelers, every answer
            harmful = mine & ~table["benign"].to_numpy(bool)
            rows.append(
                {
                    "model": model,
                    "label": "complied",
                    "labeler": "judge vs rules",
                    "rows": "harmful, every answer",
                    **agreement(
                        table.loc[harmful, "judge_unsafe"],
                        table.loc[harmful, "complied"],
                        n_boot,
                        stable_seed(seed, f"validity/{model}/judge-vs-rules"),
                    ),
                }
            )
    return pd.DataFrame(rows)


def crossfit_embedding_labeler(
    table: pd.DataFrame, labels: pd.DataFrame, answer_emb: np.ndarray, prompt_emb: np.ndarray, C: float = 1.0
) -> pd.DataFrame:
    """A labeler of another kind, trained on the audit and scored cross-fitted: a logistic head per label on the
    sentence embeddings of (answer, answer x prompt), fit on the OTHER models' audited answers and applied to
    one model's (leave one model out, so no answer is scored by a head that saw its audit label, and each
    model is labelled as a new model would be). ``table``/``labels``: the audited rows only, same order;
    returns ``complied``, ``cautioned`` and ``tone_masked`` predictions (same index)."""
    from sklearn.linear_model import LogisticRegression

    X = np.hstack([answer_emb, answer_emb * prompt_emb])
    models = table["responder"].astype(str).to_numpy()
    out = pd.DataFrame(index=table.index, columns=["complied", "cautioned"], dtype=bool)
    for label in ("complied", "cautioned"):
        y = labels[label].to_numpy()
        for m in dict.fromkeys(models):
            train = (models != m) & pd.notna(y)
            if len(set(y[train].astype(bool))) < 2:
                raise AuditError(f"the audit of the other models has one class of {label}; cannot fit the head.")
            head = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(X[train], y[train].astype(bool))
            out.loc[models == m, label] = head.predict(X[models == m])
    out = out.astype(bool)
    out["tone_masked"] = out["complied"] & ~out["cautioned"] & ~table["benign"].to_numpy(bool)
    return out


def reader_agreement(first: pd.DataFrame, second: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Agreement between two readings of the same answers (joined by the key): one row per label."""
    key = ["model", "prompt_id", "answer_sha256"]
    both = first.merge(second, on=key, suffixes=("", "_second"))
    rows = []
    for label in ("complied", "harmful_content", "cautioned"):
        d = both[both[label].notna() & both[f"{label}_second"].notna()]
        rows.append(
            {
                "model": "all",
                "label": label,
                "labeler": "second reader",
                "rows": "double-read",
                **agreement(d[f"{label}_second"], d[label], n_boot, stable_seed(seed, f"readers/{label}")),
            }
        )
    return pd.DataFrame(rows)


def public_rows(judge_validation: pd.DataFrame) -> pd.DataFrame:
    """The judge's leave-one-source-out agreement with the public human- or gold-labelled response sets
    (results/tables/judge_validation.csv), as rows of the validity table (``model = public:<source>``; no CI:
    the held-out source is scored once)."""
    v = judge_validation
    return pd.DataFrame(
        {
            "model": "public:" + v["source"].astype(str),
            "label": "unsafe (the source's label)",
            "labeler": "judge",
            "rows": "leave-one-source-out",
            "n": v["n"],
            "n_reading_1": v["n_unsafe"],
            "kappa": v["kappa"],
            "auc": v["auc"],
        }
    )


def public_compliance_rows(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The rule ``complied`` labeler against human compliance labels on public answers of other models
    (:func:`emobasis.data.judge_sets.read_xstest_compliance`): one row, ``model = public:xstest``."""
    from emobasis.labels.behaviour import label_behaviour

    auto = label_behaviour(frame["prompt"], frame["response"], frame["benign"])["complied"].to_numpy()
    row = agreement(auto, frame["complied"].to_numpy(bool), n_boot, stable_seed(seed, "validity/public/xstest"))
    return pd.DataFrame(
        [{"model": "public:xstest", "label": "complied", "labeler": "rules", "rows": "human-labelled", **row}]
    )


def label_gate(validity: pd.DataFrame, status: pd.DataFrame, gate: dict) -> pd.DataFrame:
    """Per model: does ``gate['label']`` by ``gate['labeler']`` reach ``min_kappa`` on at least ``min_audited``
    audited answers? Columns ``model, audited, stale, n, kappa, kappa_lo, kappa_hi, valid, reason``."""
    rows = []
    v = validity[(validity["label"] == gate["label"]) & (validity["labeler"] == gate["labeler"])].set_index("model")
    for _, s in status.iterrows():
        m = s["model"]
        r = v.loc[m] if m in v.index else None
        n = int(r["n"]) if r is not None else 0
        kappa = float(r["kappa"]) if r is not None else np.nan
        if n < gate["min_audited"]:
            valid, reason = False, f"{n} audited answers for {gate['label']}, fewer than {gate['min_audited']}"
        elif not np.isfinite(kappa):
            valid, reason = False, "kappa undefined (one class on both sides)"
        elif kappa < gate["min_kappa"]:
            valid, reason = False, f"kappa {kappa:.2f} below {gate['min_kappa']}"
        else:
            valid, reason = True, f"kappa {kappa:.2f} >= {gate['min_kappa']}"
        rows.append(
            {
                "model": m,
                "audited": int(s["audited"]),
                "stale": int(s["stale"]),
                "n": n,
                "kappa": kappa,
                "kappa_lo": float(r["kappa_lo"]) if r is not None else np.nan,
                "kappa_hi": float(r["kappa_hi"]) if r is not None else np.nan,
                "valid": valid,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows)
