"""Canonical suite table: adapter rows + tone features + labels + prompt-disjoint split."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from emobasis import __version__
from emobasis.io import write_json, write_parquet
from emobasis.sources import read_manifest
from emobasis.suites import finish_suite, label_summary, read_suite

name = snakemake.wildcards.suite
spec = snakemake.params.suite
root, manifest = read_manifest(snakemake.input.manifest)
base, stats = read_suite(spec["adapter"], root, list(manifest["files"]), spec, name)
table = finish_suite(base, name, snakemake.params.split, snakemake.params.tone, snakemake.params.seed)
provenance = {
    "emobasis": __version__,
    "suite": {name: spec},
    "source": {k: v["sha256"] for k, v in manifest["files"].items()},
    "source_url": manifest["url"],
    "split": snakemake.params.split,
    "tone": snakemake.params.tone,
    "seed": snakemake.params.seed,
}
write_parquet(table, snakemake.output.table, provenance)
write_json(
    {"suite": name, "adapter": stats, "labels": label_summary(table), "provenance": provenance},
    snakemake.output.summary,
)
print(f"{name}: {len(table)} rows, {stats}", file=sys.stderr)
