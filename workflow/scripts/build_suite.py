"""Canonical suite table: adapter rows + tone features + labels + prompt-disjoint split.

An answers suite (the own-answer study) is built from every study model's own answers to its prompt set,
labelled by the judge and the tone scorer."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis import __version__
from emobasis.io import read_provenance, write_json, write_parquet
from emobasis.labels.suite_table import label_summary

name = snakemake.wildcards.suite
spec = snakemake.params.suite
provenance = {"emobasis": __version__, "suite": {name: spec}, "tone": snakemake.params.tone}
provenance.update(split=snakemake.params.split, seed=snakemake.params.seed)
if spec["adapter"] == "answers":
    from emobasis.labels.answers import answer_counts

    # every study model's labelled answers (rule label_answers), model-major in config order
    tables = [pd.read_parquet(p) for p in snakemake.input.tables]
    table = pd.concat(tables, ignore_index=True)
    counts = answer_counts(table)  # the study's minimums are checked over the fit suites (rule answer_counts)
    print(counts.to_string(), file=sys.stderr)
    labelled = [read_provenance(p) for p in snakemake.input.tables]
    provenance["prompts"] = read_provenance(snakemake.input.prompts)
    provenance["answers"] = {m: prov["answers"] for m, prov in zip(snakemake.params.models, labelled)}
    provenance["judge_sha256"] = labelled[0]["judge_sha256"]
    stats = {"answers": counts.to_dict(orient="records")}
else:
    from emobasis.data.sources import read_manifest
    from emobasis.data.suites import read_suite
    from emobasis.labels.suite_table import finish_suite

    root, manifest = read_manifest(snakemake.input.manifest)
    base, stats = read_suite(spec["adapter"], root, list(manifest["files"]), spec, name)
    table = finish_suite(base, name, snakemake.params.split, snakemake.params.tone, snakemake.params.seed)
    provenance["source"] = {k: v["sha256"] for k, v in manifest["files"].items()}
    provenance["source_url"] = manifest["url"]
write_parquet(table, snakemake.output.table, provenance)
write_json(
    {"suite": name, "adapter": stats, "labels": label_summary(table), "provenance": provenance},
    snakemake.output.summary,
)
print(f"{name}: {len(table)} rows", file=sys.stderr)
