"""Leave-one-suite-out scores for one holdout model, and the rows of the stability claim."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.io import write_parquet
from emobasis.transfer.crosssuite import evaluate_cross_suite, stability_rows
from emobasis.transfer.grid import grid_config, load_settings_study

settings, holdout = snakemake.params.settings, snakemake.wildcards.holdout
cfg = grid_config(settings)
data = load_settings_study(settings, fit_only=False)  # test suites are scored here, never fit
print(f"{holdout}: {len(data.rows)} rows, roles {settings['roles']}", file=sys.stderr)
summary, kernels = evaluate_cross_suite(data, holdout, cfg, settings["roles"], seed=settings["seed"])
stability = stability_rows(kernels, holdout, settings["baseline"], settings["suites"], settings["roles"])
provenance = {"holdout": holdout, "layers": data.layers, "cross_suite": settings}
write_parquet(summary, snakemake.output.summary, provenance)
write_parquet(stability, snakemake.output.stability, provenance)
