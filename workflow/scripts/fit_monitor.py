"""The deployable monitor: shared basis and head fit on every study model (all.npz)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
from emobasis.io import atomic_path
from emobasis.transfer.grid import load_settings_study
from emobasis.transfer.monitor import fit_monitor

d, settings = snakemake.params.deploy, snakemake.params.settings
data = load_settings_study(settings, [d["position"]], with_embeddings=False)
monitor = fit_monitor(data, d["aligner"], d["rank"], d["position"], d["target"], settings)
with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as fh:
    np.savez(fh, **monitor)
print({k: monitor[k].tolist() for k in ("aligner", "rank", "position", "target", "threshold")}, file=sys.stderr)
