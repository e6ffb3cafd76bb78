"""Fetch (or copy from the mirror) one data source and verify every file's sha256."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from emobasis.data.sources import fetch_source, resolve_mirror

manifest = fetch_source(
    snakemake.wildcards.source,
    snakemake.params.spec,
    Path(snakemake.output[0]).parent,
    mirror=resolve_mirror(snakemake.config.get("mirror")),
)
print(f"{manifest['source']}: {len(manifest['files'])} files verified", file=sys.stderr)
