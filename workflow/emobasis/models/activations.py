"""Activation files: ``results/activations/<model>/<dataset>.safetensors`` (float16 ``[n, d]`` per
``<position>/layer<i>`` plus ``row_index``) and the JSON manifest beside each, whose sha256 is checked on
every read, so a corrupted file is never used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from emobasis.errors import ExtractionError

#: an activation manifest's ``row_index`` value when it counts rows among its responder's rows of the suite
#: table (own answers: a model's reads do not change when another model's rows join the table)
RESPONDER_ROWS = "responder rows"


def save_activations(
    path: str | Path, acts: dict, row_index: np.ndarray, manifest: dict, manifest_path: str | Path
) -> dict:
    """Write the safetensors file (arrays + row_index) and its JSON manifest (with the file's sha256)."""
    from safetensors.numpy import save_file

    from emobasis.io import atomic_path, sha256_file, write_json

    tensors = {
        **{k: np.ascontiguousarray(v) for k, v in acts.items()},
        "row_index": np.asarray(row_index, dtype=np.int64),
    }
    with atomic_path(path) as tmp:
        save_file(
            tensors,
            str(tmp),
            metadata={"emobasis": json.dumps({k: manifest[k] for k in ("model", "dataset", "kind", "positions")})},
        )
        manifest = {**manifest, "sha256": sha256_file(tmp), "bytes": Path(tmp).stat().st_size}
    write_json(manifest, manifest_path)
    return manifest


def activation_manifest_path(path: str | Path) -> Path:
    """The JSON manifest written next to an activations file by :func:`save_activations`."""
    return Path(path).with_suffix(".json")


def load_activations(path: str | Path, manifest_path: str | Path | None = None, verify: bool = True):
    """(arrays, row_index) from an activations file, after checking its sha256 against its manifest
    (default: the ``.json`` next to it, as written by :func:`save_activations`)."""
    from safetensors.numpy import load_file

    from emobasis.io import sha256_file

    manifest_path = activation_manifest_path(path) if manifest_path is None else manifest_path
    if verify:
        expected = json.loads(Path(manifest_path).read_text())["sha256"]
        got = sha256_file(path)
        if got != expected:
            raise ExtractionError(
                f"{path} is corrupted: sha256 {got} differs from its manifest ({expected}). "
                f"Fix: rebuild it with `snakemake --forcerun {path}` (or delete it and rerun "
                "snakemake)."
            )
    arrays = load_file(str(path))
    return {k: v for k, v in arrays.items() if k != "row_index"}, arrays["row_index"]


def table_rows(table: pd.DataFrame, row_index: np.ndarray, manifest: dict) -> np.ndarray:
    """Positions in the suite table ``table`` of an activation file's rows: ``row_index`` itself, or, when the
    manifest says it counts among its responder's rows (:func:`emobasis.labels.answers.own_answer_reads`),
    those rows' positions."""
    if manifest.get("row_index") != RESPONDER_ROWS:
        return np.asarray(row_index)
    own = np.flatnonzero(table["responder"].astype(str).to_numpy() == manifest["responder"])
    if len(row_index) and np.max(row_index) >= len(own):
        raise ExtractionError(
            f"the suite table has {len(own)} answers by '{manifest['responder']}', fewer than its reads. "
            "Fix: rerun build_suite (snakemake --forcerun build_suite)."
        )
    return own[row_index]
