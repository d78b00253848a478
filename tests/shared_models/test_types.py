"""The request, result and event types cross a process boundary: torch-free and picklable."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import shared_models.types as types_package

MODULES = sorted(
    f"{types_package.__name__}.{m.name}" for m in pkgutil.iter_modules(types_package.__path__)
)


def test_there_are_type_modules() -> None:
    assert "shared_models.types.generation" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_a_types_module_imports_no_torch_and_no_model_code(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'torchvision', 'torchaudio', 'faiss', 'gradio') "
        "or (m.startswith('shared_models.') and not m.startswith('shared_models.types')))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"{module} imports {done.stdout.strip()} {done.stderr[-500:]}"


def _dataclasses(module: str) -> list[type]:
    mod = importlib.import_module(module)
    return [
        cls
        for _, cls in inspect.getmembers(mod, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == module
    ]


@pytest.mark.parametrize("module", MODULES)
def test_every_type_has_only_plain_fields(module: str) -> None:
    """No callables, events or locks: nothing that cannot cross a process boundary."""
    for cls in _dataclasses(module):
        for f in dataclasses.fields(cls):
            hint = str(f.type)
            for banned in ("Callable", "Event", "Lock", "Queue", "Tensor", "Module"):
                assert banned not in hint, f"{cls.__name__}.{f.name}: {hint}"
