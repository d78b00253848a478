"""LoRA fine-tuning of the language model: requests, results and progress events.

Send to ``manager.handle(TRAINER_MODEL)`` (role ``generation-training``):

- ``LoraTrainingRequest`` -> ``LoraTrainingResult``. With ``handle.stream(request)``
  the trainer emits ``LoraProgress`` events (a ``ProgressEvent`` with the step,
  the training loss and, at each epoch's end, the held-out loss), then the result.
  ``handle.cancel(request_id)`` (or ``stream.cancel()``) stops training at the next
  step; nothing is written then.

The adapter is written to ``output_folder`` as ``adapter_model.safetensors`` +
``adapter_config.json`` (the PEFT format) + ``manifest.json`` (``ADAPTER_MANIFEST``):
the base model's name and weight checksum, data size, settings and metrics. The
"generation" role serves it when a request names it: ``GenerationRequest(adapter=name)``
looks the name up under ``adapters_root(settings.data_dir)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .events import ProgressEvent, new_request_id

ROLE = "generation-training"
TRAINER_MODEL = "lora-trainer"
ADAPTER_MANIFEST = "manifest.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
# Adapter names: what a request, a file name and a model id (``base:adapter``) can all carry.
ADAPTER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")

DataKind = Literal["chat", "documents"]


def adapters_root(data_dir: Path | str) -> Path:
    """Where adapters live: ``<data_dir>/textgen/adapters/<name>/`` (one folder each)."""
    return Path(data_dir) / "textgen" / "adapters"


def valid_adapter_name(name: object) -> bool:
    """Lower-case letters, digits, ``-`` and ``_``, at most 64: no path tricks possible."""
    return isinstance(name, str) and bool(ADAPTER_NAME.match(name))


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters. The defaults train the tiny model in a few minutes on 2 CPUs.

    ``rank`` and ``alpha``: the low-rank update is ``(alpha / rank) * B @ A``.
    ``max_seconds`` is a time budget: the learning rate decays with whichever runs out
    first, the planned steps or the time, and training stops when either does.
    ``max_tokens`` cuts each example (prompt + response) to that many tokens.
    ``gradient_checkpointing`` recomputes activations in the backward pass instead
    of keeping them: much less memory for long examples or the larger model, about
    a third more compute.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    learning_rate: float = 2e-3
    epochs: int = 3
    batch_size: int = 4
    max_tokens: int = 256
    max_seconds: float | None = None
    seed: int = 0
    gradient_checkpointing: bool = False


@dataclass(frozen=True)
class LoraTrainingRequest:
    """Train a LoRA adapter on ``base_model`` (a registered generation model name).

    ``train`` and ``heldout`` are parsed examples. For ``kind="chat"`` each one is a
    chat (``[{"role": ..., "content": ...}, ...]`` ending with an assistant turn) and
    the loss counts only the assistant's last reply; for ``"documents"`` each one is
    ``[{"role": "text", "content": "..."}]`` and every token counts (continued
    pre-training in a style). ``output_folder`` must not exist yet.
    """

    train: list[list[dict[str, str]]]
    heldout: list[list[dict[str, str]]]
    base_model: str
    output_folder: str
    kind: DataKind = "chat"
    settings: LoraSettings = LoraSettings()
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True)
class LoraProgress(ProgressEvent):
    """A training step (or an epoch's end, when ``heldout_loss`` is set)."""

    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None  # running training loss
    heldout_loss: float | None = None  # mean held-out loss, at the end of an epoch


@dataclass(frozen=True)
class LoraTrainingResult:
    """What training did. Perplexities are over the held-out examples' trained tokens."""

    folder: str
    base_model: str
    base_sha256: str
    steps: int
    epochs: float  # completed (a time budget may cut training short)
    train_examples: int
    heldout_examples: int
    train_tokens: int
    final_loss: float
    heldout_perplexity_before: float | None
    heldout_perplexity_after: float | None
    seconds: float
    peak_memory_mb: float  # GPU: peak allocated; CPU: the process's peak RSS so far
    trainable_parameters: int
    cancelled: bool = False  # stopped by cancel: nothing was written (``folder`` is "")
