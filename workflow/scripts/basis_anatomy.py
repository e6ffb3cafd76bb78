"""What the deployed shared basis is made of, and how much of each model's own predictor it holds."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.anatomy import basis_anatomy
from emobasis.transfer import load_study_from_inputs

p = snakemake.params
data = load_study_from_inputs(snakemake.input, p.models, p.suites, p.transfer["positions"], with_embeddings=False)
tables = basis_anatomy(data, p.verdict["aligner"], p.verdict["rank"], p.ranks, p.transfer["targets"],
                       p.transfer["pca_dims"], l2=p.transfer["prior_l2"], seed=p.seed)
for name, path in snakemake.output.items():
    tables[name].to_csv(path, index=False)
