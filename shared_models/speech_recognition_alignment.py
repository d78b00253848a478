"""Word timestamps for Whisper: cross-attention alignment with dynamic time warping.

What openai/whisper's ``timing.py`` does for ``word_timestamps=True``, on the
numbers our decoder gives (see ``speech_recognition_decoding.WhisperDecoderStep.run``):

1. the decoder runs once more over ``<|startoftranscript|> [language task]
   <|notimestamps|> text <|endoftext|>`` and keeps the cross-attention scores of
   the model's *alignment heads* (heads whose attention follows the speech; the
   generation config lists them);
2. per head, a softmax over the frames that hold audio, a z-score over tokens,
   and a median filter of width 7 along time; then the mean over heads;
3. dynamic time warping of the negated matrix gives a monotonic path from
   tokens to 20 ms frames; a token starts where the path first reaches it;
4. tokens are grouped into words (a leading space starts a word; CJK text is
   split per character), punctuation is merged into its neighbours, and a few
   of Whisper's guards clip words that swallow a pause.

DTW here runs over anti-diagonals in numpy (Whisper uses numba, not a
dependency here); its tie-breaking is Whisper's.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .types.speech import Segment, Word

SECONDS_PER_FRAME = 0.02  # one encoder frame: two 10 ms mel hops
MEDIAN_FILTER_WIDTH = 7
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
SENTENCE_END = ".。!！?？"
# Languages written without spaces: words are characters (Whisper's split_tokens_on_unicode).
NO_SPACE_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue"}


@dataclass
class _Timing:
    word: str
    tokens: list[int]
    start: float
    end: float
    probability: float


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median over a sliding window of ``width`` along the last axis (reflect-padded)."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    # Reflect padding takes 2-D or 3-D input with a pad on the last axis only.
    padded = F.pad(x.reshape(-1, *x.shape[-2:]), (pad, pad), mode="reflect").reshape(
        *x.shape[:-1], x.shape[-1] + 2 * pad
    )
    return padded.unfold(-1, width, 1).sort()[0][..., pad]


def dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest monotonic path through ``cost`` (tokens x frames): (token, frame) indices.

    Each step moves down a token, right a frame, or both. Cells of one
    anti-diagonal do not depend on each other, so each diagonal is one numpy step.
    """
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    trace = np.full((n + 1, m + 1), -1, dtype=np.int8)
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        c0, c1, c2 = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
        # Whisper's order: diagonal if strictly best, else up if strictly best, else left.
        t = np.where((c0 < c1) & (c0 < c2), 0, np.where((c1 < c0) & (c1 < c2), 1, 2))
        acc[i, j] = cost[i - 1, j - 1] + np.choose(t, (c0, c1, c2))
        trace[i, j] = t
    trace[0, :] = 2
    trace[:, 0] = 1
    i, j = n, m
    path: list[tuple[int, int]] = []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        step = trace[i, j]
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    result = np.array(path[::-1]).T
    return result[0], result[1]


def alignment_matrix(scores: torch.Tensor, frames: int) -> np.ndarray:
    """Alignment heads' cross-attention scores (heads, tokens, 1500) to one (tokens, frames) matrix."""
    weights = scores[:, :, :frames].float().softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = (weights - mean) / std
    weights = median_filter(weights, MEDIAN_FILTER_WIDTH)
    return weights.mean(dim=0).double().cpu().numpy()


def split_words(
    tokens: list[int], eot: int, decode: Callable[[list[int]], str], by_character: bool
) -> tuple[list[str], list[list[int]]]:
    """Group tokens into words as Whisper's tokenizer does (``split_to_word_tokens``)."""
    full = decode(tokens)
    subwords: list[str] = []
    subword_tokens: list[list[int]] = []
    current: list[int] = []
    offset = 0
    for token in tokens:
        current.append(token)
        text = decode(current)
        # A token that ends inside a multi-byte character decodes to U+FFFD: wait for the rest.
        if "\ufffd" not in text or full[offset + text.index("\ufffd")] == "\ufffd":
            subwords.append(text)
            subword_tokens.append(current)
            current = []
            offset += len(text)
    if by_character:
        return subwords, subword_tokens
    words: list[str] = []
    word_tokens: list[list[int]] = []
    for text, toks in zip(subwords, subword_tokens, strict=True):
        starts_word = toks[0] >= eot or text.startswith(" ") or text.strip() in string.punctuation
        if starts_word or not words:
            words.append(text)
            word_tokens.append(list(toks))
        else:
            words[-1] += text
            word_tokens[-1].extend(toks)
    return words, word_tokens


