"""Fixtures for the customer service tests: one demo bot per session on the real encoder."""

from __future__ import annotations

import pytest

from apps.customer_service import CustomerServiceBot


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cs-demo")


@pytest.fixture(scope="session")
def bot(manager, demo_dir) -> CustomerServiceBot:
    """The demo knowledge base (31 entries) on the real MiniLM encoder, LLM off."""
    return CustomerServiceBot.demo(data_dir=demo_dir, manager=manager)


@pytest.fixture
def fresh_bot(manager, tmp_path) -> CustomerServiceBot:
    """An empty bot in its own data folder."""
    return CustomerServiceBot(data_dir=tmp_path / "cs", manager=manager)
