"""Speech recognition role: requests and results.

Send ``TranscriptionRequest`` items to ``manager.handle("speech")`` (or a model
name such as ``FAST_MODEL``); each comes back as a ``TranscriptionResult``, or
as an ``InvalidInputError`` for that request alone. The role takes one window of
at most ``MAX_SECONDS`` of float32 mono audio at ``SAMPLE_RATE``: decoding files,
resampling and cutting long recordings into windows is the caller's job.

This module imports no torch and no model code (see ``shared_models.types``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ROLE = "speech"
DEFAULT_MODEL = "whisper-base"  # multilingual: detects the language, translates to English
FAST_MODEL = "whisper-tiny.en"  # English only, about twice as fast on CPU

SAMPLE_RATE = 16_000
MAX_SECONDS = 30.0  # one Whisper window

Task = Literal["transcribe", "translate"]

# The languages Whisper's multilingual models know (code -> English name), as in
# transformers' ``tokenization_whisper.LANGUAGES``; copied so that a caller can
# offer them without importing transformers (a test keeps the two equal).
LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class TranscriptionRequest:
    """One audio window to transcribe.

    ``audio`` is float32 mono at ``SAMPLE_RATE``, at most ``MAX_SECONDS`` long.
    ``language`` is a code such as ``"en"`` or ``"zh"`` (or a name such as
    ``"english"``); ``None`` detects it. ``task="translate"`` outputs English.
    ``timestamps`` asks for segments with start and end times.
    ``word_timestamps`` also times each word of each segment (``Segment.words``),
    by aligning the decoder's cross-attention to the audio as Whisper's
    ``word_timestamps=True`` does; it needs ``timestamps`` and costs one more
    decoder pass over the text.
    """

    audio: np.ndarray
    language: str | None = None
    task: Task = "transcribe"
    timestamps: bool = True
    word_timestamps: bool = False


@dataclass(frozen=True)
class Word:
    """One spoken word, in seconds from the start of the window.

    ``word`` keeps Whisper's spacing: a leading space where the text has one
    (``" hello"``), none inside CJK text, with punctuation attached to its word;
    so ``"".join(w.word for w in words).strip()`` is the segment's text.
    ``probability`` is the mean probability of the word's tokens.
    """

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of speech, in seconds from the start of the window.

    ``words`` is filled only when word timestamps were asked for.
    """

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass(frozen=True)
class TranscriptionResult:
    """The text of one window, its language code, and (if asked for) its segments.

    ``language`` is the requested or detected code; it is ``None`` only when the
    window was silent and no language was given. Silent windows have empty text
    and no segments.
    """

    text: str
    language: str | None
    segments: list[Segment] = field(default_factory=list)
