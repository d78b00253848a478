"""Trained classifiers on disk.

Each model is a folder ``<data_dir>/vision/models/<name>/``:

- ``config.json`` + ``model.safetensors``: the classification role's ``local:``
  format, written by the ``classifier-training`` role, so the core serves the
  folder with ``manager.add_local_model`` (and it also works as
  ``SPRINGBOARD_MODELS__CLASSIFICATION=local:<folder>``);
- ``training.json``: how it was trained and how it scored on the held-out split.

Nothing is pickled. A new model is written to a temporary folder and renamed
into place, so a crash mid-save leaves no half model, and a name that is taken
gets a numeric suffix instead of overwriting what is stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidInputError

TRAINING_FILE = "training.json"
MODEL_PREFIX = "vision:"  # core model names of trained models: "vision:<name>"
NAME_PATTERN = re.compile(r"[^a-z0-9_-]+")
MAX_NAME_CHARS = 48


@dataclass
class SavedModel:
    """A trained classifier: where it lives and how it was made."""

    name: str
    folder: Path
    method: str  # "head", "finetune" or "cnn"
    labels: list[str]
    metrics: dict = field(default_factory=dict)
    curve: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    created: str = ""
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        """The name under which the shared core serves this model."""
        return MODEL_PREFIX + self.name

    @property
    def description(self) -> str:
        """One line for the core's model list: method and the first labels."""
        more = "..." if len(self.labels) > 6 else ""
        return f"{self.method} classifier: {', '.join(self.labels[:6])}{more}"


def slugify(name: str) -> str:
    """A safe folder name: lowercase letters, digits, '-' and '_'."""
    slug = NAME_PATTERN.sub("-", name.strip().lower()).strip("-_")[:MAX_NAME_CHARS]
    return slug or "model"


class ModelStore:
    """The folder of trained classifiers (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh hidden folder to write a model into; removed afterwards unless committed."""
        tmp = self.root / f".tmp-{uuid.uuid4().hex[:12]}"
        tmp.mkdir(parents=True)
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def commit(self, staged: Path, record: SavedModel) -> SavedModel:
        """Add the training record to a staged model folder and rename it into place.

        Returns the record with its final name (``record.name`` slugified, with a
        numeric suffix if taken) and folder.
        """
        with self._lock:
            base = slugify(record.name)
            name, n = base, 2
            while (self.root / name).exists():
                name, n = f"{base}-{n}", n + 1
            record = dataclasses.replace(
                record, name=name, folder=self.root / name,
                created=record.created or time.strftime("%Y-%m-%d %H:%M:%S"),
            )
            (staged / TRAINING_FILE).write_text(json.dumps(_record_json(record), indent=1))
            staged.rename(record.folder)
        return record

    def list(self) -> list[SavedModel]:
        """Every readable saved model, newest first (unreadable folders are skipped)."""
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                found.append(self._read(folder))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return sorted(found, key=lambda m: m.created, reverse=True)

    def get(self, name: str) -> SavedModel:
        folder = self.root / slugify(name.removeprefix(MODEL_PREFIX))
        if not (folder / TRAINING_FILE).is_file():
            raise InvalidInputError(f"No trained model named '{name}'.")
        return self._read(folder)

    def _read(self, folder: Path) -> SavedModel:
        data = json.loads((folder / TRAINING_FILE).read_text())
        return SavedModel(
            name=folder.name,
            folder=folder,
            method=str(data["method"]),
            labels=[str(x) for x in data["labels"]],
            metrics=dict(data.get("metrics", {})),
            curve=dict(data.get("curve", {})),
            train_seconds=float(data.get("train_seconds", 0.0)),
            created=str(data.get("created", "")),
            source=str(data.get("source", "")),
            warnings=list(data.get("warnings", [])),
        )


def _record_json(record: SavedModel) -> dict:
    data = dataclasses.asdict(record)
    data.pop("folder")
    return data

