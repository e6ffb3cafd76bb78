"""Own-answer generation benchmark (prints numbers; not a test, CI does not time it).

    python tests/benchmarks/generate.py --model smollm2-135m --n 32 --max-new-tokens 48 --json

On the same prompts, batches and machine, in one process: plain ``model.generate`` (greedy, no hooks, no
stopping criterion of ours) against ``emobasis.models.generate.generate_answers`` without reads and with fused
reads (hooks pooling ``prompt_last``/``response_first``/``response_mean`` at the configured layers, plus the
one extra "probe" step that reads the last answer token). Each mode runs ``--repeats`` times, interleaved,
in alternating order, and the fastest run counts (the machine may be shared; the ratio of process CPU
seconds is printed too, as it is less sensitive to other load). Printed: generated tokens per second, the float32
matmul peak of this process, MFU (2 x FLOP-params x generated tokens / s over the peak; FLOP-params are the
blocks plus the LM head, the embedding lookup being free) and ``reads_overhead`` = wall time with reads /
plain generate (goal <= 1.10), and ``reads_vs_no_reads``, the hooks alone (with stop strings, e.g. Gemma's,
plain generate runs every step and the first ratio flatters us). The model entry's system prompt, plain
format and stop strings apply, as in the study. Prompts: unique prompts of the config's suites, seeded
(results/prompts or results/suites if built, else the data mirror). The model folder resources/models/<id>/
is built when missing.

``--dtype`` picks the compute dtype (float32, bfloat16, or auto: bf16 where the CPU has avx512_bf16 or AMX, as
the study resolves it; the choice and its reason are printed). MFU is against the matmul peak of the same
dtype. With a dtype other than float32 the study's generation also runs once in float32 on the same prompts
and batches (``float32_reference``): its tokens per second, the speedup, and the share of answers whose token
ids are identical to float32's (``answers_identical_to_float32``; ``tests/benchmarks/dtypes.py`` adds the
labels and how far the reads move). In bf16 on a CPU the linear weights are prepacked for oneDNN, as in the
study (:mod:`emobasis.models.prepack`; ``--no-prepack`` turns it off); the study's generation then also runs
once unpacked (``unpacked_reference``, ``speedup_vs_unpacked``, ``answers_identical_to_unpacked``: packing is
bit-identical, so every answer should be).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))

from emobasis.config import load_config  # noqa: E402
from emobasis.models.extract import (  # noqa: E402
    cpu_bf16_flags,
    decoder_layers,
    pad_token_id,
    plan_batches,
    resolve_device,
    resolve_dtype,
    text_config,
)
from emobasis.models.generate import eos_ids, generate_answers, load_generator, render_generation_prompts  # noqa: E402
from emobasis.models.prepack import PackedLinear  # noqa: E402


def matmul_peak_gflops(device: str = "cpu", dtype=torch.float32, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    best = 0.0
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def flop_params(model) -> int:
    """Parameters that cost 2 FLOPs per token: the decoder blocks, the final norm and the LM head (prepacked
    linears count their weight shape)."""
    layers = decoder_layers(model)
    packed = sum(m.in_features * m.out_features for m in layers.modules() if isinstance(m, PackedLinear))
    blocks = sum(p.numel() for p in layers.parameters()) + packed
    head = model.get_output_embeddings()
    if head is None:
        return blocks
    return blocks + (head.in_features * head.out_features if isinstance(head, PackedLinear) else head.weight.numel())


def suite_prompts(cfg: dict, mirror: Path | None, n: int, seed: int = 0) -> list[str]:
    """Unique prompts of the config's suites: built tables when present, else read from the data mirror."""
    built = sorted((REPO / "results" / "prompts").glob("*.parquet")) or sorted(
        (REPO / "results" / "suites").glob("*.parquet")
    )
    tables = [pd.read_parquet(p) for p in built]
    if not tables:
        from emobasis.data.prompts import build_prompt_set
        from emobasis.data.suites import read_suite

        mirror = mirror or (REPO.parent / "shared" / "data")

        def root(source: str) -> tuple[Path, list[str]]:
            src = cfg["sources"][source]
            return mirror / src.get("mirror_dir", source), list(src["files"])

        for name, spec in cfg["suites"].items():
            if spec["adapter"] == "answers":  # own answers: the prompt set, as `build_prompts` makes it
                roots = {e["source"]: root(e["source"]) for e in spec["prompts"]}
                tables.append(build_prompt_set(spec["prompts"], roots, cfg["split"], cfg["seed"], name))
            else:
                tables.append(read_suite(spec["adapter"], *root(spec["source"]), spec, name)[0])
    prompts = pd.concat(tables, ignore_index=True)["prompt"].astype(str).drop_duplicates()
    return prompts.sample(n=min(n, len(prompts)), random_state=seed).tolist()


