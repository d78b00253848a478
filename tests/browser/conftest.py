"""Browser tests: one real server and one headless Chromium for the whole session.

The server is ``python -m apps`` with all five apps, started the way a user starts it
(``tests/support/server.py``), with the small generation and speech models so the
suite stays quick on a CPU; the default models are tested end to end elsewhere.
Chromium and chromedriver come from Debian (``.ci/run`` installs them); without them
these tests fail, never skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, start_server

from .browser import CHROMEDRIVER, CHROMIUM, Browser, launch_chromium

# Small models for the pages' examples (names from ``python -m apps --list-models``).
SERVER_ENV = {
    "SPRINGBOARD_MODELS__GENERATION": "smollm2-135m",
    "SPRINGBOARD_MODELS__SPEECH": "whisper-tiny.en",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Real models behind a real browser: slow, but still part of `make test`.
    for item in items:
        if "tests/browser/" in item.nodeid.replace(os.sep, "/"):
            item.add_marker(pytest.mark.slow)


def _require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        pytest.fail(
            f"The browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} "
            "not found). `.ci/run` installs them, or: sudo apt-get install chromium chromium-driver",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with every app, for all the browser tests."""
    proc = start_server(tmp_path_factory.mktemp("browser-server"), env=SERVER_ENV)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser(
    server: ServerProcess, screenshots: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    _require_chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    driver = launch_chromium(profile)
    try:
        yield Browser(driver, server, screenshots)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
