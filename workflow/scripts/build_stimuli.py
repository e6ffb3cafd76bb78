"""One stimulus set: texts, concepts, sources and a fit/heldout split."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from emobasis import __version__
from emobasis.data.stimuli import build_stimuli
from emobasis.io import write_parquet

name = snakemake.wildcards.stimulus_set
roots = {k: Path(v).parent for k, v in snakemake.input.items() if k != "templates"}
table = build_stimuli(snakemake.params.spec, roots, snakemake.params.seed, name)
provenance = {"emobasis": __version__, "stimulus_set": {name: snakemake.params.spec}, "seed": snakemake.params.seed}
write_parquet(table, snakemake.output[0], provenance)
print(table.groupby("concept").size().to_string(), file=sys.stderr)
