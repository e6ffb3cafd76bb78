"""One model answers one prompt set itself (greedy), its hidden states read while it answers."""

import shutil
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
import torch
from emobasis.io import write_parquet
from emobasis.models.activations import save_activations
from emobasis.models.generate import generate_dataset

torch.set_num_threads(snakemake.threads)
prompts = pd.read_parquet(snakemake.input.prompts).rename(columns={"prompt_index": "prompt_id"})
# finished batches land here (not an output: a killed job's rerun resumes from them), removed once the outputs exist
checkpoint = Path(snakemake.output.answers).with_suffix(".partial")
answers, acts, rows, manifest = generate_dataset(
    Path(snakemake.input.model).parent,
    prompts,
    snakemake.params.settings,
    model_id=snakemake.wildcards.model,
    dataset=snakemake.wildcards.suite,
    checkpoint=checkpoint,
)
manifest["responder"] = snakemake.wildcards.model
manifest["settings"] = snakemake.params.settings
manifest = save_activations(snakemake.output.reads, acts, rows, manifest, snakemake.output.manifest)
provenance = {k: manifest[k] for k in ("model", "dataset", "sha256", "decoding", "format", "settings")}
write_parquet(answers, snakemake.output.answers, {**provenance, "reads_sha256": provenance.pop("sha256")})
keys = ("rows", "answer_tokens", "seconds", "tokens_per_s", "stop_reasons", "empty_answers", "peak_rss_mb")
print({k: manifest[k] for k in keys}, file=sys.stderr)
shutil.rmtree(checkpoint, ignore_errors=True)
