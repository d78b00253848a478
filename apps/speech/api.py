"""The speech app's Python API: files or arrays in, transcripts with timestamps out.

    from apps.speech import Transcriber
    tr = Transcriber()                                   # the configured speech model
    t = tr.transcribe("call.wav", language=None)         # or (samples, sample_rate)
    t.text, t.language, t.segments                       # segments: .start .end .text
    tr.transcribe("call.wav", word_timestamps=True)      # segments' .words: .word .start .end
    tr.transcribe_batch(["a.mp3", "b.flac"])
    Transcriber.to_srt(t); Transcriber.to_vtt(t); Transcriber.to_vtt(t, words=True)

Recordings of any length up to ``limits.max_audio_seconds`` are cut into
windows the model can take (see ``windows``); the windows of every file in a
call are decoded together, in batches, through the shared model core.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from core import ModelManager, get_manager
from core.errors import InvalidInputError
from core.retention import delete_old_files
from shared_models.types.speech import (
    DEFAULT_MODEL,
    FAST_MODEL,
    SAMPLE_RATE,
    Segment,
    TranscriptionRequest,
    TranscriptionResult,
)

from . import subtitles
from .audio import Audio, load_audio
from .windows import (
    WINDOW_SECONDS,
    Window,
    has_speech,
    merge_windows,
    plan_spans,
    plan_windows,
    resume_point,
    speech_frames,
)

AudioInput = str | os.PathLike | tuple[np.ndarray, int] | tuple[int, np.ndarray] | Audio
Progress = Callable[[float, str], None]
Task = Literal["transcribe", "translate"]

MODELS = {
    DEFAULT_MODEL: "Whisper base: multilingual, translation",
    FAST_MODEL: "Whisper tiny.en: fast, English only",
}
# Windows sent per model call. Several per call let the micro-batcher run them as
# one batch (up to the model's max_batch_size); one call per group gives the page
# a progress update after each group.
DECODE_BATCH = 8
WINDOW_SAMPLES = int(WINDOW_SECONDS * SAMPLE_RATE)
# Whisper stops a window's transcript before a sentence that runs into its last
# seconds, and sometimes after a long silence; a remainder longer than this, with
# sound in it, is decoded from where the transcript stopped.
TAIL_SAMPLES = SAMPLE_RATE  # 1 s
# A round that moved less than this gives up on its span (the model keeps stopping
# at the same place), so the rounds always end.
MIN_ADVANCE = SAMPLE_RATE  # 1 s
# Rounds bound only degenerate input: each round advances every open span by at
# least MIN_ADVANCE_SECONDS, usually by a sentence or a whole window.
MAX_ROUNDS = 1000
# A last segment that ends this close to the end of its window may be cut (the
# runner closes a segment Whisper left open at the window's end).
OPEN_SEGMENT_SECONDS = 0.5
SENTENCE_ENDS = (".", "?", "!", "。", "？", "！", "…")


@dataclass(frozen=True)
class Transcript:
    """The transcript of one recording.

    ``segments`` carry ``start``/``end`` in seconds from the start of the
    recording. ``language`` is the requested or detected code (``"en"``,
    ``"zh"`` ...); it is ``None`` only when nothing was heard and no language
    was asked for. A silent recording has empty ``text`` and no segments.
    """

    text: str
    language: str | None
    segments: list[Segment] = field(default_factory=list)
    duration: float = 0.0
    name: str = "audio"
    task: Task = "transcribe"
    model: str = DEFAULT_MODEL
    windows: int = 1


def join_text(pieces: Sequence[str]) -> str:
    """Segment texts as running text: a space between words, none between CJK characters."""
    out = ""
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if out and not (_wide(out[-1]) and _wide(piece[0])):
            out += " "
        out += piece
    return out


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


class Transcriber:
    """Speech to text through the shared model core.

    ``model`` is a model name (``"whisper-base"``, ``"whisper-tiny.en"``, an
    external ``hub:``/``local:`` source already configured) or a role;
    ``None`` means the ``speech`` role, i.e. ``settings.models.speech``.
    ``max_seconds`` defaults to ``limits.max_audio_seconds``. ``batch_size``
    is the number of windows per model call; ``cut_at_pauses=False`` cuts long
    audio into fixed overlapping windows instead of at pauses.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        manager: ModelManager | None = None,
        max_seconds: float | None = None,
        batch_size: int = DECODE_BATCH,
        cut_at_pauses: bool = True,
    ) -> None:
        self.manager = manager or get_manager()
        self.handle = self.manager.handle(model or "speech")
        limits = self.manager.settings.limits
        self.max_seconds = float(
            max_seconds if max_seconds is not None else limits.max_audio_seconds
        )
        self.max_upload_mb = float(limits.max_upload_mb)
        self.batch_size = max(1, int(batch_size))
        self.cut_at_pauses = cut_at_pauses

    @property
    def model(self) -> str:
        """The name of the model that serves this transcriber."""
        return self.handle.name

    @property
    def data_dir(self) -> Path:
        """The suite's data folder (settings), where example clips and exports live."""
        return self.manager.settings.data_dir

    @property
    def english_only(self) -> bool:
        """True for English-only checkpoints (``*.en``), which cannot detect or translate."""
        return self.model.endswith(".en")

    # ------------------------------------------------------------------ input
    def load(self, audio: AudioInput, name: str | None = None) -> Audio:
        """Decode one input to 16 kHz mono, enforcing the app's limits."""
        if isinstance(audio, Audio):
            if audio.duration > self.max_seconds:
                return load_audio((audio.samples, SAMPLE_RATE), max_seconds=self.max_seconds,
                                  max_upload_mb=self.max_upload_mb, name=audio.name)  # fmt: skip
            return audio
        return load_audio(
            audio, max_seconds=self.max_seconds, max_upload_mb=self.max_upload_mb, name=name
        )

    # ------------------------------------------------------------------ transcription
    def transcribe(
        self,
        audio: AudioInput,
        language: str | None = None,
        task: Task = "transcribe",
        progress: Progress | None = None,
        word_timestamps: bool = False,
    ) -> Transcript:
        """Transcribe one file path or ``(samples, sample_rate)`` pair.

        ``language`` is a code or name (``"en"``, ``"zh"``, ``"german"``) or
        ``None`` to detect it; ``task="translate"`` gives English text.
        ``word_timestamps=True`` also times every word (``Segment.words``, in
        seconds from the start of the recording), at the cost of one more
        decoder pass per window.
        Raises ``InvalidInputError`` for unusable input, with the reason.
        """
        return self.transcribe_batch(
            [audio], language=language, task=task, progress=progress,
            word_timestamps=word_timestamps,
        )[0]  # fmt: skip

    def transcribe_batch(
        self,
        items: Sequence[AudioInput],
        language: str | None = None,
        task: Task = "transcribe",
        progress: Progress | None = None,
        word_timestamps: bool = False,
    ) -> list[Transcript]:
        """Transcribe several recordings; their windows share model batches.

        All inputs are decoded and checked first, so a bad file fails the call
        before any model time is spent. ``progress(fraction, message)`` is called
        as windows finish.
        """
        if isinstance(items, str | os.PathLike | tuple) or not isinstance(items, Sequence):
            raise InvalidInputError(
                "transcribe_batch takes a list of files or (samples, rate) pairs."
            )
        if not items:
            return []
        language = language_argument(language)
        if task not in ("transcribe", "translate"):
            raise InvalidInputError(f"task must be 'transcribe' or 'translate', got {task!r}.")
        if not isinstance(word_timestamps, bool):
            raise InvalidInputError("word_timestamps must be True or False.")
        audios = [self.load(item) for item in items]
        return self.transcribe_audio(
            audios, language=language, task=task, progress=progress,
            word_timestamps=word_timestamps,
        )  # fmt: skip

    def transcribe_audio(
        self,
        audios: Sequence[Audio],
        language: str | None = None,
        task: Task = "transcribe",
        progress: Progress | None = None,
        word_timestamps: bool = False,
    ) -> list[Transcript]:
        """Transcribe already decoded recordings (see ``load``).

        A recording is cut at pauses into spans (``windows.plan_spans``); the
        first window of every span of every recording goes to the model in
        batches. Then, as in OpenAI's long-form decoding, decoding of a span
        resumes at the last segment Whisper closed with a timestamp ("seek"):
        a window cut inside speech drops its unfinished last segment, and a
        window whose transcript stops short of the span's end (Whisper leaves a
        sentence that runs into a window's last seconds, or stops after a long
        silence) has the rest decoded too, if it holds sound. These rounds are
        batched across all spans and recordings as well. Pieces never overlap,
        so their texts are joined, not spliced.
        """
        plans = [plan_windows(a.samples, cut_at_pauses=self.cut_at_pauses) for a in audios]
        spans = [plan_spans(plan) for plan in plans]
        sound = [speech_frames(a.samples) for a in audios]
        # A piece is (file, span index, the stretch decoded): first each span's first
        # window, then, round by round, what is left of the span after the last segment.
        pieces = [
            (f, k, Window(start, min(end, start + WINDOW_SAMPLES)))
            for f, file_spans in enumerate(spans)
            for k, (start, end) in enumerate(file_spans)
        ]
        decoded: list[tuple[int, int, Window, list[Segment]]] = []
        heard: dict[tuple[int, int], str] = {}
        for round_ in range(MAX_ROUNDS):
            if not pieces:
                break
            requests = [
                TranscriptionRequest(
                    audios[f].samples[piece.start : piece.end],
                    language=language or heard.get((f, k)),
                    task=task,
                    word_timestamps=word_timestamps,
                )
                for f, k, piece in pieces
            ]
            label = "Transcribing" if round_ == 0 else "Finishing cut-off sentences:"
            results = self._run(requests, label, progress if round_ == 0 else None)
            if round_ == 0 and language is None and not self.english_only:
                results = self._agree_on_language(pieces, requests, results, task)
            leftovers = []
            for (f, k, piece), result in zip(pieces, results, strict=True):
                if result.text and result.language:
                    heard.setdefault((f, k), result.language)
                span_end = spans[f][k][1]
                segments, covered = _resume_point(
                    result, piece, span_end, sound[f], audios[f].samples
                )
                decoded.append((f, k, piece, segments))
                if covered is not None and covered - piece.start >= MIN_ADVANCE:
                    leftovers.append(
                        (f, k, Window(covered, min(span_end, covered + WINDOW_SAMPLES)))
                    )
                    # This piece's text ends where the next one starts (times clamp to it).
                    decoded[-1] = (f, k, Window(piece.start, covered), segments)
            pieces = leftovers
        transcripts = []
        for f, audio in enumerate(audios):
            mine = sorted(
                ((k, p.start, p, segs) for g, k, p, segs in decoded if g == f), key=lambda x: x[:2]
            )
            spoken: Counter = Counter()
            for k, (start, end) in enumerate(spans[f]):
                if (f, k) in heard:
                    spoken[heard[f, k]] += end - start
            transcripts.append(
                self._assemble(
                    audio, [p for *_, p, _ in mine], [s for *_, s in mine], spoken, language, task
                )
            )
            transcripts[-1] = replace(transcripts[-1], windows=len(plans[f]))
        if progress:
            progress(1.0, "Done")
        return transcripts

    def _run(
        self, requests: list[TranscriptionRequest], label: str, progress: Progress | None
    ) -> list[TranscriptionResult]:
        total = sum(r.audio.size for r in requests) or 1
        done = 0
        results: list[TranscriptionResult] = []
        for i in range(0, len(requests), self.batch_size):
            batch = requests[i : i + self.batch_size]
            if progress:
                progress(done / total, f"{label} window {i + 1} of {len(requests)}")
            results.extend(self.handle.call(batch))
            done += sum(r.audio.size for r in batch)
        return results

    def _agree_on_language(self, pieces, requests, results, task) -> list[TranscriptionResult]:
        """One language per recording: the one detected in most of its speech.

        Windows are detected independently; a window that heard a different
        language (a short or noisy stretch) is decoded again in the recording's
        language, so one file does not switch scripts halfway.
        """
        results = list(results)
        votes: dict[int, Counter] = {}
        for piece, request, result in zip(pieces, requests, results, strict=True):
            if result.text and result.language:
                votes.setdefault(piece[0], Counter())[result.language] += request.audio.size
        majority = {f: counter.most_common(1)[0][0] for f, counter in votes.items()}
        redo = [
            k
            for k, (piece, result) in enumerate(zip(pieces, results, strict=True))
            if result.text and result.language != majority[piece[0]]
        ]
        if redo:
            again = self.handle.call(
                [TranscriptionRequest(requests[k].audio, language=majority[pieces[k][0]], task=task,
                                      word_timestamps=requests[k].word_timestamps)
                 for k in redo]
            )  # fmt: skip
            for k, result in zip(redo, again, strict=True):
                results[k] = result
        return results

    def _assemble(
        self,
        audio: Audio,
        windows: list[Window],
        per_window: list[list[Segment]],
        spoken: Counter,
        language: str | None,
        task: Task,
    ) -> Transcript:
        segments = merge_windows(windows, per_window)
        detected = spoken.most_common(1)[0][0] if spoken else None
        if self.english_only:
            detected = "en"
        return Transcript(
            text=join_text([s.text for s in segments]),
            language=language or detected,
            segments=segments,
            duration=round(audio.duration, 3),
            name=audio.name,
            task=task,
            model=self.model,
            windows=len(windows),
        )

    # ------------------------------------------------------------------ exports
    @staticmethod
    def to_srt(transcript: Transcript) -> str:
        """The transcript as SubRip subtitles."""
        return subtitles.to_srt(transcript.segments)

    @staticmethod
    def to_vtt(transcript: Transcript, words: bool = False) -> str:
        """The transcript as WebVTT subtitles; ``words=True``: cues timed word by word.

        Word-timed subtitles need a transcript made with ``word_timestamps=True``
        (``InvalidInputError`` otherwise).
        """
        try:
            return subtitles.to_vtt(transcript.segments, words=words)
        except ValueError as exc:
            raise InvalidInputError(
                "Word-timed subtitles need word timestamps: transcribe with word_timestamps=True."
            ) from exc

    @staticmethod
    def has_words(transcript: Transcript) -> bool:
        """Whether the transcript's segments carry word timestamps."""
        return any(s.words for s in transcript.segments)

    @staticmethod
    def to_txt(transcript: Transcript) -> str:
        """The transcript as plain text, one line per segment."""
        return "\n".join(s.text for s in transcript.segments) + (
            "\n" if transcript.segments else ""
        )


