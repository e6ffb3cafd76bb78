"""Prepacked bf16 linear layers for generation on a CPU.

In a decode step each ``nn.Linear`` multiplies a few rows (one per answer in the batch) by its whole weight.
In bf16 on a CPU, ``F.linear`` hands the weight to oneDNN in its plain layout, and oneDNN reorders it into
its blocked layout on every call; for the decode step's small row counts that reorder is a large part of the
cost (measured on SmolLM2-135M, one thread: 27 rows x the 576 x 49152 LM head, 13.0 ms unpacked, 8.9 ms
packed; the whole answer run about 1.25 x faster). :func:`prepack_linears` reorders each weight once
(``torch.ops.mkldnn._reorder_linear_weight``, the op torch's own CPU compiler uses for frozen linears) and
swaps the layer for :class:`PackedLinear`, which calls ``torch.ops.mkldnn._linear_pointwise``.

Same numbers: the packed product is the same oneDNN kernel, so it is bit-identical to ``F.linear`` in bf16
(the tests check this on every layer shape of the study's models). :func:`prepack_linears` checks it again
on the model it packs, on the first layer, and packs nothing when it differs. Float32 is never packed (it
runs in MKL, which packs nothing per call, and the audited models' answers are float32 answers), nor is a
CUDA model.
"""

from __future__ import annotations

import torch

#: rows in the layout hint given to oneDNN: a decode step's batch (the layout is valid for any row count)
_ROWS_HINT = 1


class PackedLinear(torch.nn.Module):
    """``y = x W^T + b`` with ``W`` held in oneDNN's blocked layout (CPU, bf16)."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, _ROWS_HINT)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def prepack_supported(device: str | torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    """Whether linears of a ``dtype`` model on ``device`` are packed, and why (the reason goes to manifests)."""
    if torch.device(device).type != "cpu":
        return False, f"not packed: device {device}"
    if dtype != torch.bfloat16:
        return False, f"not packed: {str(dtype).replace('torch.', '')}"
    if not torch.backends.mkldnn.is_available():
        return False, "not packed: this torch has no oneDNN (mkldnn)"
    try:
        _ = torch.ops.mkldnn._reorder_linear_weight, torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return False, "not packed: this torch lacks mkldnn._reorder_linear_weight"
    return True, "packed: CPU, bfloat16, oneDNN"


def _identical(linear: torch.nn.Linear, packed: PackedLinear) -> bool:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, linear.in_features, generator=g).to(linear.weight.dtype)
    return torch.equal(torch.nn.functional.linear(x, linear.weight, linear.bias), packed(x))


def prepack_linears(model: torch.nn.Module) -> tuple[int, str]:
    """Swap every ``nn.Linear`` of a CPU bf16 ``model`` (the decoder blocks and the LM head) for a
    :class:`PackedLinear`, in place, under ``torch.no_grad``. Returns ``(layers packed, reason)``; packs
    nothing (0, and why) off the CPU, in other dtypes, without oneDNN, or when the packed product of the
    first layer is not bit-identical to ``F.linear``. The model is for inference afterwards (no gradients
    reach the packed weights)."""
    params = next(model.parameters(), None)
    if params is None:
        return 0, "not packed: the model has no parameters"
    ok, reason = prepack_supported(params.device, params.dtype)
    if not ok:
        return 0, reason
    targets = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is torch.nn.Linear and child.weight.dtype == torch.bfloat16
    ]
    if not targets:
        return 0, "not packed: no bf16 nn.Linear layers"
    with torch.no_grad():
        first = PackedLinear(targets[0][2])
        if not _identical(targets[0][2], first):
            return 0, "not packed: the packed product differs from F.linear on this machine"
        for i, (parent, name, child) in enumerate(targets):
            setattr(parent, name, first if i == 0 else PackedLinear(child))
    return len(targets), reason