def _merge_punctuation(alignment: list[_Timing]) -> None:
    """Opening punctuation joins the next word, closing punctuation the previous (in place)."""
    i, j = len(alignment) - 2, len(alignment) - 1
    while i >= 0:
        previous, following = alignment[i], alignment[j]
        if previous.word.startswith(" ") and previous.word.strip() in PREPEND_PUNCTUATION:
            following.word = previous.word + following.word
            following.tokens = previous.tokens + following.tokens
            previous.word, previous.tokens = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(alignment):
        previous, following = alignment[i], alignment[j]
        if not previous.word.endswith(" ") and following.word in APPEND_PUNCTUATION:
            previous.word += following.word
            previous.tokens = previous.tokens + following.tokens
            following.word, following.tokens = "", []
        else:
            i = j
        j += 1


def word_timings(
    matrix: np.ndarray,
    token_probs: Sequence[float],
    text_tokens: list[int],
    eot: int,
    decode: Callable[[list[int]], str],
    by_character: bool,
) -> list[_Timing]:
    """Words with start/end (seconds in the window) from the alignment matrix.

    ``matrix`` has one row per text token plus one for end-of-text (the rows of
    ``<|notimestamps|>`` and the text, each predicting the next token).
    """
    text_indices, time_indices = dtw(-matrix)
    words, word_tokens = split_words(text_tokens + [eot], eot, decode, by_character)
    if len(word_tokens) <= 1:
        return []
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] * SECONDS_PER_FRAME
    starts, ends = jump_times[boundaries[:-1]], jump_times[boundaries[1:]]
    return [
        _Timing(word, tokens, float(start), float(end), float(np.mean(token_probs[i:j])))
        for word, tokens, start, end, i, j in zip(
            words, word_tokens, starts, ends, boundaries[:-1], boundaries[1:], strict=False
        )
    ]


def attach_words(
    segments: list[Segment],
    segment_tokens: list[list[int]],
    alignment: list[_Timing],
    duration: float,
) -> list[Segment]:
    """Whisper's ``add_word_timestamps`` after the alignment: segments with their words.

    Segment times are kept as decoded; words are clipped to the window and
    kept in order. ``segment_tokens`` are the text tokens of each segment.
    """
    durations = np.array([t.end - t.start for t in alignment])
    durations = durations[durations.nonzero()]
    median = min(0.7, float(np.median(durations))) if len(durations) else 0.0
    longest = median * 2
    # Whisper's guard: a sentence-ending mark (or the word after it) that spans a pause is cut.
    if len(durations):
        for i in range(1, len(alignment)):
            if alignment[i].end - alignment[i].start > longest:
                if alignment[i].word in SENTENCE_END:
                    alignment[i].end = alignment[i].start + longest
                elif alignment[i - 1].word in SENTENCE_END:
                    alignment[i].start = alignment[i].end - longest
    _merge_punctuation(alignment)

    out: list[Segment] = []
    index = 0
    last_speech = 0.0
    previous_end = 0.0
    for segment, tokens in zip(segments, segment_tokens, strict=True):
        saved = 0
        words: list[dict] = []
        while index < len(alignment) and saved < len(tokens):
            timing = alignment[index]
            if timing.word:
                words.append(
                    {"word": timing.word, "start": timing.start, "end": timing.end,
                     "probability": timing.probability}
                )  # fmt: skip
            saved += len(timing.tokens)
            index += 1
        if words:
            first, last = words[0], words[-1]
            # The first word after a pause must not stretch back into it (Whisper's guard).
            if first["end"] - last_speech > median * 4 and (
                first["end"] - first["start"] > longest
                or (len(words) > 1 and words[1]["end"] - first["start"] > longest * 2)
            ):
                if len(words) > 1 and words[1]["end"] - words[1]["start"] > longest:
                    boundary = max(words[1]["end"] / 2, words[1]["end"] - longest)
                    first["end"] = words[1]["start"] = boundary
                first["start"] = max(0.0, first["end"] - longest)
            # Prefer the decoded segment bounds where the first or last word runs far past them.
            if segment.start < first["end"] and segment.start - 0.5 > first["start"]:
                first["start"] = max(0.0, min(first["end"] - median, segment.start))
            if segment.end > last["start"] and segment.end + 0.5 < last["end"]:
                last["end"] = max(last["start"] + median, segment.end)
            last_speech = max(segment.end, last["end"])
        timed: list[Word] = []
        for w in words:
            start = min(max(w["start"], previous_end), duration)
            end = min(max(w["end"], start), duration)
            timed.append(
                Word(w["word"], round(start, 2), round(end, 2), round(w["probability"], 4))
            )
            previous_end = end
        out.append(Segment(segment.start, segment.end, segment.text, timed))
    return out
