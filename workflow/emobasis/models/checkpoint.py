"""Generation that survives a killed job: each finished batch of :func:`emobasis.models.generate.generate_answers`
is written to a checkpoint folder beside the job's outputs (not an output itself, so Snakemake leaves it when it
cleans an incomplete job), and a rerun with the same prompts, settings and model skips the batches it finds. The
batches are planned from the prompts and settings alone and each is independent of the others, so the resumed
answers and reads are byte-identical to those of an uninterrupted run (tests/test_generate.py).

A batch file holds numbers only (no pickle): its rows, the answer token ids (flat, with offsets), token counts,
stop-reason codes, step counters and the reads of its rows. A folder written for other prompts, settings or
weights (its ``KEY`` differs) is emptied first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

KEY_FILE = "KEY"


def checkpoint_key(*parts) -> str:
    """The fingerprint of what a checkpoint holds: prompts' token ids, settings, model identity."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class BatchStore:
    """The finished batches of one generation job, in ``folder``."""

    def __init__(self, folder: str | Path, key: str):
        self.folder = Path(folder)
        key_file = self.folder / KEY_FILE
        if self.folder.exists() and (not key_file.is_file() or key_file.read_text() != key):
            shutil.rmtree(self.folder)  # another run's batches: never mixed in
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key)

    def path(self, index: int) -> Path:
        return self.folder / f"batch-{index:05d}.npz"

    def done(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("batch-*.npz"))

    def save(self, index: int, rows, answer_ids: list, n_tok, codes, counters, reads: dict) -> None:
        flat = np.array([t for ids in answer_ids for t in ids], dtype=np.int64)
        offsets = np.cumsum([0] + [len(ids) for ids in answer_ids]).astype(np.int64)
        arrays = {
            "rows": np.asarray(rows, dtype=np.int64),
            "ids": flat,
            "offsets": offsets,
            "n_tok": np.asarray(n_tok, dtype=np.int64),
            "codes": np.asarray(codes, dtype=np.int64),
            "counters": np.asarray(counters, dtype=np.int64),
            **{f"read:{k}": v for k, v in reads.items()},
        }
        tmp = self.path(index).with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, self.path(index))

    def load(self, index: int) -> dict:
        with np.load(self.path(index), allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        off = data.pop("offsets")
        flat = data.pop("ids")
        data["answer_ids"] = [flat[off[i] : off[i + 1]].tolist() for i in range(len(off) - 1)]
        data["reads"] = {k[5:]: data.pop(k) for k in list(data) if k.startswith("read:")}
        return data

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
