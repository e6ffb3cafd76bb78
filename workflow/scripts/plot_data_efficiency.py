"""AUC against k per holdout (one target and position)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.report.plots import plot_data_efficiency
from emobasis.report.verdict import read_summary

w = snakemake.wildcards
fig = plot_data_efficiency(
    read_summary(snakemake.input[0], snakemake.params.space),
    w.target,
    w.position,
    snakemake.params.rank,
    snakemake.params.holdouts,
    snakemake.params.ks,
)
fig.savefig(snakemake.output[0], dpi=120)
