"""In-suite vs cross-suite zero-shot AUC per method and suite, one panel per holdout."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.report.plots import plot_cross_suite

v = snakemake.params.verdict
table = pd.read_csv(snakemake.input[0], dtype={"k": str}, keep_default_na=False, na_values=[""])
fig = plot_cross_suite(table, v["target"], v["position"], v["rank"], snakemake.params.holdouts)
fig.savefig(snakemake.output[0], dpi=120)
