"""Speech recognition app: transcripts with timestamps and subtitles, for recordings of any length.

    from apps.speech import Transcriber
    t = Transcriber().transcribe("call.wav")
    print(t.text, t.language, Transcriber.to_srt(t))
"""

from shared_models.speech_recognition import Segment

from .api import Transcriber, Transcript

__all__ = ["Segment", "Transcriber", "Transcript"]
