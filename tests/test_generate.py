"""Own-answer generation: fused reads equal a teacher-forced forward pass over prompt + generated answer;
greedy answers do not depend on batching; EOS, max_new_tokens and stop strings end answers as documented."""

import numpy as np
import pandas as pd
import pytest
import torch
from emobasis.errors import EmobasisError
from emobasis.models.activations import load_activations, save_activations
from emobasis.models.extract import (
    PLAIN_PREFIX,
    SUITE_POSITIONS,
    Encoded,
    encode_suite,
    layer_indices,
    render_prompts,
    run_extraction,
)
from emobasis.models.generate import GenerationError, generate_answers, generate_dataset, load_generator

CFG = {
    "max_new_tokens": 10,
    "max_prompt_tokens": 16,
    "token_budget": 100_000,
    "layers": [0.25, 0.5, 1.0],
    "response_first_k": 3,
    "plain_format": PLAIN_PREFIX,
}

PROMPTS = [
    "How do I bake bread?",
    "Tell me a long story about a dragon who guards a mountain of gold and never sleeps, in great detail please",
    "Hi",
    "What is the capital of France and why is it famous?",
    "Write a poem.",
    "Explain how vaccines train the immune system to recognise a virus.",
]


def lively(folder):
    """The tiny random model with its block weights scaled up: greedy decoding then wanders through the
    vocabulary instead of repeating one token, so answers, EOS and stop strings are not trivial."""
    tok, model, _ = load_generator(folder, "cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".layers." in name and p.dim() == 2:
                p.mul_(8.0)
    return tok, model


def prompt_ids(tok, prompts, cfg):
    return render_prompts(tok, prompts, cfg["max_prompt_tokens"], cfg.get("plain_format") or PLAIN_PREFIX)[0]


def teacher_forced(model, tok, prompts, answers, cfg):
    """Reads of prompt + answer tokens by extraction's own path (run_extraction, right padding, no cache),
    and, independently, by one unpadded forward per row with output_hidden_states."""
    pids = prompt_ids(tok, prompts, cfg)
    keep = [i for i, a in enumerate(answers.answer_token_ids) if len(a) > 0]
    enc = Encoded(
        [list(pids[i]) + list(answers.answer_token_ids[i]) for i in keep], np.array([len(pids[i]) for i in keep])
    )
    layers = layer_indices(model.config.num_hidden_layers, cfg["layers"])
    k = cfg["response_first_k"]
    via_extract, _ = run_extraction(
        model, enc, layers, SUITE_POSITIONS, k=k, token_budget=100_000, pad_id=tok.pad_token_id or 0
    )
    direct = {f"{p}/layer{L}": [] for p in SUITE_POSITIONS for L in layers}
    for ids, s in zip(enc.ids, enc.start):
        with torch.inference_mode():
            hs = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        for L in layers:
            h = hs[L][0].float()
            reads = {"prompt_last": h[s - 1], "response_first": h[s : s + k].mean(0), "response_mean": h[s:].mean(0)}
            for p in SUITE_POSITIONS:
                direct[f"{p}/layer{L}"].append(reads[p].numpy())
    return keep, via_extract, {key: np.stack(v) for key, v in direct.items()}


def max_rel_err(got, want):
    got, want = got.astype(np.float32), want.astype(np.float32)
    return float((np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)).max())


def assert_reads_exact(acts, model, tok, prompts, answers, cfg, tol=2e-3):
    keep, via_extract, direct = teacher_forced(model, tok, prompts, answers, cfg)
    worst = 0.0
    for key, want in direct.items():
        got = acts[key][keep]
        for ref in (want, via_extract[key]):
            err = max_rel_err(got, ref)
            worst = max(worst, err)
            assert err < tol, f"{key}: max relative error {err:.2e}"  # float16 rounding
    empty = [i for i in range(len(answers)) if i not in keep]
    for key in acts:
        if not key.startswith("prompt_last"):
            assert not acts[key][empty].any()  # an empty answer has zero response reads
    return worst