def _resume_point(
    result: TranscriptionResult,
    piece: Window,
    span_end: int,
    sound: np.ndarray,
    samples: np.ndarray,
) -> tuple[list[Segment], int | None]:
    """The segments of one decoded piece to keep, and the sample to resume decoding at.

    OpenAI's long-form rule: decoding goes on from the end of the last segment
    Whisper finished. Whisper stops a window's transcript early before a sentence
    that runs into its last seconds (and sometimes after a long silence), and in
    a window cut inside speech its last segment is usually cut too. So when there
    is more to hear in the span (sound after the transcript, or a window cut
    inside speech), decoding resumes after the last segment that ends a sentence
    (a pause; mid-sentence, Whisper's timestamps are least reliable and resuming
    there repeated or lost a word), or failing that drops only a last segment
    that runs to the window's end. What follows is heard again in the next piece.
    Every round moves on by at least ``MIN_ADVANCE``. Resumption starts in the
    pause nearest that point (``windows.resume_point``). ``None``: the span is done.
    """
    segments = list(result.segments)
    duration = (piece.end - piece.start) / SAMPLE_RATE
    if result.text and not segments:  # no timestamps came back: one segment
        segments = [Segment(0.0, duration, result.text)]
    cut_inside_speech = piece.end < span_end

    def end_of(kept: list[Segment]) -> int:
        if kept:
            return piece.start + int(round(kept[-1].end * SAMPLE_RATE))
        return piece.end if cut_inside_speech else piece.start  # heard nothing: move on

    def more_to_hear(at: int) -> bool:
        return span_end - at > TAIL_SAMPLES and has_speech(sound, at, span_end)

    covered = end_of(segments)
    if not more_to_hear(covered):
        return segments, None
    # Resume after the last finished sentence (a pause, where a cut splits no word);
    # failing that, after the last segment unless it runs to the window's end.
    keep = len(segments)
    sentences = [
        n + 1
        for n, seg in enumerate(segments)
        if seg.text.rstrip().endswith(SENTENCE_ENDS)
        and seg.end < duration - OPEN_SEGMENT_SECONDS
        and end_of(segments[: n + 1]) - piece.start >= MIN_ADVANCE
    ]
    if sentences:
        keep = sentences[-1]
    elif (
        len(segments) > 1
        and segments[-1].end >= duration - OPEN_SEGMENT_SECONDS
        and end_of(segments[:-1]) - piece.start >= MIN_ADVANCE
    ):
        keep = len(segments) - 1
    segments = segments[:keep]
    covered = end_of(segments)
    if segments:
        covered = resume_point(samples, sound, covered)
    return segments, covered if more_to_hear(covered) else None


