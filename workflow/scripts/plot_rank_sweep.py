"""AUC against rank per aligner, zero-shot and at k = match_k."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.report.plots import plot_rank_sweep
from emobasis.report.verdict import read_summary

p = snakemake.params
summary = read_summary(snakemake.input[0], p.space)
fig = plot_rank_sweep(summary, snakemake.wildcards.target, p.positions, p.ranks, p.match_k)
fig.savefig(snakemake.output[0], dpi=120)
