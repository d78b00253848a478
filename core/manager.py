"""The model manager: lazy, thread-safe, one load per process, within a memory budget.

Every app in the process asks the same manager for models, so a model used by
three apps is loaded once. Models load on first use (or at start, if listed in
``settings.warmup``). When loading would exceed the memory budget, idle models
are evicted least-recently-used first; a model that is running a batch is never
evicted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import torch

from .backends import create_backend
from .costs import CostLedger, Prices
from .device import DevicePolicy, resolve_policy
from .errors import MemoryBudgetError, ModelUnavailableError, SpringboardError
from .handles import ModelHandle
from .metrics import MetricsRegistry
from .registry import (
    LoadContext,
    Loader,
    ModelRegistry,
    ModelRunner,
    ModelSpec,
    load_model_modules,
)
from .settings import Settings, get_settings

log = logging.getLogger(__name__)
MB = 1024 * 1024


@dataclass
class _Slot:
    """A model the manager knows about, loaded or not."""

    spec: ModelSpec
    runner: ModelRunner | None = None
    bytes: int = 0
    in_use: int = 0
    last_used: float = 0.0
    load_seconds: float = 0.0
    loads: int = 0
    load_lock: threading.Lock = field(default_factory=threading.Lock)


class ModelManager:
    """Loads, shares, batches and evicts the models of one process."""

    def __init__(
        self,
        settings: Settings | None = None,
        registry: ModelRegistry | None = None,
        policy: DevicePolicy | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.registry = registry or load_model_modules()
        self.policy = policy or resolve_policy(self.settings)
        self.metrics = MetricsRegistry()
        self.costs = CostLedger(Prices.from_settings(self.settings))  # what each request costs
        self.budget_bytes = self._budget_bytes()
        self._slots: dict[str, _Slot] = {}
        self._handles: dict[str, ModelHandle] = {}
        self._lock = threading.RLock()
        self._events: deque[dict] = deque(maxlen=200)
        self.settings.model_cache_dir.mkdir(parents=True, exist_ok=True)
        # Where handles run their calls: this process, or Ray Serve (settings.backend).
        self.backend = create_backend(self)

    # --------------------------------------------------------------- lookup
    def spec(self, name_or_role: str, role: str | None = None) -> ModelSpec:
        """Resolve a role ("speech") through settings, a model name, or an external source.

        An external source (``hub:``, ``torchvision:``, ``local:``) that is not a
        role's configured choice needs ``role`` to say which loader reads it.
        """
        with self._lock:
            if name_or_role in self._slots:  # includes external sources already resolved
                return self._slots[name_or_role].spec
        choice = getattr(self.settings.models, name_or_role, None)
        if isinstance(choice, str):
            return self.registry.resolve(choice, role=name_or_role)
        return self.registry.resolve(name_or_role, role=role)

    def handle(self, name_or_role: str, role: str | None = None) -> ModelHandle:
        """The handle apps use to call a model: batched, sync and async.

        ``manager.handle("speech")`` follows settings; ``handle("whisper-tiny.en")``
        names a model; ``handle("local:/models/mine", role="classification")`` loads
        an external source with that role's loader.
        """
        spec = self.spec(name_or_role, role)
        with self._lock:
            if spec.name not in self._handles:
                self._slot(spec)
                self._handles[spec.name] = self.backend.handle(spec)
            return self._handles[spec.name]

    def model_names(self, role: str | None = None) -> list[str]:
        """Registered model names, bundled and user-added, optionally of one role."""
        return [s.name for s in self.registry.specs() if role is None or s.role == role]

    def model_specs(self, role: str | None = None) -> list[ModelSpec]:
        """Registered model specs (read-only descriptions), optionally of one role."""
        return [s for s in self.registry.specs() if role is None or s.role == role]

    # --------------------------------------------------------------- user models
    def add_model(self, spec: ModelSpec) -> ModelHandle:
        """Serve a model a user trained (an intent head, a classifier) like a bundled one.

        The spec's loader reads the user's artefact (a folder in the data directory);
        the model is then loaded lazily, batched, counted against the memory budget
        and evicted like any other. Adding a name again replaces the entry: the old
        model is dropped (once idle) so the next call loads the new artefact.
        Returns the model's handle. This is the one way apps put models in the core.
        """
        with self._lock:
            # A call already running on the old model finishes on it; later calls load anew.
            old = self._slots.pop(spec.name, None)
            if old is not None and old.runner is not None and not old.in_use:
                self._evict(old, "replaced by add_model")
            self.registry.register(spec)
            handle = self._handles.pop(spec.name, None)
        if handle is not None:
            handle.close()
        return self.handle(spec.name)

    def add_local_model(
        self,
        name: str,
        role: str,
        folder: str | Path,
        *,
        description: str = "",
        approx_mb: int = 25,
    ) -> ModelHandle:
        """Serve a model saved in ``folder`` under ``name``, read by ``role``'s ``local:`` loader.

        This is ``add_model`` for artefacts in a role's local-folder format (for
        classification: ``config.json`` + ``model.safetensors``, as the
        ``classifier-training`` role writes them). Loading is lazy: a bad folder
        fails on the first call, with ``ModelUnavailableError``.
        """
        source = f"local:{Path(folder)}"
        external = self.registry.external(role, source)
        spec = dataclasses.replace(
            external,
            name=name,
            # The manager hands external loaders their source only when the spec is
            # named after it; this one has its own name, so the loader gets it here.
            load=functools.partial(_load_from, source, external.load),
            approx_mb=approx_mb,
            description=description or f"{role} model from {folder}",
        )
        return self.add_model(spec)

    def remove_model(self, name: str) -> bool:
        """Stop serving a user-added model (its files are the caller's). Returns whether it was known."""
        with self._lock:
            slot = self._slots.pop(name, None)
            handle = self._handles.pop(name, None)
            known = self.registry.unregister(name)
            if slot is not None and slot.runner is not None and not slot.in_use:
                self._evict(slot, "removed")
        if handle is not None:
            handle.close()
        self._release_memory()
        return known or slot is not None

    # --------------------------------------------------------------- loading
    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[ModelRunner]:
        """Borrow a loaded model for one call; it cannot be evicted meanwhile."""
        slot = self._slot(self.spec(name))
        with self._lock:
            slot.in_use += 1  # pin before loading so a concurrent eviction skips it
        try:
            runner = self._ensure_loaded(slot)
            yield runner
        finally:
            with self._lock:
                slot.in_use -= 1
                slot.last_used = time.monotonic()
                if slot.runner is not None and getattr(slot.runner, "dynamic_memory", False):
                    # It grew or shrank while serving (a generation model's LoRA adapters).
                    slot.bytes = slot.runner.memory_bytes() or slot.bytes

    def load(self, name: str) -> None:
        """Load a model now (warm-up) without running it (on a cluster: in its replicas)."""
        if self.backend.kind != "local":
            self.backend.load(self.handle(name))
            return
        with self.use(name):
            pass

    def warmup(self, names: list[str] | None = None) -> None:
        """Load the models listed (default: ``settings.warmup``)."""
        for name in names if names is not None else self.settings.warmup:
            self.load(name)

    def unload(self, name: str, reason: str = "requested") -> bool:
        """Drop a loaded model if it is idle. Returns whether it was unloaded."""
        slot = self._slot(self.spec(name))
        with self._lock:
            if slot.runner is None or slot.in_use:
                return False
            self._evict(slot, reason)
        self._release_memory()
        return True

    def is_loaded(self, name: str) -> bool:
        """Whether the model is loaded where it runs: here, or (on a cluster) in a replica."""
        spec = self.spec(name)
        remote = self.backend.model_rows()
        if remote is not None:
            return any(m["model"] == spec.name and m["loaded"] for m in remote)
        slot = self._slots.get(spec.name)
        return bool(slot and slot.runner is not None)

    def loaded_models(self) -> list[str]:
        with self._lock:
            return [n for n, s in self._slots.items() if s.runner is not None]

    def _slot(self, spec: ModelSpec) -> _Slot:
        with self._lock:
            if spec.name not in self._slots:
                self._slots[spec.name] = _Slot(spec)
            return self._slots[spec.name]

    def _ensure_loaded(self, slot: _Slot) -> ModelRunner:
        if slot.runner is not None:
            return slot.runner
        with slot.load_lock:  # one load per model, however many threads ask
            if slot.runner is not None:
                return slot.runner
            spec = slot.spec
            self._make_room(spec.approx_mb * MB, exclude=slot)
            self._event("loading", spec.name, f"~{spec.approx_mb} MB from {spec.source}")
            started = time.perf_counter()
            ctx = LoadContext(
                settings=self.settings,
                policy=self.policy,
                cache_dir=self.settings.model_cache_dir,
                source=spec.source if spec.name == spec.source else "",
                memory_changed=functools.partial(self._memory_changed, slot),
            )
            try:
                runner = spec.load(ctx)
            except SpringboardError as exc:
                self._event("load failed", spec.name, str(exc))
                raise
            except Exception as exc:  # wrap library internals in one clear message
                self._event("load failed", spec.name, repr(exc))
                raise ModelUnavailableError(
                    f"Could not load the {spec.role} model '{spec.name}' ({spec.source}): {exc}"
                ) from exc
            with self._lock:
                slot.runner = runner
                slot.bytes = runner.memory_bytes() or spec.approx_mb * MB
                slot.load_seconds = time.perf_counter() - started
                slot.loads += 1
                slot.last_used = time.monotonic()
            self._event(
                "loaded", spec.name, f"{slot.bytes / MB:.0f} MB in {slot.load_seconds:.1f} s"
            )
            self._make_room(0, exclude=slot)  # the real size may exceed the estimate
            return runner

    def _memory_changed(self, slot: _Slot) -> None:
        """A running model's memory changed mid-call (a training job took or let go of its base).

        Counted at once; if it grew past the budget, idle models are evicted (LRU) to make room.
        """
        with self._lock:
            if slot.runner is None:
                return
            before, slot.bytes = slot.bytes, slot.runner.memory_bytes()
            after = slot.bytes
        if after != before:
            self._event("memory", slot.spec.name, f"{before / MB:.0f} MB -> {after / MB:.0f} MB")
        if after > before:
            self._make_room(0, exclude=slot)

    # --------------------------------------------------------------- budget
    def used_bytes(self) -> int:
        with self._lock:
            return sum(s.bytes for s in self._slots.values() if s.runner is not None)

    def _make_room(self, needed: int, exclude: _Slot) -> None:
        if needed > self.budget_bytes:
            raise MemoryBudgetError(
                f"{exclude.spec.name} needs about {needed / MB:.0f} MB but the memory budget is "
                f"{self.budget_bytes / MB:.0f} MB. Raise SPRINGBOARD_MEMORY_BUDGET_MB."
            )
        evicted = False
        with self._lock:
            while self.used_bytes() + needed > self.budget_bytes:
                idle = [
                    s
                    for s in self._slots.values()
                    if s.runner is not None and s.in_use == 0 and s is not exclude
                ]
                if not idle:
                    self._event(
                        "over budget",
                        exclude.spec.name,
                        "every other loaded model is busy; loading anyway",
                    )
                    break
                victim = min(idle, key=lambda s: s.last_used)
                self._evict(victim, f"LRU, to make room for {exclude.spec.name}")
                evicted = True
        if evicted:
            self._release_memory()

    def _evict(self, slot: _Slot, reason: str) -> None:
        runner, slot.runner = slot.runner, None
        freed, slot.bytes = slot.bytes, 0
        if runner is not None:
            with contextlib.suppress(Exception):
                runner.close()
        self._event("evicted", slot.spec.name, f"{freed / MB:.0f} MB freed ({reason})")

    def _release_memory(self) -> None:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _budget_bytes(self) -> int:
        if self.settings.memory_budget_mb:
            return self.settings.memory_budget_mb * MB
        if self.policy.is_cuda:
            total = torch.cuda.get_device_properties(self.policy.device).total_memory
        else:
            total = psutil.virtual_memory().total
        return int(total * 0.7)

    # --------------------------------------------------------------- reporting
    def _event(self, kind: str, model: str, detail: str) -> None:
        log.info("%s %s: %s", kind, model, detail)
        self._events.append(
            {"time": time.strftime("%H:%M:%S"), "event": kind, "model": model, "detail": detail}
        )

    def events(self) -> list[dict]:
        return list(self._events)

    def report(self) -> dict:
        """What is loaded, where, how big, and how each model is serving."""
        with self._lock:
            models = [
                {
                    "model": s.spec.name,
                    "role": s.spec.role,
                    "loaded": s.runner is not None,
                    "in_use": s.in_use,
                    "memory_mb": round(s.bytes / MB, 1),
                    "approx_mb": s.spec.approx_mb,
                    "load_seconds": round(s.load_seconds, 2),
                    "loads": s.loads,
                    "source": s.spec.source,
                    "precision": _precision(s.runner),
                    **_serving(s.runner),
                }
                for s in self._slots.values()
            ]
        remote = self.backend.model_rows()  # on a cluster, the models are in its replicas
        if remote is not None:
            models = remote
        process = psutil.Process()
        report = {
            "device": self.policy.describe(),
            "budget_mb": round(self.budget_bytes / MB),
            "used_mb": round(self.used_bytes() / MB, 1),
            "process_rss_mb": round(process.memory_info().rss / MB),
            "system_memory_percent": psutil.virtual_memory().percent,
            "models": models,
            "metrics": self.backend.serving_metrics(self.metrics.snapshot()),
            "events": self.events(),
            **self.backend.report(),
        }
        if self.policy.is_cuda:
            report["gpu_allocated_mb"] = round(torch.cuda.memory_allocated() / MB)
            report["gpu_reserved_mb"] = round(torch.cuda.memory_reserved() / MB)
        return report

    def close(self) -> None:
        """Stop batchers and drop every model."""
        with self._lock:
            handles = list(self._handles.values())
            self._handles.clear()
        for h in handles:
            h.close()
        with self._lock:
            for slot in self._slots.values():
                if slot.runner is not None and not slot.in_use:
                    self._evict(slot, "shutdown")
        self.backend.close()
        self._release_memory()


def _load_from(source: str, loader: Loader, ctx: LoadContext) -> ModelRunner:
    """Run an external loader on ``source`` (for models named other than their source)."""
    return loader(dataclasses.replace(ctx, source=source))


_default: ModelManager | None = None
_default_lock = threading.Lock()


def get_manager() -> ModelManager:
    """The process-wide manager that every app shares."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ModelManager()
        return _default


def set_manager(manager: ModelManager | None) -> None:
    """Install a manager as the process-wide one (tests, custom servers)."""
    global _default
    with _default_lock:
        _default = manager


def _precision(runner: ModelRunner | None) -> str:
    """What a loaded runner computes in ("" when not loaded or it cannot say)."""
    if runner is None:
        return ""
    try:
        return runner.precision()
    except Exception:  # a report must never fail because of one model
        return ""


def _serving(runner: ModelRunner | None) -> dict[str, Any]:
    """``{"serving": {...}}`` when a loaded runner reports what it is doing, else nothing."""
    if runner is None:
        return {}
    try:
        stats = runner.serving_stats()
    except Exception:  # a report must never fail because of one model
        return {}
    return {"serving": stats} if stats else {}
