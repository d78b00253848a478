"""Intent model: labelled utterances in, an intent per message out.

The classifier is a softmax layer over sentence embeddings, computed here with
numpy; every model runs in the core. Two ways to train (the core's
``embedding_training`` role does the training), both saved as safetensors (never
pickle) plus a JSON manifest:

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
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from apps.metrics import macro_f1, per_class_f1
from core import ModelManager, get_manager
from core.errors import InvalidInputError, ModelUnavailableError
from shared_models.types.embedding_training import (
    TRAINER_MODEL,
    EncoderFineTuneRequest,
    HeadTrainingRequest,
    LinearHead,
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
_ENCODER_NAME = re.compile(rf"^{ENCODER_PREFIX}[\w.-]+$")
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


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _cross_entropy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(probabilities[np.arange(len(y)), y], 1e-12))))


class IntentModel:
    """A trained intent classifier; ``predict`` returns (intent, probability) pairs.

    ``head`` is the softmax layer over unit sentence embeddings. A "head" model reads
    the shared embeddings (the caller's ``embed``); a "finetune" model reads those of
    its own encoder folder, served by the core's embedding role.
    """

    def __init__(
        self,
        mode: Mode,
        labels: list[str],
        head: LinearHead,
        encoder_dir: Path | None = None,
        manager: ModelManager | None = None,
        trained_at: float | None = None,
    ) -> None:
        self.mode = mode
        self.labels = labels
        self.head = head
        self.encoder_dir = encoder_dir
        self.manager = manager
        self.trained_at = trained_at or time.time()
        self._scratch: Path | None = None  # a temporary folder ``train`` made for the encoder

    @property
    def encoder_source(self) -> str | None:
        """The fine-tuned encoder as the core names it (``local:<folder>``); None for a head."""
        return f"local:{self.encoder_dir.resolve()}" if self.encoder_dir is not None else None

    def _encoder(self):
        assert self.encoder_source is not None
        manager = self.manager or get_manager()
        return manager.handle(self.encoder_source, role="embedding")

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

        "finetune" writes the encoder into a new folder under ``workdir`` (default: a
        fresh temporary folder; ``save`` copies it beside the manifest).
        ``max_seconds`` (fine-tuning only) is a time budget: the learning rate decays
        with whichever runs out first, the planned steps or the time, and training
        stops when either does, so a budgeted run still ends on a cooled-down model.
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
        progress = progress or (lambda _f, _m: None)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        trainer = (manager or get_manager()).handle(TRAINER_MODEL)
        start = time.perf_counter()
        if mode == "head":
            if embed is None:
                raise InvalidInputError("Training a head needs the shared embedding model.")
            x = cls._embed_all(texts, embed, progress)
            (head,) = trainer.call([HeadTrainingRequest(x, y, len(classes), epochs or 60, seed)])
            model = cls("head", classes, head, manager=manager)
            loss, done = _cross_entropy(model.probabilities(texts, embeddings=x), y), epochs or 60
            progress(0.95, "Head trained")
        elif mode == "finetune":
            scratch = None if workdir else Path(tempfile.mkdtemp(prefix="intents-"))
            parent = Path(workdir) if workdir else scratch
            folder = parent / f"{ENCODER_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
            progress(0.0, f"Fine-tuning MiniLM on {len(texts)} examples (this takes minutes)")
            request = EncoderFineTuneRequest(
                list(texts), y.tolist(), len(classes), str(folder),
                epochs or 4, batch_size, seed, max_seconds,
            )  # fmt: skip
            result = trainer.stream(request).follow(
                lambda event: progress(0.95 * event.fraction, f"Fine-tuning: {event.message}")
            )
            model = cls("finetune", classes, result.head, Path(result.folder), manager=manager)
            model._scratch = scratch
            loss, done = result.final_loss, result.epochs
        else:
            raise InvalidInputError(
                f"Unknown intent training mode {mode!r}; use 'head' or 'finetune'."
            )
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
            ) if texts else np.zeros((0, self.head.weight.shape[1]), np.float32)  # fmt: skip
        x = np.asarray(embeddings, dtype=np.float32)
        return _softmax(x @ self.head.weight.T + self.head.bias).astype(np.float32)

    def predict(self, texts: list[str], **kwargs: Any) -> list[tuple[str, float]]:
        probs = self.probabilities(texts, **kwargs)
        best = probs.argmax(axis=1)
        return [(self.labels[int(j)], float(probs[i, j])) for i, j in enumerate(best)]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> None:
        """Write the head (safetensors), the encoder folder and the manifest (replaced last).

        Encoder folders of earlier fine-tuned models in ``folder`` are then removed,
        and the core stops serving them.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        encoder = None
        if self.mode == "finetune":
            assert self.encoder_dir is not None
            encoder = self.encoder_dir.name
            if self.encoder_dir.resolve().parent != folder.resolve():
                target = folder / encoder
                if not target.exists():
                    partial = folder / f".{encoder}.partial"
                    shutil.rmtree(partial, ignore_errors=True)
                    shutil.copytree(self.encoder_dir, partial)
                    partial.rename(target)
                self._move_encoder(target)
        weights = folder / f"intent_{self.mode}.safetensors"
        tmp = weights.with_suffix(".tmp")
        save_file(
            {"head.weight": np.ascontiguousarray(self.head.weight, dtype=np.float32),
             "head.bias": np.ascontiguousarray(self.head.bias, dtype=np.float32)},
            str(tmp),
        )  # fmt: skip
        tmp.replace(weights)
        manifest: dict[str, Any] = {
            "mode": self.mode,
            "labels": self.labels,
            "weights": weights.name,
            "trained_at": self.trained_at,
        }
        if encoder is not None:
            manifest["encoder"] = encoder
        tmp_manifest = folder / (MANIFEST + ".tmp")
        tmp_manifest.write_text(json.dumps(manifest, indent=1))
        tmp_manifest.replace(folder / MANIFEST)
        self._remove_old_encoders(folder, keep=encoder)

    def _move_encoder(self, target: Path) -> None:
        """Serve the saved copy from now on; drop the training scratch copy, if ours."""
        old_source = self.encoder_source
        self.encoder_dir = target
        if self._scratch is not None:
            (self.manager or get_manager()).remove_model(old_source)
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _remove_old_encoders(self, folder: Path, keep: str | None) -> None:
        manager = self.manager or get_manager()
        for old in folder.glob(f"{ENCODER_PREFIX}*"):
            if old.is_dir() and old.name != keep:
                manager.remove_model(f"local:{old.resolve()}")
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, manager: ModelManager | None = None) -> IntentModel | None:
        """The saved model in ``folder``, or None if none was saved."""
        path = folder / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text())
            mode = str(manifest["mode"])
            weights = str(manifest["weights"])
            labels = [str(x) for x in manifest["labels"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailableError(f"The intent model manifest {path} is unreadable ({exc}).") from exc
        # The manifest names a safetensors file and an encoder folder beside it, nothing
        # else: no other folder ("../"), no pickle.
        if Path(weights).name != weights or not weights.endswith(".safetensors"):
            raise ModelUnavailableError(
                f"The intent model manifest {path} names {weights!r}; only a .safetensors "
                "file in the same folder is loaded."
            )
        try:
            tensors = load_file(str(folder / weights))
            head = LinearHead(tensors["head.weight"], tensors["head.bias"])
        except (OSError, SafetensorError, KeyError) as exc:
            raise ModelUnavailableError(
                f"The intent model weights {folder / weights} are not a readable safetensors "
                f"file with a head ({exc}); retrain the intents."
            ) from exc
        if head.weight.ndim != 2 or head.weight.shape[0] != len(labels):
            raise ModelUnavailableError(
                f"The intent model in {folder} has {head.weight.shape[0]} outputs for "
                f"{len(labels)} intents; retrain the intents."
            )
        trained_at = manifest.get("trained_at")
        if mode == "head":
            return cls("head", labels, head, manager=manager, trained_at=trained_at)
        if mode != "finetune":
            raise ModelUnavailableError(f"The intent model manifest {path} has mode {mode!r}.")
        encoder = manifest.get("encoder")
        if not isinstance(encoder, str) or not _ENCODER_NAME.match(encoder):
            # Before the core served fine-tuned encoders, their weights were inside the
            # safetensors file; those models are retrained rather than loaded by the app.
            raise ModelUnavailableError(
                f"The fine-tuned intent model in {folder} names no encoder folder beside it "
                "(saved by an older version); retrain the intents."
            )
        if not (folder / encoder).is_dir():
            raise ModelUnavailableError(
                f"The fine-tuned intent model's encoder folder {folder / encoder} is missing; "
                "retrain the intents."
            )
        return cls(
            "finetune", labels, head, folder / encoder, manager=manager, trained_at=trained_at
        )
