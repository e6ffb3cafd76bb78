"""The pilot: one model answers a seeded sample of one suite's prompts (emobasis.labels.pilot), greedy, with the
full run's settings."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
import torch
from emobasis.io import write_parquet
from emobasis.labels.pilot import pilot_sample
from emobasis.models.generate import generate_dataset

torch.set_num_threads(snakemake.threads)
prompts = pd.read_parquet(snakemake.input.prompts)
sample = pilot_sample(
    prompts, snakemake.params.pilot["prompts_per_suite"], snakemake.params.seed, snakemake.wildcards.suite
)
answers, _, _, manifest = generate_dataset(
    Path(snakemake.input.model).parent,
    sample.rename(columns={"prompt_index": "prompt_id"}),
    snakemake.params.settings,
    model_id=snakemake.wildcards.model,
    dataset=f"pilot/{snakemake.wildcards.suite}",
)
answers["item_id"] = sample["item_id"].to_numpy()
keys = ("rows", "answer_tokens", "seconds", "tokens_per_s", "stop_reasons")
print({k: manifest[k] for k in keys}, file=sys.stderr)
write_parquet(answers.drop(columns=["answer_token_ids"]), snakemake.output[0], {"runtime": manifest["runtime"]})
