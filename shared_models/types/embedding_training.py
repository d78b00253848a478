"""Training on sentence embeddings: requests and results (the intent classifiers).

Send to ``manager.handle(TRAINER_MODEL)``, one request per call item:

- ``HeadTrainingRequest`` -> ``LinearHead``: a softmax layer fitted on embeddings
  the caller already has (from the "embedding" role), written as a head folder when
  ``output_folder`` is given;
- ``EncoderFineTuneRequest`` -> ``EncoderFineTuneResult``: MiniLM fine-tuned end to
  end with a softmax layer, written as a sentence-transformers folder that the
  "embedding" role serves: ``manager.handle(f"local:{result.folder}", role="embedding")``.

Either way the classifier is ``softmax(embedding @ head.weight.T + head.bias)`` over
the unit-length embeddings that role returns. Given a folder, the trainer writes the
head there, and the "embedding_head" role serves it:
``manager.handle(f"local:{folder}", role="embedding_head")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .events import new_request_id

ROLE = "embedding_training"
TRAINER_MODEL = "minilm-l6-trainer"


@dataclass(frozen=True, eq=False)
class LinearHead:
    """A softmax layer over embeddings: ``weight`` is (classes, dim), ``bias`` (classes,), float32."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class HeadTrainingRequest:
    """Fit a ``LinearHead`` to ``embeddings`` (n, dim, unit rows) and ``labels`` (n ints < n_classes).

    Multinomial logistic regression with a little L2, full-batch L-BFGS for
    ``iterations`` steps from a ``seed``-drawn start: deterministic for the same input.
    """

    embeddings: np.ndarray
    labels: np.ndarray
    n_classes: int
    iterations: int = 60
    seed: int = 0
    # Where to write the head as a folder the "embedding_head" role serves; None: not saved.
    output_folder: str | None = None


@dataclass(frozen=True)
class EncoderFineTuneRequest:
    """Fine-tune MiniLM with a softmax layer on ``texts`` labelled ``labels`` (ints < n_classes).

    The encoder is written to ``output_folder`` (created; it must not exist yet, so a
    model being served is never overwritten). ``max_seconds`` is a time budget: the
    learning rate decays with whichever runs out first, the planned steps or the
    time, so a budgeted run still ends on a cooled-down model.
    """

    texts: list[str]
    labels: list[int]
    n_classes: int
    output_folder: str
    epochs: int = 4
    batch_size: int = 32
    seed: int = 0
    max_seconds: float | None = None
    # Where to write the trained head as a folder the "embedding_head" role serves.
    head_folder: str | None = None
    request_id: str = field(default_factory=new_request_id)  # streamed: ProgressEvent, then the result


@dataclass(frozen=True, eq=False)
class EncoderFineTuneResult:
    """The fine-tuned encoder's folder, the head that goes with it, and what training did."""

    folder: str
    head: LinearHead
    epochs: float  # completed (a time budget may cut training short)
    final_loss: float
    seconds: float
