"""How long must an own answer be to carry the behaviour the labels read? (issue 26, item 1; prints numbers)

For each study model, the audited prompts (``results/audit/sheet.csv``; every prompt without one) are answered
once at ``--max-new`` tokens, greedy, with the study's own decoding settings (the answers manifest). Greedy
answers do not depend on batching (tests/test_generate.py), so the answer at L new tokens is the first L tokens
of that one (or the whole answer, when it stopped earlier). At each length in ``--lengths`` it reports:

- ``cut``: share of answers stopped by the token cap, and ``mid_sentence``: of those, cut without a final
  ``. ! ? : )`` or closing quote;
- the rule labels' rates (``complied``, ``cautioned``, ``tone_masked`` on harmful prompts) and the judge's;
- with audit labels (``config/audit/labels.csv``): Cohen's kappa of each rule label at that length with the
  reading of the study-length answer (the reference reads the answer at the study's length, so agreement at
  another length says how well a label at that length predicts what the study-length answer does);
- ``same_as_study``: answers at the study's length identical to the stored study answers.

Usage (after ``make study``): ``.venv/bin/python tests/benchmarks/answer_length.py [--results results]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from emobasis.labels.audit import read_audit
from emobasis.labels.behaviour import label_behaviour
from emobasis.labels.judge import Judge
from emobasis.models.extract import resolve_dtype
from emobasis.models.generate import generate_answers, load_generator
from sklearn.metrics import cohen_kappa_score

ENDS = (".", "!", "?", ":", ")", '"', "”", "'", "*", "`")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--models-dir", default="resources/models")
    ap.add_argument("--audit", default="config/audit/labels.csv")
    ap.add_argument("--max-new", type=int, default=96)
    ap.add_argument("--lengths", type=int, nargs="+", default=[24, 48, 64, 96])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the table here (CSV)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = Path(args.results)
    tables = pd.concat([pd.read_parquet(p) for p in sorted(res.glob("suites/*/*.parquet"))], ignore_index=True)
    sheet = res / "audit" / "sheet.csv"
    if sheet.is_file():
        keep = pd.read_csv(sheet)[["model", "prompt_id"]].rename(columns={"model": "responder", "prompt_id": "item_id"})
        tables = tables.merge(keep, on=["responder", "item_id"])
    audit = read_audit(args.audit) if Path(args.audit).is_file() else None
    judge = Judge.load(res / "judge" / "judge.json")
    rows = []
    for model, t in tables.groupby("responder", sort=False):
        t = t.reset_index(drop=True)
        manifest = json.loads(next((res / "answers" / model).glob("*.json")).read_text())
        cfg = {**manifest["settings"], "max_new_tokens": args.max_new}
        dtype, _ = resolve_dtype(torch.device("cpu"), cfg.get("dtype", "float32"))
        tok, lm, _ = load_generator(Path(args.models_dir) / model, "cpu", dtype)
        start = time.perf_counter()
        answers, _, stats = generate_answers(lm, tok, t["prompt"], cfg, reads=False)
        seconds = time.perf_counter() - start
        study_n = int(manifest["settings"]["max_new_tokens"])
        ref = None
        if audit is not None:
            a = audit.set_index(["model", "prompt_id"])
            idx = pd.MultiIndex.from_arrays([t["responder"], t["item_id"]])
            ref = a.reindex(idx)[["complied", "cautioned"]].reset_index(drop=True)
        for L in args.lengths:
            texts, cut = [], []
            for ids, reason in zip(answers["answer_token_ids"], answers["stop_reason"]):
                ids = list(ids)
                texts.append(tok.decode(ids[:L], skip_special_tokens=True).strip())
                cut.append(len(ids) >= L and (len(ids) > L or reason == "max_new_tokens"))
            cut = np.array(cut)
            mid = cut & np.array([not x.rstrip().endswith(ENDS) for x in texts])
            beh = label_behaviour(t["prompt"], texts, t["benign"])
            harmful = ~t["benign"].to_numpy(bool)
            tm = beh["complied"].to_numpy() & ~beh["cautioned"].to_numpy() & harmful
            judged = judge.score(pd.DataFrame({"prompt": t["prompt"], "response": texts})) >= judge.threshold
            row = {
                "model": model,
                "new_tokens": L,
                "answers": len(t),
                "cut": cut.mean(),
                "mid_sentence": mid.mean(),
                "complied": beh["complied"].mean(),
                "cautioned": beh["cautioned"].mean(),
                "tone_masked_harmful": tm[harmful].mean(),
                "judge_unsafe_harmful": judged[harmful].mean(),
            }
            if L == study_n:
                row["same_as_study"] = float(np.mean(np.array(texts) == t["response"].astype(str).to_numpy()))
            if ref is not None:
                ok = ref["complied"].notna().to_numpy() & ref["cautioned"].notna().to_numpy()
                rc, rq = ref["complied"].to_numpy(bool, na_value=False), ref["cautioned"].to_numpy(bool, na_value=False)
                kap = lambda a, b, m: cohen_kappa_score(b[m], a[m]) if m.sum() > 1 else np.nan  # noqa: E731
                row["audited"] = int(ok.sum())
                row["kappa_complied"] = kap(beh["complied"].to_numpy(), rc, ok)
                row["kappa_cautioned"] = kap(beh["cautioned"].to_numpy(), rq, ok)
                row["kappa_tone_masked"] = kap(tm, rc & ~rq & harmful, ok & harmful)
                row["kappa_judge_complied"] = kap(judged & harmful, rc & harmful, ok & harmful)
            rows.append(row)
        print(
            f"{model}: {len(t)} prompts x {args.max_new} tokens in {seconds:.0f} s "
            f"({stats.get('tokens_per_s', float('nan')):.1f} tok/s)",
            flush=True,
        )
    out = pd.DataFrame(rows)
    print(out.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.out:
        out.to_csv(args.out, index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
