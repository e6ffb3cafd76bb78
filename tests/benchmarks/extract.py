"""Extraction benchmark (prints numbers; not a test, CI does not time it).

    python tests/benchmarks/extract.py --model smollm2-135m --n 256 --json

On the same rows and machine, in one process: the naive path (one text at a time, full causal-LM
model, ``output_hidden_states=True``) against emobasis' extraction (length-bucketed batches, hooks that
pool in place, forward stopped after the deepest layer needed). Also the measured float32 matmul peak
of this process, the achieved model FLOP rate (2 x non-embedding parameters of the blocks that ran x
tokens / time) and their ratio (MFU). Rows: a seeded mix of the study's suites
(results/suites/*.parquet); the model folder must exist (snakemake resources/models/<id>/MANIFEST.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))

from emobasis.config import load_config  # noqa: E402
from emobasis.models.extract import (  # noqa: E402
    SUITE_POSITIONS,
    decoder_layers,
    encode_suite,
    layer_indices,
    load_reader,
    pad_token_id,
    run_extraction,
    text_config,
)


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def block_params(model, deepest: int) -> int:
    return sum(p.numel() for blk in list(decoder_layers(model))[:deepest] for p in blk.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=256, help="suite rows for our path")
    ap.add_argument("--naive-n", type=int, default=48, help="rows for the (slow) naive path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    ex = cfg["extraction"]
    folder = REPO / "resources" / "models" / args.model
    if not (folder / "MANIFEST.json").exists():
        sys.exit(f"{folder} missing. Fix: snakemake --cores 2 resources/models/{args.model}/MANIFEST.json")
    suites = [pd.read_parquet(p) for p in sorted((REPO / "results" / "suites").glob("*.parquet"))]
    if not suites:
        sys.exit("no suite tables. Fix: snakemake --cores 2 results/suites/xstest.parquet (and others)")
    rows = pd.concat(suites, ignore_index=True).sample(n=args.n, random_state=0)

    tok, model, _ = load_reader(folder)
    enc = encode_suite(tok, rows["prompt"], rows["response"], ex["max_prompt_tokens"], ex["max_response_tokens"])
    n_layers = text_config(model).num_hidden_layers
    layers = layer_indices(n_layers, ex["layers"])

    peak = matmul_peak_gflops()
    run_extraction(
        model, Encoded_head(enc, 8), layers, SUITE_POSITIONS, token_budget=ex["token_budget"], pad_id=pad_token_id(tok)
    )  # warm-up
    t = time.perf_counter()
    _, stats = run_extraction(
        model,
        enc,
        layers,
        SUITE_POSITIONS,
        k=ex["response_first_k"],
        token_budget=ex["token_budget"],
        pad_id=pad_token_id(tok),
    )
    ours_s = time.perf_counter() - t
    ours_tps = stats["tokens"] / ours_s

    from transformers import AutoModelForCausalLM

    full = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    naive_ids = enc.ids[: args.naive_n]
    with torch.inference_mode():
        full(input_ids=torch.tensor([naive_ids[0]]), output_hidden_states=True)  # warm-up
        t = time.perf_counter()
        for ids in naive_ids:
            hs = full(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
            _ = [hs[i][0].mean(0) for i in layers]
        naive_s = time.perf_counter() - t
    naive_tps = sum(len(i) for i in naive_ids) / naive_s

    params = block_params(model, max(layers))
    model_gflops = 2 * params * ours_tps / 1e9
    out = {
        "model": args.model,
        "rows": len(enc.ids),
        "tokens": stats["tokens"],
        "mean_tokens_per_row": round(stats["tokens"] / len(enc.ids), 1),
        "padding_overhead": round(stats["padded_tokens"] / stats["tokens"] - 1, 3),
        "layers": layers,
        "n_layers": n_layers,
        "threads": args.threads,
        "naive_tokens_per_s": round(naive_tps, 1),
        "tokens_per_s": round(ours_tps, 1),
        "speedup": round(ours_tps / naive_tps, 2),
        "matmul_gflops": round(peak, 1),
        "block_params_run": params,
        "model_gflops": round(model_gflops, 1),
        "mfu": round(model_gflops / peak, 3),
        "peak_rss_mb": stats["peak_rss_mb"],
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k:>22}: {v}" for k, v in out.items()))


def Encoded_head(enc, n):
    from emobasis.models.extract import Encoded

    return Encoded(enc.ids[:n], enc.start[:n])


if __name__ == "__main__":
    main()
