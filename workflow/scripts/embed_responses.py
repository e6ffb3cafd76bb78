"""Sentence embeddings of the study rows' responses (the text baselines' view of the words)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
import pandas as pd
import torch
from emobasis.activations import save_activations
from emobasis.embed import embed_texts
from emobasis.suites import own_rows, study_rows

torch.set_num_threads(snakemake.threads)
table = pd.read_parquet(snakemake.input.table)
suite, max_rows, seed = snakemake.wildcards.suite, snakemake.params.max_rows, snakemake.params.seed
if snakemake.params.responders:  # own-response mode: every row some study model reads
    study = snakemake.params.responders
    rows = np.unique(np.concatenate([own_rows(table, r, study, max_rows, seed, suite) for r in study]))
else:
    rows = study_rows(table, max_rows, seed, suite)
emb = embed_texts(Path(snakemake.input.embedder).parent, table["response"].iloc[rows])
manifest = {
    "dataset": snakemake.wildcards.suite,
    "model": Path(snakemake.input.embedder).parent.name,
    "kind": "embedding",
    "positions": ["embedding"],
    "rows": int(len(rows)),
    "pooling": "mean, L2-normalised",
}
save_activations(snakemake.output.acts, {"embedding": emb}, rows, manifest, snakemake.output.manifest)
