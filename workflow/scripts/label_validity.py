"""Agreement of the automatic labels with the audit set, per model, label and labeler, and the validity gate."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from emobasis.io import atomic_path
from emobasis.labels.audit import answer_keys, match_audit, read_audit
from emobasis.labels.validity import label_gate, label_validity, public_compliance_rows, public_rows, reader_agreement

table = pd.concat([pd.read_parquet(p) for p in snakemake.input.tables], ignore_index=True)
keys = answer_keys(table)
inputs = dict(snakemake.input.items())
audit = read_audit(inputs["labels"], keys) if "labels" in inputs else read_audit(None)
labels, status = match_audit(keys, audit)
p = snakemake.params
audited = labels.notna().any(axis=1).to_numpy()
if "embedder" in inputs and audited.any() and table.loc[audited, "responder"].nunique() > 1:
    from pathlib import Path

    from emobasis.labels.validity import crossfit_embedding_labeler
    from emobasis.models.embed import embed_texts

    rows = table[audited]
    folder = Path(inputs["embedder"]).parent
    emb = crossfit_embedding_labeler(
        rows, labels[audited], embed_texts(folder, rows["response"]), embed_texts(folder, rows["prompt"])
    )
    for c in emb.columns:
        table[f"emb_{c}"] = False
        table.loc[audited, f"emb_{c}"] = emb[c].to_numpy()
validity = label_validity(table, labels, p.n_boot, p.seed)
parts = [validity, public_rows(pd.read_csv(snakemake.input.judge_validation))]
if "xstest" in inputs:
    from pathlib import Path

    from emobasis.data.judge_sets import read_xstest_compliance

    parts.append(public_compliance_rows(read_xstest_compliance(Path(inputs["xstest"]).parent), p.n_boot, p.seed))
if "second_reads" in inputs:
    parts.append(reader_agreement(audit, read_audit(inputs["second_reads"], keys), p.n_boot, p.seed))
gate = label_gate(validity, status, p.gate)
print(status.to_string(), gate.to_string(), sep="\n", file=sys.stderr)
with atomic_path(snakemake.output.validity) as tmp:
    pd.concat(parts, ignore_index=True).to_csv(tmp, index=False, float_format="%.4f")
with atomic_path(snakemake.output.gate) as tmp:
    gate.to_csv(tmp, index=False, float_format="%.4f")
