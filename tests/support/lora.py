"""One real LoRA adapter on the tiny model, trained once per test session and shared.

Eight real steps on the worked example's product listings (``apps/textgen/examples/
fine_tuning``): enough for the adapter to change greedy output. The session fixture
``lora_adapter`` (tests/conftest.py) trains it with the session's manager; tests that
need it elsewhere (a server's data folder) copy its folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.manager import ModelManager
from core.settings import Settings
from shared_models.types.generation import TINY_MODEL
from shared_models.types.generation_training import (
    TRAINER_MODEL,
    LoraProgress,
    LoraSettings,
    LoraTrainingRequest,
    LoraTrainingResult,
    adapters_root,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "apps" / "textgen" / "examples" / "fine_tuning"
SESSION_ADAPTER = "role-test-json"
FAST = LoraSettings(epochs=1, batch_size=4, learning_rate=5e-3, max_tokens=160, seed=3)


def example_chats(name: str, n: int) -> list[list[dict[str, str]]]:
    """The first ``n`` chats of one of the worked example's JSONL files."""
    rows = (EXAMPLE / name).read_text().splitlines()[:n]
    return [json.loads(r)["messages"] for r in rows]


def train_session_adapter(
    manager: ModelManager, settings: Settings
) -> tuple[LoraTrainingResult, list[LoraProgress]]:
    """Train ``SESSION_ADAPTER`` on the tiny model, streamed: (result, progress events)."""
    folder = adapters_root(settings.data_dir) / SESSION_ADAPTER
    request = LoraTrainingRequest(example_chats("train.jsonl", 32), example_chats("heldout.jsonl", 6),
                                  TINY_MODEL, str(folder), settings=FAST)  # fmt: skip
    events = []
    with manager.handle(TRAINER_MODEL).stream(request) as stream:
        for event in stream:
            events.append(event)
    result = events.pop()
    assert isinstance(result, LoraTrainingResult)
    return result, events
