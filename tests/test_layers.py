"""The layers import downwards only: `callrt` -> `actors` -> `store`, never upwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

FORBIDDEN = {"store": {"actors", "callrt"}, "actors": {"callrt"}}


def imported_top_level_names(path: Path) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_upward_imports(layer: str) -> None:
    upward = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {name}"
        for path in sorted((REPO_ROOT / layer).rglob("*.py"))
        for line, name in sorted(imported_top_level_names(path))
        if name in FORBIDDEN[layer]
    ]
    assert upward == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nif True:\n    from callrt.server import app\n")
    assert (3, "callrt") in imported_top_level_names(module)
