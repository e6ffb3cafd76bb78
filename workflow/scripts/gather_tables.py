"""Concatenate per-model CSV tables into one."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

pd.concat([pd.read_csv(p) for p in snakemake.input], ignore_index=True).to_csv(snakemake.output[0], index=False)
