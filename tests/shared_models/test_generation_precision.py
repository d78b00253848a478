"""Which precision language models run in (``settings.decoding.precision``), and bfloat16 for real.

The rest of the suite pins float32 (``tests/conftest.py``) because it compares replies
token for token; this module loads the tiny model again in bfloat16, in its own manager.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.device import DevicePolicy
from core.manager import ModelManager
from core.registry import LoadContext
from core.settings import Settings
from shared_models import text_generation as tg
from shared_models.quantization import native_bf16
from shared_models.types.generation import ModelInfoRequest


def context(precision: str, device: str = "cpu", dtype: torch.dtype = torch.float32) -> LoadContext:
    settings = Settings(decoding={"precision": precision})
    return LoadContext(settings, DevicePolicy(torch.device(device), dtype, 2), Path("."))


def test_float32_and_bfloat16_are_taken_as_asked():
    assert tg.generation_dtype(context("float32")) == torch.float32
    assert tg.generation_dtype(context("bfloat16")) == torch.bfloat16
    # A GPU policy's half precision is kept unless float32 is asked for.
    assert tg.generation_dtype(context("auto", "cuda", torch.float16)) == torch.float16
    assert tg.generation_dtype(context("float32", "cuda", torch.bfloat16)) == torch.float32


def test_auto_on_cpu_is_bfloat16_only_with_bfloat16_in_hardware(monkeypatch):
    expected = torch.bfloat16 if native_bf16("cpu") else torch.float32
    assert tg.generation_dtype(context("auto")) == expected
    monkeypatch.setattr(tg, "native_bf16", lambda device: False)
    assert tg.generation_dtype(context("auto")) == torch.float32
    monkeypatch.setattr(tg, "native_bf16", lambda device: True)
    assert tg.generation_dtype(context("auto")) == torch.bfloat16


def test_the_default_setting_is_auto():
    assert Settings.model_fields["decoding"].default_factory().precision == "auto"


@pytest.fixture(scope="module")
def bf16_manager(settings):
    """A second manager whose language models run in bfloat16 (the tiny model only); it shares
    the session's data folder, so it serves the session's LoRA adapter too."""
    own = settings.model_copy(
        update={"decoding": settings.decoding.model_copy(update={"precision": "bfloat16"})}
    )
    manager = ModelManager(own)
    yield manager
    manager.close()


def test_the_tiny_model_runs_and_streams_in_bfloat16(bf16_manager, manager):
    handle = bf16_manager.handle(tg.TINY)
    info = handle.call([ModelInfoRequest()])[0]
    with bf16_manager.use(tg.TINY) as runner:
        assert next(runner.model.parameters()).dtype == torch.bfloat16
        kv_bf16 = runner.kv_bytes_per_token
    manager.handle(tg.TINY).call([ModelInfoRequest()])
    with manager.use(tg.TINY) as runner:  # the session's float32 copy
        assert next(runner.model.parameters()).dtype == torch.float32
        assert kv_bf16 * 2 == runner.kv_bytes_per_token  # half the KV cache per token
    assert info is not None
    rows = {row["model"]: row for row in bf16_manager.report()["models"]}
    assert rows[tg.TINY]["precision"] == "bfloat16"  # the status page's models table says so

    request = tg.GenerationRequest(
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        temperature=0.0,
        max_new_tokens=24,
    )
    events = list(handle.stream(request))
    final = events[-1]
    pieces = [e.text for e in events[:-1] if isinstance(e, tg.TextPiece)]
    assert "Paris" in final.text
    assert "".join(pieces) == final.text
    # Several rows at once in bfloat16: each still answers its own question.
    replies = handle.call(
        [
            tg.GenerationRequest(messages=[{"role": "user", "content": q}], temperature=0.0, max_new_tokens=24)
            for q in ("What is the capital of France?", "What colour is the sky on a clear day?")
        ]
    )
    assert "Paris" in replies[0].text
    assert "blue" in replies[1].text.lower()


def test_an_adapter_trained_in_float32_serves_on_a_bfloat16_base(bf16_manager, lora_adapter):
    """Training runs in float32 on CPU; its adapter must load onto the bfloat16 base and change
    the reply there, in a batch mixed with plain rows."""
    from tests.support.lora import SESSION_ADAPTER, example_chats

    prompt = example_chats("heldout.jsonl", 1)[0][:-1]
    requests = [
        tg.GenerationRequest(messages=prompt, temperature=0.0, max_new_tokens=30, adapter=adapter)
        for adapter in (SESSION_ADAPTER, None)
    ]
    with_adapter, base = bf16_manager.handle(tg.TINY).call(requests)
    assert with_adapter.text.strip() and with_adapter.text != base.text
