"""Backends: where a handle's calls run. The manager asks its backend for every handle.

- ``local`` (default): this process, through the micro-batcher (``core.handles.LocalHandle``).
- ``ray``: Ray Serve deployments, one per model asked for (``core.backends.ray_serve``);
  needs the ``cluster`` extra. Chosen with ``SPRINGBOARD_BACKEND=ray`` or ``--backend ray``.

Apps never see the difference: both give ``core.ModelHandle``s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..errors import ModelUnavailableError
from ..handles import LocalHandle, ModelHandle

if TYPE_CHECKING:
    from ..manager import ModelManager
    from ..registry import ModelSpec


class Backend(Protocol):
    """What the manager needs from a backend."""

    kind: str

    def handle(self, spec: ModelSpec) -> ModelHandle:
        """A new handle for one model."""

    def load(self, handle: ModelHandle) -> None:
        """Load the handle's model where it runs (the local backend loads through the manager)."""

    def model_rows(self) -> list[dict] | None:
        """The models as the backend holds them, in the manager's report format (a cluster:
        loaded in its replicas), or ``None``: this process's own models are the truth."""

    def serving_metrics(self, metrics: list[dict]) -> list[dict]:
        """This process's per-model metrics, completed with what the backend measured
        elsewhere (a cluster: the batches its replicas ran)."""

    def report(self) -> dict:
        """What the manager's report adds (``{"cluster": ...}`` for a cluster; empty for local)."""

    def close(self) -> None:
        """Release what the backend started."""


class LocalBackend:
    """Models run in this process."""

    kind = "local"

    def __init__(self, manager: ModelManager) -> None:
        self._manager = manager

    def handle(self, spec: ModelSpec) -> ModelHandle:
        return LocalHandle(self._manager, spec)

    def load(self, handle: ModelHandle) -> None:
        self._manager.load(handle.name)

    def model_rows(self) -> list[dict] | None:
        return None

    def serving_metrics(self, metrics: list[dict]) -> list[dict]:
        return metrics

    def report(self) -> dict:
        return {}

    def close(self) -> None:
        pass


def create_backend(manager: ModelManager) -> Backend:
    """The backend the manager's settings name."""
    if manager.settings.backend == "local":
        return LocalBackend(manager)
    try:
        from .ray_serve import RayBackend
    except ImportError as exc:
        raise ModelUnavailableError(
            "SPRINGBOARD_BACKEND=ray needs Ray Serve, the `cluster` extra: "
            "make install EXTRAS=dev,cluster (requirements/lock-cluster.txt)."
        ) from exc
    return RayBackend(manager)
