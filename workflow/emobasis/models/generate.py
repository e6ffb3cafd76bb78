"""Own answers: each study model answers the suite prompts itself (greedy), and its hidden states are read
*while it answers* (fused reads), in the layout :mod:`emobasis.models.extract` writes.

Rendering: exactly as extraction renders a suite prompt (:func:`emobasis.models.extract.render_prompts`): a prompt
longer than ``max_prompt_tokens`` keeps its end; then the chat template's user turn with the generation
prompt, or, for a model without a chat template, the configured ``plain_format`` (e.g.
``"User: {prompt}\\nAssistant:"``, extraction's plain prefix; a base model may need a few-shot preamble in
it). A model with neither raises :class:`GenerationError`.

Decoding: greedy (``do_sample=False``, no repetition penalty or other logits processors from the model's
generation config), at most ``max_new_tokens``, the model's EOS id(s) from its generation config (else the
tokenizer's). Optional ``stop_strings`` (for base models that invent further ``User:`` turns) end a row.
Rows are batched by ``prompt + max_new_tokens`` length under ``token_budget`` with LEFT padding (a causal
model generates after the last column), under ``torch.inference_mode()``; in ``extraction.dtype``
(:func:`emobasis.models.extract.resolve_dtype`: float32, bfloat16, or auto).

**Answer tokens** (the text, the token count, and the span the reads average over are the same tokens):
the generated tokens before the first EOS (the EOS itself is *not* part of the answer, as extraction's
tokenized response text carries none); with a stop string, the tokens that end before the stop string
starts (a token that straddles its start is dropped, and so is everything after); at most
``max_new_tokens``. ``answer`` is those tokens decoded (special tokens skipped, outer whitespace stripped);
``answer_token_ids`` keeps the exact ids. ``stop_reason`` is ``eos``, ``stop_string`` or ``max_new_tokens``.

**Positions** (identical to extraction's reading of prompt + answer tokens, see the tests):
``prompt_last`` = the last prompt token, read in the prefill (before any answer token exists);
``response_first`` = mean over the first ``response_first_k`` answer tokens (fewer if the answer is
shorter); ``response_mean`` = mean over all answer tokens. An empty answer (EOS first) has zero response
reads and ``n_answer_tokens == 0``; the stats count them (``empty_answers``).

How the reads are fused (transformers 5.x ``generate``, KV cache on): forward hooks on the decoder blocks
(the final norm for the last layer) see the prefill once (``[B, P, d]``; left padding puts every row's last
prompt token in column ``P-1``), then one ``[B, 1, d]`` step per generated token. The step that *feeds*
answer token ``t`` runs after token ``t`` was chosen; a stopping criterion called after every chosen token
marks which rows are still answering, so each hook adds ``h * active`` into float32 running sums in place
(no sequence is stored; a ``W``-token ring buffer per layer is kept only with stop strings, to take back
the tokens of a stop string once it completes). ``generate`` never feeds its last chosen token, so with
reads on it runs ``max_new_tokens + 1`` steps and the extra ("probe") token is discarded: that single step
is the price of reading the last answer token. ``torch.compile`` is disabled in ``generate`` (hooks with
Python state must run eagerly).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from emobasis.errors import GenerationError
from emobasis.models.encode import cut_prompts, system_placement
from emobasis.models.extract import (
    PLAIN_PREFIX,
    SUITE_POSITIONS,
    has_chat_template,
    layer_indices,
    pad_token_id,
    peak_rss_mb,
    plan_batches,
    reader_provenance,
    render_prompts,
    resolve_device,
    resolve_dtype,
    text_config,
)
from emobasis.models.fusedreads import MAX, RUNNING, STOP_REASONS, FusedReads, Tracker
from emobasis.models.prepack import PackedLinear, prepack_linears

DEFAULT_PLAIN_FORMAT = PLAIN_PREFIX


def eos_ids(model, tok) -> list[int]:
    """The ids that end an answer: the model's generation config, else the tokenizer's EOS."""
    value = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if value is None:
        value = tok.eos_token_id
    ids = [value] if isinstance(value, int) else list(value or [])
    if not ids:
        raise GenerationError("the model has no EOS token id. Fix: set eos_token_id in its generation_config.json.")
    return [int(i) for i in ids]


def system_prompt_record(tok, system_prompt: str | None) -> dict:
    """Where the model entry's system_prompt went (the manifest's record): a system turn, folded into the first
    user turn (a template that rejects or drops the system role), or the head of the plain format."""
    if has_chat_template(tok):
        placement, reason = system_placement(tok, system_prompt)
    elif system_prompt:
        placement, reason = "plain_format_head", "no chat template: the system text opens the plain format"
    else:
        placement, reason = "none", "no system_prompt"
    return {"text": system_prompt, "placement": placement, "reason": reason}


def render_generation_prompts(tok, prompts, cfg: dict):
    """Prompt token ids as extraction renders them: ``(ids, n_truncated, format)``."""
    plain = cfg.get("plain_format")
    if not has_chat_template(tok):
        if not plain:
            raise GenerationError(
                "the model has no chat template and no plain format is configured. Fix: set "
                "plain_format for it (e.g. 'User: {prompt}\\nAssistant:', with a few-shot "
                "preamble and stop_strings for a base model), or use a model with a chat template."
            )
        if "{prompt}" not in plain:
            raise GenerationError(
                f"plain_format {plain!r} has no '{{prompt}}' placeholder. "
                "Fix: write it like 'User: {prompt}\\nAssistant:'."
            )
    ids, n_trunc, chat = render_prompts(
        tok, prompts, cfg["max_prompt_tokens"], plain or DEFAULT_PLAIN_FORMAT, cfg.get("system_prompt")
    )
    return ids, n_trunc, "chat_template" if chat else "plain"


def generate_answers(
    model,
    tok,
    prompts,
    cfg: dict,
    *,
    prompt_ids=None,
    reads: bool = True,
    positions=SUITE_POSITIONS,
    progress=None,
    checkpoint: str | Path | None = None,
    model_key: str = "",
):
    """Greedy own answers and (``reads=True``) hidden states pooled while generating.

    ``model``: a causal LM (``AutoModelForCausalLM``; see :func:`load_generator`), on its device.
    ``cfg`` keys: ``max_new_tokens``, ``max_prompt_tokens``, ``token_budget`` (rows x (prompt +
    max_new_tokens) per batch), optional ``max_batch`` (256), ``plain_format``, ``stop_strings``; for reads
    ``layers`` (relative depths) and ``response_first_k``.
    Returns ``(answers, acts, stats)``: a DataFrame in prompt order (``prompt_id``, ``answer``,
    ``n_answer_tokens``, ``stop_reason``, ``n_prompt_tokens``, ``answer_token_ids``), the reads
    ``{"<position>/layer<i>": float16 [n, d]}`` (empty when ``reads=False``), and run statistics.
    """
    import pandas as pd
    from transformers import GenerationConfig, StoppingCriteriaList

    if not hasattr(model, "generate"):
        raise GenerationError(
            f"{type(model).__name__} cannot generate. Fix: load it with "
            "emobasis.models.generate.load_generator (AutoModelForCausalLM), not load_reader."
        )
    prompts = [str(p) for p in prompts]
    n = len(prompts)
    prompt_ids = list(range(n)) if prompt_ids is None else list(prompt_ids)
    if len(prompt_ids) != n:
        raise GenerationError(f"{len(prompt_ids)} prompt ids for {n} prompts. Fix: pass one id per prompt.")
    N = int(cfg["max_new_tokens"])
    if N < 1:
        raise GenerationError(f"max_new_tokens is {N}. Fix: set it to 1 or more.")
    stop_strings = [s for s in (cfg.get("stop_strings") or []) if s]
    ids, n_trunc, fmt = render_generation_prompts(tok, prompts, cfg)
    seen, cut = cut_prompts(tok, prompts, cfg["max_prompt_tokens"])
    device = next(model.parameters()).device
    pad = pad_token_id(tok)
    eos = eos_ids(model, tok)
    eos_t = torch.tensor(eos, device=device)
    ring = 2 * max(len(s.encode("utf-8")) for s in stop_strings) + 4 if (stop_strings and reads) else 0
    probe = bool(reads)
    gen_cfg = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=N + probe,
        min_new_tokens=0,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        pad_token_id=pad,
        eos_token_id=eos,
        use_cache=True,
        disable_compile=True,
        return_dict_in_generate=False,
    )
    reader = None
    if reads:
        layers = layer_indices(text_config(model).num_hidden_layers, cfg["layers"])
        reader = FusedReads(model, layers, positions, int(cfg["response_first_k"]), n)
    d = text_config(model).hidden_size
    lengths = np.array([len(x) for x in ids])
    answers = [None] * n
    n_tok = np.zeros(n, dtype=np.int64)
    reasons = [None] * n
    answer_ids = [None] * n
    generated = padded = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.time()
    from emobasis.models.budget import effective_token_budget

    budget, budget_record = effective_token_budget(int(cfg["token_budget"]), model, device)
    batches = plan_batches(lengths + N + probe, budget, int(cfg.get("max_batch", 256)))
    backoffs = []  # batches that ran out of memory: split in two and retried

    def run_batch(rows):
        try:
            one_batch(rows)
        except torch.OutOfMemoryError:
            if len(rows) == 1:
                raise GenerationError(
                    f"one prompt of {int(lengths[rows[0]])} tokens plus {N} new tokens does not fit in the GPU's "
                    "memory. Fix: lower extraction.max_prompt_tokens or generation.max_new_tokens for this model, "
                    "or use a larger card."
                ) from None
            if device.type == "cuda":
                torch.cuda.empty_cache()
            half = len(rows) // 2
            backoffs.append({"rows": len(rows), "split_into": [half, len(rows) - half]})
            run_batch(rows[:half])
            run_batch(rows[half:])

    def one_batch(rows):
        nonlocal generated, padded
        B, P = len(rows), int(lengths[rows].max())
        batch = torch.full((B, P), pad, dtype=torch.long)
        mask = torch.zeros((B, P), dtype=torch.long)
        for j, r in enumerate(rows):  # left padding
            batch[j, P - lengths[r] :] = torch.tensor(ids[r])
            mask[j, P - lengths[r] :] = 1
        tracker = Tracker(
            B,
            P,
            N,
            eos_t,
            probe,
            tok,
            stop_strings,
            reader.take_back if reader is not None else None,
            ring,
            progress,
        )
        if reader is not None:
            reader.start(tracker, B, d, device, ring)
        out = model.generate(
            input_ids=batch.to(device),
            attention_mask=mask.to(device),
            generation_config=gen_cfg,
            stopping_criteria=StoppingCriteriaList([tracker]),
        )
        tracker.reason[tracker.reason == RUNNING] = MAX  # generate ran out of steps
        counts = tracker.n.cpu().numpy()
        codes = tracker.reason.cpu().numpy()
        gen = out[:, P:].cpu().tolist()
        for j, r in enumerate(rows):
            a = gen[j][: counts[j]]
            answer_ids[r], n_tok[r], reasons[r] = a, int(counts[j]), STOP_REASONS[codes[j]]
            answers[r] = tok.decode(a, skip_special_tokens=True).strip()
        if reader is not None:
            reader.finish(rows, tracker.n)
        generated += int(out.shape[1] - P) * B
        padded += B * (P + N + probe)
        if progress is not None:
            progress.set_postfix(tok_s=f"{n_tok.sum() / max(time.time() - started, 1e-9):.0f}")

    store = None
    if checkpoint is not None:  # finished batches survive a killed job (emobasis.models.checkpoint)
        from emobasis.models.checkpoint import BatchStore, checkpoint_key

        settings = {k: v for k, v in cfg.items() if k not in ("device",)}
        store = BatchStore(checkpoint, checkpoint_key(ids, prompt_ids, settings, model_key, str(device), budget))
    resumed = []
    code_of = {r: i for i, r in enumerate(STOP_REASONS)}

    try:
        if reader is not None:
            reader.__enter__()
        with torch.inference_mode():
            done = set(store.done()) if store is not None else set()
            for index, rows in enumerate(batches):
                if index in done:
                    saved = store.load(index)
                    for j, r in enumerate(saved["rows"]):
                        answer_ids[r], n_tok[r] = saved["answer_ids"][j], int(saved["n_tok"][j])
                        reasons[r] = STOP_REASONS[int(saved["codes"][j])]
                        answers[r] = tok.decode(answer_ids[r], skip_special_tokens=True).strip()
                    for key, value in saved["reads"].items():
                        reader.out[key][saved["rows"]] = value
                    generated += int(saved["counters"][0])
                    padded += int(saved["counters"][1])
                    resumed.append(index)
                    continue
                before = (generated, padded)
                run_batch(rows)
                if store is not None:
                    store.save(
                        index,
                        rows,
                        [answer_ids[r] for r in rows],
                        n_tok[rows],
                        [code_of[reasons[r]] for r in rows],
                        [generated - before[0], padded - before[1]],
                        {k: v[rows] for k, v in (reader.out if reader is not None else {}).items()},
                    )
    finally:
        if reader is not None:
            reader.__exit__()
    seconds = time.time() - started
    acts = reader.out if reader is not None else {}
    for key, arr in acts.items():
        bad = ~np.isfinite(arr).all(axis=1)
        if bad.any():
            raise GenerationError(
                f"non-finite reads in '{key}' at row(s) {np.flatnonzero(bad)[:5].tolist()} "
                "(float16 overflow or a broken model). Fix: check the model and those prompts."
            )
    table = pd.DataFrame(
        {
            "prompt_id": prompt_ids,
            "answer": answers,
            "n_answer_tokens": n_tok,
            "stop_reason": reasons,
            "n_prompt_tokens": lengths,
            "answer_token_ids": answer_ids,
            "prompt_tokens_cut": np.asarray(cut, dtype=np.int64),
            "prompt_seen": seen,
        }
    )
    stats = {
        "rows": n,
        "batches": len(batches),
        "batch_token_budget": budget_record,
        "oom_backoffs": backoffs,
        "resumed_batches": len(resumed),
        "format": fmt,
        "prompts_truncated": int(n_trunc),
        "prompt_tokens": int(lengths.sum()),
        "answer_tokens": int(n_tok.sum()),
        "generate_steps_x_rows": generated,
        "padded_tokens": padded,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(float(n_tok.sum()) / max(seconds, 1e-9), 1),
        "stop_reasons": {r: int(sum(x == r for x in reasons)) for r in STOP_REASONS},
        "empty_answers": int((n_tok == 0).sum()),
        "max_new_tokens": N,
        "reads": bool(reads),
        "eos_token_ids": eos,
        "stop_strings": stop_strings,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "prepacked_linears": sum(isinstance(m, PackedLinear) for m in model.modules()),
        "prepack": getattr(model, "emobasis_prepack", (0, "not packed: model not loaded by load_generator"))[1],
    }
    if device.type == "cuda":
        stats["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return table, acts, stats


def load_generator(folder: str | Path, device: str = "auto", dtype: torch.dtype = torch.float32, prepack: bool = True):
    """Tokenizer and causal LM (with its head) in ``dtype`` (see :func:`emobasis.models.extract.resolve_dtype`):
    ``(tok, model, dtype)``. A bf16 model on a CPU gets its linear weights prepacked (``prepack``;
    :func:`emobasis.models.prepack.prepack_linears`: bit-identical, faster); ``model.emobasis_prepack`` says
    how many layers and why."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    from emobasis.models.folders import load_options

    tok = AutoTokenizer.from_pretrained(folder, **load_options(folder))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **load_options(folder)).to(device).eval()
    model.emobasis_prepack = prepack_linears(model) if prepack else (0, "not packed: prepack=False")
    return tok, model, dtype


