"""How many tokens one batch may hold on a GPU: the KV cache of a model grows by ``2 x layers x KV heads x head
dim x dtype bytes`` per token (K and V), and a batch of generation holds ``rows x (prompt + max_new_tokens)``
of them. A global ``token_budget`` that fits a 135M model on a CPU is 32 GiB of KV cache for Llama-2-7b, so on
CUDA the budget is capped by what the free memory holds after the weights are loaded; a model entry may set
its own ``token_budget`` as well. The estimate leaves room for activations (``ACTIVATION_BYTES`` hidden-state
copies per token) and a margin; when a batch still runs out of memory, generation splits it and retries
(:mod:`emobasis.models.generate`), and the manifest records each split.
"""

from __future__ import annotations

#: hidden-state copies per token held beside the KV cache (residual stream, MLP intermediate, norms), an
#: estimate on the safe side for decoder blocks with a 4x MLP
ACTIVATION_COPIES = 12
#: the share of the free memory a batch may use
MEMORY_FRACTION = 0.8


def bytes_per_token(text_config, dtype_bytes: int) -> int:
    """KV cache plus activations of one token, in bytes, from a model's (text) config."""
    layers = int(text_config.num_hidden_layers)
    heads = int(text_config.num_attention_heads)
    kv_heads = int(getattr(text_config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text_config, "head_dim", None) or text_config.hidden_size // heads)
    kv = 2 * layers * kv_heads * head_dim * dtype_bytes
    return kv + ACTIVATION_COPIES * int(text_config.hidden_size) * dtype_bytes


def memory_token_budget(text_config, dtype_bytes: int, free_bytes: int, fraction: float = MEMORY_FRACTION) -> int:
    """The tokens one batch may hold in ``fraction`` of ``free_bytes``."""
    return max(64, int(fraction * free_bytes) // bytes_per_token(text_config, dtype_bytes))


def effective_token_budget(configured: int, model, device) -> tuple[int, dict]:
    """``(budget, record)``: on CUDA the configured budget capped by what the free memory holds (the record says
    both and which applied); elsewhere the configured one."""
    import torch

    from emobasis.models.encode import text_config

    record = {"configured": int(configured)}
    if getattr(device, "type", str(device)) != "cuda":
        return int(configured), {**record, "used": int(configured), "reason": "configured (not on CUDA)"}
    free, total = torch.cuda.mem_get_info(device)
    dtype_bytes = next(model.parameters()).element_size()
    estimate = memory_token_budget(text_config(model), dtype_bytes, free)
    used = min(int(configured), estimate)
    record |= {
        "free_mb": round(free / 2**20),
        "total_mb": round(total / 2**20),
        "bytes_per_token": bytes_per_token(text_config(model), dtype_bytes),
        "memory_estimate": estimate,
        "used": used,
        "reason": "configured" if used == int(configured) else "capped by the free GPU memory",
    }
    return used, record
