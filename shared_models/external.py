"""Loading a role from an external source: a Hugging Face id, torchvision weights, a folder.

These paths are for users with internet access (or a warm cache). Offline, a
hub model that is not already cached fails with an ``OfflineModelError`` that
names the bundled default, instead of a stack trace from deep inside a library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import torch
from torch import nn

from core.errors import InvalidInputError, ModelUnavailableError, OfflineModelError
from core.registry import LoadContext

T = TypeVar("T")


def is_offline(ctx: LoadContext) -> bool:
    """Offline if settings say so or the standard HF variable is set."""
    return ctx.settings.offline or os.environ.get("HF_HUB_OFFLINE") == "1"


# Weight files in these formats can run code when loaded (pickle); a local folder
# that holds one is refused before any library sees it. Safetensors only.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"})
_ALWAYS_PICKLE = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt"})  # torch formats
_MAX_SCANNED_FILES = 10_000


def local_folder(ctx: LoadContext) -> Path:
    """The folder named by ``local:<path>``, checked to exist and to hold no pickled weights."""
    path = Path(ctx.source_ref).expanduser()
    if not path.is_dir():
        raise ModelUnavailableError(f"The model folder {path} (from '{ctx.source}') does not exist.")
    pickled = find_pickled_files(path)
    if pickled:
        raise ModelUnavailableError(
            f"The model folder {path} (from '{ctx.source}') holds {pickled[0].name}, a pickle-based "
            "weight file, which can run code when loaded. Springboard loads only safetensors: "
            "convert the weights (safetensors.torch.save_file) and remove the pickle files."
        )
    return path


def find_pickled_files(folder: Path) -> list[Path]:
    """Weight files under ``folder`` that are pickles: ``.pkl``/``.pickle``/``.joblib``, or a
    ``.bin``/``.pt``/``.pth``/``.ckpt`` whose bytes are a pickle stream or a torch zip with a
    ``.pkl`` inside. CTranslate2's ``model.bin`` is not one."""
    found = []
    for n, file in enumerate(sorted(folder.rglob("*"))):
        if n >= _MAX_SCANNED_FILES:
            break
        suffix = file.suffix.lower()
        if file.is_file() and suffix in PICKLE_SUFFIXES and (suffix in _ALWAYS_PICKLE or _is_pickle(file)):
            found.append(file)
    return found


def _is_pickle(file: Path) -> bool:
    import zipfile

    try:
        with file.open("rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocol 2-5 opcode
        return True
    if head[:1] in (b"c", b"("):  # protocol 0/1: GLOBAL or MARK first
        return True
    if head == b"PK":  # torch.save's zip format
        try:
            with zipfile.ZipFile(file) as zf:
                return any(name.endswith(".pkl") for name in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


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


def load_torchvision_weights(
    ctx: LoadContext, role: str, default: str, family: Any
) -> tuple[nn.Module, Any]:
    """Build the torchvision model named by ``torchvision:<Weights.VARIANT>`` with its weights.

    ``family`` is the torchvision module whose builders are allowed
    (``torchvision.models`` for classifiers, ``torchvision.models.detection``).
    Offline, the weights must already be in torch hub's cache; otherwise the
    error names the bundled default that works without a download.
    """
    from torchvision import models

    ref = ctx.source_ref
    try:
        weights = models.get_weight(ref)
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ModelUnavailableError(
            f"'{ref}' is not a torchvision weights name (e.g. ResNet50_Weights.IMAGENET1K_V2)."
        ) from exc
    builder = next(
        (
            n
            for n in models.list_models(module=family)
            if models.get_model_weights(n) is type(weights)
        ),
        None,
    )
    if builder is None:
        raise ModelUnavailableError(f"torchvision weights '{ref}' are not for a {role} model.")
    cached = (
        Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)
    )
    offline_hint = (
        f"Use the bundled default '{default}' (SPRINGBOARD_MODELS__{role.upper()}={default}), "
        f"or run once with internet access to cache {cached.name} in {cached.parent}."
    )
    if not cached.is_file() and is_offline(ctx):
        raise OfflineModelError(
            f"The {role} model '{ref}' is not in torch hub's cache and this machine is offline "
            f"(SPRINGBOARD_OFFLINE). {offline_hint}"
        )
    try:
        model = models.get_model(builder, weights=weights)
    except OSError as exc:  # URLError is an OSError: no network after all
        raise OfflineModelError(
            f"Could not download the {role} model '{ref}' ({exc}). {offline_hint}"
        ) from exc
    return model, weights
