"""The split-seed tables: every seed's rows, and the rows combined across seeds."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.transfer.grid import tidy_k

for name in ("per_seed", "combined"):
    frames = [pd.read_parquet(path) for path in snakemake.input[name]]
    tidy_k(pd.concat(frames, ignore_index=True)).to_csv(snakemake.output[name], index=False)