def with_eos(model, token_id):
    """Make ``token_id`` an extra EOS of the model (the tiny random model rarely emits its own)."""
    eos = model.generation_config.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos)
    model.generation_config.eos_token_id = eos + [int(token_id)]


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_chat_model"])
def test_fused_reads_equal_teacher_forced_forward(request, fixture):
    tok, model = lively(request.getfixturevalue(fixture))
    lengths = [len(x) for x in prompt_ids(tok, PROMPTS, CFG)]
    assert len(set(lengths)) > 3  # one batch, mixed lengths: left padding is exercised
    first, _, _ = generate_answers(model, tok, PROMPTS, CFG, reads=False)
    assert (first.stop_reason == "max_new_tokens").all() and (first.n_answer_tokens == 10).all()
    # an EOS the model will emit mid-answer in row 0 (and maybe elsewhere): rows of every stop reason
    row0 = first.answer_token_ids[0]
    cut = next(i for i in range(3, 10) if row0[i] not in row0[:i])
    with_eos(model, row0[cut])
    answers, acts, stats = generate_answers(model, tok, PROMPTS, CFG)
    assert stats["batches"] == 1 and stats["format"] == ("chat_template" if fixture == "tiny_chat_model" else "plain")
    assert answers.stop_reason[0] == "eos" and answers.n_answer_tokens[0] == cut
    assert answers.answer_token_ids[0] == row0[:cut]  # EOS is not an answer token
    assert (answers.stop_reason == "max_new_tokens").any()
    for ids, n in zip(answers.answer_token_ids, answers.n_answer_tokens):
        assert len(ids) == n and row0[cut] not in ids
    worst = assert_reads_exact(acts, model, tok, PROMPTS, answers, CFG)
    print(f"{fixture}: max relative error {worst:.2e}")
    # the prompt is rendered exactly as extraction renders it (same prefix, same split point)
    if fixture == "tiny_chat_model":
        enc = encode_suite(tok, PROMPTS, ["ok"] * len(PROMPTS), CFG["max_prompt_tokens"], 4)
        assert [ids[:s] for ids, s in zip(enc.ids, enc.start)] == [list(x) for x in prompt_ids(tok, PROMPTS, CFG)]
        assert (answers.n_prompt_tokens.to_numpy() == enc.start).all()
    # the answers are greedy: each answer token (and each EOS) is the argmax after the tokens before it
    pids = prompt_ids(tok, PROMPTS, CFG)
    for p, row in zip(pids, answers.itertuples()):
        full = list(p) + list(row.answer_token_ids)
        with torch.inference_mode():
            pred = model(input_ids=torch.tensor([full])).logits[0, len(p) - 1 :].argmax(-1).tolist()
        assert pred[: row.n_answer_tokens] == list(row.answer_token_ids)
        if row.stop_reason == "eos":
            assert pred[row.n_answer_tokens] in model.generation_config.eos_token_id


def test_answers_do_not_depend_on_batching(tiny_chat_model):
    tok, model = lively(tiny_chat_model)
    one, acts_one, s_one = generate_answers(model, tok, PROMPTS, CFG)
    small = {**CFG, "token_budget": 60}
    many, acts_many, s_many = generate_answers(model, tok, PROMPTS, small)
    assert s_one["batches"] == 1 and s_many["batches"] >= 4
    assert one.answer_token_ids.tolist() == many.answer_token_ids.tolist()
    assert one.answer.tolist() == many.answer.tolist()
    for key in acts_one:
        assert max_rel_err(acts_many[key], acts_one[key]) < 2e-3, key
    plain, acts, _ = generate_answers(model, tok, PROMPTS, CFG, reads=False)  # no hooks, no probe step
    assert acts == {} and plain.answer_token_ids.tolist() == one.answer_token_ids.tolist()


