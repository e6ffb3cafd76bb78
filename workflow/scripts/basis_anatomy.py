"""What the deployed shared basis is made of, and how much of each model's own predictor it holds."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.anatomy import basis_anatomy
from emobasis.transfer import load_settings_study

s, v = snakemake.params.settings, snakemake.params.verdict
data = load_settings_study(s, with_embeddings=False)
tables = basis_anatomy(
    data, v["aligner"], v["rank"], s["ranks"], s["targets"], s["pca_dims"], l2=s["prior_l2"], seed=s["seed"]
)
for name, path in snakemake.output.items():
    tables[name].to_csv(path, index=False)
