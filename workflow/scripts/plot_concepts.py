"""Concept diagnostics of one model (its own diagnostics file, so that adding a model redraws no other
model's figure): held-out AUC per concept and layer, valence correlation."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.report.plots import plot_concepts

fig = plot_concepts(pd.read_csv(snakemake.input[0]), snakemake.wildcards.model)
fig.savefig(snakemake.output[0], dpi=120, bbox_inches="tight")
