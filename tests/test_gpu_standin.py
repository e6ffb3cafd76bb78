"""The GPU study on CPU (issue 37, item 8): ``config/study-gpu.yaml`` overlaid with tiny random-init local
stand-ins that carry the real models' quirks, run through Snakemake to the summary.

- ``standin-sharded``: a bf16 checkpoint in two safetensors shards with an index (as 7B hub checkpoints are),
  built from a local folder by the hash of its shards;
- ``standin-no-system-role``: a chat template that raises on a system turn (Gemma-2's), with the GPU study's
  system prompt, which is folded into the first user turn;
- ``standin-no-template``: no chat template, answering through a Vicuna-style plain format with its stop string.

On 665fca3 this study stops at three places: the sharded folder is refused (item 3), the system turn raises
"System role not supported" (item 5), and the inherited audit names the default's models and its caution
sheet (item 1). The stand-ins' random answers are made to carry both classes of the rule labels by a one-letter
stop string (about 40% of them end early, as echoes or empty answers); the minimums are lowered in the overlay,
never in the code."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from conftest import REPO, smk

pytestmark = [pytest.mark.workflow, pytest.mark.data, pytest.mark.e2e]

REJECTS_SYSTEM = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<start>{{ m['role'] }}\n{{ m['content'] }}<end>\n{% endfor %}"
    "{% if add_generation_prompt %}<start>model\n{% endif %}"
)
WITH_SYSTEM = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)
SYSTEM = "You are a helpful assistant."


def lively(folder, scale: float = 8.0):
    """Block weights scaled up, so that greedy answers wander through the vocabulary instead of repeating."""
    from safetensors.torch import load_file, save_file

    w = load_file(folder / "model.safetensors")
    w = {k: (v * scale).contiguous() if ".layers." in k and v.dim() == 2 else v for k, v in w.items()}
    save_file(w, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def standin_overlay(root, minilm_dir) -> dict:
    import torch
    from emobasis.io import sha256_file
    from emobasis.models.folders import build_tiny_model, shards_sha256
    from transformers import AutoModelForCausalLM

    plain = lively(
        build_tiny_model(root / "plain", minilm_dir, layers=4, hidden=64, seed=11, chat_template=WITH_SYSTEM)
    )
    sharded = root / "sharded"
    AutoModelForCausalLM.from_pretrained(plain, dtype=torch.bfloat16).save_pretrained(sharded, max_shard_size="300KB")
    for f in plain.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "vocab", "chat_template")):
            shutil.copy(f, sharded / f.name)
    norole = lively(
        build_tiny_model(root / "norole", minilm_dir, layers=4, hidden=48, seed=12, chat_template=REJECTS_SYSTEM)
    )
    notemplate = lively(build_tiny_model(root / "notemplate", minilm_dir, layers=4, hidden=56, seed=13))
    families = {
        "jailbreakbench": ["safe_contexts", "definitions", "historical_events", "privacy"],
        "xstest": ["homonyms", "figurative_language", "safe_targets", "discr"],
    }
    return {
        "models": [
            {"id": "standin-sharded", "source": "local", "path": str(sharded), "sha256": shards_sha256(sharded),
             "system_prompt": SYSTEM, "stop_strings": ["p"]},
            {"id": "standin-no-system-role", "source": "local", "path": str(norole),
             "sha256": sha256_file(norole / "model.safetensors"), "system_prompt": SYSTEM, "stop_strings": ["p"]},
            {"id": "standin-no-template", "source": "local", "path": str(notemplate),
             "sha256": sha256_file(notemplate / "model.safetensors"),
             "plain_format": "A chat between a curious user and an artificial intelligence assistant. "
             "USER: {prompt} ASSISTANT:", "stop_strings": ["USER:", "p"]},
        ],
        "suites": {
            "jailbreakbench": {"adapter": "answers", "prompts": [
                {"reader": "jailbreakbench", "source": "jailbreakbench", "max": 40},
                {"reader": "xstest", "source": "xstest", "label": "safe", "max": 30,
                 "families": families["jailbreakbench"]}]},
            "xstest": {"adapter": "answers", "prompts": [
                {"reader": "xstest", "source": "xstest", "label": "unsafe", "max": 30, "families": families["xstest"]},
                {"reader": "xstest", "source": "xstest", "label": "safe", "max": 30, "families": families["xstest"]}]},
        },  # fmt: skip
        # the GPU study's every_prompt is what the stand-ins cannot afford: the caps above keep 130 prompts
        "study": {"every_prompt": False, "min_test_positives": 10, "min_test_benign": 10, "split_seeds": 2},
        "generation": {"max_new_tokens": 16, "token_budget": 2048},
        "extraction": {"layers": [0.5, 1.0], "response_first_k": 4, "max_response_tokens": 16,
                       "max_stimulus_tokens": 24, "token_budget": 2048, "device": "cpu", "dtype": "float32"},
        "stimulus_sets": {"emotions": {"per_concept": 8}, "controls": {"per_concept": 8}},
        "basis": {"ranks": [2, 3]},
        "deploy": {"rank": 2},
        "verdict": {"rank": 2, "match_k": 8},
        "transfer": {"ks": [0, 8, "all"], "seeds": 3, "null_seeds": 5, "n_boot": 100, "pca_dims": 8,
                     "l2_grid": [1.0], "spaces": ["hidden", "concepts"], "rank_sweep_spaces": ["hidden", "concepts"]},
        "audit": {"sheets": [{"suites": ["jailbreakbench", "xstest"], "per_model": 20}]},
        "pilot": {"prompts_per_suite": 24},
    }  # fmt: skip


@pytest.mark.long(6)
def test_the_gpu_study_with_stand_in_models_runs_to_the_summary(tmp_path, mirror, minilm_dir):
    overlay = tmp_path / "standin.yaml"
    overlay.write_text(yaml.safe_dump(standin_overlay(tmp_path / "models", minilm_dir), sort_keys=False))
    work = tmp_path / "work"
    work.mkdir()
    configs = [REPO / "config/config.yaml", REPO / "config/study-gpu.yaml", overlay]
    threads = ["--set-threads", *(f"{r}=1" for r in ("build_model", "embed_responses", "extract", "generate"))]
    res = smk(work, configs, "--cores", "2", "results/summary.md", *threads, env={"EMOBASIS_MIRROR": str(mirror)})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # item 3: the sharded folder is built as it is, by the hash of its shards
    built = json.loads((work / "resources/models/standin-sharded/MANIFEST.json").read_text())
    assert len(built["weights_sha256"]) >= 2 and built["assembled_sha256"]
    # item 5: where each model's system prompt went
    placement = {
        m: json.loads((work / f"results/answers/{m}/jailbreakbench.json").read_text())["system_prompt"]["placement"]
        for m in ("standin-sharded", "standin-no-system-role", "standin-no-template")
    }
    assert placement == {
        "standin-sharded": "system_turn",
        "standin-no-system-role": "folded_into_user_turn",
        "standin-no-template": "none",
    }
    # item 1: the study's own audit (nothing read yet) gates every model out, and says so
    gate = pd.read_csv(work / "results/tables/label_gate.csv")
    assert (gate["audited"] == 0).all() and not gate["valid"].any()
    summary = (work / "results/summary.md").read_text()
    assert summary.startswith("# emobasis") and "**Verdict: not decided (labels not valid).**" in summary
    assert "no model saw any prompt of the study cut" in summary
    # item 2: the pilot ran first, and its estimate let the full generation start
    pilot = pd.read_csv(work / "results/pilot/estimate.csv")
    assert len(pilot) == 3 and pilot["meets"].all() and (pilot["pilot_harmful"] > 0).all()
    counts = pd.read_csv(work / "results/tables/answers.csv")
    assert set(counts["model"]) == {"standin-sharded", "standin-no-system-role", "standin-no-template"}
