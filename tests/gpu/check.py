"""The prepared device check (issue 37, item 9): generation and extraction on one device, twice, in a few minutes,
with no hub and no network. It builds a random-init Llama from a config and a byte-level BPE tokenizer trained
here on a few sentences (no tokenizer file needed), then measures what a first GPU run must show:

- ``identical_answer_share``: greedy answers of two runs in the same settings (determinism);
- ``batching``: answers and reads with one row per batch against the planned batches (batching invariance);
- ``reads``: the reads fused into generation against extraction's teacher-forced pass over prompt + answer;
- ``memory``: peak allocated memory against the estimate of emobasis.models.budget;
- ``speed``: tokens/s and MFU (2 x parameters FLOPs per generated token) against the card's bf16 peak;
- ``provenance``: emobasis.models.runtime's fields and the determinism switches.

Usage: ``bash tests/gpu/check.sh [--device cuda|cpu] [--out FILE]`` (cuda: bf16, a 0.3B model; cpu: float32, a
tiny model, as a test of the script itself in CI). Prints the JSON and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

#: dense bf16 peak FLOP/s by card name (vendor data sheets, SXM parts)
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
CORPUS = [
    "How do I bake bread at home with a simple recipe?",
    "Explain how vaccines train the immune system to recognise a virus.",
    "Write a short poem about the sea and the wind at night.",
    "What is the capital of France, and why is it famous?",
    "Tell me a story about a dragon who guards a mountain of gold.",
    "Give me three tips to stay calm before an exam.",
    "I am not a doctor, so please check with a professional before you act.",
    "Sure! Here is a plan: first gather the materials, then follow the steps.",
]
SIZES = {  # hidden, layers, heads, kv heads, prompts, new tokens
    "cuda": (1024, 16, 16, 8, 256, 64),
    "cpu": (64, 2, 4, 2, 12, 8),
}


def build_folder(folder: Path, device: str) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    bpe.train_from_iterator(
        CORPUS * 4, trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False)
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tok.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    hidden, layers, heads, kv, _, _ = SIZES[device]
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=2048,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # lively weights: greedy answers wander through the vocabulary instead of repeating
        for name, p in model.named_parameters():
            if ".layers." in name and p.dim() == 2:
                p.mul_(4.0)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def prompts(n: int):
    import pandas as pd

    rng = np.random.default_rng(0)
    words = " ".join(CORPUS).split()
    text = [" ".join(rng.choice(words, size=int(rng.integers(4, 40)))) for _ in range(n)]
    return pd.DataFrame({"prompt": text, "prompt_id": np.arange(n)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from emobasis.models.budget import bytes_per_token
    from emobasis.models.extract import extract_dataset
    from emobasis.models.generate import generate_dataset

    started = time.time()
    *_, n_prompts, new_tokens = SIZES[args.device]
    dtype = "bfloat16" if args.device == "cuda" else "float32"
    cfg = {
        "max_new_tokens": new_tokens,
        "max_prompt_tokens": 512,
        "max_response_tokens": new_tokens,
        "max_stimulus_tokens": 32,
        "token_budget": 65536,
        "layers": [0.5, 1.0],
        "response_first_k": 8,
        "device": args.device,
        "dtype": dtype,
    }
    table = prompts(n_prompts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_folder(Path(tmp) / "tiny-llama", args.device)
        runs = [generate_dataset(folder, table, cfg, model_id="check", dataset="p", progress=False) for _ in range(2)]
        one_row = generate_dataset(folder, table, {**cfg, "max_batch": 1}, model_id="check", progress=False)
        (a1, r1, _, m1), (a2, _, _, m2), (a3, r3, _, _) = runs[0], runs[1], one_row
        teacher = table.assign(response=a1["answer"].to_numpy())
        keep = (a1["n_answer_tokens"] > 0).to_numpy() & (a1["answer"].str.len() > 0).to_numpy()
        t_acts, _, _ = extract_dataset(folder, teacher[keep], "suite", cfg, device=args.device, progress=False)
        import safetensors.torch
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(folder)
        n_params = sum(t.numel() for t in safetensors.torch.load_file(folder / "model.safetensors").values())

    def max_rel(a: dict, b: dict, rows=None) -> float:
        worst = 0.0
        for k in a:
            x, y = a[k].astype(np.float32), b[k].astype(np.float32)
            if rows is not None:
                x = x[rows]
            scale = float(np.abs(y).max()) or 1.0
            worst = max(worst, float(np.abs(x - y).max()) / scale)
        return worst

    same = float((a1["answer"] == a2["answer"]).mean())
    batch_same = float((a1["answer"] == a3["answer"]).mean())
    prompt_keys = [k for k in r1 if k.startswith("prompt_last")]
    reads_vs_teacher = max_rel(
        {k: r1[k] for k in prompt_keys}, {k: t_acts[k] for k in prompt_keys}, np.flatnonzero(keep)
    )
    tokens = int(a1["n_answer_tokens"].sum())
    seconds = float(m1["seconds"])
    tok_s = tokens / max(seconds, 1e-9)
    name = m1["runtime"].get("device_name", "")
    peak = next((v for k, v in BF16_PEAK.items() if k in str(name)), None) if args.device == "cuda" else None
    budget = m1["batch_token_budget"]
    width = 2 if dtype == "bfloat16" else 4
    per_token = bytes_per_token(config.get_text_config(), width)
    largest = min(int(a1["n_prompt_tokens"].max() + new_tokens + 1) * len(a1), budget["used"])  # tokens in a batch
    out = {
        "device": args.device,
        "dtype": dtype,
        "model": {"parameters": n_params, "layers": config.num_hidden_layers, "hidden": config.hidden_size},
        "prompts": n_prompts,
        "max_new_tokens": new_tokens,
        "identical_answer_share": same,
        "batching": {
            "identical_answer_share_one_row_batches": batch_same,
            "reads_max_rel_diff_one_row_batches": max_rel(r1, r3),
            "batches": m1["batches"],
        },
        "reads": {
            "prompt_last_max_rel_diff_fused_vs_teacher_forced": reads_vs_teacher,
            "within_tolerance": reads_vs_teacher < (0.05 if dtype == "bfloat16" else 1e-3),
        },
        "memory": {
            "peak_cuda_mb": m1.get("peak_cuda_mb"),
            "estimate_mb_for_the_largest_batch": round((n_params * width + per_token * largest) / 2**20, 1),
            "batch_token_budget": budget,
            "oom_backoffs": m1["oom_backoffs"],
        },
        "speed": {
            "answer_tokens": tokens,
            "seconds": seconds,
            "tokens_per_s": round(tok_s, 1),
            "mfu_vs_bf16_peak": round(2 * n_params * tok_s / peak, 5) if peak else None,
            "bf16_peak_flops": peak,
        },
        "provenance": {"runtime": m1["runtime"], "determinism": m1["determinism"], "second_run": m2["runtime"]},
        "wall_s": round(time.time() - started, 1),
    }
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
