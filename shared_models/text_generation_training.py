"""Training role on the language model: LoRA adapters (``generation-training``).

Apps send a ``LoraTrainingRequest`` (``shared_models.types.generation_training``)
and never touch model weights. Each run loads the base model afresh from its
converted folder, injects LoRA layers (PEFT) into the attention projections,
trains only those, and writes the adapter in PEFT's format plus a manifest that
names the base model and its weight checksum. The "generation" role then serves it
on its own loaded copy of the base (``text_generation_adapters``).

The loss counts only the assistant's reply for chat data (the prompt is context,
not something to imitate); every token for plain documents. Held-out loss is
measured before training (LoRA's B starts at zero, so that is the base model) and
at each epoch's end.
"""

from __future__ import annotations

import json
import math
import random
import resource
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from core.errors import InvalidInputError
from core.registry import LoadContext, ModelRunner, ModelSpec, register
from core.streaming import StreamChannel

from .text_generation import base_weights
from .text_generation_adapters import PEFT_PREFIX
from .types.generation_training import (
    ADAPTER_MANIFEST,
    ADAPTER_WEIGHTS,
    ROLE,
    TRAINER_MODEL,
    LoraProgress,
    LoraSettings,
    LoraTrainingRequest,
    LoraTrainingResult,
)

IGNORE = -100  # label of tokens the loss skips (cross_entropy's ignore_index)
MAX_EXAMPLES = 20_000
HELDOUT_EVAL_LIMIT = 200  # held-out examples scored per epoch (keeps a CPU epoch's end short)


# --------------------------------------------------------------------------- data
def _check(request: LoraTrainingRequest) -> tuple[LoraSettings, Path]:
    s = request.settings
    if not isinstance(s, LoraSettings):
        raise InvalidInputError("settings must be a LoraSettings.")
    checks = (
        (1 <= int(s.rank) <= 256, "rank must be 1..256"),
        (0 < float(s.alpha) <= 1024, "alpha must be in (0, 1024]"),
        (0 <= float(s.dropout) < 1, "dropout must be in [0, 1)"),
        (0 < float(s.learning_rate) <= 1, "learning_rate must be in (0, 1]"),
        (1 <= int(s.epochs) <= 100, "epochs must be 1..100"),
        (1 <= int(s.batch_size) <= 256, "batch_size must be 1..256"),
        (16 <= int(s.max_tokens) <= 8192, "max_tokens must be 16..8192"),
        (s.max_seconds is None or float(s.max_seconds) > 0, "max_seconds must be positive or None"),
        (bool(s.target_modules) and all(isinstance(m, str) and m for m in s.target_modules),
         "target_modules must name at least one layer, e.g. q_proj"),
    )  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise InvalidInputError(message + ".")
    if request.kind not in ("chat", "documents"):
        raise InvalidInputError(f"kind must be 'chat' or 'documents', got {request.kind!r}.")
    for part, rows in (("train", request.train), ("heldout", request.heldout)):
        if not isinstance(rows, list):
            raise InvalidInputError(f"{part} must be a list of examples.")
        for i, example in enumerate(rows):
            if not isinstance(example, list) or not example or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in example
            ):
                raise InvalidInputError(f"{part} example {i + 1} must be a list of messages.")
    if not request.train:
        raise InvalidInputError("There are no training examples.")
    if len(request.train) + len(request.heldout) > MAX_EXAMPLES:
        raise InvalidInputError(f"At most {MAX_EXAMPLES} examples can be trained on.")
    out = Path(request.output_folder).expanduser()
    if out.exists():
        raise InvalidInputError(f"The output folder {out} already exists; give a new one.")
    return s, out