def language_argument(language: str | None) -> str | None:
    """The ``language`` a caller passed, checked: None (detect) or a Whisper language code."""
    if language is None:
        return None
    if not isinstance(language, str):
        raise InvalidInputError("language must be a code such as 'en', or None to detect it.")
    language = language.strip()
    return None if language.lower() in ("", "auto", "detect") else language


def safe_stem(name: str, fallback: str = "transcript") -> str:
    """A file-name stem safe on any OS, from a user-supplied name (no paths, no odd characters)."""
    stem = Path(str(name)).stem
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._")[:60]
    return stem or fallback


def save_exports(transcripts: Sequence[Transcript], folder: str | Path) -> list[Path]:
    """Write each transcript as .txt, .srt and .vtt into ``folder``; returns the paths.

    A transcript with word timestamps also gets ``<name>.words.vtt``, word-timed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    used: set[str] = set()
    for t in transcripts:
        stem = safe_stem(t.name)
        base, n = stem, 2
        while stem in used:  # two uploads with the same name keep separate files
            stem, n = f"{base}_{n}", n + 1
        used.add(stem)
        for suffix, render in ((".txt", Transcriber.to_txt), (".srt", Transcriber.to_srt),
                               (".vtt", Transcriber.to_vtt)):  # fmt: skip
            path = folder / f"{stem}{suffix}"
            path.write_text(render(t), encoding="utf-8")
            paths.append(path)
        if Transcriber.has_words(t):
            path = folder / f"{stem}.words.vtt"
            path.write_text(Transcriber.to_vtt(t, words=True), encoding="utf-8")
            paths.append(path)
    return paths


# Download folders of the page's transcripts live in the system temp folder under this
# prefix, so retention (``privacy.retention_days``) can find and delete the old ones.
EXPORTS_PREFIX = "springboard-speech-"


def exports_folder() -> Path:
    """A new folder for one transcription's downloads (.txt, .srt, .vtt)."""
    return Path(tempfile.mkdtemp(prefix=EXPORTS_PREFIX))


def purge_old_exports(before: float, root: str | Path | None = None) -> int:
    """Delete transcript downloads written before ``before`` (a timestamp); returns the count."""
    return delete_old_files(Path(root or tempfile.gettempdir()), f"{EXPORTS_PREFIX}*", before)
