"""The handle boundary is enforced: import-linter's contracts (pyproject.toml) hold.

page -> app API -> handle -> backend -> model (see ARCHITECTURE.md). The contracts say
that the core imports no app, model roles import no app, apps import no model module
(only the torch-free ``shared_models.types``), and apps use the core's public API
rather than its manager, registry, handles or batcher. A ``ui.py`` importing only its
own app, the page toolkit, gradio and ``core.errors`` is checked in
``tests/apps/test_page_imports.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from core.settings import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def test_the_layer_contracts_hold() -> None:
    done = _lint_imports(PROJECT_ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def test_the_contracts_catch_an_app_that_reaches_past_its_handle(tmp_path: Path) -> None:
    """Plant each kind of violation in a copy of the tree; every contract must break."""
    for package in ("apps", "core", "shared_models"):
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "apps" / "textgen" / "sneaky.py").write_text(
        "from core.manager import get_manager\n"
        "from shared_models.text_generation import TextGenerator\n"
    )
    (tmp_path / "core" / "sneaky.py").write_text("import apps.textgen\n")
    (tmp_path / "shared_models" / "sneaky.py").write_text("import apps.speech\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert "Contracts: 0 kept, 4 broken." in done.stdout, done.stdout[-4000:]
    for chain in (
        "apps.textgen.sneaky -> core.manager",
        "apps.textgen.sneaky -> shared_models.text_generation",
        "core.sneaky -> apps.textgen",
        "shared_models.sneaky -> apps.speech",
    ):
        assert chain in done.stdout


def test_apps_read_settings_through_their_manager() -> None:
    """One way to read settings: an app uses ``manager.settings``; only the server's entry
    point reads the process settings (to build that manager)."""
    import ast

    readers = []
    for path in sorted((PROJECT_ROOT / "apps").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "get_settings":
                readers.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert len(readers) == 1 and readers[0].startswith("apps/server.py:"), readers
