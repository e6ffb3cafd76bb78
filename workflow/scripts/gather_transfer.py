"""One tidy table of every AUC row, and one of the bootstrap summaries."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from emobasis.transfer import ALL_K, check_transfer_table


def tidy(frames):
    df = pd.concat(frames, ignore_index=True)
    df["k"] = df["k"].map(lambda k: "all" if k == ALL_K else str(k))
    return df

results = pd.concat([pd.read_parquet(p) for p in snakemake.input.results], ignore_index=True)
check_transfer_table(results, {**snakemake.params.transfer, "ranks": snakemake.params.ranks},
                     snakemake.params.holdouts)
tidy([results]).to_csv(snakemake.output.table, index=False)
tidy([pd.read_parquet(p) for p in snakemake.input.summaries]).to_csv(snakemake.output.summary, index=False)
