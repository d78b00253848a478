"""Transcript exports: plain text, SubRip (.srt) and WebVTT (.vtt).

Cues follow common subtitle practice: at most two lines of about 42
characters each. A longer segment becomes several cues, its time shared out
by their length, so each stays on screen long enough to read.

With word timestamps, ``to_vtt(segments, words=True)`` gives word-timed WebVTT:
cues of a few words (one line, cut at sentence ends and pauses) whose real
start and end are the words', and inside each cue a WebVTT timestamp tag
(``<00:00:01.240>``) before every later word, which players that support it
use to highlight each word as it is spoken (karaoke style).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence

from shared_models.types.speech import Segment, Word

LINE_CHARS = 42  # common broadcast guideline for one subtitle line
CUE_LINES = 2
WORD_CUE_PAUSE = 0.6  # s: a silence this long between words starts a new word-timed cue
SENTENCE_END = (".", "!", "?", "。", "！", "？")


def timestamp(seconds: float, separator: str) -> str:
    """``HH:MM:SS<sep>mmm`` (SRT uses ',' and WebVTT '.')."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def cues(segments: Sequence[Segment]) -> Iterator[tuple[float, float, str]]:
    """(start, end, text with line breaks) for each subtitle cue, in order."""
    for seg in segments:
        lines = textwrap.wrap(" ".join(seg.text.split()), LINE_CHARS)
        if not lines:
            continue
        chunks = ["\n".join(lines[i : i + CUE_LINES]) for i in range(0, len(lines), CUE_LINES)]
        total = sum(len(c) for c in chunks)
        shown = 0
        start = seg.start
        for chunk in chunks:
            shown += len(chunk)
            end = seg.start + (seg.end - seg.start) * shown / total
            yield start, end, chunk
            start = end


def to_srt(segments: Sequence[Segment]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank line between."""
    blocks = [
        f"{n}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(cues(segments), start=1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # WebVTT cue text is markup: '&' and '<' must be escaped, and '-->' may not appear.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def word_cues(segments: Sequence[Segment]) -> Iterator[list[Word]]:
    """The timed words of each short cue: one line at most, cut at sentence ends,
    pauses and segment boundaries. Segments without words give no cues."""
    for seg in segments:
        cue: list[Word] = []
        for word in seg.words:
            if cue:
                text = "".join(w.word for w in cue + [word]).strip()
                if (
                    len(text) > LINE_CHARS
                    or cue[-1].word.rstrip().endswith(SENTENCE_END)
                    or word.start - cue[-1].end >= WORD_CUE_PAUSE
                ):
                    yield cue
                    cue = []
            cue.append(word)
        if cue:
            yield cue


def _word_cue_text(cue: list[Word]) -> str:
    """The cue's words, each later one behind a timestamp tag where it starts."""
    start, end = cue[0].start, cue[-1].end
    text = _vtt_escape(cue[0].word.strip())
    last = start
    for word in cue[1:]:
        # WebVTT wants tags strictly inside the cue and increasing; a word whose
        # start would break that (it shares its time with the word before) goes untagged.
        if last < word.start < end:
            text += f"{' ' if word.word.startswith(' ') else ''}<{timestamp(word.start, '.')}>"
            text += _vtt_escape(word.word.strip())
            last = word.start
        else:
            text += _vtt_escape(word.word)
    return text


def to_vtt(segments: Sequence[Segment], words: bool = False) -> str:
    """WebVTT: a ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues.

    ``words=True`` times cues by their words (see the module docstring); it
    needs segments with words (``word_timestamps=True``) and raises
    ``ValueError`` without them.
    """
    if words:
        if any(s.text.strip() and not s.words for s in segments):
            raise ValueError("word-timed subtitles need a transcript with word timestamps")
        body = [
            f"{timestamp(cue[0].start, '.')} --> {timestamp(cue[-1].end, '.')}\n"
            f"{_word_cue_text(cue)}\n"
            for cue in word_cues(segments)
        ]
    else:
        body = [
            f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{_vtt_escape(text)}\n"
            for start, end, text in cues(segments)
        ]
    return "\n".join(["WEBVTT\n", *body])
