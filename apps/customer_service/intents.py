"""Intent model: labelled utterances in, an intent per message out.

The classifier is a softmax layer over sentence embeddings. Every part runs in the
core: the ``embedding_training`` role trains, the ``embedding_head`` role serves the
layer from its folder (safetensors, never pickle), and the app keeps only the labels
and a JSON manifest. Two ways to train:

* ``"head"``: the layer is fitted on the frozen shared embeddings (the "embedding"
  role). BANKING77: 92.5% test accuracy, 2.5 min on 2 CPU cores (mostly embedding).
* ``"finetune"``: a copy of MiniLM is fine-tuned end to end with the layer and
  saved as a sentence-transformers folder beside the manifest; the "embedding"
  role serves that folder (``local:<folder>``), lazily, batched and within the
  memory budget, like any model. The shared encoder is never touched.
  BANKING77: see bench/RESULTS.md (``bench.customer_service_intents``).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from apps.metrics import macro_f1, per_class_f1
from core import ModelManager, get_manager
from core.errors import InvalidInputError, ModelUnavailableError
from shared_models.types.embedding_head import HEAD_FILE, HeadInfoRequest
from shared_models.types.embedding_head import ROLE as HEAD_ROLE
from shared_models.types.embedding_training import (
    TRAINER_MODEL,
    EncoderFineTuneRequest,
    HeadTrainingRequest,
)

Mode = Literal["head", "finetune"]
ProgressFn = Callable[[float, str], None]

# Limits on training data: enough for BANKING77 (10k, 77 classes) with room to spare,
# small enough that a page upload cannot tie up the CPU for hours.
MAX_TRAIN_EXAMPLES = 50_000
MAX_INTENTS = 500
MIN_EXAMPLES = 2  # per intent label, so both training and stratified checks make sense
MANIFEST = "intent_model.json"
ENCODER_PREFIX = "encoder-"  # fine-tuned encoder folders beside the manifest
HEAD_PREFIX = "head-"  # head folders beside the manifest
_ENCODER_NAME = re.compile(rf"^{ENCODER_PREFIX}[\w.-]+$")
_HEAD_NAME = re.compile(rf"^{HEAD_PREFIX}[\w.-]+$")
EMBED_CHUNK = 256  # texts per call to the fine-tuned encoder


# --------------------------------------------------------------------------- data
def normalise_examples(examples: Any) -> tuple[list[str], list[str]]:
    """Accept a DataFrame (text, intent|category|label columns) or (text, intent) pairs."""
    if hasattr(examples, "columns"):  # pandas DataFrame, without importing pandas here
        cols = {str(c).strip().lower(): c for c in examples.columns}
        text_col = cols.get("text")
        label_col = next((cols[c] for c in ("intent", "category", "label") if c in cols), None)
        if text_col is None or label_col is None:
            raise InvalidInputError(
                "Intent examples need a 'text' column and an 'intent' (or 'category'/'label') "
                f"column; got {list(examples.columns)}."
            )
        pairs: Iterable = zip(
            examples[text_col].tolist(), examples[label_col].tolist(), strict=True
        )
    elif isinstance(examples, (list, tuple)):
        pairs = examples
    else:
        raise InvalidInputError(
            f"Intent examples must be a DataFrame or a list of (text, intent); got {type(examples).__name__}."
        )
    texts: list[str] = []
    labels: list[str] = []
    for n, pair in enumerate(pairs, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise InvalidInputError(f"Example {n} is not a (text, intent) pair: {pair!r:.80}")
        text, label = pair
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"Example {n} has an empty or non-text utterance.")
        if not isinstance(label, str) or not label.strip():
            raise InvalidInputError(f"Example {n} has an empty or non-text intent.")
        texts.append(text.strip())
        labels.append(label.strip())
    if not texts:
        raise InvalidInputError("No intent examples were given.")
    if len(texts) > MAX_TRAIN_EXAMPLES:
        raise InvalidInputError(f"At most {MAX_TRAIN_EXAMPLES} examples can be trained at once.")
    return texts, labels


# --------------------------------------------------------------------------- metrics
def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> dict:
    """Accuracy, macro-F1 (``apps.metrics.macro_f1``) and the confusion matrix (rows: true,
    columns: predicted)."""
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            confusion[index[t], index[p]] += 1
    correct = sum(t == p for t, p in zip(y_true, y_pred, strict=True))
    # Intents neither in the set nor predicted are left out (see apps.metrics).
    f1, counted = per_class_f1(confusion)
    return {
        "accuracy": correct / max(len(y_true), 1),
        "macro_f1": macro_f1(confusion),
        "confusion": confusion,
        "labels": list(labels),
        "n": len(y_true),
        "per_intent_f1": {labels[i]: float(f1[i]) for i in range(k) if counted[i]},
    }


# --------------------------------------------------------------------------- model
@dataclass
class TrainReport:
    """What a training run did."""

    mode: str
    n_examples: int
    n_intents: int
    epochs: float  # fine-tuning: epochs actually completed (a time budget may cut it short)
    seconds: float
    final_loss: float


def _cross_entropy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(probabilities[np.arange(len(y)), y], 1e-12))))


def _new_folder_name(prefix: str) -> str:
    # Unique per training: the core caches a served model by its folder, so a retrained
    # head or encoder never reuses the name of one that may still be loaded.
    return f"{prefix}{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class IntentModel:
    """A trained intent classifier; ``predict`` returns (intent, probability) pairs.

    Both parts are served by the core: the head (a softmax layer) from its folder by
    the "embedding_head" role, and a "finetune" model's encoder from its folder by the
    "embedding" role. A "head" model reads the shared embeddings (the caller's
    ``embed``).
    """

    def __init__(
        self,
        mode: Mode,
        labels: list[str],
        head_dir: Path,
        encoder_dir: Path | None = None,
        manager: ModelManager | None = None,
        trained_at: float | None = None,
    ) -> None:
        self.mode = mode
        self.labels = labels
        self.head_dir = head_dir
        self.encoder_dir = encoder_dir
        self.manager = manager
        self.trained_at = trained_at or time.time()
        self._scratch: Path | None = None  # a temporary folder ``train`` made for the parts

    @property
    def head_source(self) -> str:
        """The head as the core names it (``local:<folder>``)."""
        return f"local:{self.head_dir.resolve()}"

    @property
    def encoder_source(self) -> str | None:
        """The fine-tuned encoder as the core names it (``local:<folder>``); None for a head."""
        return f"local:{self.encoder_dir.resolve()}" if self.encoder_dir is not None else None

    def _manager(self) -> ModelManager:
        return self.manager or get_manager()

    def _head(self):
        return self._manager().handle(self.head_source, role=HEAD_ROLE)

    def _encoder(self):
        assert self.encoder_source is not None
        return self._manager().handle(self.encoder_source, role="embedding")

    def check(self) -> None:
        """Load the head through the core now, and check it fits the labels.

        Raises ``ModelUnavailableError`` for a missing, corrupt or mismatched head.
        """
        try:
            (info,) = self._head().call([HeadInfoRequest()])
        except ModelUnavailableError:
            self._manager().remove_model(self.head_source)
            raise
        if info.n_classes != len(self.labels):
            self._manager().remove_model(self.head_source)
            raise ModelUnavailableError(
                f"The intent model in {self.head_dir.parent} has {info.n_classes} outputs for "
                f"{len(self.labels)} intents; retrain the intents."
            )

    # ------------------------------------------------------------------ train
    @classmethod
    def train(
        cls,
        texts: list[str],
        labels: list[str],
        *,
        mode: Mode = "head",
        embed: Callable[[list[str]], np.ndarray] | None = None,
        epochs: int | None = None,
        batch_size: int = 32,
        seed: int = 0,
        progress: ProgressFn | None = None,
        max_seconds: float | None = None,
        manager: ModelManager | None = None,
        workdir: Path | None = None,
    ) -> tuple[IntentModel, TrainReport]:
        """Train a new model. ``embed`` (texts -> unit vectors) is required for "head".

        The trainer writes the head (and, for "finetune", the encoder) into new folders
        under ``workdir`` (default: a fresh temporary folder; ``save`` moves them beside
        the manifest). ``max_seconds`` (fine-tuning only) is a time budget: the learning
        rate decays with whichever runs out first, the planned steps or the time, and
        training stops when either does, so a budgeted run still ends on a cooled-down
        model.
        """
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInputError("Intent training needs at least two different intents.")
        if len(classes) > MAX_INTENTS:
            raise InvalidInputError(
                f"At most {MAX_INTENTS} intents can be trained; got {len(classes)}."
            )
        counts = {c: 0 for c in classes}
        for label in labels:
            counts[label] += 1
        thin = [c for c, n in counts.items() if n < MIN_EXAMPLES]
        if thin:
            raise InvalidInputError(
                f"Every intent needs at least {MIN_EXAMPLES} examples; too few for: {', '.join(thin[:10])}."
            )
        if mode not in ("head", "finetune"):
            raise InvalidInputError(
                f"Unknown intent training mode {mode!r}; use 'head' or 'finetune'."
            )
        if mode == "head" and embed is None:
            raise InvalidInputError("Training a head needs the shared embedding model.")
        progress = progress or (lambda _f, _m: None)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        trainer = (manager or get_manager()).handle(TRAINER_MODEL)
        scratch = None if workdir else Path(tempfile.mkdtemp(prefix="intents-"))
        parent = Path(workdir) if workdir else scratch
        assert parent is not None
        head_dir = parent / _new_folder_name(HEAD_PREFIX)
        start = time.perf_counter()
        if mode == "head":
            assert embed is not None
            x = cls._embed_all(texts, embed, progress)
            trainer.call(
                [HeadTrainingRequest(x, y, len(classes), epochs or 60, seed, str(head_dir))]
            )
            model = cls("head", classes, head_dir, manager=manager)
            loss, done = _cross_entropy(model.probabilities(texts, embeddings=x), y), epochs or 60
            progress(0.95, "Head trained")
        else:
            folder = parent / _new_folder_name(ENCODER_PREFIX)
            progress(0.0, f"Fine-tuning MiniLM on {len(texts)} examples (this takes minutes)")
            request = EncoderFineTuneRequest(
                list(texts), y.tolist(), len(classes), str(folder),
                epochs or 4, batch_size, seed, max_seconds, str(head_dir),
            )  # fmt: skip
            result = trainer.stream(request).follow(
                lambda event: progress(0.95 * event.fraction, f"Fine-tuning: {event.message}")
            )
            model = cls("finetune", classes, head_dir, Path(result.folder), manager=manager)
            loss, done = result.final_loss, result.epochs
        model._scratch = scratch
        report = TrainReport(
            mode, len(texts), len(classes), done, time.perf_counter() - start, loss
        )
        progress(1.0, f"Trained in {report.seconds:.0f} s")
        return model, report

    @staticmethod
    def _embed_all(
        texts: list[str], embed: Callable[[list[str]], np.ndarray], progress: ProgressFn
    ) -> np.ndarray:
        chunks = []
        step = 256
        for i in range(0, len(texts), step):
            chunks.append(embed(texts[i : i + step]))
            progress(
                0.8 * min(1.0, (i + step) / len(texts)),
                f"Embedding {min(i + step, len(texts))}/{len(texts)}",
            )
        return np.concatenate(chunks).astype(np.float32)

    # ------------------------------------------------------------------ predict
    def probabilities(
        self,
        texts: list[str],
        embeddings: np.ndarray | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Class probabilities, one row per text (columns follow ``labels``)."""
        if not texts and embeddings is None:
            return np.zeros((0, len(self.labels)), np.float32)
        if self.mode == "head":
            if embeddings is None:
                if embed is None:
                    raise ModelUnavailableError("The intent head needs sentence embeddings.")
                embeddings = embed(texts)
        else:
            encoder = self._encoder()
            embeddings = np.concatenate(
                [np.stack(encoder.call(texts[i : i + EMBED_CHUNK]))
                 for i in range(0, len(texts), EMBED_CHUNK)]
            )  # fmt: skip
        rows = list(np.asarray(embeddings, dtype=np.float32))
        if not rows:
            return np.zeros((0, len(self.labels)), np.float32)
        return np.stack(self._head().call(rows)).astype(np.float32)

    def predict(self, texts: list[str], **kwargs: Any) -> list[tuple[str, float]]:
        probs = self.probabilities(texts, **kwargs)
        best = probs.argmax(axis=1)
        return [(self.labels[int(j)], float(probs[i, j])) for i, j in enumerate(best)]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> None:
        """Move the head (and encoder) folders beside the manifest, then replace the manifest.

        Head and encoder folders of earlier models in ``folder`` are then removed, and the
        core stops serving them.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.head_dir = self._move_into(folder, self.head_dir)
        if self.encoder_dir is not None:
            self.encoder_dir = self._move_into(folder, self.encoder_dir)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        manifest: dict[str, Any] = {
            "mode": self.mode,
            "labels": self.labels,
            "head": self.head_dir.name,
            "trained_at": self.trained_at,
        }
        if self.encoder_dir is not None:
            manifest["encoder"] = self.encoder_dir.name
        tmp_manifest = folder / (MANIFEST + ".tmp")
        tmp_manifest.write_text(json.dumps(manifest, indent=1))
        tmp_manifest.replace(folder / MANIFEST)
        self._remove_old_parts(folder)

    def _move_into(self, folder: Path, part: Path) -> Path:
        """``part`` copied into ``folder`` (written aside, renamed into place); served from there."""
        if part.resolve().parent == folder.resolve():
            return part
        target = folder / part.name
        if not target.exists():
            partial = folder / f".{part.name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(part, partial)
            partial.rename(target)
        # The scratch copy is no longer served once the saved copy takes over.
        self._manager().remove_model(f"local:{part.resolve()}")
        return target

    def _remove_old_parts(self, folder: Path) -> None:
        manager = self._manager()
        keep = {self.head_dir.name, self.encoder_dir.name if self.encoder_dir else None}
        for old in [*folder.glob(f"{HEAD_PREFIX}*"), *folder.glob(f"{ENCODER_PREFIX}*")]:
            if old.is_dir() and old.name not in keep:
                manager.remove_model(f"local:{old.resolve()}")
                shutil.rmtree(old, ignore_errors=True)
        for legacy in folder.glob("intent_*.safetensors"):  # heads saved before they were folders
            legacy.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, manager: ModelManager | None = None) -> IntentModel | None:
        """The saved model in ``folder``, or None if none was saved.

        The head is loaded through the core at once, so a corrupt or tampered model is
        found here (``ModelUnavailableError``), not on a customer's first message.
        """
        path = folder / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text())
            mode = str(manifest["mode"])
            labels = [str(x) for x in manifest["labels"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailableError(f"The intent model manifest {path} is unreadable ({exc}).") from exc
        if mode not in ("head", "finetune"):
            raise ModelUnavailableError(f"The intent model manifest {path} has mode {mode!r}.")
        head_dir = cls._head_folder(folder, manifest)
        encoder_dir = None
        if mode == "finetune":
            encoder = manifest.get("encoder")
            if not isinstance(encoder, str) or not _ENCODER_NAME.match(encoder):
                # Before the core served fine-tuned encoders, their weights were inside the
                # safetensors file; those models are retrained rather than loaded by the app.
                raise ModelUnavailableError(
                    f"The fine-tuned intent model in {folder} names no encoder folder beside it "
                    "(saved by an older version); retrain the intents."
                )
            encoder_dir = folder / encoder
            if not encoder_dir.is_dir():
                raise ModelUnavailableError(
                    f"The fine-tuned intent model's encoder folder {encoder_dir} is missing; "
                    "retrain the intents."
                )
        model = cls(mode, labels, head_dir, encoder_dir, manager=manager,
                    trained_at=manifest.get("trained_at"))  # fmt: skip
        migrated = "head" not in manifest
        try:
            model.check()
        except ModelUnavailableError:
            if migrated:
                shutil.rmtree(head_dir, ignore_errors=True)
            raise
        if migrated:
            model.save(folder)  # the manifest names the head folder from now on
        return model

    @staticmethod
    def _head_folder(folder: Path, manifest: dict[str, Any]) -> Path:
        """The head folder the manifest names: beside it, by a name this module gives.

        A manifest from before heads were folders names a ``.safetensors`` file instead;
        that file is copied (bytes only, never parsed here) into a head folder.
        """
        head = manifest.get("head")
        if isinstance(head, str):
            if not _HEAD_NAME.match(head) or not (folder / head).is_dir():
                raise ModelUnavailableError(
                    f"The intent model in {folder} names head folder {head!r}, which is not a "
                    "head folder beside the manifest; retrain the intents."
                )
            return folder / head
        weights = manifest.get("weights")
        # The manifest names a safetensors file beside it, nothing else: no other
        # folder ("../"), no pickle.
        if not isinstance(weights, str) or Path(weights).name != weights or not weights.endswith(".safetensors"):
            raise ModelUnavailableError(
                f"The intent model manifest in {folder} names {weights!r}; only a .safetensors "
                "file in the same folder is loaded."
            )
        if not (folder / weights).is_file():
            raise ModelUnavailableError(
                f"The intent model weights {folder / weights} are missing; retrain the intents."
            )
        migrated = folder / _new_folder_name(HEAD_PREFIX)
        migrated.mkdir()
        shutil.copy2(folder / weights, migrated / HEAD_FILE)
        return migrated
