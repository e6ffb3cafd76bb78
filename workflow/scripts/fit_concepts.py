"""Concept directions of one model at every extracted layer; heldout diagnostics; the chosen layer."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.concepts.directions import choose_layer, cosine_matrix, fit_concepts, read_nrc_vad, save_concepts
from emobasis.concepts.shuffled import add_shuffled
from emobasis.models.activations import load_activations

cfg = snakemake.params.concepts
stimuli, layers = [], None
for acts_path, table_path, kind in zip(snakemake.input.acts, snakemake.input.tables, snakemake.params.kinds):
    arrays, row_index = load_activations(acts_path)
    layers = json.loads(Path(acts_path).with_suffix(".json").read_text())["layers"]
    stimuli.append((pd.read_parquet(table_path), arrays, row_index, kind))
valence = read_nrc_vad(Path(snakemake.input.vad[0]).parent / "NRC-VAD-Lexicon.txt") if snakemake.input.vad else None
model = snakemake.wildcards.model
fits, diag = fit_concepts(stimuli, [layer["index"] for layer in layers], cfg["stimulus_position"], cfg, valence, model)
best = choose_layer(diag)
depth = {layer["index"]: layer["relative"] for layer in layers}
diag["relative_depth"] = diag["layer"].map(depth)
diag["chosen"] = diag["layer"] == best
diag.to_csv(snakemake.output.diagnostics, index=False)
cosine_matrix(fits[best]["directions"], fits[best]["concepts"]).to_csv(snakemake.output.cosine)
if cfg.get("shuffled_controls"):  # the unrelated-directions control (controls_unrelated space)
    fits = add_shuffled(fits, stimuli, cfg["stimulus_position"], cfg)
meta = {
    "model": model,
    "concepts": fits[best]["concepts"],
    "chosen_layer": best,
    "layers": layers,
    "stimulus_position": cfg["stimulus_position"],
    "method": cfg["method"],
}
save_concepts(snakemake.output.directions, fits, meta)
print(f"{model}: chosen layer {best}", file=sys.stderr)
print(diag[diag.chosen].groupby("kind")["value"].mean(), file=sys.stderr)
