"""Loading a role from an external source: a Hugging Face id, torchvision weights, a folder.

These paths are for users with internet access (or a warm cache). Offline, a
hub model that is not already cached fails with an ``OfflineModelError`` that
names the bundled default, instead of a stack trace from deep inside a library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from core.errors import InvalidInputError, ModelUnavailableError, OfflineModelError
from core.registry import LoadContext

T = TypeVar("T")


def is_offline(ctx: LoadContext) -> bool:
    """Offline if settings say so or the standard HF variable is set."""
    return ctx.settings.offline or os.environ.get("HF_HUB_OFFLINE") == "1"


def local_folder(ctx: LoadContext) -> Path:
    """The folder named by ``local:<path>``, checked to exist."""
    path = Path(ctx.source_ref).expanduser()
    if not path.is_dir():
        raise ModelUnavailableError(f"The model folder {path} (from '{ctx.source}') does not exist.")
    return path


def load_pretrained(
    ctx: LoadContext, role: str, default: str, load: Callable[[str, bool], T]
) -> T:
    """Run ``load(name_or_path, local_files_only)`` for ``hub:`` or ``local:`` sources.

    Any failure becomes one clear error. Offline, hub ids load only from the
    local Hugging Face cache, and a miss says which bundled model works instead.
    """
    kind = ctx.source_kind
    if kind == "local":
        ref, offline = str(local_folder(ctx)), True
    elif kind == "hub":
        ref, offline = ctx.source_ref, is_offline(ctx)
    else:
        raise InvalidInputError(
            f"The {role} role cannot load '{ctx.source}'. Use hub:<id> or local:<folder>, "
            f"or the bundled default '{default}'."
        )
    try:
        return load(ref, offline)
    except Exception as exc:
        if kind == "hub" and offline:
            raise OfflineModelError(
                f"The {role} model '{ref}' is not in the local Hugging Face cache and this "
                f"machine is offline (SPRINGBOARD_OFFLINE / HF_HUB_OFFLINE). Use the bundled "
                f"default '{default}' (SPRINGBOARD_MODELS__{role.upper()}={default}), or run once "
                f"with internet access to cache it."
            ) from exc
        raise ModelUnavailableError(f"Could not load the {role} model '{ctx.source}': {exc}") from exc
