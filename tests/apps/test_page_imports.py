"""Pages stay thin: a ui.py imports its own app, gradio, the page toolkit and core.errors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from apps.pages import available_app_keys

APPS = Path(__file__).resolve().parents[2] / "apps"
PENDING: dict[str, set[str]] = {}  # pages allowed an extra import while it is being moved


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("key", available_app_keys())
def test_a_page_imports_only_its_app_the_toolkit_and_core_errors(key):
    imported = _imports(APPS / key / "ui.py")
    suite = {m for m in imported if m.split(".")[0] in ("apps", "core", "shared_models")}
    allowed = {"apps.ui_kit", "core.errors"} | PENDING.get(key, set())
    own = {m for m in suite if m == f"apps.{key}" or m.startswith(f"apps.{key}.")}
    assert suite - own - allowed == set()


def test_home_examples_use_the_toolkits_app_objects_not_the_pages():
    imported = _imports(APPS / "home_examples.py")
    assert not any(m.endswith(".ui") for m in imported)
    assert "core.manager" not in imported and "core.registry" not in imported
