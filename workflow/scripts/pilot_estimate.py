"""The pilot's estimate (emobasis.labels.pilot): per model, whether the full run will meet the answer-count
minimums; stops the study before the full generation when one falls short (unless pilot.enforce is false)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.io import atomic_path
from emobasis.labels.pilot import check_estimate, pilot_estimate, pilot_positives

p = snakemake.params
full = {s: pd.read_parquet(path) for s, path in zip(p.suites, snakemake.input.prompts)}
pilot = {}
for i, model in enumerate(p.models):
    rows = []
    for j, suite in enumerate(p.suites):
        answers = pd.read_parquet(snakemake.input.answers[i * len(p.suites) + j])
        sample = full[suite].set_index("item_id").loc[answers["item_id"]].reset_index()  # the prompts answered
        rows.append(pilot_positives(sample, answers))
    pilot[model] = pd.concat(rows, ignore_index=True)
estimate = pilot_estimate(pilot, full, p.minimums["positives"], p.minimums["benign"])
print(estimate.to_string(index=False), file=sys.stderr)
short = check_estimate(estimate, enforce=p.pilot["enforce"])
for line in short:
    print(f"short (pilot.enforce is false, the full run goes on): {line}", file=sys.stderr)
with atomic_path(snakemake.output[0]) as tmp:
    estimate.to_csv(tmp, index=False)
