"""Trained classifiers on disk, and their entries in the shared model registry.

Each model is a folder ``<data_dir>/vision/models/<name>/``:

- ``config.json`` + ``model.safetensors``: for EfficientNet-Lite0 models this is
  exactly the core's ``local:<folder>`` format (``save_local_classifier``), so the
  folder also works as ``SPRINGBOARD_MODELS__CLASSIFICATION=local:<folder>``;
- ``training.json``: how it was trained and how it scored on the held-out split.

Nothing is pickled. A new model is written to a temporary folder and renamed
into place, so a crash mid-save leaves no half model, and a name that is taken
gets a numeric suffix instead of overwriting what is stored.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from torch import nn

from core.errors import InvalidInputError, ModelUnavailableError
from core.registry import LoadContext, ModelRegistry, ModelRunner, ModelSpec
from shared_models.image_classification import (
    LITE0_ARCH,
    LOCAL_CONFIG,
    LOCAL_WEIGHTS,
    ImageClassifier,
    load_external,
    save_local_classifier,
)

from .cnn import CNN_ARCH, CNN_SIZE, SmallCNN

TRAINING_FILE = "training.json"
MODEL_PREFIX = "vision:"  # registry names of trained models: "vision:<name>"
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

    def save(self, model: nn.Module, record: SavedModel) -> SavedModel:
        """Write weights, config and training record; returns the record with its final name."""
        tmp = self.root / f".tmp-{uuid.uuid4().hex[:12]}"
        try:
            if record.method == "cnn":
                from safetensors.torch import save_model

                tmp.mkdir(parents=True)
                config = {"architecture": CNN_ARCH, "labels": record.labels, "size": CNN_SIZE}
                (tmp / LOCAL_CONFIG).write_text(json.dumps(config, indent=1))
                save_model(model, str(tmp / LOCAL_WEIGHTS))
            else:
                save_local_classifier(tmp, model, LITE0_ARCH, record.labels)
            with self._lock:
                base = slugify(record.name)
                name, n = base, 2
                while (self.root / name).exists():
                    name, n = f"{base}-{n}", n + 1
                record = dataclasses.replace(
                    record, name=name, folder=self.root / name,
                    created=record.created or time.strftime("%Y-%m-%d %H:%M:%S"),
                )
                (tmp / TRAINING_FILE).write_text(json.dumps(_record_json(record), indent=1))
                tmp.rename(record.folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
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


def register(registry: ModelRegistry, model: SavedModel) -> str:
    """Make the shared core serve ``model`` as ``vision:<name>`` (batched like any model)."""
    registry.register(
        ModelSpec(
            name=model.model_id,
            role="classification",
            load=partial(load_saved, model.folder, model.method),
            approx_mb=1 if model.method == "cnn" else 25,
            source=f"trained in the vision app ({model.folder})",
            description=f"{model.method} classifier: {', '.join(model.labels[:6])}"
            + ("..." if len(model.labels) > 6 else ""),
            max_batch_size=64,
        )
    )
    return model.model_id


def load_saved(folder: Path, method: str, ctx: LoadContext) -> ModelRunner:
    """The core's loader for a saved model: Lite0 folders go through ``local:``, CNNs here."""
    if method != "cnn":
        return load_external(dataclasses.replace(ctx, source=f"local:{folder}"))
    from safetensors.torch import load_model
    from torchvision import transforms as T

    config = json.loads((folder / LOCAL_CONFIG).read_text())
    if config.get("architecture") != CNN_ARCH:
        raise ModelUnavailableError(f"{folder} does not hold a {CNN_ARCH} model.")
    labels = [str(x) for x in config["labels"]]
    model = SmallCNN(len(labels))
    load_model(model, str(folder / LOCAL_WEIGHTS), strict=True)
    size = int(config.get("size", CNN_SIZE))
    transform = T.Compose(
        [
            T.Grayscale(1),
            T.Resize((size, size)),
            T.ToTensor(),
            T.Normalize([0.5], [0.5]),
        ]
    )
    return ImageClassifier(model.eval(), transform, labels, ctx)
