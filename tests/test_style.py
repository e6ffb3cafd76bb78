"""House rules of the package: ruff clean, modules small enough to read, no private names across modules."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import REPO

PACKAGE = REPO / "workflow" / "emobasis"


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")])
def test_ruff_is_clean(args):
    res = ruff(*args)
    assert res.returncode == 0, f"ruff {' '.join(args)}:\n{res.stdout[-3000:]}{res.stderr[-2000:]}\nFix: make lint"


def test_no_module_of_the_package_is_over_350_lines():
    long = {p.name: n for p in PACKAGE.glob("*.py") if (n := len(p.read_text().splitlines())) > 350}
    assert not long, f"modules over 350 lines: {long}. Fix: split them along their seams."


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))  # dunders are public


def test_no_private_name_is_imported_across_modules():
    offenders = []
    for path in [*PACKAGE.glob("*.py"), *(REPO / "workflow" / "scripts").glob("*.py"), *REPO.glob("tests/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emobasis"):
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if is_private(a.name)]
    assert not offenders, offenders
