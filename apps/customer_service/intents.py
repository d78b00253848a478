"""Intent model: labelled utterances in, an intent per message out.

Two ways to train, both saved as safetensors (never pickle) plus a JSON manifest:

* ``"head"``: a softmax layer on the frozen shared embeddings (the "embedding"
  role). BANKING77: 92.5% test accuracy, 2.5 min on 2 CPU cores (mostly embedding).
* ``"finetune"``: a copy of MiniLM, read from its weight package folder, is
  fine-tuned end to end with a softmax layer on its mean-pooled output.
  BANKING77: 93.8% after 3 epochs, 7.6 min on 2 CPU cores (bench/RESULTS.md). The copy belongs to
  the app (it is the trained model), the shared encoder is never touched.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from apps.metrics import macro_f1, per_class_f1
from core.errors import InvalidInputError, ModelUnavailableError
from core.packages import verified_path
from shared_models.text_embedding import MINILM_FILES

Mode = Literal["head", "finetune"]
ProgressFn = Callable[[float, str], None]

# Limits on training data: enough for BANKING77 (10k, 77 classes) with room to spare,
# small enough that a page upload cannot tie up the CPU for hours.
MAX_TRAIN_EXAMPLES = 50_000
MAX_INTENTS = 500
MIN_EXAMPLES = 2  # per intent label, so both training and stratified checks make sense
MAX_TOKENS = 64  # BANKING77 utterances are short; longer ones are truncated
MANIFEST = "intent_model.json"


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


# --------------------------------------------------------------------------- encoders
def _minilm_folder() -> Path:
    """The MiniLM weight package folder (files checked against their pinned hashes)."""
    path = None
    for weight in MINILM_FILES:
        path = verified_path(weight)
    assert path is not None
    return path.parent


class _FineTunedEncoder(torch.nn.Module):
    """MiniLM (BERT) with mean pooling and a linear intent layer."""

    def __init__(self, n_labels: int, folder: Path) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        self.encoder = AutoModel.from_config(config)
        self.head = torch.nn.Linear(config.hidden_size, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


def _tokenizer(folder: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def _encode_batch(tok, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encs = tok.encode_batch(texts)
    ids = torch.tensor([e.ids for e in encs], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encs], dtype=torch.long)
    return ids, mask


def _length_bucketed_batches(texts: list[str], batch_size: int) -> list[list[int]]:
    """Shuffled batches of similar-length texts, so little compute goes on padding."""
    order = list(range(len(texts)))
    random.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(texts[i]))
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    random.shuffle(batches)
    return batches


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


class IntentModel:
    """A trained intent classifier; ``predict`` returns (intent, probability) pairs."""

    def __init__(
        self,
        mode: Mode,
        labels: list[str],
        head: torch.nn.Linear | None = None,
        network: _FineTunedEncoder | None = None,
        tokenizer: Any = None,
        trained_at: float | None = None,
    ) -> None:
        self.mode = mode
        self.labels = labels
        self.head = head
        self.network = network
        self.tokenizer = tokenizer
        self.trained_at = trained_at or time.time()
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

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
    ) -> tuple[IntentModel, TrainReport]:
        """Train a new model. ``embed`` (texts -> unit vectors) is required for "head".

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
        y = torch.tensor([classes.index(label) for label in labels], dtype=torch.long)
        torch.manual_seed(seed)
        random.seed(seed)
        start = time.perf_counter()
        if mode == "head":
            if embed is None:
                raise InvalidInputError("Training a head needs the shared embedding model.")
            model, loss = cls._train_head(texts, y, classes, embed, epochs or 60, progress)
        elif mode == "finetune":
            model, loss, done = cls._train_finetune(
                texts, y, classes, epochs or 4, batch_size, progress, max_seconds
            )
        else:
            raise InvalidInputError(
                f"Unknown intent training mode {mode!r}; use 'head' or 'finetune'."
            )
        report = TrainReport(
            mode,
            len(texts),
            len(classes),
            done if mode == "finetune" else (epochs or 60),
            time.perf_counter() - start,
            loss,
        )
        progress(1.0, f"Trained in {report.seconds:.0f} s")
        return model, report

    @classmethod
    def _train_head(cls, texts, y, classes, embed, epochs, progress) -> tuple[IntentModel, float]:
        chunks = []
        step = 256
        for i in range(0, len(texts), step):
            chunks.append(embed(texts[i : i + step]))
            progress(
                0.8 * min(1.0, (i + step) / len(texts)),
                f"Embedding {min(i + step, len(texts))}/{len(texts)}",
            )
        x = torch.from_numpy(np.concatenate(chunks).astype(np.float32))
        head = torch.nn.Linear(x.shape[1], len(classes))
        # Full-batch L-BFGS on a convex problem (multinomial logistic regression with
        # a little L2): deterministic and converges in a few dozen steps.
        opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=epochs, history_size=20)
        scale = 20.0  # unit vectors have tiny logits; a fixed temperature speeds convergence

        def closure():
            opt.zero_grad()
            loss = (
                torch.nn.functional.cross_entropy(head(x * scale), y)
                + 1e-4 * head.weight.pow(2).sum()
            )
            loss.backward()
            return loss

        loss = float(opt.step(closure).detach())
        progress(0.95, "Head trained")
        with torch.no_grad():  # fold the temperature into the weights
            head.weight.mul_(scale)
        return cls("head", classes, head=head), loss

    @classmethod
    def _train_finetune(
        cls, texts, y, classes, epochs, batch_size, progress, max_seconds=None
    ) -> tuple[IntentModel, float, float]:
        folder = _minilm_folder()
        tok = _tokenizer(folder)
        net = _FineTunedEncoder(len(classes), folder)
        net.encoder.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
        # The 30k x 384 word-embedding table is 12M of the 22M parameters; its dense
        # gradient and Adam state dominate a CPU step while adding little for intents.
        net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        net.train()
        encoder_params = [p for p in net.encoder.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(
            [
                {"params": encoder_params, "lr": 1e-4},
                {"params": list(net.head.parameters()), "lr": 2e-3},
            ],
            weight_decay=0.01,
        )
        steps_per_epoch = math.ceil(len(texts) / batch_size)
        total = steps_per_epoch * epochs
        warmup = max(1, total // 20)
        base_lrs = [group["lr"] for group in opt.param_groups]
        started = time.perf_counter()
        step = 0
        loss_value = math.nan
        out_of_time = False
        for epoch in range(epochs):
            if out_of_time:
                break
            batches = _length_bucketed_batches(texts, batch_size)
            running = 0.0
            for b, idx in enumerate(batches):
                # Linear warm-up, then linear decay over steps or time, whichever is further.
                spent = step / total
                if max_seconds:
                    spent = max(spent, (time.perf_counter() - started) / max_seconds)
                if spent >= 1.0:
                    out_of_time = True
                    break
                factor = min((step + 1) / warmup, 1.0 - spent)
                for group, lr in zip(opt.param_groups, base_lrs, strict=True):
                    group["lr"] = lr * factor
                ids, mask = _encode_batch(tok, [texts[i] for i in idx])
                logits = net(ids, mask)
                loss = torch.nn.functional.cross_entropy(logits, y[idx], label_smoothing=0.1)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                step += 1
                value = float(loss.detach())
                running = 0.9 * running + 0.1 * value if b else value
                if step % 10 == 0 or step == total:
                    progress(
                        min(0.99, max(step / total, spent)),
                        f"Epoch {epoch + 1}/{epochs}, step {b + 1}/{steps_per_epoch}, loss {running:.3f}",
                    )
            loss_value = running
        net.eval()
        model = cls("finetune", classes, network=net, tokenizer=tok)
        return model, loss_value, round(step / steps_per_epoch, 2)

    # ------------------------------------------------------------------ predict
    def probabilities(
        self,
        texts: list[str],
        embeddings: np.ndarray | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Class probabilities, one row per text (columns follow ``labels``)."""
        with self._lock, torch.inference_mode():
            if self.mode == "head":
                if embeddings is None:
                    if embed is None:
                        raise ModelUnavailableError("The intent head needs sentence embeddings.")
                    embeddings = embed(texts)
                assert self.head is not None
                logits = self.head(torch.from_numpy(np.asarray(embeddings, dtype=np.float32)))
            else:
                assert self.network is not None
                outs = []
                for i in range(0, len(texts), 64):
                    ids, mask = _encode_batch(self.tokenizer, texts[i : i + 64])
                    outs.append(self.network(ids, mask))
                logits = torch.cat(outs)
            return torch.softmax(logits, dim=-1).numpy()

    def predict(self, texts: list[str], **kwargs: Any) -> list[tuple[str, float]]:
        probs = self.probabilities(texts, **kwargs)
        best = probs.argmax(axis=1)
        return [(self.labels[int(j)], float(probs[i, j])) for i, j in enumerate(best)]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> None:
        """Write weights (safetensors) and the manifest; the manifest is replaced last."""
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / f"intent_{self.mode}.safetensors"
        tmp = weights.with_suffix(".tmp")
        if self.mode == "head":
            assert self.head is not None
            tensors = {
                f"head.{k}": v.detach().contiguous() for k, v in self.head.state_dict().items()
            }
        else:
            assert self.network is not None
            tensors = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(tensors, str(tmp))
        tmp.replace(weights)
        manifest = {
            "mode": self.mode,
            "labels": self.labels,
            "weights": weights.name,
            "trained_at": self.trained_at,
        }
        tmp_manifest = folder / (MANIFEST + ".tmp")
        tmp_manifest.write_text(json.dumps(manifest, indent=1))
        tmp_manifest.replace(folder / MANIFEST)

    @classmethod
    def load(cls, folder: Path) -> IntentModel | None:
        """The saved model in ``folder``, or None if none was saved."""
        path = folder / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text())
            weights = str(manifest["weights"])
            labels = [str(x) for x in manifest["labels"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailableError(f"The intent model manifest {path} is unreadable ({exc}).") from exc
        # The manifest names a safetensors file beside it, nothing else: no other
        # folder ("../"), no pickle.
        if Path(weights).name != weights or not weights.endswith(".safetensors"):
            raise ModelUnavailableError(
                f"The intent model manifest {path} names {weights!r}; only a .safetensors "
                "file in the same folder is loaded."
            )
        try:
            tensors = load_file(str(folder / weights))
        except (OSError, SafetensorError) as exc:
            raise ModelUnavailableError(
                f"The intent model weights {folder / weights} are not a readable safetensors "
                f"file ({exc}); retrain the intents."
            ) from exc
        if manifest["mode"] == "head":
            weight = tensors["head.weight"]
            head = torch.nn.Linear(weight.shape[1], weight.shape[0])
            head.load_state_dict({"weight": weight, "bias": tensors["head.bias"]})
            return cls("head", labels, head=head, trained_at=manifest.get("trained_at"))
        minilm = _minilm_folder()
        net = _FineTunedEncoder(len(labels), minilm)
        net.load_state_dict(tensors)
        net.eval()
        return cls(
            "finetune",
            labels,
            network=net,
            tokenizer=_tokenizer(minilm),
            trained_at=manifest.get("trained_at"),
        )
