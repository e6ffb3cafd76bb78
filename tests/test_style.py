"""House rules of the package: ruff clean, stages layered (import-linter), no private names across modules."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "workflow" / "emobasis"


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")])
def test_ruff_is_clean(args):
    res = ruff(*args)
    assert res.returncode == 0, f"ruff {' '.join(args)}:\n{res.stdout[-3000:]}{res.stderr[-2000:]}\nFix: make lint"


def lint_imports(root) -> subprocess.CompletedProcess:
    """import-linter's contracts (pyproject.toml) over the package under ``root``/workflow."""
    cmd = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(root / "workflow")}
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)


def test_the_stages_keep_their_layers():
    res = lint_imports(REPO)
    fix = "Fix: import only from lower stages (pyproject.toml, [tool.importlinter])"
    assert res.returncode == 0, f"lint-imports:\n{res.stdout[-4000:]}{res.stderr[-2000:]}\n{fix}"


def package_copy(root, additions: dict[str, str]):
    """A copy of the package and its contracts under ``root`` with a line added to some modules."""
    shutil.copytree(REPO / "workflow" / "emobasis", root / "workflow" / "emobasis")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for module, line in additions.items():
        path = root / "workflow" / "emobasis" / module
        path.write_text(path.read_text() + f"\n{line}  # noqa: E402,F401\n")
    return root


def test_an_upward_import_breaks_the_layers(tmp_path):
    """The contract is not vacuous: a copy of the package where data imports report fails it."""
    res = lint_imports(package_copy(tmp_path, {"data/splits.py": "from emobasis.report import verdict"}))
    assert res.returncode != 0, res.stdout
    assert "emobasis.data is not allowed to import emobasis.report" in res.stdout, res.stdout[-3000:]


def test_an_import_cycle_inside_a_stage_breaks_the_contract(tmp_path):
    cycle = {
        "transfer/heads.py": "from emobasis.transfer import metrics",
        "transfer/metrics.py": "import emobasis.transfer.heads",
    }
    res = lint_imports(package_copy(tmp_path, cycle))
    assert res.returncode != 0 and "No cycles are allowed in emobasis.transfer" in res.stdout, res.stdout[-3000:]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))  # dunders are public


def test_no_private_name_is_imported_across_modules():
    offenders = []
    for path in [*PACKAGE.rglob("*.py"), *(REPO / "workflow" / "scripts").glob("*.py"), *REPO.glob("tests/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emobasis"):
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if is_private(a.name)]
    assert not offenders, offenders
