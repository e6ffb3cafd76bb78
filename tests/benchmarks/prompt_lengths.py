"""How long are the study's prompts in each model's tokens? (issue 36, item 3; prints numbers)

``extraction.max_prompt_tokens`` cuts a longer prompt to its last tokens, and the model then answers the cut
prompt. This prints, per prompt set and model tokenizer, the distribution of the user turn's length (the
prompt alone, as :func:`emobasis.models.encode.cut_prompts` counts it) and how many prompts each candidate cap
would cut, so that the shipped cap is chosen from measurements.

Usage, after the prompt sets and model folders exist (``make study``; for the full study's sets,
``snakemake --directory studies/full ... results/prompts/hazards.parquet`` or ``make study-full``):
``.venv/bin/python tests/benchmarks/prompt_lengths.py --prompts results/prompts studies/full/results/prompts
--models resources/models``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

CAPS = (64, 128, 256, 512, 1024)


def lengths(tok, prompts) -> np.ndarray:
    return np.array([len(ids) for ids in tok([str(p) for p in prompts], add_special_tokens=False)["input_ids"]])


def main() -> None:
    from transformers import AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", nargs="+", default=["results/prompts"], help="folders of prompt-set parquets")
    ap.add_argument("--models", default="resources/models", help="folder of built model folders")
    args = ap.parse_args()
    sets = {
        f"{p.parent.parent.parent.name}/{p.stem}": p for d in args.prompts for p in sorted(Path(d).glob("*.parquet"))
    }
    tokenizers = {}
    for folder in sorted(Path(args.models).iterdir()):
        if (folder / "tokenizer_config.json").is_file() and (folder / "config.json").is_file():
            tokenizers[folder.name] = AutoTokenizer.from_pretrained(folder)
    rows = []
    for name, path in sets.items():
        prompts = pd.read_parquet(path)["prompt"]
        for model, tok in tokenizers.items():
            n = lengths(tok, prompts)
            row = {"prompt_set": name, "model": model, "prompts": len(n), "p50": int(np.median(n))}
            row |= {"p95": int(np.percentile(n, 95)), "max": int(n.max())}
            row |= {f"cut@{c}": int((n > c).sum()) for c in CAPS}
            rows.append(row)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    worst = table.groupby("model")["max"].max()
    print("\nlongest prompt per tokenizer:", ", ".join(f"{m} {v}" for m, v in worst.items()))


if __name__ == "__main__":
    main()
