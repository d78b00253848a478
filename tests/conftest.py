"""Session fixtures: one settings object and one model manager for the whole test run.

Each real model therefore loads once per session. User data goes to a temporary
folder; converted weights are cached in the project's data/cache (or
SPRINGBOARD_CACHE_DIR) so a second run does not convert again.
"""

from __future__ import annotations

import os

# Tests never reach a model hub: set before transformers is imported anywhere.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Language models in float32, here and in the servers tests start: the scheduler, prefix
# cache and seed tests compare replies token for token, which only float32 guarantees
# whatever else shares the batch. The bfloat16 default of CPUs with AMX has its own tests
# (tests/shared_models/test_generation_precision.py).
os.environ.setdefault("SPRINGBOARD_DECODING__PRECISION", "float32")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from core.manager import ModelManager, set_manager  # noqa: E402
from core.settings import PROJECT_ROOT, Settings  # noqa: E402

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = os.environ.get("SPRINGBOARD_CACHE_DIR") or str(PROJECT_ROOT / "data" / "cache")
    return Settings(data_dir=tmp_path_factory.mktemp("springboard-data"), cache_dir=Path(cache))


@pytest.fixture(scope="session")
def manager(settings: Settings):
    """The one model manager of the test session (also installed as the process default)."""
    mgr = ModelManager(settings)
    set_manager(mgr)
    yield mgr
    set_manager(None)
    mgr.close()


@pytest.fixture(scope="session")
def lora_adapter(manager, settings):
    """A real LoRA adapter of the tiny model (8 steps), trained once per session.

    Returns (``LoraTrainingResult``, progress events); the adapter is saved as
    ``tests.support.lora.SESSION_ADAPTER`` in the session's data folder.
    """
    from tests.support.lora import train_session_adapter

    return train_session_adapter(manager, settings)
