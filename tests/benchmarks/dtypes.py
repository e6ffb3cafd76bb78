"""Compute dtype benchmark for own-answer generation (prints numbers; not a test, CI does not time it).

    python tests/benchmarks/dtypes.py --model smollm2-135m --n 64 --max-new-tokens 24 --threads 1 --json

On the same prompts, batches and machine, in one process, the study's generation with fused reads
(``emobasis.models.generate.generate_answers``) once per compute dtype (float32 and bfloat16 on CPU): generated
tokens per second (fastest of ``--repeats`` runs, dtypes interleaved), the matmul peak of this process in the
same dtype and MFU against it (2 x FLOP-params x tokens / s over the matching peak), and what bf16 changes:
the share of greedy answers identical to float32 (token ids), of labels identical (the fitted judge's
``unsafe`` and the tone scorer's ``calm``, when ``results/judge/judge.json`` exists), and how far the reads
move (max and mean |bf16 - fp32| in units of the fp32 reads' standard deviation, per position, over the rows
whose answers are identical). The model entry's system prompt, plain format and stop strings apply, as in
the study; prompts as in ``tests/benchmarks/generate.py``. The CPU's native bf16 flags are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(Path(__file__).parent))

from emobasis.config import load_config  # noqa: E402
from emobasis.models.extract import cpu_bf16_flags  # noqa: E402
from emobasis.models.generate import generate_answers, load_generator  # noqa: E402
from generate import flop_params, matmul_peak_gflops, suite_prompts  # noqa: E402

DTYPES = ("float32", "bfloat16")


def labels(answers, prompts, cfg):
    """(judge unsafe, tone calm) per answer, or (None, calm) without a fitted judge."""
    import pandas as pd
    from emobasis.labels.tone import score_tone

    calm = score_tone(answers["answer"], cfg["tone"]["weights"], cfg["tone"]["threshold"])["calm"].to_numpy()
    judge_path = REPO / "results" / "judge" / "judge.json"
    if not judge_path.exists():
        return None, calm
    from emobasis.labels.judge import Judge

    judge = Judge.load(judge_path)
    score = judge.score(pd.DataFrame({"prompt": prompts, "response": answers["answer"].tolist()}))
    return score >= judge.threshold, calm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=64, help="prompts")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--token-budget", type=int, default=None, help="default: the config's generation budget")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--mirror", default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    spec = next((m for m in cfg["models"] if m["id"] == args.model), None)
    if spec is None:
        sys.exit(f"model '{args.model}' is not in {args.config}. Fix: use one of its models: ids.")
    folder = REPO / "resources" / "models" / args.model
    if not (folder / "MANIFEST.json").exists():
        from emobasis.models.folders import build_model

        build_model(spec, folder)
    gen_cfg = {**cfg["extraction"], **(cfg.get("generation") or {}), "max_new_tokens": args.max_new_tokens}
    gen_cfg.update({k: spec[k] for k in ("system_prompt", "plain_format", "stop_strings") if k in spec})
    if args.token_budget:
        gen_cfg["token_budget"] = args.token_budget
    prompts = suite_prompts(cfg, Path(args.mirror) if args.mirror else None, args.n)

    models = {d: load_generator(folder, "cpu", getattr(torch, d))[:2] for d in DTYPES}
    for tok, model in models.values():  # warm-up
        generate_answers(model, tok, prompts[:2], {**gen_cfg, "max_new_tokens": 4})
    best = {d: float("inf") for d in DTYPES}
    runs = {d: [] for d in DTYPES}
    out = {}
    for rep in range(args.repeats):
        for d in DTYPES if rep % 2 == 0 else DTYPES[::-1]:
            tok, model = models[d]
            t = time.perf_counter()
            out[d] = generate_answers(model, tok, prompts, gen_cfg)
            runs[d].append(round(time.perf_counter() - t, 2))
            best[d] = min(best[d], runs[d][-1])
    params = flop_params(models["float32"][1])
    result = {
        "model": args.model,
        "threads": args.threads,
        "prompts": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "token_budget": gen_cfg["token_budget"],
        "cpu_bf16_flags": cpu_bf16_flags(),
        "flop_params": params,
        "runs_s": runs,
    }
    for d in DTYPES:
        tokens = int(out[d][0]["n_answer_tokens"].sum())
        peak = matmul_peak_gflops("cpu", getattr(torch, d))
        tps = tokens / best[d]
        result[d] = {
            "answer_tokens": tokens,
            "seconds": round(best[d], 2),
            "tokens_per_s": round(tps, 1),
            "matmul_gflops": round(peak, 1),
            "mfu": round(2 * params * tps / 1e9 / peak, 4),
        }
    result["speedup_bf16"] = round(result["bfloat16"]["tokens_per_s"] / result["float32"]["tokens_per_s"], 2)
    a32, a16 = out["float32"][0], out["bfloat16"][0]
    same = np.array([list(x) == list(y) for x, y in zip(a32["answer_token_ids"], a16["answer_token_ids"])])
    result["answers_identical"] = f"{int(same.sum())}/{len(same)}"
    unsafe32, calm32 = labels(a32, prompts, cfg)
    unsafe16, calm16 = labels(a16, prompts, cfg)
    result["calm_identical"] = f"{int((calm32 == calm16).sum())}/{len(same)}"
    if unsafe32 is not None:
        result["judge_unsafe_identical"] = f"{int((unsafe32 == unsafe16).sum())}/{len(same)}"
        result["judge_unsafe_fp32_bf16"] = [int(unsafe32.sum()), int(unsafe16.sum())]
    moves = {}
    for key, x in out["float32"][1].items():
        pos = key.split("/")[0]
        a, b = x[same].astype(np.float32), out["bfloat16"][1][key][same].astype(np.float32)
        sd = float(a.std()) or 1.0
        prev = moves.get(pos, (0.0, 0.0))
        moves[pos] = (max(prev[0], float(np.abs(a - b).max()) / sd), max(prev[1], float(np.abs(a - b).mean()) / sd))
    result["reads_moved_in_sd"] = {p: {"max": round(m, 4), "mean": round(mu, 5)} for p, (m, mu) in moves.items()}
    print(json.dumps(result) if args.json else "\n".join(f"{k:>24}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
