"""Sources: copied from a mirror or downloaded by URL, verified by sha256, never left half-written."""

import hashlib
import json

import pytest
from emobasis.data.sources import SourceError, fetch_source, resolve_mirror
from emobasis.io import sha256_file


@pytest.fixture
def two_file_source(tmp_path):
    """A two-file source laid out as a mirror folder, with its spec."""
    mirror = tmp_path / "mirror"
    (mirror / "demo" / "sub").mkdir(parents=True)
    files = {"a.csv": b"x,y\n1,2\n", "sub/b.json": b'{"k": 1}\n'}
    for rel, data in files.items():
        (mirror / "demo" / rel).write_bytes(data)
    spec = {
        "mirror_dir": "demo",
        "url": (mirror / "demo").as_uri(),
        "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()},
    }
    return mirror, spec


def test_copy_from_mirror_verifies_and_writes_manifest(tmp_path, two_file_source):
    mirror, spec = two_file_source
    out = tmp_path / "resources" / "data" / "demo"
    manifest = fetch_source("demo", spec, out, mirror=mirror)
    assert (out / "sub" / "b.json").read_bytes() == b'{"k": 1}\n'
    on_disk = json.loads((out / "MANIFEST.json").read_text())
    assert on_disk == manifest
    assert on_disk["files"]["a.csv"]["sha256"] == spec["files"]["a.csv"]
    assert on_disk["mirror"] == str(mirror)


def test_download_by_url(tmp_path, two_file_source):
    _, spec = two_file_source  # a file:// URL exercises the download path without a network
    out = tmp_path / "out"
    manifest = fetch_source("demo", spec, out, mirror=None)
    assert manifest["files"]["sub/b.json"]["origin"].startswith("file://")
    assert sha256_file(out / "a.csv") == spec["files"]["a.csv"]


def test_checksum_mismatch_is_a_hard_error_and_leaves_nothing(tmp_path, two_file_source):
    mirror, spec = two_file_source
    (mirror / "demo" / "sub" / "b.json").write_bytes(b'{"k": 2}\n')  # tampered
    out = tmp_path / "out"
    with pytest.raises(SourceError, match=r"checksum mismatch for source 'demo' file 'sub/b.json'.*Fix:"):
        fetch_source("demo", spec, out, mirror=mirror)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [mirror.parent / "mirror"]  # no temp folder left behind


def test_failed_refetch_keeps_the_previous_good_copy(tmp_path, two_file_source):
    mirror, spec = two_file_source
    out = tmp_path / "out"
    fetch_source("demo", spec, out, mirror=mirror)
    (mirror / "demo" / "a.csv").write_bytes(b"tampered")
    with pytest.raises(SourceError):
        fetch_source("demo", spec, out, mirror=mirror)
    assert sha256_file(out / "a.csv") == spec["files"]["a.csv"]


def test_file_missing_from_mirror(tmp_path, two_file_source):
    mirror, spec = two_file_source
    spec["files"]["c.txt"] = "0" * 64
    with pytest.raises(SourceError, match="missing from the mirror"):
        fetch_source("demo", spec, tmp_path / "out", mirror=mirror)


def test_unreachable_url_names_the_mirror_fix(tmp_path, two_file_source):
    _, spec = two_file_source
    spec["url"] = (tmp_path / "nowhere").as_uri()
    with pytest.raises(SourceError, match="EMOBASIS_MIRROR"):
        fetch_source("demo", spec, tmp_path / "out", mirror=None)


def test_mirror_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOBASIS_MIRROR", raising=False)
    assert resolve_mirror(None) is None
    assert resolve_mirror(str(tmp_path)) == tmp_path.resolve()
    monkeypatch.setenv("EMOBASIS_MIRROR", str(tmp_path))
    assert resolve_mirror("/elsewhere") == tmp_path.resolve()  # the environment wins
    monkeypatch.setenv("EMOBASIS_MIRROR", str(tmp_path / "absent"))
    with pytest.raises(SourceError, match=r"does not exist.*EMOBASIS_MIRROR"):
        resolve_mirror(None)


def test_default_mirror_matches_pinned_hashes(mirror, default_config, tmp_path):
    """Every file the default config pins is present in the mirror with the pinned sha256."""
    for name, spec in default_config["sources"].items():
        manifest = fetch_source(name, spec, tmp_path / name, mirror=mirror)
        assert set(manifest["files"]) == set(spec["files"])