def test_max_new_tokens_caps_answers(tiny_model):
    tok, model = lively(tiny_model)
    for n_new in (1, 4):
        cfg = {**CFG, "max_new_tokens": n_new}
        answers, acts, stats = generate_answers(model, tok, PROMPTS[:4], cfg)
        assert (answers.n_answer_tokens == n_new).all() and stats["stop_reasons"]["max_new_tokens"] == 4
        assert_reads_exact(acts, model, tok, PROMPTS[:4], answers, cfg)
        if n_new == 1:  # one answer token: both response reads are its hidden state
            for L in layer_indices(2, CFG["layers"]):
                assert (acts[f"response_first/layer{L}"] == acts[f"response_mean/layer{L}"]).all()


def test_stop_string_truncates_answer_and_reads(tiny_chat_model):
    tok, model = lively(tiny_chat_model)
    full, _, _ = generate_answers(model, tok, PROMPTS, CFG, reads=False)
    words = full.answer[1].split()
    stop = next(w for w in words[3:] if len(tok(w, add_special_tokens=False)["input_ids"]) > 1)  # spans tokens
    cfg = {**CFG, "stop_strings": [stop]}
    answers, acts, stats = generate_answers(model, tok, PROMPTS, cfg)
    hit = [i for i, a in enumerate(full.answer) if stop in a]
    assert 1 in hit and stats["stop_reasons"]["stop_string"] == len(hit)
    for i, row in answers.iterrows():
        assert stop not in row.answer
        assert row.answer_token_ids == full.answer_token_ids[i][: row.n_answer_tokens]
        if i in hit:
            assert row.stop_reason == "stop_string"
            assert full.answer[i].startswith(row.answer) and len(row.answer) <= full.answer[i].index(stop)
        else:
            assert row.answer_token_ids == full.answer_token_ids[i]
    assert answers.n_answer_tokens[1] < 10
    assert_reads_exact(acts, model, tok, PROMPTS, answers, cfg)  # stop-string tokens were taken back


def test_no_chat_template_and_no_plain_format_is_an_error(tiny_model):
    tok, model, _ = load_generator(tiny_model, "cpu")
    cfg = {k: v for k, v in CFG.items() if k != "plain_format"}
    with pytest.raises(GenerationError, match="no chat template and no plain format.*Fix:"):
        generate_answers(model, tok, PROMPTS, cfg)
    with pytest.raises(GenerationError, match="placeholder.*Fix:"):
        generate_answers(model, tok, PROMPTS, {**CFG, "plain_format": "User: hi\nAssistant:"})


def test_dataset_round_trip_through_save_activations(tiny_chat_model, tmp_path):
    table = pd.DataFrame({"prompt": PROMPTS, "prompt_id": [f"p{i}" for i in range(len(PROMPTS))]})
    answers, acts, rows, manifest = generate_dataset(
        tiny_chat_model,
        table,
        {**CFG, "max_new_tokens": 4},
        rows=np.array([0, 2, 5]),
        model_id="tiny",
        dataset="demo",
        progress=False,
    )
    assert answers.row_index.tolist() == [0, 2, 5] and answers.prompt_id.tolist() == ["p0", "p2", "p5"]
    assert manifest["kind"] == "answers" and manifest["answer_tokens"] and manifest["tokens_per_s"] > 0
    path = tmp_path / "demo.safetensors"
    save_activations(path, acts, rows, manifest, tmp_path / "demo.json")
    loaded, idx = load_activations(path)
    assert idx.tolist() == [0, 2, 5] and set(loaded) == {f"{p}/layer{i}" for p in SUITE_POSITIONS for i in (1, 2, 4)}
    assert all(v.dtype == np.float16 and v.shape == (3, 64) for v in loaded.values())


SMOL_PROMPTS = [
    "Reply with one word: what colour is a clear daytime sky?",
    "Write a detailed, step by step guide to organising a small community garden, covering soil, "
    "watering schedules, volunteers, budgets and how to handle disputes between neighbours.",
    "Hi!",
    "What is 2 + 2?",
    "Name three rivers in Europe.",
    "Explain why the moon shows phases, in simple terms for a child.",
]


