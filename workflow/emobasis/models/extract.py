"""Activation extraction: pooled hidden states per (position, layer), float16, one file per (model, dataset).

How a row reaches the model:

- **suites**: the prompt is the user turn and the response the assistant turn. With a chat template the
  prefix is ``apply_chat_template([user], add_generation_prompt=True)`` (the model's default system prompt,
  if its template adds one, stays in); without one the plain format is ``"User: {prompt}\\nAssistant:"``
  then ``" " + response``. The response is tokenized separately and appended, so the boundary is exact.
- **stimuli**: the text alone (with the tokenizer's special tokens, e.g. BOS).

Truncation (limits in ``config.extraction``): a prompt longer than ``max_prompt_tokens`` keeps its *end*
(jailbreak preambles are long; the request sits at the end); a response keeps its first
``max_response_tokens``; a stimulus its first ``max_stimulus_tokens``.

Positions: ``prompt_last`` (last token before the response: the early-warning read), ``response_first``
(mean of the first K response tokens), ``response_mean`` (mean of all kept response tokens); stimuli:
``mean`` (mean of the text's tokens, special tokens excluded) and ``last``.

Speed: rows are batched by length under a token budget (right padding, which leaves a causal model's real
tokens untouched); forward hooks pool each needed layer's output in place as a weighted sum, so full
sequences are never kept; the pass stops at the deepest layer needed (no later layers, no LM head).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import torch

from emobasis.errors import EmobasisError
from emobasis.models.encode import (  # noqa: F401  (re-exported: extraction's public API)
    PLAIN_PREFIX,
    Encoded,
    ExtractionError,
    encode_stimuli,
    encode_suite,
    has_chat_template,
    plan_batches,
    render_prompts,
    text_config,
)

SUITE_POSITIONS = ("prompt_last", "response_first", "response_mean")
STIMULUS_POSITIONS = ("mean", "last")


# --- model adapters: the one place that knows where each family keeps its decoder layers ------------


def _module_at(model, paths, kind):
    """The first attribute path (``"model.layers"``) of ``model`` that holds a module of type ``kind``."""
    for path in paths:
        obj = model
        try:
            for attr in path.split("."):
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        if isinstance(obj, kind):
            return obj
    return None


def decoder_layers(model) -> torch.nn.ModuleList:
    """The transformer blocks of a base model (Llama, Qwen2, Gemma3, BERT-style encoders)."""
    blocks = _module_at(
        model, ("layers", "model.layers", "decoder.layers", "encoder.layer", "transformer.h"), torch.nn.ModuleList
    )
    if blocks is None:
        raise ExtractionError(
            f"cannot find the decoder layers of {type(model).__name__}. Fix: add its layout to "
            "emobasis.models.extract.decoder_layers."
        )
    return blocks


def final_norm(model):
    """The norm HF applies after the last block (its ``hidden_states[-1]`` is taken after it), if any."""
    return _module_at(model, ("norm", "final_layernorm", "model.norm", "ln_f"), torch.nn.Module)


def layer_indices(n_layers: int, depths) -> list[int]:
    """Relative depths in (0, 1] -> hidden-state indices 1..n_layers (index i = output of block i)."""
    out = []
    for d in depths:
        i = min(n_layers, max(1, int(round(float(d) * n_layers))))
        if i not in out:
            out.append(i)
    return out


# --- pooling weights -------------------------------------------------------------------------------


def position_weights(position: str, start: np.ndarray, lengths: np.ndarray, T: int, k: int) -> np.ndarray:
    """[B, T] weights whose row-wise dot product with hidden states gives the pooled read."""
    B = len(start)
    w = np.zeros((B, T), dtype=np.float32)
    for b in range(B):
        s, e = int(start[b]), int(lengths[b])
        if position == "prompt_last":
            w[b, s - 1] = 1.0
        elif position == "response_first":
            w[b, s : min(e, s + k)] = 1.0
        elif position in ("response_mean", "mean"):
            w[b, s:e] = 1.0
        elif position == "last":
            w[b, e - 1] = 1.0
        else:
            raise ExtractionError(f"unknown position '{position}'. Fix: use {SUITE_POSITIONS + STIMULUS_POSITIONS}.")
        total = w[b].sum()
        if total == 0:
            raise ExtractionError(f"position '{position}' reads no token in a row of length {e}.")
        w[b] /= total
    return w


class _Stop(Exception):
    pass


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_extraction(
    model,
    enc: Encoded,
    layers: list[int],
    positions,
    *,
    k: int = 8,
    token_budget: int = 4096,
    device: str = "cpu",
    dtype=torch.float32,
    pad_id: int = 0,
    progress=None,
) -> tuple[dict, dict]:
    """Pooled float16 activations ``{"<position>/layer<i>": [n, d]}`` plus run statistics."""
    blocks = decoder_layers(model)
    deepest = max(layers)
    n = len(enc.ids)
    lengths = np.array([len(x) for x in enc.ids])
    d = text_config(model).hidden_size
    out = {f"{p}/layer{layer}": np.zeros((n, d), dtype=np.float16) for p in positions for layer in layers}
    state = {}

    def hook_for(layer):
        def hook(_module, _inputs, output):
            h = output[0] if isinstance(output, tuple) else output
            for p in positions:
                pooled = torch.einsum("bt,btd->bd", state["w"][p], h.float())
                out[f"{p}/layer{layer}"][state["rows"]] = pooled.cpu().numpy().astype(np.float16)
            if layer == deepest:
                raise _Stop

        return hook

    # hidden-state index i is block i's output, except the last, which HF reports after the final norm
    norm = final_norm(model)
    handles = [
        (norm if layer == len(blocks) and norm is not None else blocks[layer - 1]).register_forward_hook(
            hook_for(layer)
        )
        for layer in layers
    ]
    started, tokens, padded = time.time(), 0, 0
    try:
        with torch.inference_mode():
            for rows in plan_batches(lengths, token_budget):
                T = int(lengths[rows].max())
                batch = np.full((len(rows), T), pad_id, dtype=np.int64)
                mask = np.zeros((len(rows), T), dtype=np.int64)
                for j, r in enumerate(rows):
                    batch[j, : lengths[r]] = enc.ids[r]
                    mask[j, : lengths[r]] = 1
                state["rows"] = rows
                state["w"] = {
                    p: torch.from_numpy(position_weights(p, enc.start[rows], lengths[rows], T, k)).to(device)
                    for p in positions
                }
                try:
                    model(
                        input_ids=torch.from_numpy(batch).to(device),
                        attention_mask=torch.from_numpy(mask).to(device),
                        use_cache=False,
                    )
                except _Stop:
                    pass
                tokens += int(lengths[rows].sum())
                padded += len(rows) * T
                if progress is not None:
                    progress.update(int(lengths[rows].sum()))
                    progress.set_postfix(tok_s=f"{tokens / max(time.time() - started, 1e-9):.0f}")
    finally:
        for h in handles:
            h.remove()
    seconds = time.time() - started
    for key, arr in out.items():
        bad = ~np.isfinite(arr).all(axis=1)
        if bad.any():
            raise ExtractionError(
                f"non-finite activations in '{key}' at row(s) {np.flatnonzero(bad)[:5].tolist()}"
                " (float16 overflow or a broken model). Fix: check the model and those rows."
            )
    stats = {
        "rows": n,
        "tokens": tokens,
        "padded_tokens": padded,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / max(seconds, 1e-9), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if device.startswith("cuda"):
        stats["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out, stats


def load_reader(folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32):
    """Tokenizer and base model (no LM head) in ``dtype`` (see :func:`resolve_dtype`): ``(tok, model, dtype)``."""
    from transformers import AutoModel, AutoTokenizer

    from emobasis.models.folders import load_options

    tok = AutoTokenizer.from_pretrained(folder, **load_options(folder))
    model = AutoModel.from_pretrained(folder, dtype=dtype, **load_options(folder)).to(device).eval()
    return tok, model, dtype


def pad_token_id(tok) -> int:
    for v in (tok.pad_token_id, tok.eos_token_id, 0):
        if v is not None:
            return int(v)
    return 0


# --- one (model, dataset) job ----------------------------------------------------------------------


#: compute dtypes a config can ask for (extraction.dtype, used by generation too); storage is always float16
DTYPES = ("auto", "float32", "bfloat16")
#: CPU flags (Linux /proc/cpuinfo) of native bf16 dot products: AVX512-BF16 or AMX-BF16
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native-bf16 flags this CPU reports (empty where /proc/cpuinfo is absent, e.g. macOS)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[-1].split())
    return [f for f in CPU_BF16_FLAGS if f in flags]


def resolve_dtype(device: str, requested: str = "auto", cpuinfo: str | None = None) -> tuple[torch.dtype, str]:
    """The compute dtype for ``device`` and why: ``auto`` is bf16 on CUDA and on a CPU with native bf16
    (AVX512-BF16 or AMX), float32 elsewhere; ``float32`` and ``bfloat16`` are taken as asked (bf16 on a CPU
    without native support runs, slowly). The reason goes into every manifest."""
    if requested not in DTYPES:
        raise ExtractionError(f"unknown dtype {requested!r}. Fix: use one of {', '.join(DTYPES)}.")
    if requested != "auto":
        return getattr(torch, requested), f"asked for ({requested})"
    if device.startswith("cuda"):
        return torch.bfloat16, "auto: CUDA"
    flags = cpu_bf16_flags(cpuinfo)
    if flags:
        return torch.bfloat16, f"auto: the CPU has {'/'.join(flags)}"
    return torch.float32, "auto: the CPU has no native bf16 (avx512_bf16, amx_bf16)"


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ExtractionError("extraction.device is 'cuda' but no GPU is visible. Fix: use device: auto or cpu.")
    return device


def reader_provenance(model_dir, tok, n_layers: int, layers: list[int], depths) -> dict:
    """The manifest fields that say which model read a dataset, and where: its source and hashes (from the
    model folder's manifest), tokenizer and layers."""
    from emobasis.models.folders import read_model_manifest

    try:
        model_manifest = read_model_manifest(model_dir)
    except EmobasisError:
        model_manifest = {}
    keys = ("source", "format", "sha256", "repo", "revision", "weights_sha256")
    return {
        "model_source": {k: model_manifest.get(k) for k in keys},
        "tokenizer": type(tok).__name__,
        "n_layers": n_layers,
        "layers": [{"index": i, "relative": round(i / n_layers, 4)} for i in layers],
        "requested_depths": list(depths),
    }


def extract_dataset(
    model_dir: str | Path,
    table,
    kind: str,
    cfg: dict,
    *,
    rows: np.ndarray | None = None,
    device: str = "auto",
    model_id: str | None = None,
    dataset: str | None = None,
    progress: bool = True,
) -> tuple[dict, np.ndarray, dict]:
    """Activations of one dataset through one model: (arrays, row_index, manifest).

    ``kind`` is ``suite`` or ``stimuli``; ``rows`` selects table rows (default: all), in table order.
    """
    from tqdm import tqdm

    from emobasis.models.runtime import runtime_provenance, set_determinism

    device = resolve_device(device)
    determinism = set_determinism(device)
    dtype, dtype_reason = resolve_dtype(device, cfg.get("dtype", "float32"))
    tok, model, dtype = load_reader(model_dir, device, dtype)
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    sub = table.iloc[rows]
    if kind == "suite":
        enc = encode_suite(tok, sub["prompt"], sub["response"], cfg["max_prompt_tokens"], cfg["max_response_tokens"])
        positions = SUITE_POSITIONS
    else:
        enc = encode_stimuli(tok, sub["text"], cfg["max_stimulus_tokens"])
        positions = STIMULUS_POSITIONS
    n_layers = text_config(model).num_hidden_layers
    layers = layer_indices(n_layers, cfg["layers"])
    total = int(sum(len(i) for i in enc.ids))
    bar = tqdm(
        total=total,
        unit="tok",
        desc=f"{model_id or Path(model_dir).name}/{dataset or kind}",
        disable=not progress,
        mininterval=2.0,
    )
    try:
        acts, stats = run_extraction(
            model,
            enc,
            layers,
            positions,
            k=cfg["response_first_k"],
            token_budget=cfg["token_budget"],
            device=device,
            dtype=dtype,
            pad_id=pad_token_id(tok),
            progress=bar,
        )
    except ExtractionError as exc:
        raise ExtractionError(f"model '{model_id}', dataset '{dataset}': {exc}") from None
    finally:
        bar.close()
    manifest = {
        "model": model_id,
        "dataset": dataset,
        "kind": kind,
        **reader_provenance(model_dir, tok, n_layers, layers, cfg["layers"]),
        "positions": list(positions),
        "response_first_k": cfg["response_first_k"] if kind == "suite" else None,
        "truncation": {
            "policy": "prompt keeps its end; response and stimulus keep their start",
            "max_prompt_tokens": cfg["max_prompt_tokens"],
            "max_response_tokens": cfg["max_response_tokens"],
            "max_stimulus_tokens": cfg["max_stimulus_tokens"],
            "truncated_rows": enc.truncated,
        },
        "rendered_examples": enc.examples,
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "dtype_reason": dtype_reason,
        "storage_dtype": "float16",
        "token_budget": cfg["token_budget"],
        "threads": torch.get_num_threads(),
        "runtime": runtime_provenance(model),
        "determinism": determinism,
        **stats,
    }
    return acts, rows, manifest
