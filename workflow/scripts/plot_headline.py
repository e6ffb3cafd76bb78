"""The headline figures: AUC against k with at most five lines, and the harmful-only zero-shot AUCs."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.report.plots import plot_harmful_only, plot_headline
from emobasis.report.verdict import read_summary

p = snakemake.params
summary = read_summary(snakemake.input[0], p.space)
shared = getattr(p, "shared", None)  # optional: the line to draw instead of the best shared method

fig = plot_headline(summary, p.target, p.position, p.rank, p.holdouts, p.ks, shared=shared)
fig.savefig(snakemake.output.headline, dpi=120)

# the harmful-only twin of a pooled target (tone_masked -> tone_masked_harmful)
harmful = p.target if p.target.endswith("_harmful") else f"{p.target}_harmful"
fig = plot_harmful_only(summary, harmful, p.position, p.rank, p.holdouts, own_k=p.match_k)
fig.savefig(snakemake.output.harmful_only, dpi=120)
