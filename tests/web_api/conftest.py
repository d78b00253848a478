"""One real suite server for the API tests, with two named keys; the openai client against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import OpenAI

from tests.support.server import start_server

KEYS = {"alice": "sk-alice-7f3a9c2e51", "bob": "sk-bob-0d4b8e6f92"}
MAX_UPLOAD_MB = 1  # small, so the 413 test sends little
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    env = {
        "SPRINGBOARD_API_KEYS": ",".join(f"{n}:{k}" for n, k in KEYS.items()),
        "SPRINGBOARD_LIMITS__MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
    }
    srv = start_server(tmp_path_factory.mktemp("api-server"), "--apps", "speech", env=env)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(api_server) -> OpenAI:
    # No retries: a 429 or 5xx must reach the test as it is.
    return OpenAI(base_url=api_server.base + "/v1", api_key=KEYS["alice"], max_retries=0)


@pytest.fixture(scope="session")
def bob(api_server) -> OpenAI:
    return OpenAI(base_url=api_server.base + "/v1", api_key=KEYS["bob"], max_retries=0)


@pytest.fixture(scope="session")
def clip() -> tuple[Path, str]:
    """A real read-speech clip (Debian's pocketsphinx-testdata) and its reference text."""
    from tests.support.debian import require_debian_package

    listing = LIBRIVOX / "transcription"
    require_debian_package("pocketsphinx-testdata", listing.is_file(), "LibriVox read speech")
    line = listing.read_text().splitlines()[1]
    text, _, clip_id = line.rpartition("(")
    words = text.replace("<s>", "").replace("</s>", "").strip()
    return LIBRIVOX / f"{clip_id.strip(' )')}.wav", words
