"""A LoRA fine-tuning run in progress, and the report that compares the adapter to the base.

``TextGenerator.start_fine_tune`` returns a ``FineTuneRun``: iterate ``events()``
for ``LoraProgress`` (the page draws its loss curve from ``history``), ``cancel()``
from anywhere, then ``finish()`` for the ``FineTuneReport``: held-out perplexity
before and after, held-out prompts answered by base and adapter side by side, and
for JSON data the share of valid outputs and of exact fields, before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInputError
from shared_models.types.generation_training import LoraProgress, LoraTrainingResult

from .fine_tuning import Chat, JsonScore

if TYPE_CHECKING:
    from .api import TextGenerator


@dataclass(frozen=True)
class Comparison:
    """One held-out prompt, its reference reply, and what base and adapter answered."""

    prompt: str
    reference: str
    base: str
    adapter: str


@dataclass(frozen=True)
class AdapterEvaluation:
    """Base against adapter on held-out examples (greedy decoding)."""

    examples: int
    comparisons: list[Comparison]
    json_before: JsonScore | None  # None: the references are not JSON objects
    json_after: JsonScore | None


@dataclass(frozen=True)
class FineTuneReport:
    """Everything training and the comparison measured."""

    name: str
    training: LoraTrainingResult
    evaluation: AdapterEvaluation | None  # None when cancelled

    @property
    def perplexity_before(self) -> float | None:
        return self.training.heldout_perplexity_before

    @property
    def perplexity_after(self) -> float | None:
        return self.training.heldout_perplexity_after

    def summary(self) -> str:
        t = self.training
        if t.cancelled:
            return f"Cancelled after {t.steps} steps; nothing was saved."
        lines = [
            f"Adapter '{self.name}' on {t.base_model}: {t.steps} steps ({t.epochs} epochs) on "
            f"{t.train_examples} examples in {t.seconds:.0f} s, peak memory {t.peak_memory_mb:.0f} MB.",
        ]
        if t.heldout_perplexity_before is not None and t.heldout_perplexity_after is not None:
            lines.append(
                f"Held-out perplexity: {t.heldout_perplexity_before:.2f} (base) -> "
                f"{t.heldout_perplexity_after:.2f} (adapter), on {t.heldout_examples} examples."
            )
        ev = self.evaluation
        if ev is not None and ev.json_before is not None and ev.json_after is not None:
            lines.append(
                f"Valid JSON: {ev.json_before.valid:.0%} -> {ev.json_after.valid:.0%}; exact fields: "
                f"{ev.json_before.field_accuracy:.0%} -> {ev.json_after.field_accuracy:.0%} "
                f"({ev.examples} held-out prompts)."
            )
        return "\n".join(lines)


@dataclass
class FineTuneRun:
    """A training job running in the core; iterate ``events()``, then ``finish()``."""

    generator: TextGenerator
    stream: Any  # the trainer handle's RequestStream
    name: str
    heldout: list[Chat]
    request_id: str
    steps: list[float] = field(default_factory=list)  # in epochs, so both curves share an axis
    losses: list[float] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    heldout_losses: list[float] = field(default_factory=list)
    result: LoraTrainingResult | None = None

    def events(self) -> Iterator[LoraProgress]:
        """Progress events as training goes (``history`` grows with them)."""
        for event in self.stream:
            if isinstance(event, LoraTrainingResult):
                self.result = event
                return
            if isinstance(event, LoraProgress):
                if event.loss is not None and event.heldout_loss is None:
                    self.steps.append(event.epoch)
                    self.losses.append(event.loss)
                if event.heldout_loss is not None:
                    self.epochs.append(event.epoch)
                    self.heldout_losses.append(event.heldout_loss)
                yield event
        if self.result is None:
            self.result = self.stream.result()

    def follow(self, progress: Callable[[float, str], Any] | None = None) -> LoraTrainingResult:
        """Run to the end, passing ``(fraction, message)`` to ``progress``."""
        for event in self.events():
            if progress is not None:
                progress(event.fraction, event.message)
        assert self.result is not None
        return self.result

    def cancel(self) -> None:
        """Stop training at the next step; nothing is saved."""
        self.stream.cancel()

    def history(self) -> dict[str, tuple[list[float], list[float]]]:
        """Loss curves so far, x in epochs: training loss at each step, held-out loss per epoch."""
        return {
            "training loss": (list(self.steps), list(self.losses)),
            "held-out loss": (list(self.epochs), list(self.heldout_losses)),
        }

    def finish(self, compare: int = 3, evaluate: int = 20) -> FineTuneReport:
        """Train to the end (if not done), then compare base and adapter on held-out prompts."""
        if self.result is None:
            self.follow()
        assert self.result is not None
        if self.result.cancelled:
            return FineTuneReport(self.name, self.result, None)
        if not self.result.folder:
            raise InvalidInputError("Training ended without an adapter.")
        evaluation = self.generator.evaluate_adapter(
            self.name, self.heldout, max_examples=evaluate, compare=compare
        )
        return FineTuneReport(self.name, self.result, evaluation)
