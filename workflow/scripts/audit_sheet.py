"""The blind audit sheet (config/audit/PROTOCOL.md): a seeded sample of each model's own answers with the key,
the prompt and the answer, and empty label columns; no automatic label or score."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.io import atomic_path
from emobasis.labels.audit import draw_sheets

table = pd.concat([pd.read_parquet(p) for p in snakemake.input.tables], ignore_index=True)
sheet = draw_sheets(table, snakemake.params.sheets, snakemake.params.seed)
print(sheet.groupby(["model", "suite"]).size().to_string(), file=sys.stderr)
with atomic_path(snakemake.output[0]) as tmp:
    sheet.to_csv(tmp, index=False)
