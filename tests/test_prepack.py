"""Prepacked bf16 linears (emobasis.models.prepack): bit-identical to F.linear on the study models' layer
shapes, packed only where they should be, and generation answers and reads unchanged by packing."""

import numpy as np
import pytest
import torch
from emobasis.models.generate import generate_answers, load_generator
from emobasis.models.prepack import PackedLinear, prepack_linears, prepack_supported

SUPPORTED = prepack_supported("cpu", torch.bfloat16)[0]
needs_onednn = pytest.mark.skipif(not SUPPORTED, reason=prepack_supported("cpu", torch.bfloat16)[1])

# (in, out) of the study models' linears: SmolLM2-135M, Gemma-3-270M, Qwen2.5-Coder-0.5B and -1.5B
SHAPES = [(576, 576), (576, 192), (576, 1536), (1536, 576), (640, 1024), (2048, 640), (896, 128), (4864, 896)]


@needs_onednn
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bias", [False, True])
def test_packed_linear_is_bit_identical_to_f_linear(threads, bias):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(1)
        for k, n in SHAPES:
            lin = torch.nn.Linear(k, n, bias=bias).to(torch.bfloat16)
            packed = PackedLinear(lin)
            for shape in [(1, k), (7, k), (3, 1, k), (4, 37, k)]:
                x = torch.randn(*shape, generator=g).to(torch.bfloat16)
                want = torch.nn.functional.linear(x, lin.weight, lin.bias)
                got = packed(x)
                assert got.dtype == torch.bfloat16 and got.shape == want.shape
                assert torch.equal(got, want), (k, n, shape, threads, bias)
    finally:
        torch.set_num_threads(old)


def test_prepack_is_only_for_bf16_on_cpu():
    assert prepack_supported("cpu", torch.float32) == (False, "not packed: float32")
    assert prepack_supported("cuda", torch.bfloat16)[0] is False
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    assert prepack_linears(model) == (0, "not packed: float32")
    assert type(model[0]) is torch.nn.Linear


@needs_onednn
def test_prepack_swaps_every_linear_of_a_model(tiny_model):
    tok, model, _ = load_generator(tiny_model, "cpu", torch.bfloat16)
    n, reason = model.emobasis_prepack
    assert reason == "packed: CPU, bfloat16, oneDNN"
    assert n == sum(isinstance(m, PackedLinear) for m in model.modules()) > 0
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    assert isinstance(model.get_output_embeddings(), PackedLinear)
    # float32 is never packed
    _, model32, _ = load_generator(tiny_model, "cpu", torch.float32)
    assert model32.emobasis_prepack == (0, "not packed: float32")
    assert not any(isinstance(m, PackedLinear) for m in model32.modules())


@needs_onednn
def test_packed_generation_equals_unpacked(tiny_model):
    """Same answers (token ids), same reads, bit for bit; the stats say how many layers were packed."""
    cfg = {
        "max_new_tokens": 8,
        "max_prompt_tokens": 16,
        "token_budget": 100_000,
        "layers": [0.5, 1.0],
        "response_first_k": 3,
        "plain_format": "User: {prompt}\nAssistant:",
    }
    prompts = ["How do I bake bread?", "Hi", "Explain how vaccines train the immune system.", "Write a poem."]
    runs = {}
    for prepack in (True, False):
        tok, model, _ = load_generator(tiny_model, "cpu", torch.bfloat16, prepack=False)
        with torch.no_grad():  # lively answers (not one token repeated): scale the block weights, then pack
            for name, p in model.named_parameters():
                if ".layers." in name and p.dim() == 2:
                    p.mul_(8.0)
        if prepack:
            model.emobasis_prepack = prepack_linears(model)
        runs[prepack] = generate_answers(model, tok, prompts, cfg)
    (a1, r1, s1), (a0, r0, s0) = runs[True], runs[False]
    assert s1["prepacked_linears"] > 0 and s0["prepacked_linears"] == 0
    assert s0["prepack"] == "not packed: prepack=False"
    assert [list(x) for x in a1.answer_token_ids] == [list(x) for x in a0.answer_token_ids]
    assert len({tuple(x) for x in a0.answer_token_ids}) > 1  # not a trivial answer
    assert sorted(r1) == sorted(r0)
    for key in r1:
        np.testing.assert_array_equal(r1[key], r0[key])
