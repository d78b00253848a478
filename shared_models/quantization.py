"""Int8 dynamic quantization of ``nn.Linear`` layers for CPU inference.

Dynamic quantization stores each linear layer's weights as int8 (one scale per
output row) and quantizes the activations on the fly at every call. On CPU,
small-batch decoding is bound by memory bandwidth, not arithmetic: reading a
quarter of the bytes per weight is where most of the speed comes from (this is
what CTranslate2's ``compute_type="int8"`` does too). Accuracy usually holds for
transformer linears; each role that uses this should measure its own.

Only CPU: PyTorch's dynamic quantized kernels (fbgemm / oneDNN) do not run on CUDA.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def int8_supported(device: torch.device | str) -> bool:
    """True where dynamic int8 linears can run: a CPU with a quantized engine."""
    if torch.device(device).type != "cpu":
        return False
    return any(engine in torch.backends.quantized.supported_engines
               for engine in ("x86", "fbgemm", "onednn", "qnnpack"))  # fmt: skip


def bf16_supported(device: torch.device | str) -> bool:
    """True on a CPU where oneDNN has bfloat16 kernels (AVX512; native with AVX512-BF16 or AMX).

    Elsewhere PyTorch's bfloat16 CPU path is a slow fallback, so stay in float32.
    """
    if torch.device(device).type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def native_bf16(device: torch.device | str) -> bool:
    """True on a CPU with bfloat16 arithmetic in hardware (AMX tiles or AVX512-BF16).

    Stricter than ``bf16_supported``: plain AVX512 runs oneDNN's bfloat16 kernels by
    converting in software, which for a whole language model is slower than float32.
    """
    if torch.device(device).type != "cpu" or not bf16_supported(device):
        return False
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, so look them up
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def quantize_linear_int8(module: nn.Module) -> nn.Module:
    """Replace every ``nn.Linear`` inside ``module`` (in place) with a dynamic int8 one.

    Returns the module (or its replacement when ``module`` itself is a Linear).
    Other layers (embeddings, convolutions, norms) stay in float. The float
    weights of the replaced layers are released, unless something else (a tied
    embedding) still holds them.
    """
    # torch.ao.quantization warns that it will move to torchao; it is still the
    # only dependency-free path to int8 CPU kernels, so keep the log clean.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        # One scale per output row, as CTranslate2 does: PyTorch's default (one
        # scale per matrix) lets a single large weight crush the resolution of
        # every row, which cost Whisper base 12 points of WER on synthetic speech.
        spec = {nn.Linear: per_channel_dynamic_qconfig}
        if isinstance(module, nn.Linear):  # quantize_dynamic only swaps children
            return quantize_dynamic(nn.Sequential(module), spec)[0]
        return quantize_dynamic(module, spec, inplace=True)


def count_int8_linears(module: nn.Module) -> int:
    """How many dynamic int8 linear layers ``module`` holds (for reports and tests)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return sum(isinstance(m, DynamicLinear) for m in module.modules())
