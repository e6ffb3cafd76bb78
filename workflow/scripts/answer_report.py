"""Own answers across every suite (fit and test): the judge audit sample and a figure of each model's failure
rates. The count tables are rules answer_counts and test_answer_counts."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.io import atomic_path
from emobasis.labels.answers import audit_table, study_counts
from emobasis.labels.judge import Judge
from emobasis.report.plots import plot_answer_rates

tables = {s: pd.read_parquet(p) for s, p in zip(snakemake.params.suites, snakemake.input.tables)}
counts = study_counts(tables)
audit = audit_table(tables, Judge.load(snakemake.input.judge).threshold, seed=snakemake.params.seed)
with atomic_path(snakemake.output.figure) as tmp:
    plot_answer_rates(counts, tmp.with_suffix(".png"))
    tmp.with_suffix(".png").replace(tmp)
with atomic_path(snakemake.output.audit) as tmp:
    audit.to_csv(tmp, index=False, float_format="%.3f")