def plain_generate(model, tok, prompts, gen_cfg: dict, n_new: int):
    """Plain HF generate over the same left-padded, length-bucketed batches; returns (token lists, steps)."""
    from transformers import GenerationConfig

    ids, _, _ = render_generation_prompts(tok, prompts, gen_cfg)
    lengths = np.array([len(x) for x in ids])
    pad, device = pad_token_id(tok), next(model.parameters()).device
    config = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=n_new,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        pad_token_id=pad,
        eos_token_id=eos_ids(model, tok),
        disable_compile=True,
    )
    out = [None] * len(prompts)
    with torch.inference_mode():
        for rows in plan_batches(lengths + n_new, gen_cfg["token_budget"]):
            P = int(lengths[rows].max())
            batch = torch.full((len(rows), P), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), P), dtype=torch.long)
            for j, r in enumerate(rows):
                batch[j, P - lengths[r] :] = torch.tensor(ids[r])
                mask[j, P - lengths[r] :] = 1
            gen = model.generate(input_ids=batch.to(device), attention_mask=mask.to(device), generation_config=config)
            for j, r in enumerate(rows):
                out[r] = gen[j, P:].tolist()
    return out


def reference_run(folder, device, dtype, prompts, gen_cfg, answers, tps, mfu_per_tps, *, prepack=True) -> dict:
    """The study's generation with fused reads in ``dtype`` (``prepack`` as given) on the same prompts and
    batches: its seconds, tokens per second and MFU (``mfu_per_tps`` x tokens/s: 2 x FLOP-params over the
    matching peak) from one run, and, against the benchmarked setting's ``answers`` and ``tps``, the speedup
    over it and how many answers have identical token ids."""
    tok, model, _ = load_generator(folder, device, dtype, prepack=prepack)
    generate_answers(model, tok, prompts[:2], {**gen_cfg, "max_new_tokens": 4})  # warm-up
    t = time.perf_counter()
    ref = generate_answers(model, tok, prompts, gen_cfg)[0]
    seconds = time.perf_counter() - t
    ref_tps = int(ref.n_answer_tokens.sum()) / seconds
    same = sum(list(a) == list(b) for a, b in zip(ref.answer_token_ids, answers.answer_token_ids))
    run = {"seconds": round(seconds, 2), "tokens_per_s": round(ref_tps, 1), "mfu": round(mfu_per_tps * ref_tps, 4)}
    return {"run": run, "speedup": round(tps / ref_tps, 2), "identical": f"{same}/{len(prompts)}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=32, help="prompts")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--token-budget", type=int, default=None, help="default: extraction.token_budget")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--dtype", default="float32", help="float32, bfloat16 or auto (bf16 where the CPU has it)")
    ap.add_argument("--no-prepack", action="store_true", help="bf16 on a CPU: keep F.linear (no packed weights)")
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--mirror", default=None)
    ap.add_argument("--stop-strings", nargs="*", default=None, help="default: the model entry's; e.g. '\\nUser:'")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    device = resolve_device(args.device)
    folder = REPO / "resources" / "models" / args.model
    built_s = None
    spec = next((m for m in cfg["models"] if m["id"] == args.model), None)
    if spec is None:
        sys.exit(f"model '{args.model}' is not in {args.config}. Fix: use one of its models: ids.")
    if not (folder / "MANIFEST.json").exists():
        from emobasis.models.folders import build_model

        t = time.perf_counter()
        build_model(spec, folder)
        built_s = round(time.perf_counter() - t, 1)
    dtype, dtype_reason = resolve_dtype(device, args.dtype)
    tok, model, dtype = load_generator(folder, device, dtype, prepack=not args.no_prepack)
    gen_cfg = {**cfg["extraction"], **(cfg.get("generation") or {}), "max_new_tokens": args.max_new_tokens}
    # as the study's generate rule: the model entry's system prompt, plain format and stop strings
    gen_cfg.update({k: spec[k] for k in ("system_prompt", "plain_format", "stop_strings") if k in spec})
    gen_cfg.setdefault("plain_format", "User: {prompt}\nAssistant:")
    if args.stop_strings is not None:
        gen_cfg["stop_strings"] = [x.encode().decode("unicode_escape") for x in args.stop_strings]
    if args.token_budget:
        gen_cfg["token_budget"] = args.token_budget
    prompts = suite_prompts(cfg, Path(args.mirror) if args.mirror else None, args.n)

    peak = matmul_peak_gflops(device)
    peak_bf16 = (
        matmul_peak_gflops(device, torch.bfloat16) if (device.startswith("cuda") or dtype != torch.float32) else None
    )
    generate_answers(model, tok, prompts[:2], {**gen_cfg, "max_new_tokens": 4})  # warm-up

    # paired timing: each batch of prompts runs in every mode back to back (order rotated), so that the
    # load of a shared machine hits the modes alike; per mode, the batch times are summed per repeat
    ids, _, _ = render_generation_prompts(tok, prompts, gen_cfg)
    lengths = np.array([len(x) for x in ids])
    batches = plan_batches(lengths + args.max_new_tokens + 1, gen_cfg["token_budget"])
    names = ("plain", "no_reads", "reads")
    times = {k: [0.0] * args.repeats for k in names}
    cpu = {k: [0.0] * args.repeats for k in names}  # process CPU seconds: less sensitive to other load
    parts = {k: [] for k in names}
    for rep in range(args.repeats):
        for bi, rows in enumerate(batches):
            sub = [prompts[i] for i in rows]
            modes = {
                "plain": lambda sub=sub: plain_generate(model, tok, sub, gen_cfg, args.max_new_tokens),
                "no_reads": lambda sub=sub: generate_answers(model, tok, sub, gen_cfg, reads=False),
                "reads": lambda sub=sub: generate_answers(model, tok, sub, gen_cfg),
            }
            k = (rep * len(batches) + bi) % 3
            for mode in names[k:] + names[:k]:
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t, c = time.perf_counter(), time.process_time()
                result = modes[mode]()
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[mode][rep] += time.perf_counter() - t
                cpu[mode][rep] += time.process_time() - c
                if rep == 0:
                    parts[mode].append((rows, result))
    order = np.concatenate([rows for rows, _ in parts["reads"]])
    inverse = np.argsort(order)
    plain = [x for _, r in parts["plain"] for x in r]
    plain = [plain[i] for i in inverse]
    answers = pd.concat([r[0] for _, r in parts["reads"]], ignore_index=True).iloc[inverse].reset_index(drop=True)
    acts = parts["reads"][0][1][1]
    stats = {
        **parts["reads"][0][1][2],
        "batches": len(batches),
        "prompt_tokens": int(lengths.sum()),
        "stop_reasons": answers.stop_reason.value_counts().to_dict(),
    }
    best = {k: min(v) for k, v in times.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    eos = set(eos_ids(model, tok))

    def cut(ids):  # plain generate's tokens up to (excluding) the first EOS / padding after it
        return next((ids[:i] for i, x in enumerate(ids) if x in eos), ids)

    same = sum(cut(p) == list(a) for p, a in zip(plain, answers.answer_token_ids))  # differs with stop strings
    tokens = int(answers.n_answer_tokens.sum())
    params = flop_params(model)
    tps = tokens / best["reads"]
    model_gflops = 2 * params * tps / 1e9
    out = {
        "model": args.model,
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "threads": args.threads,
        "prompts": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "token_budget": gen_cfg["token_budget"],
        "batches": stats["batches"],
        "prompt_tokens": stats["prompt_tokens"],
        "answer_tokens": tokens,
        "stop_reasons": stats["stop_reasons"],
        "stop_strings": stats["stop_strings"],
        "format": stats["format"],
        "layers": sorted({int(k.split("layer")[1]) for k in acts}),
        "n_layers": text_config(model).num_hidden_layers,
        "answers_equal_plain_generate": f"{same}/{len(prompts)}",
        "seconds_plain": round(best["plain"], 2),
        "seconds_no_reads": round(best["no_reads"], 2),
        "seconds_reads": round(best["reads"], 2),
        "runs": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "cpu_runs": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
        "reads_overhead_cpu": round(best_cpu["reads"] / best_cpu["plain"], 3),
        "tokens_per_s_plain": round(tokens / best["plain"], 1),
        "tokens_per_s": round(tps, 1),
        "reads_overhead": round(best["reads"] / best["plain"], 3),
        "criterion_overhead": round(best["no_reads"] / best["plain"], 3),
        # the hooks alone: our generation with fused reads / without (fair also with stop strings, which
        # plain generate does not apply, so it always runs max_new_tokens steps)
        "reads_vs_no_reads": round(best["reads"] / best["no_reads"], 3),
        "matmul_gflops_fp32": round(peak, 1),
        "flop_params": params,
        "model_gflops": round(model_gflops, 1),
        "mfu_fp32": round(model_gflops / peak, 4),
        "dtype_reason": dtype_reason,
        "prepacked_linears": model.emobasis_prepack[0],
        "prepack": model.emobasis_prepack[1],
        "cpu_bf16_flags": cpu_bf16_flags(),
        "peak_rss_mb": stats["peak_rss_mb"],
        "model_built_s": built_s,
    }
    if peak_bf16:
        out.update(
            matmul_gflops_bf16=round(peak_bf16, 1),
            mfu_bf16=round(model_gflops / peak_bf16, 4),
            peak_cuda_mb=stats.get("peak_cuda_mb"),
        )
    if dtype != torch.float32:  # MFU against the matching peak, and what the dtype changes
        out["mfu"] = out.get("mfu_bf16")
        # each reference's MFU is against its own dtype's peak (``mfu_fp32`` above is this run's against float32's)
        refs = [("float32", torch.float32, True, peak)]
        if model.emobasis_prepack[0]:  # what packing alone buys, and that it changes no answer
            refs.append(("unpacked", dtype, False, peak_bf16))
        for name, ref_dtype, prepack, ref_peak in refs:
            ref = reference_run(
                folder, device, ref_dtype, prompts, gen_cfg, answers, tps, 2 * params / 1e9 / ref_peak, prepack=prepack
            )
            out[f"{name}_reference"] = ref["run"]
            out[f"speedup_vs_{name}"] = ref["speedup"]
            out[f"answers_identical_to_{name}"] = ref["identical"]
    else:
        out["mfu"] = out["mfu_fp32"]
    print(json.dumps(out) if args.json else "\n".join(f"{k:>28}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
