"""The version of the package code that one rule's script runs: a hash of every ``emobasis`` module the
script imports, directly or through other modules, and of the packages above them (whose ``__init__`` runs).

Snakemake reruns a job when its script file changes, but the scripts are thin: the science lives in the
package they import. rules/common.smk gives each rule the hash as a param (``code``), so that a change to a
module reruns exactly the jobs whose scripts can reach it, and no other.

The import graph is grimp's (the one import-linter checks the layers on). A module is hashed by its syntax
tree without docstrings, so reformatting, comments and docstrings rerun nothing; any change to what the code
does reruns everything that imports it. The package's data files (``emobasis/resources``) are inputs of the
rules that read them, so they are not part of the hash.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "emobasis"


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def normalized_source(text: str) -> str:
    """What a module does, as text: its syntax tree without docstrings (formatting and comments dropped)."""
    return ast.dump(_strip_docstrings(ast.parse(text)), include_attributes=False)


def imported_modules(text: str, known: set[str]) -> set[str]:
    """The package modules a script's source imports at any depth of its body (``import emobasis.x``,
    ``from emobasis.x import y``, where ``emobasis.x.y`` is a module when ``known`` holds it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known and (n == PACKAGE or n.startswith(PACKAGE + "."))}
    return found


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


class PackageCode:
    """The package's import graph and its modules' normalized sources, read once per workflow parse."""

    def __init__(self, package_dir: str | Path):
        import grimp

        self.root = Path(package_dir) / PACKAGE
        # no cache: grimp would write .grimp_cache into the user's working directory
        self.graph = grimp.build_graph(PACKAGE, cache_dir=None)
        self.modules = set(self.graph.modules)
        self._digests: dict[str, str] = {}

    def closure(self, modules: set[str]) -> set[str]:
        """``modules``, everything they import (directly or not) and every package above each of those."""
        todo, seen = list(modules), set()
        while todo:
            m = todo.pop()
            if m in seen or m not in self.modules:
                continue
            seen.add(m)
            todo += _parents(m) + sorted(self.graph.find_upstream_modules(m))
        return seen

    def file_of(self, module: str) -> Path:
        rel = Path(*module.split(".")[1:])
        package = self.root / rel / "__init__.py"
        return package if package.is_file() else self.root / rel.with_suffix(".py")

    def module_digest(self, module: str) -> str:
        if module not in self._digests:
            text = normalized_source(self.file_of(module).read_text())
            self._digests[module] = hashlib.sha256(text.encode()).hexdigest()
        return self._digests[module]

    def script_modules(self, script: str | Path) -> list[str]:
        """The package modules a script can run, sorted."""
        return sorted(self.closure(imported_modules(Path(script).read_text(), self.modules)))

    def script_version(self, script: str | Path) -> str:
        """One hash of what the script's package modules do (empty package: the hash of nothing)."""
        h = hashlib.sha256()
        for m in self.script_modules(script):
            h.update(f"{m}\0{self.module_digest(m)}\n".encode())
        return h.hexdigest()[:16]
