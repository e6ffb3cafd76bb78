"""Per-row early-warning scores of a model outside the study, from the monitor in all.npz."""

import json
import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
import pandas as pd
from safetensors import safe_open

from emobasis.io import write_parquet
from emobasis.monitor import score_new_model
from emobasis.splits import stable_seed
from emobasis.transfer import load_study

model, d, suites = snakemake.wildcards.model, snakemake.params.deploy, snakemake.params.suites
monitor = dict(np.load(snakemake.input.monitor))
with safe_open(snakemake.input.concepts, "numpy") as fh:
    meta = {model: json.loads(fh.metadata()["emobasis"])}
data = load_study([model], suites, dict(zip(suites, snakemake.input.tables)),
                  {model: dict(zip(suites, snakemake.input.acts))}, None, {model: snakemake.input.stimuli}, meta,
                  positions=[d["position"]])
rows = data.rows
ref = rows["split"].isin(["train", "val"]).to_numpy()
X = data.X[model][d["position"]]
shared = np.concatenate([data.shared[model], X[ref]])
labelled, y = None, rows[d["target"]].to_numpy().astype(bool)
if d["k"] > 0:
    train = np.flatnonzero((rows["split"] == "train").to_numpy())
    labelled = np.random.default_rng(stable_seed(snakemake.params.seed, "deploy", model)).choice(
        train, size=min(d["k"], len(train)), replace=False)
scores = score_new_model(monitor, shared, X, ref, y=y, labelled=labelled, prior_l2=snakemake.params.transfer["prior_l2"])
out = rows[["row_id", "item_id", "suite", "split"]].assign(score=scores, alarm=scores > float(monitor["threshold"]),
                                                           labelled=False)
if labelled is not None:
    out.loc[labelled, "labelled"] = True
write_parquet(out, snakemake.output[0], {"model": model, "layer": data.layers[model], "deploy": d,
                                         "monitor_models": monitor["models"].tolist()})