class _Encoder:
    """Turns examples into (token ids, labels): the prompt masked for chat data."""

    def __init__(self, tokenizer: Any, kind: str, max_tokens: int) -> None:
        self.tok = tokenizer
        self.kind = kind
        self.max_tokens = max_tokens
        self.eos = tokenizer.eos_token_id

    def ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def encode(self, example: list[dict[str, str]]) -> list[tuple[list[int], list[int]]]:
        if self.kind == "documents":
            ids = self.ids(example[0]["content"]) + ([self.eos] if self.eos is not None else [])
            # Long documents become several windows rather than being cut.
            step = self.max_tokens
            return [(ids[i : i + step], ids[i : i + step]) for i in range(0, len(ids), step)
                    if len(ids[i : i + step]) > 1]  # fmt: skip
        if example[-1].get("role") != "assistant":
            raise InvalidInputError("A chat example must end with the assistant's reply.")
        if not self.tok.chat_template:
            raise InvalidInputError("This model has no chat template; train on documents instead.")
        prompt = self.tok.apply_chat_template(example[:-1], tokenize=False, add_generation_prompt=True)
        full = self.tok.apply_chat_template(example, tokenize=False)
        if not full.startswith(prompt):
            raise InvalidInputError("The model's chat template renders replies in a way LoRA training cannot split.")
        # Tokenized apart, as the served prompt is: the reply starts on a token boundary.
        prompt_ids, reply_ids = self.ids(prompt), self.ids(full[len(prompt) :])
        room = self.max_tokens - len(reply_ids)
        if room < 1:  # a very long reply: keep a little context and the reply's start
            reply_ids = reply_ids[: self.max_tokens - min(len(prompt_ids), 8)]
            room = self.max_tokens - len(reply_ids)
        prompt_ids = prompt_ids[-room:]
        return [(prompt_ids + reply_ids, [IGNORE] * len(prompt_ids) + reply_ids)]


def _batches(items: list[tuple[list[int], list[int]]], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths (little compute on padding)."""
    order = list(range(len(items)))
    rng.shuffle(order)
    pool = size * 16
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(items[i][0]))
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def _collate(items: list[tuple[list[int], list[int]]], pad: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    width = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for b, (x, y) in enumerate(items):
        ids[b, : len(x)] = torch.tensor(x)
        labels[b, : len(y)] = torch.tensor(y)
        mask[b, : len(x)] = 1
    return ids.to(device), labels.to(device), mask.to(device)


def _loss_sum(model: Any, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over labelled tokens, and how many there were.

    The output layer runs only at positions that have a label: with a 50k-150k
    vocabulary, logits for every prompt token would be most of a step's memory.
    """
    targets = labels[:, 1:]
    keep = targets != IGNORE
    decoder, head = getattr(model, "model", None), model.get_output_embeddings()
    # Models that scale or cap their logits (Gemma, Cohere) take the plain path.
    plain = not any(getattr(model.config, a, None) for a in ("final_logit_softcapping", "logit_scale"))
    if decoder is not None and head is not None and plain:
        hidden = decoder(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state[:, :-1]
        logits = head(hidden[keep]).float()
    else:  # an architecture without the usual decoder/head split
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][keep].float()
    loss = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="sum")
    return loss, int(keep.sum())


