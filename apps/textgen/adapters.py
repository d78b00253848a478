"""The saved LoRA adapters: one folder each under ``<data_dir>/textgen/adapters/``.

A folder holds ``adapter_model.safetensors`` and ``adapter_config.json`` (PEFT's
format, loadable by ``peft.PeftModel.from_pretrained`` too) and ``manifest.json``
(base model and its weight checksum, data size, settings, metrics, created). The
generation role reads the same folders by name when a request names an adapter,
so renaming or deleting here takes effect on the next request.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError
from shared_models.types.generation_training import (
    ADAPTER_MANIFEST,
    ADAPTER_WEIGHTS,
    adapters_root,
    valid_adapter_name,
)


@dataclass(frozen=True)
class AdapterInfo:
    """One saved adapter, as its manifest describes it."""

    name: str
    base_model: str
    kind: str
    created: str
    size_bytes: int
    data: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


class AdapterStore:
    """List, look up, rename and delete adapters in one data directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = adapters_root(data_dir)

    def check_name(self, name: Any) -> str:
        if not valid_adapter_name(name):
            raise InvalidInputError(
                "An adapter name is 1-64 lower-case letters, digits, '-' or '_', starting with a "
                f"letter or digit; got {name!r}."
            )
        return name

    def path(self, name: str) -> Path:
        return self.root / self.check_name(name)

    def exists(self, name: str) -> bool:
        folder = self.path(name)
        return (folder / ADAPTER_WEIGHTS).is_file() and (folder / ADAPTER_MANIFEST).is_file()

    def names(self) -> list[str]:
        return [a.name for a in self.list()]

    def list(self) -> list[AdapterInfo]:
        """Saved adapters, newest first (half-written ones are skipped)."""
        if not self.root.is_dir():
            return []
        out = []
        for folder in self.root.iterdir():
            if valid_adapter_name(folder.name) and (folder / ADAPTER_WEIGHTS).is_file():
                try:
                    out.append(self.get(folder.name))
                except InvalidInputError:
                    continue
        return sorted(out, key=lambda a: a.created, reverse=True)

    def get(self, name: str) -> AdapterInfo:
        folder = self.path(name)
        if not (folder / ADAPTER_WEIGHTS).is_file():
            raise InvalidInputError(
                f"No adapter named {name!r}. Adapters: {', '.join(self.names()) or 'none yet'}."
            )
        try:
            manifest = json.loads((folder / ADAPTER_MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"The adapter {name!r} has no readable manifest: {exc}") from exc
        return AdapterInfo(
            name=name,
            base_model=str(manifest.get("base_model", "")),
            kind=str(manifest.get("kind", "")),
            created=str(manifest.get("created", "")),
            size_bytes=sum(f.stat().st_size for f in folder.iterdir() if f.is_file()),
            data=manifest.get("data", {}),
            settings=manifest.get("settings", {}),
            metrics=manifest.get("metrics", {}),
        )

    def require(self, name: str) -> str:
        """``name`` if such an adapter is saved, else a clear error listing the others."""
        if not self.exists(name):
            raise InvalidInputError(
                f"No adapter named {name!r}. Adapters: {', '.join(self.names()) or 'none yet'}."
            )
        return name

    def rename(self, old: str, new: str) -> AdapterInfo:
        self.require(old)
        target = self.path(new)
        if target.exists():
            raise InvalidInputError(f"An adapter named {new!r} already exists.")
        self.path(old).rename(target)
        manifest_path = target / ADAPTER_MANIFEST
        manifest = json.loads(manifest_path.read_text())
        manifest["name"] = new
        manifest_path.write_text(json.dumps(manifest, indent=2))
        return self.get(new)

    def delete(self, name: str) -> bool:
        """Delete an adapter; returns whether it existed."""
        folder = self.path(name)
        if not folder.is_dir():
            return False
        shutil.rmtree(folder)
        return True
