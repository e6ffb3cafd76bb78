"""What the deployed shared basis is made of (in the verdict's feature space), how much of each model's own
predictor it holds, and which concepts each holdout's zero-shot head leans on."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.transfer.anatomy import basis_anatomy, top_concepts
from emobasis.transfer.grid import grid_config, load_settings_study

s, v = snakemake.params.settings, snakemake.params.verdict
data = load_settings_study(s, with_embeddings=False)
tables = basis_anatomy(
    data,
    v["aligner"],
    v["rank"],
    s["ranks"],
    s["targets"],
    s["pca_dims"],
    l2=s["prior_l2"],
    seed=s["seed"],
    space=v.get("space", "hidden"),
)
cfg = grid_config(s)
tables["top_concepts"] = pd.concat([top_concepts(data, h, v, cfg, seed=s["seed"]) for h in s["models"]])
for name, path in snakemake.output.items():
    tables[name].to_csv(path, index=False)
