"""Speech recognition app: transcripts with timestamps and subtitles, for recordings of any length.

    from apps.speech import Transcriber
    t = Transcriber().transcribe("call.wav")
    print(t.text, t.language, Transcriber.to_srt(t))
"""

from shared_models.types.speech import DEFAULT_MODEL, FAST_MODEL, LANGUAGES, Segment, Word

from .api import Transcriber, Transcript

__all__ = [
    "DEFAULT_MODEL",
    "FAST_MODEL",
    "LANGUAGES",
    "Segment",
    "Transcriber",
    "Transcript",
    "Word",
]