# --------------------------------------------------------------------------- runner
class LoraTrainer(ModelRunner):
    """Trains LoRA adapters on generation models; one job at a time.

    Holds nothing between jobs: each run loads its base model (float32 on CPU, the
    policy's dtype on a GPU, with the LoRA weights in float32), trains and lets it go.
    """

    # Loads its base model for each job and lets it go: nothing is held between jobs.
    weights_per_job = True
    # While a job runs, its base copy and optimizer count in the core's memory budget.
    dynamic_memory = True

    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx
        self._job_bytes = 0

    def memory_bytes(self) -> int:
        """The running job's base copy, LoRA weights, gradients and Adam state; 0 between jobs.

        Activations are not counted: they come and go within each step.
        """
        return self._job_bytes

    def __call__(self, inputs: list[Any]) -> list[Any]:
        return self.run_streams(inputs, [None] * len(inputs))

    def run_streams(self, inputs: list[Any], channels: list[StreamChannel | None]) -> list[Any]:
        outputs: list[Any] = []
        for item, channel in zip(inputs, channels, strict=True):
            try:
                if not isinstance(item, LoraTrainingRequest):
                    raise InvalidInputError(
                        f"{TRAINER_MODEL} takes LoraTrainingRequest items, got {type(item).__name__}."
                    )
                outputs.append(self.train(item, channel))
            except InvalidInputError as exc:
                outputs.append(exc)
        return outputs

    def train(self, request: LoraTrainingRequest, channel: StreamChannel | None = None) -> LoraTrainingResult:
        settings, out = _check(request)
        started = time.perf_counter()
        folder, sha = base_weights(request.base_model, self.ctx.cache_dir)
        model, tokenizer = self._load_base(folder)
        try:
            with torch.enable_grad():
                return self._train(request, settings, out, model, tokenizer, sha, started, channel)
        finally:
            del model
            if self.ctx.policy.is_cuda:
                torch.cuda.empty_cache()
            self._job_bytes = 0
            self.ctx.report_memory()

    def _hold(self, model: Any, trainable: list[Any]) -> None:
        """Tell the core what this job holds (it may evict idle models to make room)."""
        self._job_bytes = _job_bytes(model, trainable)
        self.ctx.report_memory()

    def _load_base(self, folder: Path) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        policy = self.ctx.policy
        # Float32 on CPU (half-precision CPU matmuls are slow); bf16/fp16 base on a GPU.
        dtype = policy.dtype if policy.is_cuda else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, local_files_only=True)
        return model.to(policy.device), tokenizer

    def _train(
        self,
        request: LoraTrainingRequest,
        s: LoraSettings,
        out: Path,
        model: Any,
        tokenizer: Any,
        base_sha: str,
        started: float,
        channel: StreamChannel | None,
    ) -> LoraTrainingResult:
        from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

        device = self.ctx.policy.device
        rng = random.Random(s.seed)
        torch.manual_seed(s.seed)
        encoder = _Encoder(tokenizer, request.kind, int(s.max_tokens))
        train = [item for ex in request.train for item in encoder.encode(ex)]
        heldout = [item for ex in request.heldout[:HELDOUT_EVAL_LIMIT] for item in encoder.encode(ex)]
        if not train:
            raise InvalidInputError("The training examples hold no tokens to learn from.")
        config = LoraConfig(
            r=int(s.rank),
            lora_alpha=float(s.alpha),
            lora_dropout=float(s.dropout),
            target_modules=list(s.target_modules),
            bias="none",
            task_type="CAUSAL_LM",
        )
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            inject_adapter_in_model(config, model, adapter_name="default")
        except ValueError as exc:  # e.g. target modules that the model does not have
            raise InvalidInputError(f"LoRA could not be applied to {request.base_model}: {exc}") from exc
        trainable = [p for n, p in model.named_parameters() if "lora_" in n]
        for p in trainable:
            p.data = p.data.float()  # Adam on bf16 weights loses most small updates
            p.requires_grad_(True)
        self._hold(model, trainable)
        if s.gradient_checkpointing:
            enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (encoder.eos or 0)
        if self.ctx.policy.is_cuda:
            torch.cuda.reset_peak_memory_stats(device)

        def heldout_loss() -> float | None:
            if not heldout:
                return None
            model.eval()
            total, count = 0.0, 0
            with torch.no_grad():
                for i in range(0, len(heldout), int(s.batch_size)):
                    loss, n = _loss_sum(model, *_collate(heldout[i : i + int(s.batch_size)], pad, device))
                    total, count = total + float(loss), count + n
            model.train()
            return total / max(count, 1)

        def emit(event: LoraProgress) -> None:
            if channel is not None:
                channel.emit(event)

        before = heldout_loss()
        steps_per_epoch = math.ceil(len(train) / int(s.batch_size))
        total_steps = steps_per_epoch * int(s.epochs)
        emit(LoraProgress(0.0, f"{len(train)} examples, {total_steps} steps", 0, total_steps, 0.0,
                          None, before))  # fmt: skip
        opt = torch.optim.AdamW(trainable, lr=float(s.learning_rate), weight_decay=0.0)
        warmup = max(1, total_steps // 10)
        model.train()
        step, running, cancelled, after = 0, math.nan, False, before
        train_started = time.perf_counter()
        for epoch in range(int(s.epochs)):
            stop = False
            for idx in _batches(train, int(s.batch_size), rng):
                if channel is not None and channel.cancelled:
                    cancelled = stop = True
                    break
                spent = step / total_steps
                if s.max_seconds:
                    spent = max(spent, (time.perf_counter() - train_started) / float(s.max_seconds))
                if spent >= 1.0:
                    stop = True
                    break
                # Linear warm-up, then linear decay over steps or time, whichever is further.
                for group in opt.param_groups:
                    group["lr"] = float(s.learning_rate) * min((step + 1) / warmup, 1.0 - spent)
                loss_sum, n = _loss_sum(model, *_collate([train[i] for i in idx], pad, device))
                loss = loss_sum / max(n, 1)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                opt.step()
                step += 1
                value = float(loss.detach())
                running = value if math.isnan(running) else 0.8 * running + 0.2 * value
                emit(LoraProgress(min(step / total_steps, 1.0) if not s.max_seconds else min(max(spent, step / total_steps), 1.0),
                                  f"epoch {epoch + 1}/{s.epochs}, step {step}/{total_steps}, loss {running:.3f}",
                                  step, total_steps, step / steps_per_epoch, running))  # fmt: skip
            if cancelled:
                break
            after = heldout_loss()
            emit(LoraProgress(min(step / total_steps, 1.0), f"epoch {epoch + 1} done, held-out loss "
                              f"{after if after is not None else float('nan'):.3f}", step, total_steps,
                              step / steps_per_epoch, running, after))  # fmt: skip
            if stop:
                break
        model.eval()
        peak = (
            torch.cuda.max_memory_allocated(device) / 2**20
            if self.ctx.policy.is_cuda
            else _peak_rss_mb()
        )
        result = LoraTrainingResult(
            folder="" if cancelled else str(out.resolve()),
            base_model=request.base_model,
            base_sha256=base_sha,
            steps=step,
            epochs=round(step / steps_per_epoch, 2),
            train_examples=len(request.train),
            heldout_examples=len(request.heldout),
            train_tokens=sum(sum(1 for t in y if t != IGNORE) for _, y in train),
            final_loss=running,
            heldout_perplexity_before=_ppl(before),
            heldout_perplexity_after=_ppl(after),
            seconds=time.perf_counter() - started,
            peak_memory_mb=round(peak, 1),
            trainable_parameters=sum(p.numel() for p in trainable),
            cancelled=cancelled,
        )
        if not cancelled:
            state = get_peft_model_state_dict(model, adapter_name="default")
            _write(out, config, state, request, s, result)
        return result


def _job_bytes(model: Any, trainable: list[Any]) -> int:
    """What a job holds: the model as loaded (LoRA included), plus a float32 gradient and
    AdamW's two float32 moments for each trainable parameter."""
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    held = sum(t.numel() * t.element_size() for t in tensors.values())
    return held + sum(p.numel() for p in trainable) * 3 * 4


def _ppl(loss: float | None) -> float | None:
    return None if loss is None else float(math.exp(min(loss, 50.0)))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _peak_rss_mb() -> float:
    # ru_maxrss is the process's peak so far (KB on Linux, bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _write(
    out: Path,
    config: Any,
    state: dict[str, torch.Tensor],
    request: LoraTrainingRequest,
    s: LoraSettings,
    result: LoraTrainingResult,
) -> None:
    """Write the adapter (PEFT format + manifest) to a temporary folder, then rename it in place."""
    from safetensors.torch import save_file

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config.inference_mode = True
    config.save_pretrained(str(tmp))
    tensors = {PEFT_PREFIX + k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}
    save_file(tensors, str(tmp / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    manifest = {
        "name": out.name,
        "base_model": request.base_model,
        "base_sha256": result.base_sha256,
        "kind": request.kind,
        "data": {
            "train_examples": result.train_examples,
            "heldout_examples": result.heldout_examples,
            "train_tokens": result.train_tokens,
        },
        "settings": {**asdict(s), "target_modules": list(s.target_modules)},
        "metrics": {
            "steps": result.steps,
            "epochs": result.epochs,
            "final_loss": _finite(result.final_loss),
            "heldout_perplexity_before": result.heldout_perplexity_before,
            "heldout_perplexity_after": result.heldout_perplexity_after,
            "seconds": round(result.seconds, 1),
            "peak_memory_mb": result.peak_memory_mb,
            "trainable_parameters": result.trainable_parameters,
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / ADAPTER_MANIFEST).write_text(json.dumps(manifest, indent=2, allow_nan=False, default=str))
    tmp.rename(out)


def load_trainer(ctx: LoadContext) -> LoraTrainer:
    """The trainer: it loads each job's base model itself, so loading it costs nothing."""
    return LoraTrainer(ctx)


register(
    ModelSpec(
        name=TRAINER_MODEL,
        role=ROLE,
        load=load_trainer,
        # Held at rest: nothing. A run holds its base model in float32 (about 550 MB for
        # SmolLM2, 2.4 GB for Qwen2.5-0.5B) plus activations, while it lasts; it reports
        # that (less the activations) to the manager, which counts it in the budget.
        approx_mb=1,
        source="the generation models' own weights",
        description="Trains LoRA adapters on the text generation models (peft)",
        max_batch_size=1,  # one training job per call
        streams=True,  # handle.stream(LoraTrainingRequest): LoraProgress while training
    )
)
