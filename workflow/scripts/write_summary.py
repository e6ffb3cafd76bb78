"""results/summary.md: the verdict by the pre-registered rule, every claim with its number and CI."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import json

import pandas as pd
from emobasis.report.summary import study_context, summary_html, write_summary
from emobasis.report.verdict import in_space, read_summary

p = snakemake.params
models = [json.load(open(path)) for path in snakemake.input.models]
sources = {path.split("/")[-2]: json.load(open(path)) for path in snakemake.input.sources}
suites = {path.split("/")[-1].split(".")[0]: json.load(open(path)) for path in snakemake.input.suites}
spaces = read_summary(snakemake.input.summary)  # every feature space
if hasattr(snakemake.input, "split_seeds"):  # the verdict's cell, combined across split seeds
    from emobasis.transfer.splitseeds import overlay

    spaces = overlay(spaces, read_summary(snakemake.input.split_seeds))
space = p.verdict.get("space", "hidden")
summary = in_space(spaces, space)
context = study_context(p.config, models, sources, suites, summary)
answers = None
if hasattr(snakemake.input, "answers"):  # own-answer study: each model's labels and the judge's validation
    from emobasis.report.sections import answers_section

    validation = pd.read_csv(snakemake.input.judge_validation)
    answers = answers_section(pd.read_csv(snakemake.input.answers), validation, p.verdict["target"])
gate = validity = None
if hasattr(snakemake.input, "label_gate"):  # own-answer study: the label-validity gate
    from emobasis.report.sections import label_validity_section

    gate = pd.read_csv(snakemake.input.label_gate)
    validity = label_validity_section(pd.read_csv(snakemake.input.label_validity), gate, p.config["audit"]["gate"])
history = None
if hasattr(snakemake.input, "history"):  # the rule's change log
    from emobasis.report.verdict import read_history

    history = read_history(snakemake.input.history)
text, claims, verdict = write_summary(
    summary,
    pd.read_csv(snakemake.input.fractions),
    pd.read_csv(snakemake.input.angles),
    p.verdict,
    p.holdouts,
    context,
    p.ks,
    stability=pd.read_csv(snakemake.input.stability) if hasattr(snakemake.input, "stability") else None,
    answers=answers,
    by_suite=read_summary(snakemake.input.by_suite, space) if hasattr(snakemake.input, "by_suite") else None,
    spaces=spaces,
    top_concepts=pd.read_csv(snakemake.input.top_concepts) if hasattr(snakemake.input, "top_concepts") else None,
    gate=gate,
    validity=validity,
    history=history,
)
claims.to_csv(snakemake.output.claims, index=False)
with open(snakemake.output.summary, "w") as fh:
    fh.write(text)
with open(snakemake.output.html, "w") as fh:
    fh.write(summary_html(text))
print(verdict, file=sys.stderr)
