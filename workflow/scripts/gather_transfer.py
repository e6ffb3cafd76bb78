"""One tidy table of every AUC row, one of the bootstrap summaries, one of the summaries per suite, and what
each feature space skipped and why."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.transfer.grid import check_transfer_table, tidy_k

results = pd.concat([pd.read_parquet(p) for p in snakemake.input.results], ignore_index=True)
skipped = pd.concat([pd.read_parquet(p) for p in snakemake.input.skipped], ignore_index=True)
check_transfer_table(results, snakemake.params.settings, snakemake.params.settings["models"], skipped)
skipped.to_csv(snakemake.output.skipped, index=False)
tidy_k(results).assign(split_seed=0).to_csv(snakemake.output.table, index=False)  # the study's split
tidy_k(pd.concat([pd.read_parquet(p) for p in snakemake.input.summaries], ignore_index=True)).assign(
    split_seed=0
).to_csv(snakemake.output.summary, index=False)
tidy_k(pd.concat([pd.read_parquet(p) for p in snakemake.input.by_suite], ignore_index=True)).assign(
    split_seed=0
).to_csv(snakemake.output.by_suite, index=False)
