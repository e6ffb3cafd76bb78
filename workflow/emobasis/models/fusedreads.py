"""Reads pooled while a model generates: the per-batch stop tracker (a stopping criterion) and the forward
hooks that add each layer's hidden state of every still-active row into running sums, so that
``prompt_last`` (from the prefill), ``response_first`` and ``response_mean`` need no second forward pass.
Used by :mod:`emobasis.models.generate`.
"""

from __future__ import annotations

import numpy as np
import torch

from emobasis.errors import GenerationError
from emobasis.models.extract import decoder_layers, final_norm, text_config

STOP_REASONS = ("eos", "max_new_tokens", "stop_string")
RUNNING, EOS, MAX, STOP = -1, 0, 1, 2  # codes into STOP_REASONS


# --- per-batch state shared by the stopping criterion and the hooks ----------------------------------


class Tracker:
    """Stopping criterion for ``generate``: after each chosen token, decides which rows are still answering.

    ``feed`` is the index of the answer token the *next* forward pass reads (-1: the prefill).
    ``active[b]``: row b's token ``feed`` is an answer token (its hidden state counts).
    """

    def __init__(
        self,
        B: int,
        P: int,
        N: int,
        eos: torch.Tensor,
        probe: bool,
        tok=None,
        stop_strings=(),
        on_truncate=None,
        ring: int = 0,
        progress=None,
    ):
        dev = eos.device
        self.B, self.P, self.N, self.eos, self.probe = B, P, N, eos, probe
        self.tok, self.stop_strings, self.on_truncate, self.ring = tok, list(stop_strings), on_truncate, ring
        self.active = torch.ones(B, dtype=torch.bool, device=dev)
        self.n = torch.zeros(B, dtype=torch.long, device=dev)
        self.reason = torch.full((B,), RUNNING, dtype=torch.long, device=dev)
        self.feed = -1
        self.progress = progress

    def __call__(self, input_ids, scores=None, **kwargs):
        t = input_ids.shape[1] - self.P - 1  # index of the answer token just chosen
        if self.progress is not None:
            self.progress.update(int(self.active.sum()))
        if t >= self.N:  # the probe token: its only job was to make generate feed token N-1
            self.reason[self.active] = MAX
            self.active[:] = False
        else:
            eos = self.active & torch.isin(input_ids[:, -1], self.eos)
            self.reason[eos] = EOS
            self.active &= ~eos
            if self.stop_strings:
                self._stop_strings(input_ids, t)
            self.n += self.active  # token t is an answer token; the next forward reads it
            if t == self.N - 1 and not self.probe:
                self.reason[self.active] = MAX
                self.active[:] = False
        self.feed = t
        return ~self.active

    def _stop_strings(self, input_ids, t):
        rows = torch.nonzero(self.active).flatten().tolist()
        if not rows:
            return
        gen = input_ids[rows, self.P : self.P + t + 1].tolist()
        for b, ids, text in zip(rows, gen, self.tok.batch_decode(gen, skip_special_tokens=True)):
            found = [i for i in (text.find(s) for s in self.stop_strings) if i >= 0]
            if not found:
                continue
            pos = min(found)
            m = t  # tokens [0, m) end before the stop string starts
            while m > 0 and len(self.tok.decode(ids[:m], skip_special_tokens=True)) > pos:
                m -= 1
            if self.on_truncate is not None and m < t:
                if t - m > self.ring:
                    raise GenerationError(
                        f"a stop string spans {t - m} tokens, more than the {self.ring} kept. "
                        "Fix: report this (the stop string's tokenization is unusual)."
                    )
                self.on_truncate(b, m, t)
            self.n[b] = m
            self.reason[b] = STOP
            self.active[b] = False


class FusedReads:
    """Forward hooks that pool hidden states in place while ``generate`` runs."""

    def __init__(self, model, layers, positions, k: int, n_rows: int):
        blocks = decoder_layers(model)
        norm = final_norm(model)
        self.layers, self.positions, self.k = list(layers), tuple(positions), k
        d = text_config(model).hidden_size
        self.out = {f"{p}/layer{i}": np.zeros((n_rows, d), dtype=np.float16) for p in positions for i in layers}
        self.modules = [norm if i == len(blocks) and norm is not None else blocks[i - 1] for i in self.layers]
        self.tracker = None
        self.handles = []

    def __enter__(self):
        self.handles = [m.register_forward_hook(self._hook(i)) for i, m in zip(self.layers, self.modules)]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles = []

    def start(self, tracker: Tracker, B: int, d: int, device, ring: int):
        self.tracker, self.ring = tracker, ring
        z = lambda: torch.zeros((B, d), dtype=torch.float32, device=device)  # noqa: E731
        self.last = {i: z() for i in self.layers}
        self.first = {i: z() for i in self.layers}
        self.sum = {i: z() for i in self.layers}
        self.buf = (
            {i: torch.zeros((ring, B, d), dtype=torch.float32, device=device) for i in self.layers} if ring else {}
        )

    def _hook(self, layer):
        def hook(_module, _inputs, output):
            h = output[0] if isinstance(output, tuple) else output
            tr = self.tracker
            if tr is None:
                return
            if tr.feed < 0:  # prefill: the whole (left-padded) prompt
                if h.shape[1] != tr.P:
                    raise GenerationError(
                        f"the prefill passed {h.shape[1]} positions, expected {tr.P}. Fix: do not "
                        "set prefill_chunk_size or other generate options that split the prompt."
                    )
                self.last[layer] = h[:, -1].float()
                return
            if h.shape[1] != 1:
                raise GenerationError(
                    f"a decode step passed {h.shape[1]} positions, expected 1. Fix: run generate "
                    "with its KV cache on (use_cache=True)."
                )
            x = h[:, 0].float()
            a = tr.active.to(x.dtype)[:, None]
            self.sum[layer].add_(x * a)
            if tr.feed < self.k:
                self.first[layer].add_(x * a)
            if self.ring:
                self.buf[layer][tr.feed % self.ring] = x

        return hook

    def take_back(self, b: int, m: int, t: int):
        """Row b's answer ends at token m: remove tokens m..t-1, already added, from its sums."""
        for layer in self.layers:
            for j in range(m, t):
                x = self.buf[layer][j % self.ring, b]
                self.sum[layer][b] -= x
                if j < self.k:
                    self.first[layer][b] -= x

    def finish(self, rows: np.ndarray, n: torch.Tensor):
        n = n.to(torch.float32)[:, None]
        n_first = torch.clamp(n, max=float(self.k))
        for layer in self.layers:
            reads = {
                "prompt_last": self.last[layer],
                "response_first": torch.where(n > 0, self.first[layer] / n_first.clamp(min=1), 0.0),
                "response_mean": torch.where(n > 0, self.sum[layer] / n.clamp(min=1), 0.0),
            }
            for p in self.positions:
                self.out[f"{p}/layer{layer}"][rows] = reads[p].cpu().numpy().astype(np.float16)
        self.tracker = None


# --- the API ------------------------------------------------------------------------------------------
