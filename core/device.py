"""Device and precision policy, decided once per process.

CUDA when present (unless settings say otherwise), bf16 on GPUs that support it,
else fp16; fp32 on CPU. The torch thread count is set on purpose: by default one
thread per core, since two model calls rarely overlap on a small CPU box and
oversubscription only adds context switches.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # an annotation only: the runners import no pydantic (bench/gpu.py needs that)
    from .settings import Settings

_threads_lock = threading.Lock()
_threads_set = False


@dataclass(frozen=True)
class DevicePolicy:
    """Where models run and in which precision."""

    device: torch.device
    dtype: torch.dtype
    threads: int

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        if self.is_cuda:
            name = torch.cuda.get_device_name(self.device)
            return f"{name} (cuda, {str(self.dtype).removeprefix('torch.')})"
        # Language models may run in bfloat16 on CPUs that have it (settings.decoding.precision):
        # the policy's dtype is only the default, so the line says where the truth is.
        dtype = str(self.dtype).removeprefix("torch.")
        return f"CPU, {self.threads} threads ({dtype} unless a model's precision says otherwise)"


def resolve_policy(settings: Settings) -> DevicePolicy:
    """Turn the settings into a concrete device, dtype and thread count."""
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("SPRINGBOARD_DEVICE=cuda but no CUDA device is visible to torch")
    use_cuda = settings.device == "cuda" or (
        settings.device == "auto" and torch.cuda.is_available()
    )
    device = torch.device("cuda:0" if use_cuda else "cpu")
    if settings.dtype != "auto":
        dtype = getattr(torch, settings.dtype)
    elif use_cuda:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    threads = settings.threads or os.cpu_count() or 1
    _set_threads_once(threads)
    if not use_cuda:
        # Denormal floats make some conv nets ~10x slower on CPU (seen with YOLOv3-tiny).
        torch.set_flush_denormal(True)
    return DevicePolicy(device=device, dtype=dtype, threads=threads)


def _set_threads_once(threads: int) -> None:
    global _threads_set
    with _threads_lock:
        if not _threads_set:
            torch.set_num_threads(threads)
            _threads_set = True
