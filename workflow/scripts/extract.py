"""Pooled float16 hidden states of one dataset (suite or stimulus set) through one model."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
import torch

from emobasis.extract import extract_dataset, save_activations
from emobasis.suites import study_rows

torch.set_num_threads(snakemake.threads)
name, kind = snakemake.wildcards.dataset, snakemake.params.kind
table = pd.read_parquet(snakemake.input.table)
rows = study_rows(table, snakemake.params.max_rows, snakemake.params.seed, name) if kind == "suite" else None
acts, row_index, manifest = extract_dataset(
    Path(snakemake.input.model).parent, table, kind, snakemake.params.extraction, rows=rows,
    device=snakemake.params.extraction["device"], model_id=snakemake.wildcards.model, dataset=name,
)
manifest = save_activations(snakemake.output.acts, acts, row_index, manifest, snakemake.output.manifest)
print({k: manifest[k] for k in ("rows", "tokens", "seconds", "tokens_per_s", "peak_rss_mb")}, file=sys.stderr)
