"""Speech over REST: transcribe an uploaded recording, as JSON, text or subtitles.

The route does what the Speech page does with one file: ``Transcriber.load`` then
``Transcriber.transcribe_audio`` on the page's transcriber for the chosen model
(``apps.ui_kit.transcriber``), then the app's own SRT / WebVTT writers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from apps.speech import Transcriber
from apps.speech.api import Transcript
from apps.ui_kit import transcriber

from .common import LimitedBodyRoute, error_responses, read_upload

router = APIRouter(prefix="/speech", tags=["speech"], route_class=LimitedBodyRoute)

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
# The subtitle formats' media types (RFC-less but what players and browsers expect).
MEDIA_TYPES = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


class TranscriptOut(BaseModel):
    """`response_format=json`."""

    text: str = Field(examples=["Hello, how can I help?"])


class SegmentOut(BaseModel):
    id: int
    start: float = Field(description="Seconds from the start of the recording.")
    end: float
    text: str


class VerboseTranscriptOut(BaseModel):
    """`response_format=verbose_json`: the transcript with its timed segments."""

    task: Literal["transcribe", "translate"]
    language: str | None = Field(
        description="Requested or detected language code; null if nothing was heard."
    )
    duration: float = Field(description="Length of the recording in seconds.")
    text: str
    model: str
    segments: list[SegmentOut]


def _render(t: Transcript, response_format: ResponseFormat):
    if response_format == "json":
        return TranscriptOut(text=t.text)
    if response_format == "verbose_json":
        return VerboseTranscriptOut(
            task=t.task,
            language=t.language,
            duration=t.duration,
            text=t.text,
            model=t.model,
            segments=[
                SegmentOut(id=i, start=s.start, end=s.end, text=s.text)
                for i, s in enumerate(t.segments)
            ],
        )
    text = {
        "text": t.text + ("\n" if t.text else ""),
        "srt": Transcriber.to_srt(t),
        "vtt": Transcriber.to_vtt(t),
    }[response_format]
    return PlainTextResponse(text, media_type=MEDIA_TYPES[response_format])


@router.post(
    "/transcriptions",
    summary="Transcribe a recording",
    response_model=TranscriptOut | VerboseTranscriptOut,
    responses={
        **error_responses(400, 404, 413),
        200: {
            "description": "JSON for `json` / `verbose_json`; plain text, SRT or WebVTT otherwise.",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
            },
        },
    },
)
def transcribe(
    file: Annotated[
        UploadFile, File(description="wav, flac, ogg or mp3; any sample rate, mono or stereo.")
    ],
    model: Annotated[
        str | None,
        Form(
            description="`whisper-base`, `whisper-tiny.en`; default: the configured speech model."
        ),
    ] = None,
    language: Annotated[
        str | None, Form(description="Language code (`en`, `zh`, ...); detected if left out.")
    ] = None,
    task: Annotated[
        Literal["transcribe", "translate"], Form(description="`translate` gives English text.")
    ] = "transcribe",
    response_format: Annotated[ResponseFormat, Form()] = "json",
):
    """Transcript of one recording, as plain text, JSON with timed segments, or subtitles.
    Recordings are limited to `limits.max_audio_seconds` and `limits.max_upload_mb`."""
    data = read_upload(file, "audio file")
    tr = transcriber(model)
    name = Path(file.filename or "audio.wav").name
    with tempfile.TemporaryDirectory(prefix="springboard-speech-") as folder:
        # The decoder reads files (libsndfile finds the format from the content); keep the
        # upload's extension, which the app checks.
        path = Path(folder) / f"upload{Path(name).suffix.lower()[:8]}"
        path.write_bytes(data)
        audio = tr.load(path, name=name)
    transcript = tr.transcribe_audio([audio], language=language, task=task)[0]
    return _render(transcript, response_format)
