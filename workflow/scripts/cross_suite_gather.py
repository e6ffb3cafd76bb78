"""One table of the leave-one-suite-out summaries, and one of the stability rows."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.transfer.crosssuite import tidy_table

summary = pd.concat([pd.read_parquet(p) for p in snakemake.input.summaries], ignore_index=True)
tidy_table(summary).assign(split_seed=0).to_csv(snakemake.output.table, index=False)  # the study's split
pd.concat([pd.read_parquet(p) for p in snakemake.input.stability], ignore_index=True).assign(split_seed=0).to_csv(
    snakemake.output.stability, index=False
)
