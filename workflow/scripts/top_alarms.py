"""The holdouts' test rows that the zero-shot monitor scores highest (same basis and head as the LOMO grid)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.report.summary import table_html, top_alarms
from emobasis.transfer.grid import grid_config, load_settings_study, zero_shot_scores
from emobasis.transfer.metrics import auc

settings, v = snakemake.params.settings, snakemake.params.verdict
cfg = grid_config(settings)
data = load_settings_study(settings, [v["position"]], with_embeddings=False)
tables = []
for holdout in settings["models"]:
    scores = zero_shot_scores(
        data, holdout, v["aligner"], v["rank"], v["position"], v["target"], cfg, settings["seed"], v["space"]
    )
    y = data.y(holdout, v["target"])[scores.index]
    print(f"{holdout}: zero-shot AUC {auc(scores.to_numpy(), y):.4f} on {len(y)} test rows", file=sys.stderr)
    tables.append(top_alarms(data.table(holdout), scores, holdout, v["target"]))
table = pd.concat(tables, ignore_index=True)
table.to_csv(snakemake.output.table, index=False)
intro = (
    f"Zero-shot monitor ({v['aligner']}, rank {v['rank']} in the {v['space']} space, {v['position']}, "
    f"target {v['target']}), basis and "
    "head learned without the holdout; the holdout's test rows it scores highest. Texts truncated."
)
with open(snakemake.output.html, "w") as fh:
    fh.write(table_html(table, "What the monitor flags on each holdout", intro))
