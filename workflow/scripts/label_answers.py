"""One model's own answers to an answers suite, labelled by the judge and the tone scorer: its rows of the
suite table (rule build_suite concatenates every model's)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis import __version__
from emobasis.io import read_provenance, sha256_file, write_parquet
from emobasis.labels.answers import answer_counts, label_answers
from emobasis.labels.judge import Judge

model, suite = snakemake.wildcards.model, snakemake.wildcards.suite
prompts = pd.read_parquet(snakemake.input.prompts)
answers = pd.read_parquet(snakemake.input.answers)
table = label_answers(prompts, {model: answers}, Judge.load(snakemake.input.judge), snakemake.params.tone, suite)
print(answer_counts(table).to_string(), file=sys.stderr)
provenance = {
    "emobasis": __version__,
    "model": model,
    "suite": suite,
    "tone": snakemake.params.tone,
    "prompts": read_provenance(snakemake.input.prompts),
    "answers": read_provenance(snakemake.input.answers),
    "judge_sha256": sha256_file(snakemake.input.judge),
}
write_parquet(table, snakemake.output[0], provenance)
