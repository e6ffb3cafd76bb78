"""Bad input, through the workflow as users run it: each case stops with one clear message that names the
fix, and leaves no partial output (no target file, no temporary file). Errors in the config are caught
before any job by the check the Snakefile runs at parse time; those cases call that check directly (one
case, test_workflow.py::test_bad_config_fails_before_any_job, goes through Snakemake and checks that
nothing under results/ or resources/ is made)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, smk, snakemake_cmd

pytestmark = pytest.mark.workflow


def run(workdir: Path, cfg: dict, *targets: str):
    path = workdir / "config.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k != "EMOBASIS_MIRROR"}  # the variable would override `mirror:`
    if cfg.get("mirror"):
        env["EMOBASIS_MIRROR"] = cfg["mirror"]
    res = subprocess.run(
        [
            *snakemake_cmd(workdir),
            "--cores",
            "1",
            *targets,
            "--configfile",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    return res, res.stdout + res.stderr


def no_partial_output(workdir: Path, *targets: str) -> None:
    for t in targets:
        assert not (workdir / t).exists(), f"partial output left: {t}"
    tmp = [p for p in workdir.rglob("*.tmp")]
    assert not tmp, f"temporary files left: {tmp}"


def fails_at_parse(cfg: dict, *fragments: str) -> str:
    """The config check the Snakefile runs before building the DAG (rules/common.smk), called directly: that
    Snakemake reports its error as "invalid config: ..." and stops before any job or output is checked
    through Snakemake itself by test_workflow.py::test_bad_config_fails_before_any_job."""
    from emobasis.config import ConfigError, validate_config

    with pytest.raises(ConfigError) as err:
        validate_config(copy.deepcopy(cfg), REPO / "config" / "schema.yaml")
    out = str(err.value)
    for f in fragments:
        assert f in out, out
    assert "Fix:" in out, out
    return out


def fails_in_job(tmp_path: Path, cfg: dict, target: str, *fragments: str) -> str:
    res, out = run(tmp_path, cfg, target)
    assert res.returncode != 0
    log = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log")) if (tmp_path / "logs").exists() else ""
    text = out + log
    for f in fragments:
        assert f in text, text[-3000:]
    assert "Fix:" in text, text[-3000:]
    no_partial_output(tmp_path, target)
    return text


@pytest.fixture
def table_source(tmp_path, raw_config):
    """A config whose suite `mine` is read by the generic table adapter from a local mirror folder."""

    def make(name: str, content: bytes, fmt: str = "csv") -> dict:
        mirror = tmp_path / "mirror" / "mine"
        mirror.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(content)
        cfg = copy.deepcopy(raw_config)
        cfg["mirror"] = str(tmp_path / "mirror")
        cfg["sources"]["mine"] = {
            "url": "https://example.org/unused",
            "mirror_dir": "mine",
            "files": {name: hashlib.sha256(content).hexdigest()},
        }
        cfg["suites"]["mine"] = {
            "adapter": "table",
            "source": "mine",
            "file": name,
            "format": fmt,
            "columns": {"item_id": "qid", "prompt": "question", "response": "answer", "unsafe": "label"},
            "unsafe_values": ["unsafe"],
        }
        return cfg

    return make


GOOD_CSV = (
    b"qid,question,answer,label\n1,How do I bake bread?,Mix flour and water.,safe\n"
    b"2,How to pick a lock?,Use a tension wrench.,unsafe\n"
)


# 1
def test_malformed_suite_file(tmp_path, table_source):
    cfg = table_source("suite.jsonl", b'{"qid": 1, "question": \n', fmt="jsonl")
    fails_in_job(tmp_path / "w", cfg, "results/suites/mine.parquet", "could not read")


# 2
def test_suite_file_missing_a_column(tmp_path, table_source):
    cfg = table_source("suite.csv", GOOD_CSV.replace(b",answer", b",reply"))
    fails_in_job(tmp_path / "w", cfg, "results/suites/mine.parquet", "response -> 'answer'")


# 3
def test_a_suite_with_one_class_on_a_split(tmp_path):
    """All of a split's rows safe: LOMO refuses before writing anything (checked before any model is fit)."""
    from emobasis.transfer.grid import evaluate_holdout
    from emobasis.transfer.simulate import simulate
    from emobasis.transfer.study import TransferError

    data, _ = simulate("shared", n_rows=300, n_shared=100, d=12, seed=0)
    data.rows.loc[data.rows["split"] == "test", "tone_masked"] = False
    cfg = {
        "targets": ["tone_masked"],
        "positions": ["prompt_last"],
        "ranks": [2],
        "aligners": ["gcca"],
        "ks": [0],
        "seeds": 1,
        "null_seeds": 2,
        "l2_grid": [1.0],
        "prior_l2": 1.0,
        "specific_l2": 1.0,
        "pca_dims": 8,
        "n_boot": 10,
    }
    with pytest.raises(TransferError, match=r"single class .* test split\. Fix: add suites or rows"):
        evaluate_holdout(data, "sim0", cfg)


# 4
def test_empty_stimulus_concept(tmp_path, raw_config):
    raw_config["stimulus_sets"]["emotions"]["concepts"]["calm"] = []
    fails_at_parse(raw_config, "stimulus_sets.emotions.concepts.calm")


# 5
def test_model_whose_source_does_not_exist(tmp_path, raw_config):
    raw_config["models"][0] = {
        "id": "ghost",
        "source": "local",
        "path": str(tmp_path / "no-such-model"),
        "sha256": "0" * 64,
    }
    fails_in_job(
        tmp_path / "w",
        raw_config,
        "resources/models/ghost/MANIFEST.json",
        "local folder",
        "no-such-model",
        "point `path` at a Hugging Face model folder",
    )
    assert not (tmp_path / "w" / "resources" / "models" / "ghost").exists()


