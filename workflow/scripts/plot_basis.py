"""Heatmap of the shared directions' concept loadings; the predictors' share of the shared subspace."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.report.plots import plot_loadings, plot_subspace

loadings = pd.read_csv(snakemake.input.loadings)
concepts = list(dict.fromkeys(loadings["concept"]))
plot_loadings(loadings, concepts).savefig(snakemake.output.loadings, dpi=120, bbox_inches="tight")
fig = plot_subspace(
    pd.read_csv(snakemake.input.fractions), pd.read_csv(snakemake.input.angles), snakemake.params.target
)
fig.savefig(snakemake.output.subspace, dpi=120, bbox_inches="tight")
