"""Long audio: where to cut it into model windows, and how to stitch the text back.

The speech role takes at most 30 s per request. A longer recording is cut into
windows of up to 30 s:

* **at a pause** where there is one: the cut lies in the quietest 0.3 s stretch
  of the window's last 15 s, so no word is split and the windows do not overlap;
* **with an overlap** where there is no pause (music, crosstalk, noise): the next
  window starts ``OVERLAP_SECONDS`` before the cut. The transcriber does not
  decode such windows as planned: ``plan_spans`` joins them into one span that
  it decodes window by window, each from the end of the last segment Whisper
  finished (as OpenAI's own long-form decoding does), so no text is spliced.

``merge_windows`` still splices overlapping windows for callers that decode a
plan as it is: the two transcripts of the shared stretch are aligned word by
word and cut in the middle of the agreeing run, so the words of the overlap
appear once; when the two readings share no words, each window keeps the words
whose time falls on its side of the middle of the overlap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared_models.types.speech import MAX_SECONDS, SAMPLE_RATE, Segment, Word

from .metrics import normalize_text

WINDOW_SECONDS = MAX_SECONDS  # the role's limit: Whisper sees 30 s at a time
MIN_CUT_SECONDS = 15.0  # a cut is searched for between here and the window's end
OVERLAP_SECONDS = 5.0  # shared stretch when no pause is found (about a dozen words)
FRAME = SAMPLE_RATE // 100  # 10 ms energy frames
PAUSE_FRAMES = 30  # a pause is judged over 0.3 s, longer than any gap inside a word
JOIN_TOLERANCE = 0.5  # s: words this close to an overlap edge take part in the alignment


@dataclass(frozen=True)
class Window:
    """Samples ``[start, end)`` of the recording; ``overlap`` samples are shared with the
    previous window (0 when the cut was at a pause)."""

    start: int
    end: int
    overlap: int = 0

    @property
    def offset(self) -> float:
        """Start time in seconds."""
        return self.start / SAMPLE_RATE


def _smoothed_db(samples: np.ndarray) -> np.ndarray:
    """Energy in dB of each 10 ms frame, averaged over the 0.3 s centred on it."""
    n = samples.size // FRAME
    power = np.square(samples[: n * FRAME].reshape(n, FRAME), dtype=np.float64).mean(axis=1)
    if n >= PAUSE_FRAMES:
        kernel = np.ones(PAUSE_FRAMES) / PAUSE_FRAMES
        power = np.convolve(power, kernel, mode="same")
    return 10 * np.log10(power + 1e-10)


def _pause_threshold(frame_db: np.ndarray) -> float:
    """The level below which a 0.3 s stretch counts as a pause.

    Relative to the recording itself, so a quiet phone call and a loud podcast
    are judged alike: a pause sits near the noise floor (10th percentile) and
    well under the speech level (95th percentile).
    """
    floor, speech = np.percentile(frame_db, [10, 95])
    return float(min(max(floor + 6.0, speech - 35.0), speech - 20.0))


def speech_frames(samples: np.ndarray) -> np.ndarray:
    """Per 10 ms frame, whether it is louder than a pause (a simple energy VAD)."""
    if samples.size < FRAME:
        return np.zeros(0, dtype=bool)
    frame_db = _smoothed_db(samples)
    return frame_db > _pause_threshold(frame_db)


def has_speech(frames: np.ndarray, start: int, end: int) -> bool:
    """Whether samples ``[start, end)`` hold at least one pause-length stretch of sound."""
    return int(frames[start // FRAME : end // FRAME].sum()) >= PAUSE_FRAMES // 2


def quietest_point(samples: np.ndarray, near: int, before: float, after: float) -> int:
    """The sample in ``[near - before s, near + after s]`` at the quietest 50 ms of audio.

    Whisper's segment timestamps are 20 ms tokens placed by the model: the end of
    a segment may fall on the first sound of the next word. Decoding that resumes
    exactly there can miss or mishear that word ("And" heard as "The"); resuming
    at the quietest moment nearby starts it in the gap between words.
    """
    lo = max(0, near - int(before * SAMPLE_RATE)) // FRAME
    hi = min(samples.size, near + int(after * SAMPLE_RATE)) // FRAME
    if hi - lo < 1:
        return near
    frames = samples[lo * FRAME : hi * FRAME].reshape(hi - lo, FRAME)
    power = np.square(frames, dtype=np.float64).mean(axis=1)
    if power.size >= 5:
        power = np.convolve(power, np.ones(5) / 5, mode="same")
    return (lo + int(np.argmin(power))) * FRAME + FRAME // 2


def resume_point(
    samples: np.ndarray, frames: np.ndarray, near: int, before: float = 0.3, after: float = 1.0
) -> int:
    """Where to resume decoding after a segment that Whisper ended at sample ``near``.

    Whisper's last timestamp before it stops a transcript is often early (the
    last word still sounds for a few tenths of a second; decoding that tail again
    made Whisper hear the word twice) and sometimes late (on the next word's
    first sound). So: the pause (``frames``, see ``speech_frames``) nearest to
    ``near`` within ``before``/``after`` seconds; inside speech, the quietest
    moment close by (``quietest_point``).
    """
    lo = max(0, near - int(before * SAMPLE_RATE)) // FRAME
    hi = min(frames.size, (near + int(after * SAMPLE_RATE)) // FRAME)
    quiet = np.flatnonzero(~frames[lo:hi]) + lo
    if quiet.size:
        nearest = int(quiet[np.argmin(np.abs(quiet - near // FRAME))])
        return nearest * FRAME + FRAME // 2
    return quietest_point(samples, near, before, 0.1)


def plan_windows(
    samples: np.ndarray,
    window_seconds: float = WINDOW_SECONDS,
    min_cut_seconds: float = MIN_CUT_SECONDS,
    overlap_seconds: float = OVERLAP_SECONDS,
    cut_at_pauses: bool = True,
) -> list[Window]:
    """Cut 16 kHz audio into windows of at most ``window_seconds`` (see the module doc).

    With ``cut_at_pauses=False`` every join is an overlap (fixed windows), which
    suits audio where the energy of pauses says nothing (music beds, crosstalk).
    """
    total = samples.size
    size = int(window_seconds * SAMPLE_RATE)
    if total <= size:
        return [Window(0, total)]
    frame_db = _smoothed_db(samples)
    threshold = _pause_threshold(frame_db)
    windows: list[Window] = []
    start, overlap = 0, 0
    while total - start > size:
        lo = (start + int(min_cut_seconds * SAMPLE_RATE)) // FRAME
        hi = (start + size) // FRAME - PAUSE_FRAMES // 2  # the whole pause lies inside
        region = frame_db[lo:hi]
        best = int(np.argmin(region[::-1]))  # the latest of equally quiet frames
        quietest = hi - 1 - best
        if cut_at_pauses and region.size and frame_db[quietest] <= threshold:
            cut = quietest * FRAME + FRAME // 2
            windows.append(Window(start, cut, overlap))
            start, overlap = cut, 0
        else:
            end = start + size
            windows.append(Window(start, end, overlap))
            overlap = int(overlap_seconds * SAMPLE_RATE)
            start = end - overlap
    windows.append(Window(start, total, overlap))
    return windows


def plan_spans(windows: Sequence[Window]) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` between the cuts at pauses of a window plan.

    Windows joined by an overlap (no pause was found) form one span: the
    transcriber decodes such a span window by window, each starting where the
    previous window's last finished segment ended (OpenAI's long-form "seek"),
    instead of splicing two readings of the overlap. Spans never overlap.
    """
    spans: list[tuple[int, int]] = []
    for window in windows:
        if window.overlap and spans:
            spans[-1] = (spans[-1][0], window.end)
        else:
            spans.append((window.start, window.end))
    return spans