@pytest.mark.realmodel
def test_smollm2_fused_reads_equal_teacher_forced_forward(smollm2_dir, default_config):
    tok, model, _ = load_generator(smollm2_dir, "cpu")
    cfg = {**default_config["extraction"], "max_new_tokens": 16, "max_prompt_tokens": 24}
    assert len({len(x) for x in prompt_ids(tok, SMOL_PROMPTS, cfg)}) > 3
    answers, acts, stats = generate_answers(model, tok, SMOL_PROMPTS, cfg)
    assert stats["format"] == "chat_template" and stats["prompts_truncated"] == 1 and stats["batches"] == 1
    assert stats["stop_reasons"]["eos"] >= 1 and stats["stop_reasons"]["max_new_tokens"] >= 1
    worst = assert_reads_exact(acts, model, tok, SMOL_PROMPTS, answers, cfg)
    print(f"smollm2: max relative error {worst:.2e}")
    # a stop string cuts the answers at the first period; the reads follow
    cut, acts_cut, _ = generate_answers(model, tok, SMOL_PROMPTS, {**cfg, "stop_strings": ["."]})
    assert all("." not in a for a in cut.answer) and (cut.stop_reason == "stop_string").any()
    assert_reads_exact(acts_cut, model, tok, SMOL_PROMPTS, cut, cfg)


# --- the compute dtype ---------------------------------------------------------------------------------

CPUINFO_BF16 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n"
CPUINFO_PLAIN = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n"


def test_auto_dtype_is_bf16_on_cuda_and_on_cpus_with_native_bf16_only():
    from emobasis.models.extract import cpu_bf16_flags, resolve_dtype

    assert cpu_bf16_flags(CPUINFO_BF16) == ["avx512_bf16"] and cpu_bf16_flags(CPUINFO_PLAIN) == []
    assert resolve_dtype("cpu", "auto", CPUINFO_BF16) == (torch.bfloat16, "auto: the CPU has avx512_bf16")
    assert resolve_dtype("cpu", "auto", CPUINFO_PLAIN)[0] == torch.float32
    assert "no native bf16" in resolve_dtype("cpu", "auto", CPUINFO_PLAIN)[1]
    assert resolve_dtype("cuda", "auto", CPUINFO_PLAIN)[0] == torch.bfloat16
    assert resolve_dtype("cpu", "float32", CPUINFO_BF16) == (torch.float32, "asked for (float32)")
    assert resolve_dtype("cpu", "bfloat16", CPUINFO_PLAIN)[0] == torch.bfloat16
    with pytest.raises(EmobasisError, match="unknown dtype 'fp8'. Fix: use one of auto, float32, bfloat16"):
        resolve_dtype("cpu", "fp8")


def test_bf16_generation_records_its_dtype_and_keeps_the_layout(tiny_chat_model):
    table = pd.DataFrame({"prompt": PROMPTS[:3], "prompt_id": ["a", "b", "c"]})
    cfg = {**CFG, "max_new_tokens": 4}
    out = {}
    for dtype in ("float32", "bfloat16"):
        answers, acts, _, manifest = generate_dataset(
            tiny_chat_model, table, {**cfg, "dtype": dtype}, model_id="tiny", dataset="demo", progress=False
        )
        assert manifest["dtype"] == dtype and manifest["dtype_reason"] == f"asked for ({dtype})"
        assert all(v.dtype == np.float16 and np.isfinite(v).all() for v in acts.values())
        out[dtype] = acts
    assert set(out["float32"]) == set(out["bfloat16"])
    first = out["float32"]["prompt_last/layer1"].astype(np.float32)  # prompt_last: the same prompt tokens
    moved = np.abs(first - out["bfloat16"]["prompt_last/layer1"].astype(np.float32)).max() / first.std()
    assert 0 < moved < 0.5  # bf16 rounds the reads a little, it does not change what they read


