"""How a row reaches the model as token ids: chat template or plain format, truncation, and batches by
length. Shared by extraction (:mod:`emobasis.models.extract`) and generation (:mod:`emobasis.models.generate`), so a
prompt is rendered the same way in both.

Suites: the prompt is the user turn and the response the assistant turn. With a chat template the prefix is
``apply_chat_template([user], add_generation_prompt=True)`` (the model's default system prompt, if its
template adds one, stays in); without one the plain format is ``"User: {prompt}\\nAssistant:"`` then
``" " + response``. The response is tokenized separately and appended, so the boundary is exact. Stimuli:
the text alone (with the tokenizer's special tokens). A prompt longer than ``max_prompt_tokens`` keeps its
*end*; a response or stimulus keeps its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emobasis.errors import ExtractionError

PLAIN_PREFIX = "User: {prompt}\nAssistant:"


@dataclass
class Encoded:
    """Token ids of the rows and the spans the positions read."""

    ids: list[list[int]]
    start: np.ndarray  # first token of the read span (response start; stimuli: first content token)
    truncated: dict = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


def text_config(model):
    """The language-model part of a model's config (multimodal configs nest it)."""
    return model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config


def has_chat_template(tok) -> bool:
    return bool(getattr(tok, "chat_template", None))


def cut_prompts(tok, prompts, max_prompt_tokens: int) -> tuple[list[str], list[int]]:
    """Each prompt as the model receives it in its user turn, and how many of its tokens were dropped (0: none).
    A prompt longer than ``max_prompt_tokens`` keeps its last tokens (the request usually ends a prompt)."""
    prompts = [str(p) for p in prompts]
    cut = [0] * len(prompts)
    for i, ids in enumerate(tok(prompts, add_special_tokens=False)["input_ids"] if prompts else []):
        if len(ids) > max_prompt_tokens:
            prompts[i] = tok.decode(ids[-max_prompt_tokens:])
            cut[i] = len(ids) - max_prompt_tokens
    return prompts, cut


#: where a model entry's system_prompt goes in a chat: its own ``system`` turn, or (a template that rejects the
#: system role, such as Gemma-2's or Mistral-v0.1's, or one that drops it) folded into the first user turn
SYSTEM_PLACEMENTS = ("none", "system_turn", "folded_into_user_turn")


def chat_messages(prompt: str, system_prompt: str | None, placement: str = "system_turn") -> list[dict]:
    """The chat of one prompt: ``[system, user]``, ``[user]`` or, folded, ``[user: system + blank line + prompt]``."""
    if not system_prompt or placement == "none":
        return [{"role": "user", "content": prompt}]
    if placement == "folded_into_user_turn":
        return [{"role": "user", "content": f"{system_prompt}\n\n{prompt}"}]
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]


