"""Chat templates of real models (issue 37, item 5): a template that rejects the system role (Gemma-2's raises
"System role not supported", Mistral-v0.1's "Conversation roles must alternate") or drops it gets the model
entry's system prompt folded into the first user turn, and the manifest says so; a model with no template
answers through a plain format (Vicuna v1.1's, with its stop string)."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO
from emobasis.models.encode import chat_messages, render_prompts, system_placement
from emobasis.models.generate import generate_dataset, render_generation_prompts, system_prompt_record

#: the shape of Gemma-2's template: no system role at all
REJECTS_SYSTEM = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<start>{{ m['role'] }}\n{{ m['content'] }}<end>\n{% endfor %}"
    "{% if add_generation_prompt %}<start>model\n{% endif %}"
)
#: a template that renders user and assistant turns only (a system turn silently disappears)
DROPS_SYSTEM = (
    "{% for m in messages %}{% if m['role'] != 'system' %}[{{ m['role'] }}] {{ m['content'] }} {% endif %}"
    "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
)
WITH_SYSTEM = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)
SYSTEM = "You are a careful assistant."


@pytest.fixture(scope="module")
def tokenizer(minilm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir)


def rendered(tok, template, system=SYSTEM, prompt="how do I bake bread?"):
    tok.chat_template = template
    ids, _, chat = render_prompts(tok, [prompt], 512, system_prompt=system)
    assert chat
    return tok.decode(ids[0])


def test_a_template_that_rejects_the_system_role_gets_it_folded_into_the_user_turn(tokenizer):
    tokenizer.chat_template = REJECTS_SYSTEM
    placement, reason = system_placement(tokenizer, SYSTEM)
    assert placement == "folded_into_user_turn" and "System role not supported" in reason
    text = rendered(tokenizer, REJECTS_SYSTEM)
    assert "user" in text and "careful assistant" in text and "system" not in text
    assert text.index("careful assistant") < text.index("bake bread")  # the system text opens the user turn


def test_a_template_that_drops_the_system_role_gets_it_folded_too(tokenizer):
    tokenizer.chat_template = DROPS_SYSTEM
    assert system_placement(tokenizer, SYSTEM) == ("folded_into_user_turn", "the chat template drops the system turn")
    assert "careful assistant" in rendered(tokenizer, DROPS_SYSTEM)


def test_a_template_with_a_system_role_keeps_its_own_turn(tokenizer):
    tokenizer.chat_template = WITH_SYSTEM
    assert system_placement(tokenizer, SYSTEM)[0] == "system_turn"
    text = rendered(tokenizer, WITH_SYSTEM)
    assert "[ system ]" in text or "[system]" in text.replace(" ", "")
    assert system_placement(tokenizer, None) == ("none", "no system_prompt")
    assert chat_messages("p", None) == [{"role": "user", "content": "p"}]


def test_the_manifest_records_where_the_system_prompt_went(tmp_path, minilm_dir):
    from emobasis.models.folders import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny-gemma-like", minilm_dir, chat_template=REJECTS_SYSTEM)
    import pandas as pd

    prompts = pd.DataFrame({"prompt": ["how do I bake bread?", "hi"], "prompt_id": [0, 1]})
    cfg = {
        "max_new_tokens": 2,
        "max_prompt_tokens": 64,
        "token_budget": 4096,
        "layers": [0.5, 1.0],
        "response_first_k": 2,
        "device": "cpu",
        "system_prompt": SYSTEM,
    }
    answers, _, _, manifest = generate_dataset(folder, prompts, cfg, model_id="tiny", dataset="s", progress=False)
    assert len(answers) == 2
    assert manifest["system_prompt"]["placement"] == "folded_into_user_turn"
    assert "System role not supported" in manifest["system_prompt"]["reason"]
    assert "careful assistant" in manifest["rendered_examples"][0]


def test_a_model_without_a_template_answers_through_the_gpu_studys_vicuna_format(tokenizer):
    """The GPU study's Vicuna-13b-v1.5 ships no chat template: its entry names the vicuna_v1.1 format."""
    gpu = yaml.safe_load((REPO / "config/study-gpu.yaml").read_text())
    vicuna = next(m for m in gpu["models"] if m["id"] == "vicuna-13b-v1.5")
    assert "USER: {prompt} ASSISTANT:" in vicuna["plain_format"] and vicuna["stop_strings"] == ["USER:"]
    tokenizer.chat_template = None
    cfg = {"max_prompt_tokens": 512, "plain_format": vicuna["plain_format"]}
    ids, _, fmt = render_generation_prompts(tokenizer, ["how do I bake bread?"], cfg)
    text = tokenizer.decode(ids[0], skip_special_tokens=True)
    assert fmt == "plain" and text.endswith("user : how do i bake bread? assistant :")
    assert system_prompt_record(tokenizer, None)["placement"] == "none"
    assert system_prompt_record(tokenizer, SYSTEM)["placement"] == "plain_format_head"
