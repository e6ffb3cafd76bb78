"""Pooled float16 hidden states of one dataset (suite or stimulus set) through one model.

Own answers (an answers suite): the model's fused reads, taken while it answered, re-indexed to its rows."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
import torch
from emobasis.data.suites import own_rows, study_rows
from emobasis.models.activations import save_activations
from emobasis.models.extract import extract_dataset

torch.set_num_threads(snakemake.threads)
name, kind = snakemake.wildcards.dataset, snakemake.params.kind
table = pd.read_parquet(snakemake.input.table)
own, max_rows, seed = snakemake.params.own, snakemake.params.max_rows, snakemake.params.seed
reads = list(snakemake.input.reads) if isinstance(snakemake.input.reads, list) else [snakemake.input.reads]
if reads:
    from emobasis.labels.answers import own_answer_reads

    acts, row_index, manifest = own_answer_reads(reads[0], table, snakemake.wildcards.model)
else:
    rows = None
    if kind == "suite":  # own-response mode: the model reads its own responder's rows only
        rows = (
            own_rows(table, own["responder"], own["study"], max_rows, seed, name)
            if own
            else study_rows(table, max_rows, seed, name)
        )
    acts, row_index, manifest = extract_dataset(
        Path(snakemake.input.model).parent,
        table,
        kind,
        snakemake.params.extraction,
        rows=rows,
        device=snakemake.params.extraction["device"],
        model_id=snakemake.wildcards.model,
        dataset=name,
    )
    manifest["responder"] = own["responder"] if own else None
manifest = save_activations(snakemake.output.acts, acts, row_index, manifest, snakemake.output.manifest)
print({k: manifest.get(k) for k in ("rows", "tokens", "seconds", "tokens_per_s", "peak_rss_mb")}, file=sys.stderr)
