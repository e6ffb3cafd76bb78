"""The verdict's cell on every split seed for one holdout, and its numbers combined across the seeds."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.io import write_parquet
from emobasis.transfer.grid import grid_config, load_settings_study
from emobasis.transfer.splitseeds import combine, evaluate_split_seeds

p, holdout = snakemake.params, snakemake.wildcards.holdout
data = load_settings_study(p.settings, positions=[p.cell["position"]])
per_seed, nulls = evaluate_split_seeds(
    data, holdout, grid_config(p.settings), p.cell, p.fractions, p.n, p.settings["seed"]
)
print(f"{holdout}: {p.n} split seeds, {len(per_seed)} rows", file=sys.stderr)
provenance = {"holdout": holdout, "cell": p.cell, "split": p.fractions, "split_seeds": p.n, "transfer": p.settings}
write_parquet(per_seed, snakemake.output.per_seed, provenance)
write_parquet(combine(per_seed, nulls), snakemake.output.combined, provenance)
