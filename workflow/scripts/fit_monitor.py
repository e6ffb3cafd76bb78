"""The deployable monitor: shared basis and head fit on every study model (all.npz)."""

import json
import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
from safetensors import safe_open

from emobasis.io import atomic_path
from emobasis.monitor import fit_monitor
from emobasis.transfer import load_study

models, suites, d = snakemake.params.models, snakemake.params.suites, snakemake.params.deploy
meta = {}
for m, path in zip(models, snakemake.input.concepts):
    with safe_open(path, "numpy") as fh:
        meta[m] = json.loads(fh.metadata()["emobasis"])
per = lambda paths: {m: dict(zip(suites, paths[i * len(suites):(i + 1) * len(suites)])) for i, m in enumerate(models)}  # noqa: E731
n_sets = len(snakemake.input.stimuli) // len(models)
data = load_study(models, suites, dict(zip(suites, snakemake.input.tables)), per(snakemake.input.acts),
                  per(snakemake.input.profiles),
                  {m: snakemake.input.stimuli[i * n_sets:(i + 1) * n_sets] for i, m in enumerate(models)}, meta,
                  positions=[d["position"]])
monitor = fit_monitor(data, d["aligner"], d["rank"], d["position"], d["target"], snakemake.params.transfer)
with atomic_path(snakemake.output[0]) as tmp:
    with open(tmp, "wb") as fh:
        np.savez(fh, **monitor)
print({k: monitor[k].tolist() for k in ("aligner", "rank", "position", "target", "threshold")}, file=sys.stderr)
