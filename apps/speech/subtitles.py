"""Transcript exports: plain text, SubRip (.srt) and WebVTT (.vtt).

Cues follow common subtitle practice: at most two lines of about 42
characters each. A longer segment becomes several cues, its time shared out
by their length, so each stays on screen long enough to read.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence

from shared_models.types.speech import Segment

LINE_CHARS = 42  # common broadcast guideline for one subtitle line
CUE_LINES = 2


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


def to_vtt(segments: Sequence[Segment]) -> str:
    """WebVTT: a ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues."""
    blocks = ["WEBVTT\n"] + [
        f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{_vtt_escape(text)}\n"
        for start, end, text in cues(segments)
    ]
    return "\n".join(blocks)