def generate_dataset(
    model_dir: str | Path,
    table,
    cfg: dict,
    *,
    rows: np.ndarray | None = None,
    model_id: str | None = None,
    dataset: str | None = None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
):
    """Own answers of one model to one suite's prompts: ``(answers, acts, row_index, manifest)``. ``checkpoint``:
    a folder for the finished batches (:mod:`emobasis.models.checkpoint`), so that a killed job resumes.

    ``acts``, ``row_index`` and ``manifest`` go to :func:`emobasis.models.extract.save_activations` unchanged;
    ``answers`` (one row per selected table row, ``row_index`` column added) to the answers parquet.
    """
    from tqdm import tqdm

    from emobasis.models.runtime import runtime_provenance, set_determinism

    device = resolve_device(cfg.get("device", "auto"))
    determinism = set_determinism(device)
    dtype, dtype_reason = resolve_dtype(device, cfg.get("dtype", "float32"))
    tok, model, dtype = load_generator(model_dir, device, dtype)
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    sub = table.iloc[rows]
    ids = sub["prompt_id"].tolist() if "prompt_id" in sub.columns else rows.tolist()
    bar = tqdm(
        total=len(rows) * int(cfg["max_new_tokens"]),
        unit="tok",
        mininterval=2.0,
        disable=not progress,
        desc=f"{model_id or Path(model_dir).name}/{dataset or 'answers'}",
    )
    try:
        answers, acts, stats = generate_answers(
            model,
            tok,
            sub["prompt"],
            cfg,
            prompt_ids=ids,
            progress=bar,
            checkpoint=checkpoint,
            model_key=json.dumps(reader_provenance(model_dir, tok, 0, [], [])["model_source"], sort_keys=True),
        )
    except GenerationError as exc:
        raise GenerationError(f"model '{model_id}', dataset '{dataset}': {exc}") from None
    finally:
        bar.close()
    answers.insert(0, "row_index", rows)
    n_layers = text_config(model).num_hidden_layers
    layers = layer_indices(n_layers, cfg["layers"])
    manifest = {
        "model": model_id,
        "dataset": dataset,
        "kind": "answers",
        **reader_provenance(model_dir, tok, n_layers, layers, cfg["layers"]),
        "positions": list(SUITE_POSITIONS),
        "response_first_k": cfg["response_first_k"],
        "decoding": "greedy",
        "answer_tokens": "generated tokens before EOS / before the stop string, at most max_new_tokens",
        "plain_format": cfg.get("plain_format") if stats["format"] == "plain" else None,
        "system_prompt": system_prompt_record(tok, cfg.get("system_prompt")),
        "truncation": {
            "policy": "prompt keeps its end",
            "max_prompt_tokens": cfg["max_prompt_tokens"],
            "truncated_rows": {"prompt": stats["prompts_truncated"], "format": stats["format"]},
        },
        "rendered_examples": [tok.decode(x) for x in render_generation_prompts(tok, sub["prompt"][:3], cfg)[0]],
        "device": str(next(model.parameters()).device),
        "dtype": str(dtype).replace("torch.", ""),
        "dtype_reason": dtype_reason,
        "storage_dtype": "float16",
        "token_budget": cfg["token_budget"],
        "threads": torch.get_num_threads(),
        "runtime": runtime_provenance(model),
        "determinism": determinism,
        **stats,
    }
    return answers, acts, rows, manifest
