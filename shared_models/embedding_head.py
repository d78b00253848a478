"""Embedding-head role: serves the classifier heads users train (intent models).

A head folder holds ``head.safetensors`` (``head.weight`` (classes, dim), ``head.bias``
(classes,)); the ``embedding_training`` role writes it with ``save_head``. The runner
applies ``softmax(x @ W.T + b)`` to a batch of embeddings in one matrix product.
Safetensors only: a pickle in place of the file is refused, never unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.errors import InvalidInputError, ModelUnavailableError
from core.registry import LoadContext, ModelRunner, register_external, run_valid_rows

from .external import local_folder
from .types.embedding_head import HEAD_FILE, ROLE, HeadInfo, HeadInfoRequest
from .types.embedding_training import LinearHead


class EmbeddingHead(ModelRunner):
    """A softmax layer behind a batch call: embeddings in, class probabilities out."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, device: torch.device) -> None:
        self.weight = weight.to(device=device, dtype=torch.float32)
        self.bias = bias.to(device=device, dtype=torch.float32)
        self.device = device
        self.n_classes, self.dim = (int(n) for n in self.weight.shape)

    def __call__(self, inputs: list[Any]) -> list[Any]:
        if inputs and all(isinstance(i, HeadInfoRequest) for i in inputs):
            return [HeadInfo(self.n_classes, self.dim) for _ in inputs]
        return run_valid_rows(inputs, self._prepare, self._apply)

    def _prepare(self, vector: Any) -> np.ndarray:
        if isinstance(vector, HeadInfoRequest):
            raise InvalidInputError("Send HeadInfoRequest on its own, not mixed with embeddings.")
        x = np.asarray(vector)
        if x.shape != (self.dim,) or not np.issubdtype(x.dtype, np.number):
            raise InvalidInputError(
                f"The head takes one embedding of {self.dim} numbers per item; got shape {x.shape}."
            )
        if not np.isfinite(x).all():
            raise InvalidInputError("The embedding contains NaN or infinite values.")
        return x.astype(np.float32, copy=False)

    @torch.inference_mode()
    def _apply(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        x = torch.from_numpy(np.stack(rows)).to(self.device)
        probabilities = torch.softmax(x @ self.weight.T + self.bias, dim=1)
        return list(probabilities.cpu().numpy().astype(np.float32))


def save_head(folder: str | Path, head: LinearHead) -> Path:
    """Write ``head`` as a new head folder (written aside, then renamed into place)."""
    out = Path(folder).expanduser()
    if out.exists():
        raise InvalidInputError(f"The head folder {out} already exists; give a new one.")
    weight = np.asarray(head.weight, dtype=np.float32)
    bias = np.asarray(head.bias, dtype=np.float32)
    if weight.ndim != 2 or bias.shape != (weight.shape[0],):
        raise InvalidInputError(f"A head needs weight (classes, dim) and bias (classes,); got {weight.shape}, {bias.shape}.")
    tmp = out.with_name(out.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(
        {"head.weight": torch.from_numpy(np.ascontiguousarray(weight)),
         "head.bias": torch.from_numpy(np.ascontiguousarray(bias))},
        str(tmp / HEAD_FILE),
    )  # fmt: skip
    tmp.rename(out)
    return out


def load_head(ctx: LoadContext) -> EmbeddingHead:
    """A head folder from ``local:<folder>``."""
    folder = local_folder(ctx)
    path = folder / HEAD_FILE
    try:
        tensors = load_file(str(path))
        weight, bias = tensors["head.weight"], tensors["head.bias"]
    except (OSError, SafetensorError, KeyError) as exc:
        raise ModelUnavailableError(
            f"The classifier head {path} is not a readable safetensors file with a head ({exc}); "
            "retrain it."
        ) from exc
    if weight.ndim != 2 or tuple(bias.shape) != (weight.shape[0],):
        raise ModelUnavailableError(
            f"The classifier head {path} has weight {tuple(weight.shape)} and bias "
            f"{tuple(bias.shape)}; retrain it."
        )
    return EmbeddingHead(weight, bias, ctx.policy.device)


# A head is a few hundred kilobytes; batches are cheap, so take many rows at once.
register_external(ROLE, load_head, approx_mb=1, max_batch_size=512, batch_wait_ms=2)
