"""Convert a GGUF checkpoint (one file or several parts) to a cached transformers folder.

A GGUF file is quantized; transformers dequantizes it to float on every load,
which takes about 45 s for Qwen2.5-0.5B on a 2-core CPU. We do that once, save
the float model as safetensors plus the tokenizer, and later loads read the
folder in a few seconds.

The cache is written into a temporary folder and renamed into place, so a crash
mid-conversion never leaves a half-written cache. A marker file records the
sha256 of the GGUF it came from, so a changed source converts again.

We call ``load_gguf_checkpoint`` instead of ``from_pretrained(gguf_file=...)``:
in transformers 5 the latter refuses to run unless ``accelerate`` is installed,
which this project does not depend on. The dequantization itself is the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelUnavailableError
from core.packages import WeightFile, verified_path

log = logging.getLogger(__name__)

MARKER = "springboard-gguf.json"
# Bump when the conversion itself changes, so old caches are rebuilt.
FORMAT_VERSION = 1
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class GGUFSource:
    """A GGUF checkpoint shipped in weight packages, maybe split into parts.

    ``parts`` are concatenated in order. For a single-file source, ``sha256`` and
    ``size`` equal the one part's pins.
    """

    parts: tuple[WeightFile, ...]
    sha256: str  # of the joined file
    size: int  # of the joined file


def cached_model_dir(name: str, source: GGUFSource, cache_dir: Path) -> Path:
    """The converted folder for ``name``, converting now if it is missing or stale.

    Each part is checked (size and sha256) before use; the joined file is checked
    again, so a wrong part order is caught too. Returns a folder that
    ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``
    load directly.
    """
    paths = [verified_path(part, cache_dir) for part in source.parts]
    target = cache_dir / name
    if _is_current(target, source):
        return target
    with _conversion_lock(name, cache_dir):
        if _is_current(target, source):  # another thread or process converted it meanwhile
            return target
        # Holding the lock, any temporary folder left for this model is from a crash.
        for stale in cache_dir.glob(f".{name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        started = time.perf_counter()
        _convert(name, source, paths, target)
        log.info("converted %s from GGUF in %.1f s", name, time.perf_counter() - started)
    return target


def _is_current(target: Path, source: GGUFSource) -> bool:
    try:
        marker = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("source_sha256") == source.sha256 and marker.get("format") == FORMAT_VERSION


@contextlib.contextmanager
def _conversion_lock(name: str, cache_dir: Path) -> Iterator[None]:
    """One conversion at a time per model: across threads, and across processes via flock."""
    with _locks_guard:
        lock = _locks.setdefault(name, threading.Lock())
    with lock:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with (cache_dir / f".{name}.lock").open("w") as fh:
            try:
                import fcntl
            except ImportError:  # not POSIX: the in-process lock is all we have
                yield
                return
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _convert(name: str, source: GGUFSource, paths: list[Path], target: Path) -> None:
    tmp = target.parent / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        if len(paths) == 1:
            gguf_path = paths[0]  # already checked against the same pins
        else:
            gguf_path = tmp / "joined.gguf"
            _join(paths, gguf_path, source)
        _dequantize_and_save(gguf_path, tmp)
        if gguf_path.parent == tmp:
            gguf_path.unlink()  # 500 MB the cache does not need any more
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "source_sha256": source.sha256,
                    "format": FORMAT_VERSION,
                    "parts": [p.requirement + "/" + p.path for p in source.parts],
                },
                indent=1,
            )
        )
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _join(paths: list[Path], out: Path, source: GGUFSource) -> None:
    """Concatenate the parts, hashing as we write so the joined file costs one pass."""
    digest = hashlib.sha256()
    size = 0
    with out.open("wb") as dst:
        for path in paths:
            with path.open("rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    dst.write(block)
                    size += len(block)
    if size != source.size or digest.hexdigest() != source.sha256:
        raise ModelUnavailableError(
            f"The joined GGUF is {size} bytes with sha256 {digest.hexdigest()[:12]}…, expected "
            f"{source.size} bytes and {source.sha256[:12]}…. The weight packages do not match "
            f"the pinned versions: {', '.join(p.requirement for p in source.parts)}."
        )


def _dequantize_and_save(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, filename = str(gguf_path.parent), gguf_path.name
    config = AutoConfig.from_pretrained(folder, gguf_file=filename)
    # The GGUF path marks the config as quantized; the saved folder is plain float.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    parsed = load_gguf_checkpoint(
        str(gguf_path), return_tensors=True, model_to_load=model, torch_dtype=torch.float32
    )
    result = model.load_state_dict(parsed.pop("tensors"), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if result.unexpected_keys or set(result.missing_keys) - tied:
        raise ModelUnavailableError(
            f"The GGUF {gguf_path.name} does not fit {type(model).__name__}: missing "
            f"{sorted(set(result.missing_keys) - tied)[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    model.tie_weights()
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    # fp32 keeps the dequantized values exactly; loaders cast to the device's dtype.
    model.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    tokenizer.save_pretrained(out)


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target``; an old ``target`` is moved aside first, then deleted."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
