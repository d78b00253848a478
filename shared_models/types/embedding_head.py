"""Classifier heads over sentence embeddings (the intent models): requests and results.

A head is a softmax layer, ``softmax(embedding @ weight.T + bias)``, trained by the
``embedding_training`` role and saved as a folder holding ``head.safetensors``. The
core serves such a folder like any model: ``manager.handle("local:<folder>",
role="embedding_head")``, lazily loaded, batched, counted in the memory budget and
evicted when idle.

- ``handle.call([vector, ...])``: one unit-length float32 embedding (dim,) per item
  in, its class probabilities (n_classes,) float32 out;
- ``handle.call([HeadInfoRequest()])`` -> ``[HeadInfo]``: the head's shape (answered at
  once, beside any batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ROLE = "embedding_head"
HEAD_FILE = "head.safetensors"  # in the head's folder; tensors "head.weight" and "head.bias"


@dataclass(frozen=True)
class HeadInfoRequest:
    """Ask for the head's shape; loading it also checks the file."""

    direct: ClassVar[bool] = True


@dataclass(frozen=True)
class HeadInfo:
    """How many classes a head predicts, from embeddings of which size."""

    n_classes: int
    dim: int
