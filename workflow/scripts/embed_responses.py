"""Sentence embeddings of the study rows' responses (the text baselines' view of the words)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
import torch

from emobasis.embed import embed_texts
from emobasis.extract import save_activations
from emobasis.suites import study_rows

torch.set_num_threads(snakemake.threads)
table = pd.read_parquet(snakemake.input.table)
rows = study_rows(table, snakemake.params.max_rows, snakemake.params.seed, snakemake.wildcards.suite)
emb = embed_texts(Path(snakemake.input.embedder).parent, table["response"].iloc[rows])
manifest = {"dataset": snakemake.wildcards.suite, "model": Path(snakemake.input.embedder).parent.name,
            "kind": "embedding", "positions": ["embedding"], "rows": int(len(rows)), "pooling": "mean, L2-normalised"}
save_activations(snakemake.output.acts, {"embedding": emb}, rows, manifest, snakemake.output.manifest)
