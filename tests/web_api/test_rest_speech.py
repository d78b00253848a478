"""The speech REST route on real Whisper (tiny.en) with Debian's LibriVox read speech."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.ui_kit import transcriber
from shared_models.types.speech import FAST_MODEL
from tests.support.debian import require_debian_package

from .rest_app import assert_error, make_client

SPEECH = "/api/v1/speech/transcriptions"
CLIP = Path(
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
)
SAID = "he was not an ill disposed young man"


@pytest.fixture(scope="module")
def client(manager):
    require_debian_package("pocketsphinx-testdata", CLIP.is_file(), "LibriVox read speech")
    with make_client() as c:
        yield c


def _post(client, response_format: str, **fields):
    data = {"model": FAST_MODEL, "response_format": response_format, **fields}
    return client.post(
        SPEECH, files={"file": (CLIP.name, CLIP.read_bytes(), "audio/wav")}, data=data
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_every_response_format(client):
    r = _post(client, "json")
    assert r.status_code == 200, r.text
    text = r.json()["text"]
    assert len(_words(text) & _words(SAID)) >= 5, text
    # The page's function on the page's transcriber gives the same transcript.
    assert text == transcriber(FAST_MODEL).transcribe(CLIP).text

    verbose = _post(client, "verbose_json").json()
    assert (
        verbose["text"] == text and verbose["language"] == "en" and verbose["task"] == "transcribe"
    )
    assert verbose["model"] == FAST_MODEL and 2 < verbose["duration"] < 10
    segments = verbose["segments"]
    assert segments and [s["id"] for s in segments] == list(range(len(segments)))
    assert all(0 <= s["start"] < s["end"] <= verbose["duration"] + 0.5 for s in segments)

    plain = _post(client, "text")
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text.strip() == text

    srt = _post(client, "srt")
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert srt.text.startswith("1\n") and re.search(
        r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", srt.text
    )

    vtt = _post(client, "vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT") and re.search(r"\d\d:\d\d\.\d{3} --> ", vtt.text)


@pytest.mark.parametrize(
    ("file", "fields"),
    [
        (("noise.wav", b"RIFF....WAVEfmt this is not audio", "audio/wav"), {}),
        (("empty.wav", b"", "audio/wav"), {}),
        (("notes.txt", b"hello", "text/plain"), {}),
        (
            (CLIP.name, CLIP.read_bytes() if CLIP.is_file() else b"", "audio/wav"),
            {"response_format": "docx"},
        ),
        (
            (CLIP.name, CLIP.read_bytes() if CLIP.is_file() else b"", "audio/wav"),
            {"task": "summarise"},
        ),
    ],
)
def test_bad_audio_and_fields_are_400(client, file, fields):
    r = client.post(SPEECH, files={"file": file}, data={"model": FAST_MODEL, **fields})
    assert_error(r, 400)


def test_missing_file_is_400_and_unknown_model_404(client):
    assert_error(client.post(SPEECH, data={"model": FAST_MODEL}), 400)
    r = client.post(
        SPEECH, files={"file": (CLIP.name, CLIP.read_bytes())}, data={"model": "whisper-huge-v9"}
    )
    assert_error(r, 404)


def test_huge_audio_is_413(client, manager, monkeypatch):
    monkeypatch.setattr(manager.settings.limits, "max_upload_mb", 1)
    huge = CLIP.read_bytes() + bytes(1024 * 1024)
    assert_error(
        client.post(SPEECH, files={"file": ("long.wav", huge)}, data={"model": FAST_MODEL}), 413
    )
