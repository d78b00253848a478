"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` on the speech app's Python API.

The route calls the same ``Transcriber`` methods as the speech page (load, then
``transcribe_audio``) and the same subtitle writers, so a file gives the same text
on both. Formats: ``json``, ``text``, ``srt``, ``vtt``, ``verbose_json``.

``timestamp_granularities[]=word`` (with ``verbose_json``) adds ``words: [{word, start,
end}]``, timed by the speech role's cross-attention alignment (as Whisper's
``word_timestamps``); as in OpenAI's API, ``segments`` then come only when ``segment`` is
asked for too (or no granularity at all). What the speech role does not give is said, not
faked: it decodes greedily and takes no prompt, so a temperature above 0 or a prompt is
refused.
"""

from __future__ import annotations

import asyncio
import tempfile
import zlib
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import PlainTextResponse

from apps.speech.api import Transcriber, Transcript
from apps.speech.audio import AUDIO_EXTENSIONS
from apps.speech.subtitles import to_srt, to_vtt
from core import ModelManager
from shared_models.types.speech import LANGUAGES, ROLE

from ..errors import ApiError
from ..usage import UsageMeter
from .models import resolve_model

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")


def add_audio_routes(router: APIRouter, manager: ModelManager, usage: UsageMeter) -> None:
    transcribers: dict[str, Transcriber] = {}

    def transcriber(model: str) -> Transcriber:
        spec = resolve_model(manager, model, ROLE)
        if spec.name not in transcribers:
            transcribers[spec.name] = Transcriber(spec.name, manager=manager)
        return transcribers[spec.name]

    async def run(task: str, request: Request, file: UploadFile, model: str, language: str | None,
                  prompt: str | None, response_format: str, temperature: float,
                  granularities: list[str] | None):  # fmt: skip
        if response_format not in FORMATS:
            raise ApiError(400, f"response_format must be one of {', '.join(FORMATS)}.",
                           param="response_format")  # fmt: skip
        granularities = granularities or []
        if bad := [g for g in granularities if g not in GRANULARITIES]:
            raise ApiError(400, f"Unknown timestamp granularity {bad[0]!r}; use segment or word.",
                           param="timestamp_granularities")  # fmt: skip
        if granularities and response_format != "verbose_json":
            raise ApiError(400, "timestamp_granularities needs response_format=verbose_json.",
                           param="timestamp_granularities")  # fmt: skip
        if prompt:
            raise ApiError(400, "This server's speech models take no prompt; leave it out.",
                           param="prompt")  # fmt: skip
        if temperature != 0:
            raise ApiError(400, "This server decodes speech greedily; temperature must be 0 or "
                           "left out.", param="temperature")  # fmt: skip
        tr = transcriber(model)
        if task == "translate" and tr.english_only:
            raise ApiError(400, f"{tr.model} is English-only and cannot translate; use "
                           "whisper-base.", param="model")  # fmt: skip
        words = "word" in granularities
        transcript = await asyncio.to_thread(_transcribe, tr, file, language, task, words)
        usage.add(getattr(request.state, "api_key", "anonymous"), audio_seconds=transcript.duration)
        return _render(transcript, response_format, task, granularities)

    @router.post("/audio/transcriptions", response_model=None)
    async def transcriptions(
        request: Request,
        file: Annotated[UploadFile, File()],
        model: Annotated[str, Form()],
        language: Annotated[str | None, Form()] = None,
        prompt: Annotated[str | None, Form()] = None,
        response_format: Annotated[str, Form()] = "json",
        temperature: Annotated[float, Form()] = 0.0,
        timestamp_granularities: Annotated[
            list[str] | None, Form(alias="timestamp_granularities[]")
        ] = None,
    ):
        """Speech to text in the spoken language (or ``language``)."""
        return await run("transcribe", request, file, model, language, prompt, response_format,
                         temperature, timestamp_granularities)  # fmt: skip

    @router.post("/audio/translations", response_model=None)
    async def translations(
        request: Request,
        file: Annotated[UploadFile, File()],
        model: Annotated[str, Form()],
        prompt: Annotated[str | None, Form()] = None,
        response_format: Annotated[str, Form()] = "json",
        temperature: Annotated[float, Form()] = 0.0,
    ):
        """Speech in any language to English text."""
        return await run("translate", request, file, model, None, prompt, response_format,
                         temperature, None)  # fmt: skip


def _transcribe(
    tr: Transcriber, file: UploadFile, language: str | None, task: str, words: bool = False
) -> Transcript:
    """Save the upload under its own extension and run the page's own transcription path."""
    name = Path(file.filename or "audio.wav").name
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        suffix = ".wav"  # libsndfile reads the format from the content; the name only labels it
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        file.file.seek(0)
        while chunk := file.file.read(1 << 20):
            tmp.write(chunk)
        tmp.flush()
        audio = tr.load(tmp.name, name=name)
    return tr.transcribe_audio([audio], language=language, task=task, word_timestamps=words)[0]


def _render(t: Transcript, response_format: str, task: str, granularities: list[str] | None = None):
    usage = {"type": "duration", "seconds": t.duration}
    if response_format == "json":
        return {"text": t.text, "usage": usage}
    if response_format == "text":
        return PlainTextResponse(t.text + "\n" if t.text else "")
    if response_format == "srt":
        return PlainTextResponse(to_srt(t.segments))
    if response_format == "vtt":
        return PlainTextResponse(to_vtt(t.segments), media_type="text/vtt")
    segments = [
        {
            "id": i,
            "seek": int(round(s.start * 100)),  # Whisper counts seek in 10 ms frames
            "start": round(s.start, 3),
            "end": round(s.end, 3),
            "text": s.text,
            # Not kept per merged segment by the speech role: the token ids, their mean
            # log-probability and the no-speech probability (see the module docstring).
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": 0.0,
            "compression_ratio": _compression_ratio(s.text),
            "no_speech_prob": 0.0,
        }
        for i, s in enumerate(t.segments)
    ]
    language = LANGUAGES.get(t.language or "", t.language or "")
    body = {"task": task, "language": language, "duration": t.duration, "text": t.text}
    granularities = granularities or []
    if not granularities or "segment" in granularities:
        body["segments"] = segments
    if "word" in granularities:
        body["words"] = [
            {"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
            for s in t.segments
            for w in s.words
        ]
    body["usage"] = usage
    return body


def _compression_ratio(text: str) -> float:
    """Whisper's repetition signal: text bytes over their zlib-compressed size."""
    raw = text.encode("utf-8")
    return round(len(raw) / len(zlib.compress(raw)), 3) if raw else 0.0
