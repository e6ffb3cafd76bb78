"""The offline answer judge: validated leave-one-source-out, then fit on every labelled source."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis.data.judge_sets import READERS
from emobasis.data.sources import read_manifest
from emobasis.io import atomic_path
from emobasis.labels.judge import fit_judge, validate_loso

params = dict(snakemake.params.judge)
sources = params.pop("sources")
roots = {s: read_manifest(p)[0] for s, p in zip(snakemake.params.origins, snakemake.input.manifests)}
frames = {name: READERS[name](roots[origin]) for name, origin in sources.items()}
validation = validate_loso(frames, seed=snakemake.params.seed, **params)
judge = fit_judge(frames, seed=snakemake.params.seed, **params)
validation["final_threshold"] = judge.threshold
with atomic_path(snakemake.output.validation) as tmp:
    validation.to_csv(tmp, index=False, float_format="%.4f")
with atomic_path(snakemake.output.judge) as tmp:
    judge.save(tmp)
print(validation.to_string(), file=sys.stderr)
