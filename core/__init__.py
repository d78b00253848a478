"""The shared model core: settings, device policy, registry, manager, batching, storage.

It knows nothing about apps. Apps reach models through handles::

    from core import get_manager
    embed = get_manager().handle("embedding")
    vectors = embed.call(["hello", "world"])
"""

from .costs import cost_scope
from .errors import (
    InvalidInputError,
    MemoryBudgetError,
    ModelUnavailableError,
    OfflineModelError,
    OutOfMemoryError,
    OverloadedError,
    SpringboardError,
    UnknownModelError,
    WeightsMissingError,
)
from .handles import ModelHandle
from .manager import ModelManager, get_manager, set_manager
from .registry import LoadContext, ModelRunner, ModelSpec, register, register_external
from .settings import Settings, get_settings
from .storage import Database

__all__ = [
    "Database",
    "InvalidInputError",
    "LoadContext",
    "MemoryBudgetError",
    "OutOfMemoryError",
    "ModelHandle",
    "ModelManager",
    "ModelRunner",
    "ModelSpec",
    "ModelUnavailableError",
    "OfflineModelError",
    "OverloadedError",
    "Settings",
    "SpringboardError",
    "UnknownModelError",
    "WeightsMissingError",
    "cost_scope",
    "get_manager",
    "get_settings",
    "register",
    "register_external",
    "set_manager",
]
