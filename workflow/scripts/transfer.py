"""LOMO transfer for one holdout model: every method x rank x position x target x k, plus bases."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
from safetensors import safe_open

from emobasis.io import atomic_path, write_parquet
from emobasis.transfer import basis_arrays, evaluate_holdout, load_study, parse_ks

models, suites, holdout = snakemake.params.models, snakemake.params.suites, snakemake.wildcards.holdout
cfg = {**snakemake.params.transfer, "ranks": snakemake.params.ranks, "ks": parse_ks(snakemake.params.transfer["ks"])}
meta = {}
for m, path in zip(models, snakemake.input.concepts):
    with safe_open(path, "numpy") as fh:
        meta[m] = json.loads(fh.metadata()["emobasis"])
per = lambda paths: {m: dict(zip(suites, paths[i * len(suites):(i + 1) * len(suites)])) for i, m in enumerate(models)}  # noqa: E731
n_sets = len(snakemake.input.stimuli) // len(models)
data = load_study(
    models, suites, dict(zip(suites, snakemake.input.tables)), per(snakemake.input.acts), per(snakemake.input.profiles),
    {m: snakemake.input.stimuli[i * n_sets:(i + 1) * n_sets] for i, m in enumerate(models)}, meta,
    dict(zip(suites, snakemake.input.embeddings)) if hasattr(snakemake.input, "embeddings") else None,
    positions=cfg["positions"],
)
print(f"{holdout}: {len(data.rows)} rows, layers {data.layers}", file=sys.stderr)
results, summary, bases = evaluate_holdout(data, holdout, cfg, seed=snakemake.params.seed, keep_bases=True)
provenance = {"holdout": holdout, "models": models, "layers": data.layers, "transfer": snakemake.params.transfer,
              "seed": snakemake.params.seed}
for path in snakemake.output.results:
    method, rank = Path(path).parts[-3], int(Path(path).parts[-2][1:])
    part = results[(results.aligner == method) & (results["rank"] == rank)]
    write_parquet(part, path, provenance)
write_parquet(summary, snakemake.output.summary, provenance)
for path in snakemake.output.bases:
    aligner, rank = Path(path).parts[-3], int(Path(path).parts[-2][1:])
    arrays = {}
    for position in cfg["positions"]:
        arrays.update(basis_arrays(bases[(aligner, rank, position)], rank, position))
    arrays["concepts"] = np.array(data.concepts)
    arrays["train_models"] = np.array([m for m in models if m != holdout])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
