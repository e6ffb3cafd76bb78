"""Own answers of one role's suites (fit or test): counts per model, split and suite. The fit suites' table is
checked against the study's minimums, and every fitting job waits for it; the test suites' is not."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.io import atomic_path
from emobasis.labels.answers import check_counts, study_counts

tables = {s: pd.read_parquet(p) for s, p in zip(snakemake.params.suites, snakemake.input.tables)}
counts = study_counts(tables)
print(counts.to_string(), file=sys.stderr)
need = snakemake.params.minimums
if need is not None:
    all_fit = counts[counts["suite"] == "all"]
    check_counts(all_fit, need["target"], need["positives"], need["benign"], "all suites")
with atomic_path(snakemake.output[0]) as tmp:
    counts.to_csv(tmp, index=False, float_format="%.3f")
