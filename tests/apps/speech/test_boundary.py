"""The speech app reaches models only through core handles: it imports no model code."""

from __future__ import annotations

import ast
from pathlib import Path

import apps.speech

# What an app may not import: model implementations, and the core's internals.
FORBIDDEN_CORE = ("core.manager", "core.registry", "core.handles", "core.batcher")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def crosses_boundary(module: str) -> bool:
    """Model code (any ``shared_models`` module but the types) or a core internal."""
    if module.split(".")[0] == "shared_models":
        allowed = module in ("shared_models", "shared_models.types")
        return not (allowed or module.startswith("shared_models.types."))
    return any(module == m or module.startswith(m + ".") for m in FORBIDDEN_CORE)


def boundary_violations(path: Path) -> list[str]:
    """The imports of ``path`` that cross the handle boundary."""
    return sorted(m for m in imported_modules(path) if crosses_boundary(m))


def test_the_scan_sees_a_violation(tmp_path):
    """The scan itself works: model-side imports, even inside functions, are found."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from shared_models.types.speech import Segment\n"
        "from core import get_manager\n"
        "def f():\n"
        "    from shared_models.speech_audio import to_mono_16k\n"
        "    import core.registry\n"
    )
    assert "core.registry" in boundary_violations(sample)
    assert "shared_models.speech_audio" in boundary_violations(sample)
    assert not any("types" in m for m in boundary_violations(sample))


def test_speech_app_imports_only_types_and_public_core():
    files = sorted(Path(apps.speech.__file__).parent.glob("*.py"))
    assert len(files) >= 10
    assert {str(f.name): boundary_violations(f) for f in files if boundary_violations(f)} == {}
