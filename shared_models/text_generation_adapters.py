"""LoRA adapters served on a loaded generation model: one base, many adapters, mixed batches.

A LoRA adapter is a few MB of low-rank matrices beside a base model of hundreds
of MB, so adapters are not separate models in the core: each generation runner
keeps the adapters its requests name inside its own base model (PEFT LoRA layers
injected in place), and the runner's ``memory_bytes`` counts them, so the core's
memory budget sees them and evicts base and adapters together when idle. Within
the runner, adapters are kept in an LRU bounded by ``ADAPTER_CACHE_MB``.

Requests for different adapters share the base and even one batch: every LoRA
layer gets the batch's per-row adapter names (PEFT's mixed-adapter forward, the
idea of S-LoRA and LoRAX: one base matmul for the whole batch, then each row's
low-rank update), with ``"__base__"`` for rows that use none.

Adapters are looked up by name under ``adapters_root(data_dir)``; a manifest that
names another base model (by weight checksum) is refused.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import InvalidInputError

from .types.generation_training import (
    ADAPTER_MANIFEST,
    ADAPTER_WEIGHTS,
    valid_adapter_name,
)

log = logging.getLogger(__name__)

BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch
# Adapters kept loaded per base model. A rank-8 adapter on q,k,v,o is about 2 MB for
# SmolLM2 and 4 MB for Qwen2.5-0.5B, so this holds dozens.
ADAPTER_CACHE_MB = 256
PEFT_PREFIX = "base_model.model."  # the PEFT file format's key prefix


@dataclass
class _Loaded:
    key: str  # the adapter's name inside the model's LoRA layers
    signature: tuple[int, int, int]  # (inode, mtime_ns, size) of the weights file when loaded
    bytes: int


class AdapterSet:
    """The LoRA adapters loaded into one base model. Used under the runner's decode lock."""

    def __init__(
        self,
        model: torch.nn.Module,
        base_name: str,
        base_sha256: str | Callable[[], str],
        root: Path,
        dtype: torch.dtype,
        max_bytes: int = ADAPTER_CACHE_MB * 2**20,
    ) -> None:
        self.model = model
        self.base_name = base_name
        self._base_sha256 = base_sha256
        self.root = Path(root)
        self.dtype = dtype
        self.max_bytes = max_bytes
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._counter = 0
        self._hooked: set[int] = set()
        self._rows: list[str] | None = None  # per-row adapter keys of the running forward

    @property
    def base_sha256(self) -> str:
        if callable(self._base_sha256):
            self._base_sha256 = self._base_sha256()
        return self._base_sha256

    @property
    def active(self) -> bool:
        """Whether any adapter is loaded (the model then carries LoRA layers)."""
        return bool(self._loaded)

    @property
    def size_bytes(self) -> int:
        return sum(a.bytes for a in self._loaded.values())

    def loaded(self) -> list[str]:
        return list(self._loaded)

    # ------------------------------------------------------------------ lookup
    def folder(self, name: str) -> Path:
        if not valid_adapter_name(name):
            raise InvalidInputError(
                f"Adapter names are lower-case letters, digits, '-' and '_' (at most 64), got {name!r}."
            )
        return self.root / name

    def key(self, name: str | None, keep: frozenset[str] | set[str] = frozenset()) -> str:
        """The LoRA key of adapter ``name`` (loaded now if needed), or ``"__base__"`` for None.

        ``keep``: adapters of the batch being formed, never evicted to make room.
        Raises ``InvalidInputError`` for an unknown adapter or one trained on another base.
        """
        if name is None:
            return BASE
        folder = self.folder(name)
        weights = folder / ADAPTER_WEIGHTS
        try:
            stat = weights.stat()
        except OSError:
            self.drop(name)
            known = sorted(p.name for p in self.root.glob("*") if (p / ADAPTER_WEIGHTS).is_file())
            raise InvalidInputError(
                f"No adapter named {name!r}. Adapters: {', '.join(known) or 'none yet'}."
            ) from None
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        entry = self._loaded.get(name)
        if entry is not None and entry.signature == signature:
            self._loaded.move_to_end(name)
            return entry.key
        if entry is not None:  # retrained or replaced on disk since it was loaded
            self.drop(name)
        entry = self._load(name, folder, signature)
        self._loaded[name] = entry
        self._make_room(keep | {name})
        return entry.key

    def check_manifest(self, folder: Path) -> dict[str, Any]:
        """The adapter's manifest, refused when it was trained on another base model."""
        try:
            manifest = json.loads((folder / ADAPTER_MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"The adapter in {folder.name!r} has no readable manifest: {exc}") from exc
        if not self.base_sha256:
            raise InvalidInputError(
                f"Adapters need a base model with known weights (a bundled or local: model); "
                f"{self.base_name!r} has no weight checksum."
            )
        if manifest.get("base_sha256") != self.base_sha256:
            raise InvalidInputError(
                f"The adapter {folder.name!r} was trained on {manifest.get('base_model')!r} "
                f"(weights {str(manifest.get('base_sha256'))[:12]}…), not on {self.base_name!r} "
                f"(weights {self.base_sha256[:12]}…). Use it with that model, or train it again on this one."
            )
        return manifest

    # ------------------------------------------------------------------ forward
    def set_rows(self, keys: list[str] | None) -> None:
        """Adapter keys of the rows of the next forward passes (None: all base)."""
        self._rows = keys

    def _pre_forward(self, module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        rows = self._rows
        if rows is None:
            rows = [BASE] * args[0].shape[0]
        kwargs["adapter_names"] = rows
        return args, kwargs

    # ------------------------------------------------------------------ loading
    def _load(self, name: str, folder: Path, signature: tuple[int, int, int]) -> _Loaded:
        from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict
        from peft.tuners.lora import LoraLayer
        from safetensors.torch import load_file

        self.check_manifest(folder)
        try:
            config = LoraConfig.from_pretrained(str(folder))
            state = load_file(str(folder / ADAPTER_WEIGHTS))
        except Exception as exc:
            raise InvalidInputError(f"The adapter {name!r} could not be read: {exc}") from exc
        state = {k.removeprefix(PEFT_PREFIX): v for k, v in state.items()}
        self._counter += 1
        key = f"adapter{self._counter}"
        config.inference_mode = True
        try:
            with warnings.catch_warnings():
                # "multiple adapters in the model": that is the point here.
                warnings.simplefilter("ignore", UserWarning)
                inject_adapter_in_model(config, self.model, adapter_name=key)
            result = set_peft_model_state_dict(self.model, state, adapter_name=key)
        except Exception as exc:
            self._delete_key(key)
            raise InvalidInputError(f"The adapter {name!r} does not fit {self.base_name!r}: {exc}") from exc
        unexpected = [k for k in result.unexpected_keys if "lora_" in k]
        if unexpected:
            self._delete_key(key)
            raise InvalidInputError(
                f"The adapter {name!r} does not fit {self.base_name!r}: {len(unexpected)} unknown "
                f"weights such as {unexpected[0]}."
            )
        size = 0
        for module in self.model.modules():
            if isinstance(module, LoraLayer):
                if id(module) not in self._hooked:
                    module.register_forward_pre_hook(self._pre_forward, with_kwargs=True)
                    self._hooked.add(id(module))
                for part in (module.lora_A, module.lora_B):
                    if key in part:
                        part[key].to(dtype=self.dtype)
                        part[key].requires_grad_(False)
                        size += sum(p.numel() * p.element_size() for p in part[key].parameters())
        self.model.eval()  # new LoRA dropout layers start in training mode
        log.info("loaded adapter %s on %s (%.1f MB)", name, self.base_name, size / 2**20)
        return _Loaded(key, signature, size)

    def drop(self, name: str) -> bool:
        """Unload adapter ``name``; returns whether it was loaded."""
        entry = self._loaded.pop(name, None)
        if entry is None:
            return False
        self._delete_key(entry.key)
        return True

    def _delete_key(self, key: str) -> None:
        from peft.tuners.lora import LoraLayer

        with warnings.catch_warnings():
            # PEFT says which adapter becomes "active"; rows name theirs, so it does not matter.
            warnings.simplefilter("ignore", UserWarning)
            for module in self.model.modules():
                if isinstance(module, LoraLayer) and key in module.lora_A:
                    module.delete_adapter(key)

    def _make_room(self, keep: frozenset[str] | set[str]) -> None:
        while self.size_bytes > self.max_bytes:
            victim = next((n for n in self._loaded if n not in keep), None)
            if victim is None:
                return
            self.drop(victim)
