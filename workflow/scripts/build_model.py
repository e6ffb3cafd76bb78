"""Build resources/models/<model>/ (plain HF folder + MANIFEST.json) from the model's source."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import torch
from emobasis.models.folders import build_model

torch.set_num_threads(snakemake.threads)
manifest = build_model(snakemake.params.spec, Path(snakemake.output[0]).parent)
print({k: manifest[k] for k in ("id", "num_hidden_layers", "hidden_size", "bytes", "seconds")}, file=sys.stderr)
