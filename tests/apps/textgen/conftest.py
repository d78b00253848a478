"""Session fixtures for the text generation app: the tiny model behind a TextGenerator."""

from __future__ import annotations

import pytest

from apps.textgen import TextGenerator
from core.storage import Database
from shared_models.text_generation import TINY


@pytest.fixture(scope="session")
def textgen_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return Database(tmp_path_factory.mktemp("textgen") / "springboard.db")


@pytest.fixture(scope="session")
def gen(manager, textgen_db) -> TextGenerator:
    """SmolLM2-135M through the shared core: real weights, fast enough for tests."""
    return TextGenerator(TINY, manager=manager, db=textgen_db)
