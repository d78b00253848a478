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


class OutOfMemoryError(SpringboardError, MemoryError):
    """One request ran out of memory (RAM or GPU). Memory was freed; the server carries on."""


def as_out_of_memory(exc: BaseException, model: str = "the model") -> OutOfMemoryError | None:
    """The typed error for an allocation failure, or ``None`` if ``exc`` is something else.

    Covers ``MemoryError`` (numpy's too), ``torch.OutOfMemoryError`` (CUDA) and the CPU
    allocator's ``RuntimeError: ... can't allocate memory``.
    """
    if isinstance(exc, OutOfMemoryError):
        return exc
    text = str(exc)
    plain_memory_error = isinstance(exc, MemoryError) and not isinstance(exc, SpringboardError)
    torch_oom = type(exc).__name__ == "OutOfMemoryError"  # torch.OutOfMemoryError (CUDA)
    cpu_alloc = isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )
    if not (plain_memory_error or torch_oom or cpu_alloc):
        return None
    first = text.splitlines()[0][:200] if text else type(exc).__name__
    return OutOfMemoryError(
        f"{model} ran out of memory on this request ({first}). The request was dropped and the "
        "memory freed; send fewer or smaller inputs, or raise the memory available."
    )


class UnknownModelError(SpringboardError, KeyError):
    """No model with that name or role is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else "unknown model"


class OverloadedError(SpringboardError, RuntimeError):
    """A queue is full; the caller should retry later."""
