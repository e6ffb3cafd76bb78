"""The prompt set of an answers suite: harmful and benign prompts from pinned sources, one split each."""

import sys

import pandas as pd

sys.stderr = open(snakemake.log[0], "w")

from emobasis import __version__
from emobasis.data.prompts import build_prompt_set, harmful_only_allowed
from emobasis.data.sources import read_manifest
from emobasis.io import write_parquet

name, spec = snakemake.wildcards.suite, snakemake.params.suite
manifests = {s: read_manifest(p) for s, p in zip(snakemake.params.sources, snakemake.input.manifests)}
roots = {s: (root, list(m["files"])) for s, (root, m) in manifests.items()}
exclude = {s: pd.read_parquet(p) for s, p in zip(spec.get("exclude_suites", []), snakemake.input.exclude)}
counts = []
table = build_prompt_set(
    spec["prompts"],
    roots,
    snakemake.params.split,
    snakemake.params.seed,
    name,
    one_class=harmful_only_allowed(spec),
    exclude=exclude,
    counts=counts,
)
provenance = {
    "emobasis": __version__,
    "suite": {name: spec},
    "sources": {
        s: {"url": m["url"], "files": {k: v["sha256"] for k, v in m["files"].items()}}
        for s, (_, m) in manifests.items()
    },
    "split": snakemake.params.split,
    "seed": snakemake.params.seed,
    **({"exclude_suites": {s: len(v) for s, v in exclude.items()}} if exclude else {}),
    "entries": counts,  # per entry: prompts read, dropped (and why), kept
}
write_parquet(table, snakemake.output[0], provenance)
for c in counts:
    why = ", ".join(f"{k.removeprefix('dropped_')} {v}" for k, v in c.items() if k.startswith("dropped_") and v)
    print(
        f"{name}: prompts[{c['entry']}] ({c['reader']}, {c['source']}): {c['read']} read, {c['kept']} kept"
        + (f"; dropped: {why}" if why else ""),
        file=sys.stderr,
    )
splits = table.groupby(["split", "benign"]).size().to_dict()
print(f"{name}: {len(table)} prompts; (split, benign) -> {splits}", file=sys.stderr)