# --------------------------------------------------------------------------- merging
@dataclass(frozen=True)
class _Word:
    text: str
    start: float  # absolute seconds, interpolated inside its segment
    end: float
    segment: tuple[int, int]  # (window index, segment index): words regroup by this
    space_before: bool
    key: str  # normalised form for alignment
    probability: float | None = None  # set when the model timed the word itself


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF" and unicodedata.category(ch)[0] == "L"


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Words of a segment; CJK text (no spaces) is split into characters."""
    tokens: list[tuple[str, bool]] = []
    for word in text.split():
        pieces = re.findall(r"[^\W\d_]|.", word) if any(_is_cjk(c) for c in word) else [word]
        if len(pieces) > 1:
            # Keep punctuation attached to its character; split only between CJK letters.
            merged: list[str] = []
            for p in pieces:
                if merged and not (_is_cjk(p) and _is_cjk(merged[-1][-1])):
                    merged[-1] += p
                else:
                    merged.append(p)
            pieces = merged
        tokens.extend((p, i == 0) for i, p in enumerate(pieces))
    return tokens


def _words(
    window_index: int, offset: float, limit: float, segments: Sequence[Segment]
) -> list[_Word]:
    words: list[_Word] = []
    for s_index, seg in enumerate(segments):
        start = min(offset + seg.start, limit)
        end = min(max(offset + seg.end, start), limit)
        if seg.words:  # timed by the model: keep its times, on the recording's clock
            for n, w in enumerate(seg.words):
                w_start = min(offset + w.start, limit)
                w_end = min(max(offset + w.end, w_start), limit)
                text = w.word.strip()
                space = n == 0 or w.word.startswith(" ")
                key = normalize_text(text)
                words.append(
                    _Word(text, w_start, w_end, (window_index, s_index), space, key, w.probability)
                )
            continue
        tokens = _tokens(seg.text)
        total = sum(len(t) for t, _ in tokens) or 1
        done = 0
        for text, space in tokens:
            w_start = start + (end - start) * done / total
            done += len(text)
            w_end = start + (end - start) * done / total
            words.append(
                _Word(text, w_start, w_end, (window_index, s_index), space, normalize_text(text))
            )
    return words


def _align(left: list[_Word], right: list[_Word]) -> tuple[int, int] | None:
    """Where to splice: keep ``left[:i]`` and ``right[j:]``; None if they share no words.

    Slides the right words along the left ones (as in transformers' chunked
    decoding) and keeps the offset with the most agreeing words, then cuts in
    the middle of that run, where both windows heard the speech in full.
    """
    best, best_score = None, 0.0
    if not left or not right:
        return None
    for shift in range(1, len(left) + len(right)):
        l_start, l_stop = max(0, len(left) - shift), min(len(left), len(left) + len(right) - shift)
        r_start, r_stop = max(0, shift - len(left)), min(len(right), shift)
        pairs = list(zip(left[l_start:l_stop], right[r_start:r_stop], strict=True))
        matches = sum(1 for a, b in pairs if a.key and a.key == b.key)
        score = matches / len(pairs) + 1e-4 * shift  # prefer more matches and longer overlaps
        if matches >= 2 and score > best_score:
            best_score = score
            best = (l_start, l_stop, r_start, r_stop)
    if best is None:
        return None
    l_start, l_stop, r_start, r_stop = best
    return (l_start + l_stop) // 2, (r_start + r_stop) // 2


def merge_windows(windows: Sequence[Window], results: Sequence[Sequence[Segment]]) -> list[Segment]:
    """Segments of every window, on the recording's clock, with joins resolved."""
    merged: list[_Word] = []
    for k, (window, segments) in enumerate(zip(windows, results, strict=True)):
        limit = window.end / SAMPLE_RATE
        words = _words(k, window.offset, limit, segments)
        if window.overlap and merged:
            overlap_end = (window.start + window.overlap) / SAMPLE_RATE
            n_left = 0
            while n_left < len(merged) and merged[-1 - n_left].end > window.offset - JOIN_TOLERANCE:
                n_left += 1
            n_right = 0
            while n_right < len(words) and words[n_right].start < overlap_end + JOIN_TOLERANCE:
                n_right += 1
            left, right = merged[len(merged) - n_left :], words[:n_right]
            splice = _align(left, right)
            if splice is None:  # nothing in common: split the overlap by time
                middle = window.offset + window.overlap / SAMPLE_RATE / 2
                keep_left = [w for w in left if (w.start + w.end) / 2 < middle]
                keep_right = [w for w in right if (w.start + w.end) / 2 >= middle]
            else:
                keep_left, keep_right = left[: splice[0]], right[splice[1] :]
            merged = merged[: len(merged) - n_left] + keep_left + keep_right + words[n_right:]
        else:
            merged.extend(words)
    return _regroup(merged, windows, results)


