"""Extraction: stored activations equal a plain full forward pass, one text at a time; batching, positions,
truncation, file format, corruption and NaN handling."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from emobasis.data.suites import study_rows
from emobasis.models.activations import load_activations, save_activations
from emobasis.models.extract import (
    STIMULUS_POSITIONS,
    SUITE_POSITIONS,
    ExtractionError,
    encode_stimuli,
    encode_suite,
    extract_dataset,
    layer_indices,
    load_reader,
    plan_batches,
    position_weights,
    run_extraction,
)

CFG = {
    "layers": [0.25, 0.5, 0.75],
    "response_first_k": 3,
    "max_prompt_tokens": 12,
    "max_response_tokens": 10,
    "max_stimulus_tokens": 9,
    "token_budget": 64,
}

PROMPTS = [
    "How do I bake bread?",
    "Tell me a long story about a dragon who guards a mountain of gold and never sleeps, in great detail please",
    "Hi",
    "What is the capital of France and why is it famous?",
]
RESPONSES = [
    "Mix flour and water.",
    "Once upon a time there was a dragon. It was very old and very tired.",
    "Hello! How can I help you today?",
    "Paris.",
]


def test_layer_indices_map_depths_to_blocks():
    assert layer_indices(30, [0.25, 0.5, 0.67, 0.83]) == [8, 15, 20, 25]
    assert layer_indices(4, [0.01, 1.0]) == [1, 4]
    assert layer_indices(2, [0.5, 0.6]) == [1]  # duplicates collapse


def test_batches_cover_every_row_once_under_the_budget():
    lengths = np.array([5, 50, 7, 33, 12, 12, 90, 3])
    batches = plan_batches(lengths, token_budget=100)
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    for b in batches:
        assert len(b) == 1 or len(b) * lengths[b].max() <= 100
    # rows of similar length share a batch
    assert any(set(b.tolist()) == {4, 5} or {4, 5} <= set(b.tolist()) for b in batches)


def test_position_weights():
    w = position_weights("response_first", np.array([2]), np.array([8]), 10, 3)
    assert np.allclose(w[0], [0, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0])
    w = position_weights("prompt_last", np.array([2]), np.array([8]), 10, 3)
    assert w[0, 1] == 1 and w.sum() == 1
    w = position_weights("response_mean", np.array([2]), np.array([4]), 10, 3)
    assert np.allclose(w[0, 2:4], 0.5) and w[0, 4:].sum() == 0  # padding never read
    with pytest.raises(ExtractionError, match="unknown position"):
        position_weights("middle", np.array([1]), np.array([2]), 2, 1)


def reference(model, enc, layers, k, positions):
    """One text at a time, full model, output_hidden_states=True."""
    ref = {f"{p}/layer{L}": [] for p in positions for L in layers}
    for ids, s in zip(enc.ids, enc.start):
        with torch.inference_mode():
            hs = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        for L in layers:
            h = hs[L][0].float()
            reads = {
                "prompt_last": h[s - 1],
                "response_first": h[s : s + k].mean(0),
                "response_mean": h[s:].mean(0),
                "mean": h[s:].mean(0),
                "last": h[-1],
            }
            for p in positions:
                ref[f"{p}/layer{L}"].append(reads[p].numpy())
    return {key: np.stack(v) for key, v in ref.items()}


def assert_matches(acts, ref):
    for key, want in ref.items():
        got = acts[key].astype(np.float32)
        scale = np.abs(want).max(axis=1, keepdims=True)
        err = np.abs(got - want) / scale
        assert err.max() < 2e-3, f"{key}: max relative error {err.max():.2e}"  # float16 rounding


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_chat_model"])
def test_suite_activations_equal_full_forward(request, fixture):
    folder = request.getfixturevalue(fixture)
    tok, model, _ = load_reader(folder)
    enc = encode_suite(tok, PROMPTS, RESPONSES, CFG["max_prompt_tokens"], CFG["max_response_tokens"])
    assert enc.truncated["format"] == ("chat_template" if fixture == "tiny_chat_model" else "plain")
    lengths = [len(i) for i in enc.ids]
    assert len(set(lengths)) > 2  # the batch mixes lengths, so padding is exercised
    layers = layer_indices(model.config.num_hidden_layers, CFG["layers"])
    acts, stats = run_extraction(model, enc, layers, SUITE_POSITIONS, k=3, token_budget=10_000, pad_id=tok.pad_token_id)
    assert stats["padded_tokens"] > stats["tokens"]  # one batch with padding
    assert_matches(acts, reference(model, enc, layers, 3, SUITE_POSITIONS))


def test_truncation_keeps_prompt_end_and_response_start(tiny_chat_model):
    tok, _, _ = load_reader(tiny_chat_model)
    enc = encode_suite(tok, PROMPTS, RESPONSES, 12, 10)
    assert enc.truncated["prompt"] == 1 and enc.truncated["response"] == 1  # prompt 4 is exactly 12 tokens
    text = tok.decode(enc.ids[1])
    assert "in great detail please" in text and "tell me a long" not in text
    assert "once upon a time" in text and "tired" not in text
    # the span read as the response starts right after the generation prompt
    assert tok.decode(enc.ids[3][enc.start[3] :]).strip() == "paris."


def test_stimulus_activations_equal_full_forward(tiny_chat_model):
    tok, model, _ = load_reader(tiny_chat_model)
    texts = ["I feel so calm and peaceful today.", "Terrified.", "This is a longer sentence that will be cut short."]
    enc = encode_stimuli(tok, texts, CFG["max_stimulus_tokens"])
    assert enc.truncated["text"] == 1
    assert all(i[0] == tok.cls_token_id for i in enc.ids) and (enc.start == 1).all()  # [CLS] not averaged
    layers = [1, 3, 4]
    acts, _ = run_extraction(model, enc, layers, STIMULUS_POSITIONS, token_budget=10_000, pad_id=tok.pad_token_id)
    assert_matches(acts, reference(model, enc, layers, 1, STIMULUS_POSITIONS))


def test_small_token_budget_gives_the_same_numbers(tiny_chat_model):
    tok, model, _ = load_reader(tiny_chat_model)
    enc = encode_suite(tok, PROMPTS * 3, RESPONSES * 3, 12, 10)
    big, _ = run_extraction(model, enc, [2, 4], SUITE_POSITIONS, k=3, token_budget=100_000, pad_id=0)
    small, stats = run_extraction(model, enc, [2, 4], SUITE_POSITIONS, k=3, token_budget=40, pad_id=0)
    for key in big:
        np.testing.assert_allclose(big[key].astype(np.float32), small[key].astype(np.float32), rtol=2e-3, atol=2e-3)


def test_forward_stops_at_the_deepest_layer(tiny_chat_model):
    tok, model, _ = load_reader(tiny_chat_model)
    enc = encode_stimuli(tok, ["hello there"], 8)
    ran = []
    hooks = [blk.register_forward_hook(lambda m, i, o, n=n: ran.append(n)) for n, blk in enumerate(model.layers)]
    try:
        run_extraction(model, enc, [2], STIMULUS_POSITIONS, pad_id=0)
    finally:
        for h in hooks:
            h.remove()
    assert ran == [0, 1]  # blocks 3 and 4 never ran


def test_nan_activations_name_model_dataset_and_row(tiny_chat_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_chat_model, broken)
    tok, model, _ = load_reader(broken)
    with torch.no_grad():
        model.embed_tokens.weight[tok.convert_tokens_to_ids("terrified")] = float("nan")
    model.save_pretrained(broken)
    table = pd.DataFrame({"text": ["calm words here", "terrified", "more calm words"]})
    with pytest.raises(ExtractionError, match=r"model 'broken', dataset 'emotions'.*row\(s\) \[1\]"):
        extract_dataset(broken, table, "stimuli", CFG, model_id="broken", dataset="emotions", progress=False)


def test_file_round_trip_manifest_and_corruption(tiny_chat_model, tmp_path):
    table = pd.DataFrame({"prompt": PROMPTS, "response": RESPONSES})
    rows = np.array([0, 2, 3])
    acts, row_index, manifest = extract_dataset(
        tiny_chat_model, table, "suite", CFG, rows=rows, model_id="tiny", dataset="demo", progress=False
    )
    path, mpath = tmp_path / "demo.safetensors", tmp_path / "demo.json"
    manifest = save_activations(path, acts, row_index, manifest, mpath)
    on_disk = json.loads(mpath.read_text())
    assert on_disk["sha256"] == manifest["sha256"] and on_disk["rows"] == 3
    assert [layer["index"] for layer in on_disk["layers"]] == [1, 2, 3]
    assert on_disk["truncation"]["truncated_rows"]["prompt"] == 0  # the long prompt (row 1) was not selected
    assert len(on_disk["rendered_examples"]) == 3 and on_disk["tokens_per_s"] > 0
    loaded, idx = load_activations(path, mpath)
    assert idx.tolist() == [0, 2, 3]
    assert set(loaded) == {f"{p}/layer{i}" for p in SUITE_POSITIONS for i in (1, 2, 3)}
    assert all(v.dtype == np.float16 and v.shape == (3, 64) for v in loaded.values())
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ExtractionError, match="corrupted.*rerun snakemake"):
        load_activations(path, mpath)


def test_study_rows_are_seeded_sorted_and_keep_positives():
    table = pd.DataFrame({"unsafe": [True] * 30 + [False] * 170})
    rows = study_rows(table, 40, seed=1, suite="s")
    assert len(rows) == 40 and (np.diff(rows) > 0).all()
    assert table["unsafe"].to_numpy()[rows].sum() == 20
    assert (rows == study_rows(table, 40, seed=1, suite="s")).all()
    assert (study_rows(table, None, 1) == np.arange(200)).all()


@pytest.mark.realmodel
def test_smollm2_activations_equal_full_forward(smollm2_dir, default_config, mirror):
    from conftest import source_root
    from emobasis.data.suites import read_suite
    from emobasis.labels.suite_table import finish_suite

    cfg = default_config
    spec = cfg["suites"]["jailbreakbench"]
    base, _ = read_suite(
        "jailbreakbench",
        source_root(cfg, mirror, "jailbreakbench"),
        list(cfg["sources"]["jailbreakbench"]["files"]),
        spec,
        "jailbreakbench",
    )
    table = finish_suite(base, "jailbreakbench", cfg["split"], cfg["tone"], cfg["seed"]).iloc[::150].head(8)
    tok, model, _ = load_reader(smollm2_dir)
    enc = encode_suite(tok, table["prompt"], table["response"], 48, 16)
    assert len({len(i) for i in enc.ids}) > 3 and enc.truncated["prompt"] > 0
    layers = layer_indices(30, cfg["extraction"]["layers"])
    acts, _ = run_extraction(model, enc, layers, SUITE_POSITIONS, k=8, token_budget=4096, pad_id=tok.pad_token_id)
    assert_matches(acts, reference(model, enc, layers, 8, SUITE_POSITIONS))
