"""Per-row early-warning scores of a model outside the study, from the monitor in all.npz."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np
from emobasis.concepts.directions import load_concepts
from emobasis.data.splits import stable_seed, train_side
from emobasis.io import write_parquet
from emobasis.paths import study_files
from emobasis.transfer.monitor import score_new_model
from emobasis.transfer.study import load_study

model, d, settings = snakemake.wildcards.model, snakemake.params.deploy, snakemake.params.settings
suites = settings["suites"]
monitor = dict(np.load(snakemake.input.monitor))
meta = {model: load_concepts(snakemake.input.concepts)[0]}
files = study_files([model], suites, settings["stimulus_sets"])
data = load_study(
    [model], suites, files["tables"], files["acts"], None, files["stimuli"], meta, positions=[d["position"]]
)
rows = data.rows
ref = train_side(rows)
X = data.X[model][d["position"]]
shared = np.concatenate([data.shared[model], X[ref]])
labelled, y = None, rows[d["target"]].to_numpy().astype(bool)
if d["k"] > 0:
    train = np.flatnonzero((rows["split"] == "train").to_numpy())
    labelled = np.random.default_rng(stable_seed(settings["seed"], "deploy", model)).choice(
        train, size=min(d["k"], len(train)), replace=False
    )
scores = score_new_model(monitor, shared, X, ref, y=y, labelled=labelled, prior_l2=settings["prior_l2"])
out = rows[["row_id", "item_id", "suite", "split"]].assign(
    score=scores, alarm=scores > float(monitor["threshold"]), labelled=False
)
if labelled is not None:
    out.loc[labelled, "labelled"] = True
write_parquet(
    out,
    snakemake.output[0],
    {"model": model, "layer": data.layers[model], "deploy": d, "monitor_models": monitor["models"].tolist()},
)
