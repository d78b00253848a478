"""Typed errors shared by the core, the model roles and the apps.

Pages turn these into readable messages; the Python API raises them as they are.
Every message is written for the person who has to act on it.
"""

from __future__ import annotations


class SpringboardError(Exception):
    """Base class for every error the suite raises on purpose."""


class InvalidInputError(SpringboardError, ValueError):
    """The caller sent something the model or app cannot use (empty, too big, wrong type)."""


class ModelUnavailableError(SpringboardError, RuntimeError):
    """A model cannot be loaded: weights missing, offline, corrupt, or the load failed."""


class WeightsMissingError(ModelUnavailableError):
    """A bundled weight package is not installed, or its files fail their checksum."""

    def __init__(self, message: str, *, package: str):
        super().__init__(message)
        self.package = package


class OfflineModelError(ModelUnavailableError):
    """A hub / torchvision model was requested but cannot be fetched on this machine."""


class MemoryBudgetError(SpringboardError, MemoryError):
    """A model cannot fit in the configured memory budget, even after eviction."""


class UnknownModelError(SpringboardError, KeyError):
    """No model with that name or role is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else "unknown model"


class OverloadedError(SpringboardError, RuntimeError):
    """A queue is full; the caller should retry later."""
