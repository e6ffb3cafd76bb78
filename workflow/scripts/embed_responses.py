"""Sentence embeddings of the study rows' responses (the text baselines' view of the words); in an own-answer
study also of their prompts (what the early-warning baselines may read)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
import pandas as pd
import torch
from emobasis.data.suites import own_rows, study_rows
from emobasis.models.activations import save_activations
from emobasis.models.embed import embed_texts

torch.set_num_threads(snakemake.threads)
table = pd.read_parquet(snakemake.input.table)
suite, max_rows, seed = snakemake.wildcards.suite, snakemake.params.max_rows, snakemake.params.seed
if snakemake.params.responders:  # own-response mode: every row some study model reads
    study = snakemake.params.responders
    rows = np.unique(np.concatenate([own_rows(table, r, study, max_rows, seed, suite) for r in study]))
else:
    rows = study_rows(table, max_rows, seed, suite)
emb = {"embedding": embed_texts(Path(snakemake.input.embedder).parent, table["response"].iloc[rows])}
if snakemake.params.prompts:  # own answers: the prompt alone, for the early-warning text baselines
    prompts = table["prompt"].iloc[rows].astype(str)
    unique = pd.unique(prompts)
    vectors = embed_texts(Path(snakemake.input.embedder).parent, list(unique))
    emb["prompt"] = vectors[pd.Index(unique).get_indexer(prompts)]
manifest = {
    "dataset": snakemake.wildcards.suite,
    "model": Path(snakemake.input.embedder).parent.name,
    "kind": "embedding",
    "positions": list(emb),
    "rows": int(len(rows)),
    "pooling": "mean, L2-normalised",
}
save_activations(snakemake.output.acts, emb, rows, manifest, snakemake.output.manifest)
