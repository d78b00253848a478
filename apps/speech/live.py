"""Live transcription: microphone chunks in, final and partial text out while a person speaks.

    from apps.speech import Transcriber
    from apps.speech.live import LiveTranscription
    live = LiveTranscription(Transcriber("whisper-tiny.en"))
    for chunk in microphone:                       # any rate, int16 or float, mono or stereo
        final, partial = live.feed(chunk, 48_000)  # partial: the words since the last pause
    final, _ = live.finish()                       # the rest, finalised

The session keeps only the audio since the last finalised point (the *open stretch*)
and a little before it. The open stretch is decoded whole, by the speech model through
the transcriber's handle, each time ``interval`` seconds of new audio have come in: that
text is the partial. It is finalised, and its audio dropped, at the first pause of
``pause_seconds`` (the energy VAD of ``windows.speech_frames``, judged against the
recent audio, so a quiet and a loud microphone are treated alike), or, with no pause,
when it reaches ``max_seconds``: then every segment Whisper finished is kept and the
open stretch restarts at the last one. Memory is bounded by ``max_seconds`` of audio
plus ``CONTEXT_SECONDS``, whatever the session's length.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from core.errors import InvalidInputError
from shared_models.types.speech import SAMPLE_RATE, Segment, TranscriptionRequest

from .api import Task, Transcriber, join_text, language_argument
from .audio import resample, sinc_kernel, to_mono_16k
from .windows import FRAME, PAUSE_FRAMES, has_speech, speech_frames

# Audio kept before the open stretch: the VAD threshold is relative to the recording, and
# a stretch that is all speech (or all silence) has no pause level of its own to compare to.
CONTEXT_SECONDS = 10.0
# The cut after a pause leaves this much of the pause on the finalised side, so Whisper
# hears the end of the last word; the rest starts the next stretch.
TAIL_SECONDS = 0.2
# A stretch whose loudest 10 ms is quieter than this (dBFS) is silence, whatever the VAD's
# relative threshold says: a microphone's noise floor alone is never decoded.
SILENCE_DBFS = -50.0
# A background worker with no audio for this long ends (a page left without stopping).
WORKER_IDLE_SECONDS = 60.0


class LiveText(NamedTuple):
    """What a live session has heard: the finalised text so far and the open partial text."""

    final: str
    partial: str


class LiveTranscription:
    """One live session (one microphone, one person): ``feed`` chunks, then ``finish``.

    ``transcriber`` gives the model (its handle) and the settings (``speech.live_*``
    through its manager); ``interval``, ``pause_seconds``, ``max_seconds`` and
    ``max_session_seconds`` override them. ``language`` is a code such as ``"en"`` or
    ``None``: then it is detected once, from the first finalised text, and kept.
    ``background=True`` decodes in a worker thread, so ``feed`` returns at once (a page's
    stream handler must: Gradio keeps only the newest chunk while a handler runs); the
    worker exits after ``WORKER_IDLE_SECONDS`` without audio and a later ``feed`` starts
    another. Thread-safe: a page may call ``finish`` while a last ``feed`` still runs.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        interval: float | None = None,
        pause_seconds: float | None = None,
        max_seconds: float | None = None,
        max_session_seconds: float | None = None,
        background: bool = False,
    ) -> None:
        if not isinstance(transcriber, Transcriber):
            raise InvalidInputError("LiveTranscription needs the speech app's Transcriber.")
        if task not in ("transcribe", "translate"):
            raise InvalidInputError(f"task must be 'transcribe' or 'translate', got {task!r}.")
        live = transcriber.manager.settings.speech
        self.transcriber = transcriber
        self.task = task
        self.language = language_argument(language)
        self.interval = _positive("interval", interval, live.live_interval)
        self.pause_seconds = _positive("pause_seconds", pause_seconds, live.live_pause_seconds)
        self.max_seconds = _positive("max_seconds", max_seconds, live.live_max_seconds)
        if not 2.0 <= self.max_seconds <= 30.0:
            raise InvalidInputError(
                f"max_seconds must be between 2 and 30 (one Whisper window), got {self.max_seconds:g}."
            )
        self.max_session_seconds = _positive(
            "max_session_seconds", max_session_seconds, live.live_session_seconds
        )
        self.segments: list[Segment] = []  # finalised text, on the session's clock
        self.decodes = 0  # model calls so far (partials and finalisations)
        self._partial = ""
        self._open = np.zeros(0, np.float32)  # audio since the last finalised point
        self._open_start = 0  # its first sample, counted from the session's start
        self._context = np.zeros(0, np.float32)  # up to CONTEXT_SECONDS before it
        self._undecoded = 0  # samples fed since the last partial decode
        self._resampler: _StreamResampler | None = None
        self.background = bool(background)
        self.finished = False
        self._fed = 0  # samples fed (16 kHz), for the session limit
        self._lock = threading.Lock()  # the decoding state (open stretch, text)
        self._feed_lock = threading.Lock()  # the resampler, the inbox's producer side
        self._inbox: list[np.ndarray] = []  # background: audio fed, not yet decoded
        self._inbox_ready = threading.Condition()
        self._worker: threading.Thread | None = None
        self._error: Exception | None = None

    # ------------------------------------------------------------------ public API
    @property
    def seconds(self) -> float:
        """Audio heard so far, in seconds (at 16 kHz, after resampling)."""
        return (self._open_start + self._open.size) / SAMPLE_RATE

    @property
    def open_seconds(self) -> float:
        """Length of the open stretch (audio held since the last finalised point), in seconds."""
        return self._open.size / SAMPLE_RATE

    @property
    def text(self) -> LiveText:
        """The final and partial text now, without feeding anything."""
        return LiveText(join_text([s.text for s in self.segments]), self._partial)

    def feed(self, samples: np.ndarray, rate: int) -> LiveText:
        """Add one microphone chunk; returns (final text so far, partial text).

        ``samples`` is 1-D, or 2-D with channels on the shorter axis; int16 (or other
        integer PCM) or float in [-1, 1]; ``rate`` in Hz, usually the same for every
        chunk (a change is handled as a new stream). Raises ``InvalidInputError`` for a
        bad chunk, a finished session, or one longer than ``max_session_seconds``.
        With ``background=True`` the chunk is only queued, and the text returned is what
        the worker has decoded so far.
        """
        with self._feed_lock:
            if self.finished:
                raise InvalidInputError("This live session is finished; start a new one.")
            self._raise_worker_error()
            if not isinstance(samples, np.ndarray):
                raise InvalidInputError(
                    f"A microphone chunk must be a numpy array, got {type(samples).__name__}."
                )
            if samples.size == 0:  # an empty chunk changes nothing
                return self.text
            # Mix to mono and scale to float (validating dtype, shape, NaN) at the chunk's own
            # rate; resampling happens across chunks below, so chunk edges leave no seams.
            _check_rate(rate)
            mono = to_mono_16k(samples, SAMPLE_RATE)
            audio = []
            if self._resampler is None or self._resampler.rate != rate:
                if self._resampler is not None:
                    audio.append(self._resampler.flush())
                self._resampler = _StreamResampler(int(rate))
            audio.append(self._resampler.push(mono))
            fed = sum(a.size for a in audio)
            if (self._fed + fed) / SAMPLE_RATE > self.max_session_seconds:
                raise InvalidInputError(
                    f"A live session takes at most {self.max_session_seconds:g} s of audio "
                    "(setting speech.live_session_seconds); stop and start a new one."
                )
            self._fed += fed
            if not self.background:
                with self._lock:
                    self._process(np.concatenate(audio))
                return self.text
            with self._inbox_ready:
                self._inbox.extend(audio)
                if self._worker is None:
                    self._worker = threading.Thread(
                        target=self._work, name="speech-live", daemon=True
                    )
                    self._worker.start()
                self._inbox_ready.notify()
            return self.text

    def finish(self) -> LiveText:
        """Finalise whatever is still open and end the session; returns the final text.

        With ``background=True`` this first waits for the worker to decode what was fed.
        """
        with self._feed_lock:
            if self.finished:
                return self.text
            self.finished = True
            worker = self._worker
            with self._inbox_ready:
                self._inbox_ready.notify()
            if worker is not None:
                worker.join()
            with self._lock:
                rest = self._take_inbox()
                if self._resampler is not None:
                    rest = np.concatenate([rest, self._resampler.flush()])
                self._add(rest)
                if self._open.size and self._sound(self._open.size):
                    self._finalise(self._open.size, keep_last_segment=False)
                self._open = np.zeros(0, np.float32)
                self._context = np.zeros(0, np.float32)
                self._partial = ""
            self._raise_worker_error()
            return self.text

    # ------------------------------------------------------------------ the background worker
    def _work(self) -> None:
        """Decode queued audio until the session finishes or no audio comes for a while."""
        while True:
            with self._inbox_ready:
                if not self._inbox and not self.finished:
                    self._inbox_ready.wait(timeout=WORKER_IDLE_SECONDS)
                if not self._inbox:
                    # Finished, or idle: a later feed starts a new worker (it looks at this
                    # under the same lock, so no chunk is left behind by a worker on its way out).
                    self._worker = None
                    return
            with self._lock:
                try:
                    # Everything queued at once: a worker that fell behind decodes one partial.
                    self._process(self._take_inbox())
                except Exception as exc:  # shown at the next feed or finish
                    self._error = exc
                    with self._inbox_ready:
                        self._worker = None
                    return

    def _take_inbox(self) -> np.ndarray:
        with self._inbox_ready:
            audio = np.concatenate(self._inbox) if self._inbox else np.zeros(0, np.float32)
            self._inbox.clear()
        return audio

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _process(self, audio: np.ndarray) -> None:
        self._add(audio)
        if self._undecoded >= self.interval * SAMPLE_RATE and not self.finished:
            self._decode_partial()

    # ------------------------------------------------------------------ the open stretch
    def _add(self, audio: np.ndarray) -> None:
        """Append 16 kHz audio, finalising at pauses and at ``max_seconds`` as it comes."""
        limit = int(self.max_seconds * SAMPLE_RATE)
        while audio.size:
            room = limit - self._open.size
            piece, audio = audio[:room], audio[room:]
            self._open = np.concatenate([self._open, piece])
            self._undecoded += piece.size
            self._finalise_pauses()
            if self._open.size >= limit:
                self._finalise(self._open.size, keep_last_segment=True)

    def _frames(self) -> np.ndarray:
        """Speech/pause per 10 ms frame of the open stretch, judged with its context."""
        # Whole frames only, so the frames line up with the open part's.
        context = self._context[self._context.size % FRAME :]
        frames = speech_frames(np.concatenate([context, self._open]))
        return frames[context.size // FRAME :]

    def _sound(self, end: int) -> bool:
        """Whether the open stretch's first ``end`` samples hold speech worth decoding."""
        audio = self._open[:end]
        n = audio.size // FRAME
        if n == 0:
            return False
        power = np.square(audio[: n * FRAME].reshape(n, FRAME), dtype=np.float64).mean(axis=1)
        if 10 * np.log10(power.max() + 1e-12) < SILENCE_DBFS:
            return False
        return has_speech(self._frames(), 0, end)

    def _finalise_pauses(self) -> None:
        """Finalise at each pause in the open stretch; drop audio that holds no speech."""
        pause = max(1, int(round(self.pause_seconds * SAMPLE_RATE / FRAME)))
        while True:
            if not self._sound(self._open.size):
                # Silence only: nothing to decode; keep a pause-length tail as the next start.
                self._cut(max(0, self._open.size - PAUSE_FRAMES * FRAME))
                self._partial = ""
                return
            frames = self._frames()
            speech_end = _first_pause(frames, pause)
            if speech_end is None:
                return
            tail = min(pause * FRAME, int(TAIL_SECONDS * SAMPLE_RATE))
            self._finalise(speech_end * FRAME + tail, keep_last_segment=False)

    def _finalise(self, end: int, *, keep_last_segment: bool) -> None:
        """Decode the open stretch up to ``end`` as final text and drop its audio.

        With ``keep_last_segment`` (no pause in a full stretch), the last segment Whisper
        produced may be cut mid-word, so it stays open and is heard again with what follows.
        """
        result = self._decode(self._open[:end])
        segments = list(result.segments)
        if result.text and not segments:
            segments = [Segment(0.0, end / SAMPLE_RATE, result.text)]
        cut = end
        if keep_last_segment and len(segments) > 1:
            restart = int(round(segments[-1].start * SAMPLE_RATE))
            if 0 < restart < end:
                segments, cut = segments[:-1], restart
        offset = self._open_start / SAMPLE_RATE
        for s in segments:
            if s.text.strip():
                self.segments.append(Segment(offset + s.start, offset + s.end, s.text.strip()))
        if result.text and result.language and self.language is None:
            self.language = result.language  # one language per session, as heard first
        self._cut(cut)
        self._partial = ""
        self._undecoded = self._open.size

    def _cut(self, end: int) -> None:
        """Move the open stretch's first ``end`` samples into the (bounded) context."""
        if end <= 0:
            return
        keep = int(CONTEXT_SECONDS * SAMPLE_RATE)
        self._context = np.concatenate([self._context, self._open[:end]])[-keep:]
        self._open = self._open[end:].copy()
        self._open_start += end

    def _decode_partial(self) -> None:
        self._undecoded = 0
        if not self._sound(self._open.size):
            self._partial = ""
            return
        self._partial = self._decode(self._open).text.strip()

    def _decode(self, audio: np.ndarray):
        self.decodes += 1
        request = TranscriptionRequest(audio, language=self.language, task=self.task)
        return self.transcriber.handle.call([request])[0]


def _first_pause(frames: np.ndarray, pause: int) -> int | None:
    """The frame where speech stops before the first run of ``pause`` quiet frames, if any.

    Quiet frames before any speech do not count: a stretch that opens with silence has
    nothing to finalise yet.
    """
    speaking = np.flatnonzero(frames)
    if speaking.size == 0:
        return None
    quiet = ~frames
    run = 0
    for i in range(int(speaking[0]), frames.size):
        if quiet[i]:
            run += 1
            if run >= pause:
                return i - run + 1
        else:
            run = 0
    return None


def _check_rate(rate: object) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise InvalidInputError(f"The sample rate must be a positive integer, got {rate!r}.")


def _positive(name: str, value: float | None, default: float) -> float:
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(f"{name} must be a positive number of seconds, got {value!r}.")
    return float(value)


class _StreamResampler:
    """``audio.resample`` over a stream of chunks, equal to resampling the whole at once.

    Each output block of ``new`` samples reads ``orig`` input samples plus ``width`` on
    each side; so a block is emitted once ``width`` samples after it have arrived, and
    only the input a later block still reads is kept.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        g = math.gcd(rate, SAMPLE_RATE)
        self._orig, self._new = rate // g, SAMPLE_RATE // g
        self._width = sinc_kernel(self._orig, self._new)[1] if rate != SAMPLE_RATE else 0
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # input index of _buf[0]
        self._block = 0  # next output block to emit
        self._seen = 0  # input samples received

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Resampled output for every block that ``audio`` completes."""
        if self.rate == SAMPLE_RATE:
            return audio
        self._buf = np.concatenate([self._buf, audio])
        self._seen += audio.size
        ready = (self._seen - self._width) // self._orig  # blocks whose right context is in
        return self._emit(ready, self._seen)

    def flush(self) -> np.ndarray:
        """The rest of the stream, as if it ended here (zeros after it, as ``resample`` pads)."""
        if self.rate == SAMPLE_RATE:
            return np.zeros(0, np.float32)
        total = math.ceil(self._new * self._seen / self._orig)  # resample's output length
        return self._emit(-(-total // self._new), self._seen, total=total)

    def _left(self, block: int) -> int:
        return min(-(-self._width // self._orig) * self._orig, block * self._orig)

    def _emit(self, ready: int, stop: int, total: int | None = None) -> np.ndarray:
        if ready <= self._block:
            return np.zeros(0, np.float32)
        # Left context: whole blocks covering ``width`` (none at the stream's start, where
        # resample's own zero padding is the true context).
        left = self._left(self._block)
        start = self._block * self._orig - left
        piece = self._buf[start - self._buf_start : stop - self._buf_start]
        out = resample(piece, self._orig, self._new)
        first = (left // self._orig) * self._new
        count = (ready - self._block) * self._new
        if total is not None:
            count = total - self._block * self._new
        out = out[first : first + count]
        self._block = ready
        keep_from = self._block * self._orig - self._left(self._block)  # the next call's start
        self._buf = self._buf[keep_from - self._buf_start :]
        self._buf_start = keep_from
        return out