def test_a_batch_that_runs_out_of_memory_is_split_and_retried_with_the_same_answers(tiny_model, monkeypatch):
    """On torch.OutOfMemoryError the batch is halved and each half retried (greedy answers do not depend on the
    batch); the stats record every split. One prompt that alone does not fit is an error naming the fix."""
    tok, model = lively(tiny_model)
    cfg = {**CFG, "token_budget": 100_000}
    whole, acts_whole, s_whole = generate_answers(model, tok, PROMPTS, cfg)
    assert s_whole["oom_backoffs"] == [] and s_whole["batch_token_budget"]["used"] == 100_000
    real = model.generate

    def small_card(*args, **kwargs):
        if kwargs["input_ids"].shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", small_card)
    split, acts_split, s_split = generate_answers(model, tok, PROMPTS, cfg)
    assert split["answer"].tolist() == whole["answer"].tolist()
    assert split["answer_token_ids"].tolist() == whole["answer_token_ids"].tolist()
    for key in acts_whole:
        np.testing.assert_allclose(acts_split[key], acts_whole[key], atol=2e-3)
    assert s_split["oom_backoffs"][0] == {"rows": 6, "split_into": [3, 3]} and len(s_split["oom_backoffs"]) == 3

    def no_card(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(model, "generate", no_card)
    with pytest.raises(GenerationError, match="does not fit in the GPU's memory. Fix: lower"):
        generate_answers(model, tok, PROMPTS[:2], cfg)


def test_the_gpu_batch_budget_comes_from_the_kv_cache_size():
    """Llama-2-7b in bf16: 2 x 32 layers x 32 KV heads x 128 x 2 bytes = 512 KiB of KV cache per token, so 65,536
    tokens would need 32 GiB of cache; 80% of 20 GiB free holds about 27,600 tokens with activations."""
    from types import SimpleNamespace

    from emobasis.models.budget import bytes_per_token, memory_token_budget

    llama = SimpleNamespace(num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, hidden_size=4096)
    assert bytes_per_token(llama, 2) == 2 * 32 * 32 * 128 * 2 + 12 * 4096 * 2
    assert memory_token_budget(llama, 2, 20 * 2**30) == int(0.8 * 20 * 2**30) // (524_288 + 98_304) == 27_594
    gqa = SimpleNamespace(num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4, hidden_size=3584)
    assert memory_token_budget(gqa, 2, 20 * 2**30) > 4 * memory_token_budget(llama, 2, 20 * 2**30)  # Qwen2.5-7B


def test_a_killed_generation_resumes_from_its_finished_batches_byte_identical(tiny_model, tmp_path, monkeypatch):
    """Finished batches are written to the checkpoint folder as they end; a rerun after a kill skips them and
    gives the same answers, token ids and reads, to the byte, as an uninterrupted run."""
    tok, model = lively(tiny_model)
    cfg = {**CFG, "token_budget": 60}  # several batches
    whole, acts_whole, s_whole = generate_answers(model, tok, PROMPTS, cfg)
    assert s_whole["batches"] >= 3
    real, calls = model.generate, []

    class Killed(Exception):
        pass

    def dies_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", dies_on_the_third_batch)
    with pytest.raises(Killed):
        generate_answers(model, tok, PROMPTS, cfg, checkpoint=tmp_path / "ckpt", model_key="tiny")
    assert len(list((tmp_path / "ckpt").glob("batch-*.npz"))) == 2
    monkeypatch.setattr(model, "generate", real)
    resumed, acts, stats = generate_answers(model, tok, PROMPTS, cfg, checkpoint=tmp_path / "ckpt", model_key="tiny")
    assert stats["resumed_batches"] == 2 and stats["generate_steps_x_rows"] == s_whole["generate_steps_x_rows"]
    assert resumed["answer"].tolist() == whole["answer"].tolist()
    assert resumed["answer_token_ids"].tolist() == whole["answer_token_ids"].tolist()
    for key in acts_whole:
        assert acts[key].tobytes() == acts_whole[key].tobytes(), key
    # another setting's batches are never mixed in: the folder is emptied first
    again, _, s_other = generate_answers(
        model, tok, PROMPTS, {**cfg, "max_new_tokens": 4}, checkpoint=tmp_path / "ckpt", model_key="tiny"
    )
    assert s_other["resumed_batches"] == 0 and (again["n_answer_tokens"] <= 4).all()
