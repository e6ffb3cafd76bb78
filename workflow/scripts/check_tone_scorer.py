"""How well the tone scorer separates human-labelled refusals from full compliance."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.labels.tone import validate_against_labels

table = pd.read_parquet(snakemake.input[0])
result = validate_against_labels(table)
result.to_csv(snakemake.output[0], index=False)
print(result.to_string(index=False), file=sys.stderr)
