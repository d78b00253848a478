"""LoRA training role and adapter serving: a real short training run on SmolLM2-135M.

One adapter is trained for the module (a few steps on the worked example's data)
and then served by the session's generation model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.errors import InvalidInputError
from shared_models.types.generation import (
    TINY_MODEL,
    GenerationRequest,
    GenerationResult,
    PerplexityRequest,
    TextPiece,
)
from shared_models.types.generation_training import (
    ADAPTER_CONFIG,
    ADAPTER_MANIFEST,
    ADAPTER_WEIGHTS,
    TRAINER_MODEL,
    LoraProgress,
    LoraSettings,
    LoraTrainingRequest,
    LoraTrainingResult,
    adapters_root,
)
from tests.support.lora import FAST, SESSION_ADAPTER, example_chats

EXAMPLE = Path(__file__).resolve().parents[2] / "apps" / "textgen" / "examples" / "fine_tuning"
ADAPTER = SESSION_ADAPTER
_chats = example_chats


@pytest.fixture(scope="module")
def trained(lora_adapter) -> tuple[LoraTrainingResult, list[LoraProgress]]:
    """Eight real training steps, streamed (the session's adapter, trained once)."""
    return lora_adapter


def _prompt(i: int = 0) -> list[dict[str, str]]:
    return _chats("heldout.jsonl", 10)[i][:-1]


def test_training_writes_a_peft_adapter_with_a_manifest(trained, settings) -> None:
    result, events = trained
    folder = Path(result.folder)
    assert folder == adapters_root(settings.data_dir) / ADAPTER
    assert {ADAPTER_WEIGHTS, ADAPTER_CONFIG, ADAPTER_MANIFEST} <= {p.name for p in folder.iterdir()}
    manifest = json.loads((folder / ADAPTER_MANIFEST).read_text())
    assert manifest["base_model"] == TINY_MODEL
    assert manifest["base_sha256"] == result.base_sha256 and len(result.base_sha256) == 64
    assert manifest["data"]["train_examples"] == 32
    assert manifest["settings"]["rank"] == FAST.rank
    assert result.steps == 8 and result.epochs == 1.0
    # It learned: the held-out replies became more predictable.
    assert result.heldout_perplexity_after < result.heldout_perplexity_before
    # Progress: one event per step, then the epoch's held-out loss.
    steps = [e.step for e in events if e.loss is not None and e.heldout_loss is None]
    assert steps == list(range(1, 9))
    assert events[0].heldout_loss is not None and events[-1].heldout_loss is not None
    assert all(0.0 <= e.fraction <= 1.0 for e in events)


def test_adapter_changes_greedy_output_and_base_is_unchanged(trained, manager) -> None:
    handle = manager.handle(TINY_MODEL)
    base = GenerationRequest(messages=_prompt(), temperature=0, max_new_tokens=40)
    before = handle.call([base])[0].text
    tuned = handle.call([GenerationRequest(messages=_prompt(), temperature=0, max_new_tokens=40,
                                           adapter=ADAPTER)])[0].text  # fmt: skip
    after = handle.call([GenerationRequest(messages=_prompt(), temperature=0, max_new_tokens=40)])[0].text
    assert tuned != before
    assert after == before  # loading an adapter leaves base requests as they were
    assert tuned.lstrip().startswith("{")


def test_mixed_adapter_batch_matches_separate_calls(trained, manager) -> None:
    handle = manager.handle(TINY_MODEL)
    requests = [
        GenerationRequest(messages=_prompt(i), temperature=0, max_new_tokens=30, adapter=a)
        for i, a in ((0, None), (1, ADAPTER), (2, None), (3, ADAPTER))
    ]
    together = [r.text for r in handle.call(requests)]
    alone = [handle.call([r])[0].text for r in requests]
    assert together == alone
    assert together[0] != together[1]


def test_streaming_stop_and_seed_work_with_an_adapter(trained, manager) -> None:
    handle = manager.handle(TINY_MODEL)
    request = GenerationRequest(messages=_prompt(), temperature=0, max_new_tokens=40, adapter=ADAPTER,
                                stop=('"brand"',))  # fmt: skip
    with handle.stream(request) as stream:
        events = list(stream)
    result = events[-1]
    assert isinstance(result, GenerationResult) and result.finish_reason == "stop"
    assert "".join(e.text for e in events if isinstance(e, TextPiece)) == result.text
    assert '"brand"' not in result.text
    seeded = [GenerationRequest(messages=_prompt(), temperature=1.0, seed=7, max_new_tokens=20,
                                adapter=ADAPTER) for _ in range(2)]  # fmt: skip
    first, second = handle.call(seeded[:1])[0], handle.call(seeded[1:])[0]
    assert first.text == second.text


def test_perplexity_under_the_adapter(trained, manager) -> None:
    reply = _chats("heldout.jsonl", 10)[5][-1]["content"]
    base, tuned = manager.handle(TINY_MODEL).call(
        [PerplexityRequest(reply), PerplexityRequest(reply, adapter=ADAPTER)]
    )
    assert tuned < base


def test_adapter_memory_is_counted_by_the_core(trained, manager) -> None:
    handle = manager.handle(TINY_MODEL)
    handle.call([GenerationRequest(prompt="Hi", max_new_tokens=1, adapter=ADAPTER)])
    row = next(m for m in manager.report()["models"] if m["model"] == TINY_MODEL)
    base_mb = sum(p.numel() * p.element_size() for n, p in
                  _runner_params(manager) if "lora_" not in n) / 2**20  # fmt: skip
    assert row["memory_mb"] > round(base_mb, 1)


def _runner_params(manager):
    with manager.use(TINY_MODEL) as runner:
        return list(runner.model.named_parameters())


def test_unknown_and_malformed_adapter_names_fail_their_request_only(trained, manager) -> None:
    handle = manager.handle(TINY_MODEL)
    good = GenerationRequest(prompt="Hello", max_new_tokens=3, temperature=0)
    with pytest.raises(InvalidInputError, match="No adapter named 'missing'"):
        handle.call([GenerationRequest(prompt="Hello", adapter="missing")])
    with pytest.raises(InvalidInputError, match="lower-case"):
        handle.call([GenerationRequest(prompt="Hello", adapter="../etc")])
    assert handle.call([good])[0].new_tokens == 3


def test_an_adapter_for_another_base_is_refused(trained, manager, settings) -> None:
    source = Path(trained[0].folder)
    other = adapters_root(settings.data_dir) / "other-base"
    shutil.copytree(source, other)
    manifest = json.loads((other / ADAPTER_MANIFEST).read_text())
    manifest.update(base_model="qwen2.5-coder-0.5b", base_sha256="0" * 64)
    (other / ADAPTER_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InvalidInputError, match="trained on 'qwen2.5-coder-0.5b'"):
        manager.handle(TINY_MODEL).call([GenerationRequest(prompt="Hi", adapter="other-base")])


def test_a_retrained_adapter_is_reloaded(trained, manager, settings) -> None:
    """Same name, new weights on disk: the next request uses the new ones."""
    handle = manager.handle(TINY_MODEL)
    request = GenerationRequest(messages=_prompt(), temperature=0, max_new_tokens=20, adapter="swap")
    target = adapters_root(settings.data_dir) / "swap"
    shutil.copytree(trained[0].folder, target)
    tuned = handle.call([request])[0].text
    from safetensors.torch import load_file, save_file

    weights = load_file(str(target / ADAPTER_WEIGHTS))
    save_file({k: v * 0 for k, v in weights.items()}, str(target / ADAPTER_WEIGHTS))
    zeroed = handle.call([request])[0].text
    base = handle.call([GenerationRequest(messages=_prompt(), temperature=0, max_new_tokens=20)])[0].text
    assert zeroed != tuned and zeroed == base


def test_cancel_stops_training_and_writes_nothing(manager, settings) -> None:
    folder = adapters_root(settings.data_dir) / "cancelled"
    request = LoraTrainingRequest(_chats("train.jsonl", 120), [], TINY_MODEL, str(folder),
                                  settings=LoraSettings(epochs=5, batch_size=2, max_tokens=160))  # fmt: skip
    with manager.handle(TRAINER_MODEL).stream(request) as stream:
        for event in stream:
            if isinstance(event, LoraProgress) and event.step >= 1:
                stream.cancel()
            if isinstance(event, LoraTrainingResult):
                result = event
    assert result.cancelled and result.folder == ""
    assert result.steps < 5 and not folder.exists()


def test_bad_training_requests_are_refused(manager, settings, tmp_path) -> None:
    trainer = manager.handle(TRAINER_MODEL)
    chats = _chats("train.jsonl", 4)
    cases = [
        (LoraTrainingRequest([], [], TINY_MODEL, str(tmp_path / "a")), "no training examples"),
        (LoraTrainingRequest(chats, [], "whisper-base", str(tmp_path / "b")), "Adapters can be trained on"),
        (LoraTrainingRequest(chats, [], TINY_MODEL, str(tmp_path), ), "already exists"),
        (LoraTrainingRequest(chats, [], TINY_MODEL, str(tmp_path / "c"), settings=LoraSettings(rank=0)),
         "rank"),
        (LoraTrainingRequest(chats, [], TINY_MODEL, str(tmp_path / "d"),
                             settings=LoraSettings(target_modules=("no_such_layer",))), "could not be applied"),
        (LoraTrainingRequest([[{"role": "user", "content": "no reply"}]], [], TINY_MODEL, str(tmp_path / "e")),
         "end with the assistant"),
    ]  # fmt: skip
    for request, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            trainer.call([request])


def test_activation_checkpointing_trains_the_same_way(manager, settings) -> None:
    folder = adapters_root(settings.data_dir) / "checkpointed"
    request = LoraTrainingRequest(_chats("train.jsonl", 8), _chats("heldout.jsonl", 2), TINY_MODEL, str(folder),
                                  settings=LoraSettings(epochs=1, batch_size=4, learning_rate=5e-3,
                                                        max_tokens=160, gradient_checkpointing=True))  # fmt: skip
    result = manager.handle(TRAINER_MODEL).call([request])[0]
    assert result.steps == 2 and (folder / ADAPTER_WEIGHTS).is_file()
    assert result.heldout_perplexity_after < result.heldout_perplexity_before


def test_a_training_job_counts_in_the_memory_budget_while_it_runs(settings, tmp_path) -> None:
    """The job's base copy and optimizer are counted (and evict idle models), then released."""
    from core.manager import ModelManager

    fresh = ModelManager(settings)  # its own budget, so the session's models stay loaded
    try:
        fresh.load(TINY_MODEL)
        model_mb = fresh.used_bytes() / 2**20
        # Room for the generation model, not for it and a training copy of it beside it.
        fresh.budget_bytes = int(fresh.used_bytes() * 1.5)
        request = LoraTrainingRequest(_chats("train.jsonl", 8), [], TINY_MODEL, str(tmp_path / "m"),
                                      settings=FAST)  # fmt: skip
        during = []
        with fresh.handle(TRAINER_MODEL).stream(request) as stream:
            for event in stream:
                if isinstance(event, LoraProgress):
                    report = fresh.report()
                    row = next(m for m in report["models"] if m["model"] == TRAINER_MODEL)
                    during.append((row["memory_mb"], row["in_use"], report["used_mb"],
                                   fresh.is_loaded(TINY_MODEL)))  # fmt: skip
        assert during
        job_mb, in_use, used_mb, generation_loaded = during[0]
        assert job_mb > model_mb and in_use == 1  # a full copy of the base, plus LoRA and Adam
        assert used_mb >= job_mb  # in the budget's total, as /api/status shows it
        assert not generation_loaded  # the idle generation model made room for the job
        assert any(e["event"] == "evicted" and e["model"] == TINY_MODEL
                   and TRAINER_MODEL in e["detail"] for e in fresh.events())  # fmt: skip
        after = next(m for m in fresh.report()["models"] if m["model"] == TRAINER_MODEL)
        assert after["memory_mb"] == 0 and fresh.used_bytes() == 0  # released with the job
    finally:
        fresh.close()