def system_placement(tok, system_prompt: str | None) -> tuple[str, str]:
    """``(placement, reason)`` of ``system_prompt`` in this tokenizer's chat template: tried once on a probe
    prompt. A template that raises on a system turn ("System role not supported", "Conversation roles must
    alternate") or renders without the system text gets it folded into the first user turn; the reason says
    which, and the manifests record it."""
    if not system_prompt:
        return "none", "no system_prompt"
    probe = "probe prompt"
    try:
        text = tok.apply_chat_template(chat_messages(probe, system_prompt), tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # jinja2's TemplateError (raise_exception in the template), or a template bug
        return "folded_into_user_turn", f"the chat template rejects a system turn ({type(exc).__name__}: {exc})"
    if system_prompt not in text:
        return "folded_into_user_turn", "the chat template drops the system turn"
    return "system_turn", "the chat template has a system turn"


def render_prompts(
    tok, prompts, max_prompt_tokens: int, plain_prefix: str = PLAIN_PREFIX, system_prompt: str | None = None
):
    """Token ids of each prompt rendered up to where the response starts: ``(ids, n_truncated, chat)``.

    A prompt longer than ``max_prompt_tokens`` keeps its end; then the chat template's user turn plus
    generation prompt, or ``plain_prefix`` (with the tokenizer's special tokens) when there is no template.
    Own-answer generation (:mod:`emobasis.models.generate`) renders prompts through this same function; a
    ``system_prompt`` (part of a model's config entry) opens the chat, or the plain prefix.
    """
    prompts, cut = cut_prompts(tok, prompts, max_prompt_tokens)
    n_trunc_p = sum(c > 0 for c in cut)
    chat = has_chat_template(tok)
    if chat:
        placement, _ = system_placement(tok, system_prompt)
        prefixes = [
            tok.apply_chat_template(
                chat_messages(p, system_prompt, placement), tokenize=False, add_generation_prompt=True
            )
            for p in prompts
        ]
        pre_ids = tok(prefixes, add_special_tokens=False)["input_ids"]
    else:
        head = f"{system_prompt}\n\n" if system_prompt else ""
        prefixes = [head + plain_prefix.format(prompt=p) for p in prompts]
        pre_ids = tok(prefixes, add_special_tokens=True)["input_ids"]
    return pre_ids, n_trunc_p, chat


def encode_suite(tok, prompts, responses, max_prompt_tokens: int, max_response_tokens: int) -> Encoded:
    responses = [str(r) for r in responses]
    pre_ids, n_trunc_p, chat = render_prompts(tok, prompts, max_prompt_tokens)
    responses_in = responses if chat else [" " + r.lstrip() for r in responses]
    r_ids = tok(responses_in, add_special_tokens=False)["input_ids"]
    n_trunc_r = sum(len(r) > max_response_tokens for r in r_ids)
    ids, start = [], []
    for i, (a, b) in enumerate(zip(pre_ids, r_ids)):
        b = b[:max_response_tokens]
        if not b:
            raise ExtractionError(f"row {i}: the response tokenizes to nothing. Fix: drop empty responses.")
        ids.append(list(a) + list(b))
        start.append(len(a))
    examples = [tok.decode(ids[i]) for i in range(min(3, len(ids)))]
    return Encoded(
        ids,
        np.array(start),
        {"prompt": n_trunc_p, "response": int(n_trunc_r), "format": "chat_template" if chat else "plain"},
        examples,
    )


def encode_stimuli(tok, texts, max_tokens: int) -> Encoded:
    texts = [str(t) for t in texts]
    with_special = tok(texts, add_special_tokens=True)["input_ids"]
    n_prefix = n_suffix = 0
    if texts:  # where the text's own tokens sit among the special ones the tokenizer adds (BOS, [CLS]/[SEP])
        first, bare = with_special[0], tok(texts[:1], add_special_tokens=False)["input_ids"][0]
        n_prefix = next((i for i in range(len(first) - len(bare) + 1) if first[i : i + len(bare)] == bare), 0)
        n_suffix = len(first) - n_prefix - len(bare)
    ids, n_trunc = [], 0
    for s in with_special:
        content = s[n_prefix : len(s) - n_suffix]
        if len(content) > max_tokens:
            n_trunc += 1
        ids.append(list(s[:n_prefix]) + list(content[:max_tokens]))  # trailing specials ([SEP]) dropped
    return Encoded(
        ids, np.full(len(ids), n_prefix), {"text": n_trunc, "format": "text"}, [tok.decode(i) for i in ids[:3]]
    )


def plan_batches(lengths, token_budget: int, max_batch: int = 256) -> list[np.ndarray]:
    """Group row indices by length so that rows x padded length stays under ``token_budget``."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, cur, cur_max = [], [], 0
    for i in order:
        n = int(lengths[i])
        new_max = max(cur_max, n)
        if cur and (new_max * (len(cur) + 1) > token_budget or len(cur) >= max_batch):
            batches.append(np.array(cur))
            cur, new_max = [], n
        cur.append(i)
        cur_max = new_max
    if cur:
        batches.append(np.array(cur))
    return batches
