"""Concept profiles of one suite through one model, at the model's chosen layer."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.concepts.directions import load_concepts
from emobasis.concepts.profiles import concept_profiles
from emobasis.io import write_parquet
from emobasis.models.activations import load_activations, table_rows

meta, fit = load_concepts(snakemake.input.concepts, "chosen")
layer = meta["chosen_layer"]
arrays, row_index = load_activations(snakemake.input.acts)
manifest = json.loads(Path(snakemake.input.manifest).read_text())
table = pd.read_parquet(snakemake.input.table)  # own answers: the model's own rows only
rows = table_rows(table, row_index, manifest)
profiles = concept_profiles(arrays, rows, table, fit, layer, manifest["positions"])
write_parquet(
    profiles,
    snakemake.output[0],
    {"model": snakemake.wildcards.model, "layer": layer, "concepts": meta["concepts"], "method": meta["method"]},
)
