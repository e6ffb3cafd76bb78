"""LOMO transfer for one holdout model: every method x rank x position x target x k, plus bases."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
import pandas as pd
from emobasis.io import atomic_path, write_parquet
from emobasis.transfer.grid import basis_arrays, evaluate_holdout, grid_config, load_settings_study

settings, holdout = snakemake.params.settings, snakemake.wildcards.holdout
cfg = grid_config(settings)
data = load_settings_study(settings)
print(f"{holdout}: {len(data.rows)} rows, layers {data.layers}", file=sys.stderr)
skipped = []  # what cannot run in a feature space, and why
results, summary, bases = evaluate_holdout(
    data, holdout, cfg, seed=settings["seed"], keep_bases=True, by_suite=settings["suite_cell"], skipped=skipped
)
pooled = (summary["suite"] == "all").to_numpy()
provenance = {
    "holdout": holdout,
    "models": settings["models"],
    "layers": data.layers,
    "transfer": settings,
    "seed": settings["seed"],
}
for path in snakemake.output.results:
    method, rank = Path(path).parts[-3], int(Path(path).parts[-2][1:])
    write_parquet(results[(results.aligner == method) & (results["rank"] == rank)], path, provenance)
write_parquet(summary[pooled].drop(columns="suite").reset_index(drop=True), snakemake.output.summary, provenance)
write_parquet(summary[~pooled].reset_index(drop=True), snakemake.output.by_suite, provenance)
columns = ["holdout", "space", "aligner", "rank", "target", "reason"]
write_parquet(pd.DataFrame(skipped, columns=columns), snakemake.output.skipped, provenance)
for path in snakemake.output.bases:
    aligner, rank = Path(path).parts[-3], int(Path(path).parts[-2][1:])
    arrays = {
        "concepts": np.array(data.concepts),
        "train_models": np.array([m for m in settings["models"] if m != holdout]),
    }
    for (space, name, r, position), basis in bases.items():  # keys: <space>/<position>/...
        if (name, r) == (aligner, rank):
            arrays.update({f"{space}/{k}": v for k, v in basis_arrays(basis, rank, position).items()})
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
