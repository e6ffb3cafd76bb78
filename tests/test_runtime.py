"""Run-time provenance and determinism (issue 37, item 7): every generate and extract manifest says what ran
(versions at run time, device, attention implementation, dtype) and which determinism switches were set."""

from __future__ import annotations

import pandas as pd
import torch
from emobasis.models.extract import extract_dataset
from emobasis.models.generate import generate_dataset
from emobasis.models.runtime import set_determinism

CFG = {
    "max_new_tokens": 2,
    "max_prompt_tokens": 64,
    "max_response_tokens": 8,
    "max_stimulus_tokens": 8,
    "token_budget": 4096,
    "layers": [0.5, 1.0],
    "response_first_k": 2,
    "device": "cpu",
    "plain_format": "User: {prompt}\nAssistant:",
}


def check_runtime(manifest):
    import transformers

    rt = manifest["runtime"]
    assert rt["torch"] == torch.__version__ and rt["transformers"] == transformers.__version__
    assert rt["device_type"] == "cpu" and rt["dtype"] == "float32" and rt["attn_implementation"]
    assert "cpu_flags" in rt and rt["threads"] == torch.get_num_threads()
    assert manifest["determinism"]["device"] == "cpu"


def test_generate_and_extract_manifests_record_what_ran(tiny_model):
    prompts = pd.DataFrame({"prompt": ["how do I bake bread?", "hi"], "prompt_id": [0, 1]})
    _, _, _, manifest = generate_dataset(tiny_model, prompts, CFG, model_id="tiny", dataset="s", progress=False)
    check_runtime(manifest)
    table = pd.DataFrame({"prompt": ["hi there"], "response": ["hello"]})
    _, _, manifest = extract_dataset(tiny_model, table, "suite", CFG, device="cpu", progress=False)
    check_runtime(manifest)


def test_the_cuda_path_sets_the_documented_determinism_switches(monkeypatch):
    calls = []
    monkeypatch.setattr(
        torch, "use_deterministic_algorithms", lambda on, warn_only=False: calls.append((on, warn_only))
    )
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, matmul.allow_tf32)
    try:
        switches = set_determinism("cuda")
        import os

        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8" and calls == [(True, True)]
        assert cudnn.deterministic and not cudnn.benchmark and not cudnn.allow_tf32 and not matmul.allow_tf32
        assert switches["cudnn.deterministic"] is True
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, matmul.allow_tf32 = saved
    assert set_determinism("cpu")["device"] == "cpu"
