"""Data sources: files named by a pinned URL and a sha256, fetched or copied from an offline mirror.

A source in the config::

    xstest:
      url: https://raw.githubusercontent.com/<owner>/<repo>/<commit>   # files come from <url>/<path>
      mirror_dir: xstest                                               # or from <mirror>/<mirror_dir>/<path>
      files: {xstest_prompts.csv: <sha256>, ...}

A source may have only a ``mirror_dir`` (no ``url``): then the mirror is its only origin, and the
manifest's ``url`` is null.

``fetch_source`` writes ``<dest>/<path>`` for every file plus ``<dest>/MANIFEST.json``. A checksum
mismatch or a missing file is a hard error and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

from emobasis.errors import SourceError
from emobasis.io import atomic_dir, sha256_file
from emobasis.paths import inside

MIRROR_ENV = "EMOBASIS_MIRROR"
MANIFEST = "MANIFEST.json"


def resolve_mirror(config_mirror: str | None = None) -> Path | None:
    """The offline mirror directory: $EMOBASIS_MIRROR, else the config's ``mirror``, else None."""
    value = os.environ.get(MIRROR_ENV) or config_mirror
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        origin = f"${MIRROR_ENV}" if os.environ.get(MIRROR_ENV) else "config key 'mirror'"
        raise SourceError(
            f"the mirror directory '{value}' (from {origin}) does not exist. "
            f"Fix: point {origin} at a folder holding the sources, e.g. ../shared/data, or unset it."
        )
    return path


def _download(url: str, dest: Path, timeout: float = 60.0) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as exc:  # URLError is an OSError
        raise SourceError(
            f"could not download {url}: {exc}. Fix: check the network, or set {MIRROR_ENV} "
            "to an offline mirror directory (e.g. ../shared/data)."
        ) from exc


def _mirror_fix(name: str, spec: dict) -> str:
    """How to complete a source missing from the mirror; the pinned URL only when the source has one."""
    folder = spec.get("mirror_dir", name)
    if spec.get("url"):
        return (
            f"complete the mirror (folder '{folder}'), or unset {MIRROR_ENV} and the config key 'mirror' to "
            f"download from the pinned URL sources.{name}.url."
        )
    return (
        f"put the file in the mirror folder '{folder}' (source '{name}' has no url, so the mirror is its "
        f"only origin), or point {MIRROR_ENV} at the mirror that holds it."
    )


def fetch_source(name: str, spec: dict, dest: str | Path, mirror: Path | None = None) -> dict:
    """Obtain every file of source ``name`` into ``dest`` and verify its sha256. Returns the manifest."""
    dest = Path(dest)
    started = time.time()
    if mirror is None and not spec.get("url"):
        raise SourceError(
            f"source '{name}' has no 'url' and no mirror is set. Fix: set {MIRROR_ENV} (or the "
            f"config key 'mirror') to the folder that holds '{spec.get('mirror_dir', name)}', "
            f"or add sources.{name}.url."
        )
    # every path is checked before anything is written: a key with '..' or an absolute one is refused
    folder = inside(mirror or ".", spec.get("mirror_dir", name), f"sources.{name}.mirror_dir")
    for rel in spec["files"]:
        inside(dest, rel, f"a key of sources.{name}.files")
    files = {}
    with atomic_dir(dest) as tmp:  # files are copied or downloaded and verified in here only
        for rel, expected in spec["files"].items():
            out = inside(tmp, rel, f"a key of sources.{name}.files")
            out.parent.mkdir(parents=True, exist_ok=True)
            if mirror is not None:
                src = inside(folder, rel, f"a key of sources.{name}.files")
                if not src.is_file():
                    raise SourceError(
                        f"source '{name}': {src} is missing from the mirror. Fix: " + _mirror_fix(name, spec)
                    )
                shutil.copyfile(src, out)
                origin = str(src)
            else:
                # a file name may hold spaces (SimpleSafetyTests): the URL path is percent-encoded
                origin = f"{spec['url'].rstrip('/')}/{urllib.parse.quote(rel)}"
                _download(origin, out)
            got = sha256_file(out)
            if got != expected:
                raise SourceError(
                    f"checksum mismatch for source '{name}' file '{rel}' (from {origin}): "
                    f"expected sha256 {expected}, got {got}. Fix: the file changed upstream or in "
                    f"the mirror; restore the pinned version (do not just update the hash)."
                )
            files[rel] = {"sha256": got, "bytes": out.stat().st_size, "origin": origin}
        manifest = {
            "source": name,
            "url": spec.get("url"),
            "mirror": str(mirror) if mirror else None,
            "license": spec.get("license"),
            "files": files,
            "seconds": round(time.time() - started, 3),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(manifest_path: str | Path) -> tuple[Path, dict]:
    """(root folder of the source, manifest dict) for a fetched source's MANIFEST.json."""
    manifest_path = Path(manifest_path)
    return manifest_path.parent, json.loads(manifest_path.read_text())
