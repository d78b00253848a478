"""The vision app stays behind the handle boundary: it imports no model code and no core internals."""

from __future__ import annotations

import ast
from pathlib import Path

import apps.vision

APP_DIR = Path(apps.vision.__file__).parent
# Core modules an app must not import: it reaches models only through get_manager().handle().
CORE_INTERNALS = ("core.manager", "core.registry", "core.handles", "core.batcher")
# No tensors in the app: the core's roles hold every model and run every training step.
HEAVY = ("torch", "torchvision")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative imports resolved within apps.vision."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = "apps.vision" + ("." + module if module else "")
            found += [(node.lineno, module)]
            # "from core import manager" imports the module core.manager
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _violations(path: Path) -> list[str]:
    bad = []
    for line, module in _imports(path):
        if module.startswith("shared_models") and not (
            module == "shared_models.types" or module.startswith("shared_models.types.")
        ):
            bad.append(f"{path.name}:{line} imports {module}")
        if any(module == m or module.startswith(m + ".") for m in CORE_INTERNALS + HEAVY):
            bad.append(f"{path.name}:{line} imports {module}")
    source = path.read_text()
    # Borrowing a loaded model or editing the registry goes around the handles too.
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr == "registry" or (node.attr == "use" and "manager" in ast.unparse(node.value)):
            bad.append(f"{path.name}:{node.lineno} uses .{node.attr}")
    return bad


def test_the_scan_sees_a_violation(tmp_path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from shared_models.image_classification import Prediction\n"
        "from shared_models.types.vision import Detection\n"
        "from core import registry\n"
        "import torch.nn\n"
        "from core import get_manager\n"
        "get_manager().registry.register(None)\n"
        "with self.manager.use('x'):\n    pass\n"
        "matplotlib.use('Agg')\n"
    )
    assert _violations(sample) == [
        "sample.py:1 imports shared_models.image_classification",
        "sample.py:1 imports shared_models.image_classification.Prediction",
        "sample.py:3 imports core.registry",
        "sample.py:4 imports torch.nn",
        "sample.py:6 uses .registry",
        "sample.py:7 uses .use",
    ]


def test_vision_app_imports_only_types_and_public_core() -> None:
    files = sorted(APP_DIR.glob("*.py"))
    assert {"api.py", "trainer.py", "storage.py", "figures.py", "ui.py"} <= {f.name for f in files}
    bad = [v for f in files for v in _violations(f)]
    assert not bad, "\n".join(bad)