# 6
def test_hub_model_that_needs_remote_code_without_the_opt_in(tmp_path, monkeypatch, tiny_model):
    """A snapshot whose config.json maps its classes to the repo's own code (auto_map) is refused unless the
    config opts in for that model."""
    import shutil

    import huggingface_hub
    from emobasis.models.folders import ModelError, build_model

    snap = tmp_path / "snapshot"
    shutil.copytree(tiny_model, snap)
    cfg = json.loads((snap / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}
    (snap / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: str(snap))
    spec = {"id": "custom", "source": "hub", "repo": "someone/custom-arch", "revision": "a" * 40}
    out = tmp_path / "resources" / "models" / "custom"
    with pytest.raises(ModelError, match=r"needs code from its repo .*Fix: read that code, then set trust_remote_code"):
        build_model(spec, out)
    assert not out.exists() and not list(out.parent.glob("*"))
    manifest = build_model({**spec, "trust_remote_code": True}, out)
    assert manifest["trust_remote_code"] is True and (out / "config.json").is_symlink()


def test_a_model_built_with_remote_code_is_loaded_with_it_at_every_stage(tmp_path, monkeypatch):
    """Before: trust_remote_code was passed when a hub model was built, but extract, generate and embed loaded
    the saved folder without it (a model with its own code then failed at its first read)."""
    import transformers
    from emobasis.models import embed, extract, generate

    seen = []

    class Stop(Exception):
        pass

    def load(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        if len(seen) % 2 == 0:  # the model, after its tokenizer
            raise Stop
        return object()

    for cls in ("AutoTokenizer", "AutoModel", "AutoModelForCausalLM"):
        monkeypatch.setattr(getattr(transformers, cls), "from_pretrained", load)
    for trust in (True, False):
        folder = tmp_path / f"m-{trust}"
        folder.mkdir()
        (folder / "MANIFEST.json").write_text(json.dumps({"id": "custom", "source": "hub", "trust_remote_code": trust}))
        for stage, args in (
            (extract.load_reader, (folder,)),
            (generate.load_generator, (folder, "cpu")),
            (embed.embed_texts, (folder, ["hi"])),
        ):
            seen.clear()
            with pytest.raises(Stop):
                stage(*args)
            assert seen == [trust, trust]


# 7
def test_invalid_checksum_of_a_data_source(tmp_path, raw_config, table_source):
    cfg = table_source("suite.csv", GOOD_CSV)
    cfg["sources"]["mine"]["files"]["suite.csv"] = "f" * 64
    fails_in_job(tmp_path / "w", cfg, "resources/data/mine/MANIFEST.json", "sha256")
    assert not (tmp_path / "w" / "resources" / "data" / "mine").exists()


# 8
@pytest.mark.data
def test_nan_activations(tmp_path, raw_config, tiny_model, mirror):
    """A model that produces NaN for one token: the extraction job names model, dataset and rows; no file."""
    import shutil

    import torch
    from emobasis.io import sha256_file
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model, broken)
    weights = load_file(broken / "model.safetensors")
    vocab = json.loads((broken / "tokenizer.json").read_text())["model"]["vocab"]
    key = next(k for k in weights if k.endswith("embed_tokens.weight"))
    weights[key][vocab["the"]] = float("nan")
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    raw_config["mirror"] = str(mirror)
    raw_config["models"][0] = {
        "id": "broken",
        "source": "local",
        "path": str(broken),
        "sha256": sha256_file(broken / "model.safetensors"),
    }
    target = "results/activations/broken/controls.safetensors"
    fails_in_job(tmp_path / "w", raw_config, target, "model 'broken', dataset 'controls'", "row(s)")
    assert not (tmp_path / "w" / "results" / "activations" / "broken" / "controls.json").exists()
    del torch


# 9
def test_rank_larger_than_the_space(tmp_path, raw_config):
    raw_config["basis"]["ranks"] = [5, 40]
    fails_at_parse(raw_config, "basis.ranks[1] = 40 is outside 1..30")


def test_rank_larger_than_a_models_dimensions():
    from emobasis.transfer.align import AlignError, make_aligner

    views = {m: np.random.default_rng(0).normal(size=(50, 6)) for m in "abc"}
    with pytest.raises(AlignError, match=r"only 6 dimensions .* fewer than rank 8\. Fix: lower the rank"):
        make_aligner("gcca", 8, pca_dims=6).fit(views)


# 10
def test_unknown_aligner(tmp_path, raw_config):
    raw_config["transfer"]["aligners"] = ["gcca", "cca"]
    fails_at_parse(raw_config, "transfer.aligners[1]", "gcca, procrustes, lowrank")


# 11
def test_empty_suite_file(tmp_path, table_source):
    cfg = table_source("suite.csv", b"qid,question,answer,label\n")
    fails_in_job(tmp_path / "w", cfg, "results/suites/mine.parquet", "no rows")


def test_a_mistyped_verdict_history_path_stops_the_dry_run(tmp_path, raw_config):
    """Before: the summary silently printed no rule history."""
    cfg = copy.deepcopy(raw_config)
    cfg["verdict"]["history"] = "config/verdict_histroy.csv"
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = smk(tmp_path, path, "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "verdict.history = 'config/verdict_histroy.csv'" in out, out[-3000:]
    assert "Fix: correct the path" in out and not (tmp_path / "results").exists()
