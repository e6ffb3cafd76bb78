"""Sentence embeddings of response texts (all-MiniLM-L6-v2 by default) for the text baselines.

Mean pooling over the tokens of each text, then L2 normalisation: the sentence-transformers recipe of
all-MiniLM-L6-v2 (its ``1_Pooling/config.json`` says mean pooling; its ``modules.json`` a Normalize
step), done with plain transformers so no extra package is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def embed_texts(folder: str | Path, texts, batch_size: int = 64, max_tokens: int = 256) -> np.ndarray:
    from transformers import AutoModel, AutoTokenizer

    from emobasis.models.folders import load_options

    tok = AutoTokenizer.from_pretrained(folder, **load_options(folder))
    model = AutoModel.from_pretrained(folder, dtype=torch.float32, **load_options(folder)).eval()
    texts = [str(t) for t in texts]
    order = np.argsort([len(t) for t in texts])  # batch by length
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            enc = tok(
                [texts[j] for j in idx], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
            )
            h = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out