def _regroup(
    words: list[_Word], windows: Sequence[Window], results: Sequence[Sequence[Segment]]
) -> list[Segment]:
    """Words back into segments: whole segments keep their times, trimmed ones shrink."""
    segments: list[Segment] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and words[j].segment == words[i].segment:
            j += 1
        group = words[i:j]
        w_index, s_index = group[0].segment
        original = results[w_index][s_index]
        offset, limit = windows[w_index].offset, windows[w_index].end / SAMPLE_RATE
        timed = group[0].probability is not None
        whole = len(group) == (len(original.words) if timed else len(_tokens(original.text)))
        start = min(offset + original.start, limit) if whole else group[0].start
        end = min(offset + original.end, limit) if whole else group[-1].end
        text = "".join((" " if w.space_before and n else "") + w.text for n, w in enumerate(group))
        if segments:  # keep time non-decreasing across windows
            start = max(start, segments[-1].end)
            end = max(end, start)
        group_words: list[Word] = []
        if timed:
            floor = segments[-1].words[-1].end if segments and segments[-1].words else 0.0
            for n, w in enumerate(group):
                w_start = max(w.start, floor)
                w_end = max(w.end, w_start)
                group_words.append(
                    Word(
                        (" " if w.space_before and n else "") + w.text,
                        round(w_start, 2),
                        round(w_end, 2),
                        w.probability or 0.0,
                    )
                )
                floor = w_end
        segments.append(Segment(round(start, 2), round(end, 2), text, group_words))
        i = j
    return segments
