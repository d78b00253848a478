"""The speech app's page: upload or record, get the transcript, segments and subtitles."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
import pandas as pd

from apps.ui_kit import page_errors, progress_callback, tr, tr_frame, tr_text, transcriber
from core.errors import InvalidInputError

from . import DEFAULT_MODEL as DEFAULT
from . import FAST_MODEL as FAST
from . import LANGUAGES
from .api import Transcriber, Transcript, exports_folder, save_exports
from .audio import Audio, describe_limit
from .examples import example_files, example_language
from .live import LiveText, LiveTranscription
from .metrics import character_error_rate, word_error_rate

TITLE = "Speech"
DESCRIPTION = "Transcripts with timestamps and subtitles from calls, voice notes and recordings."

AUTO = "auto"
# Requests waiting on the speech model cost almost nothing, and those that wait together
# share its batches (the int8 decoder costs ~3x one row for 8 rows); Gradio's default of
# four workers per event would keep the rest queued outside, in batches of two at most.
TRANSCRIBE_CONCURRENCY = 16


def _transcriber(model: str) -> Transcriber:
    """The page's transcriber for ``model`` (one per model and process, made on first use)."""
    return transcriber(model)


def language_choices() -> list[tuple[str, str]]:
    """(label, code) pairs for the language menu, detection first."""
    return [("Detect automatically", AUTO)] + sorted(
        ((f"{name.title()} ({code})", code) for code, name in LANGUAGES.items()),
        key=lambda pair: pair[0],
    )


def model_choices() -> list[tuple[str, str]]:
    configured = transcriber().model  # the speech role's model in settings
    choices = [("Whisper base: multilingual, can translate", DEFAULT),
               ("Whisper tiny.en: fast, English only", FAST)]  # fmt: skip
    if configured not in (DEFAULT, FAST):
        choices.insert(0, (f"Configured: {configured}", configured))
    return choices


def segment_table(transcripts: list[Transcript]) -> pd.DataFrame:
    """One row per segment, with the file it came from when there are several."""
    rows = [
        {"file": t.name, "start": f"{s.start:.2f}", "end": f"{s.end:.2f}", "text": s.text}
        for t in transcripts
        for s in t.segments
    ]
    frame = pd.DataFrame(rows, columns=["file", "start", "end", "text"])
    return frame.drop(columns="file") if len(transcripts) <= 1 else frame


def word_table(transcripts: list[Transcript]) -> pd.DataFrame:
    """One row per timed word (empty without word timestamps), with its file when there are several."""
    rows = [
        {"file": t.name, "start": f"{w.start:.2f}", "end": f"{w.end:.2f}", "word": w.word.strip(),
         "probability": f"{w.probability:.2f}"}
        for t in transcripts
        for s in t.segments
        for w in s.words
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["file", "start", "end", "word", "probability"])
    return frame.drop(columns="file") if len(transcripts) <= 1 else frame


def _summary(transcripts: list[Transcript]) -> str:
    lines = []
    for t in transcripts:
        language = t.language or "none (no speech heard)"
        what = "translated to English" if t.task == "translate" else "transcribed"
        n = len(t.segments)
        lines.append(tr(
            "**{name}**: {duration:.1f} s, language **{language}**, {what} by `{model}` in {windows}, {segments}.",
            name=t.name, duration=t.duration, language=tr_text(language), what=tr_text(what), model=t.model,
            windows=tr("1 window") if t.windows == 1 else tr("{n} windows", n=t.windows),
            segments=tr("1 segment") if n == 1 else tr("{n} segments", n=n),
        ))
    return "\n\n".join(lines)


@page_errors
def transcribe(clip, files, model, language, task, words=False, progress=gr.Progress()):
    """Page handler: transcribe the recorded/uploaded clip and every uploaded file."""
    sources = ([clip] if clip else []) + [getattr(f, "name", f) for f in (files or [])]
    if not sources:
        raise InvalidInputError("Upload an audio file or record with the microphone first.")
    tr = _transcriber(model)
    audios: list[Audio] = []
    for source in sources:
        try:
            audios.append(tr.load(source, name=Path(source).name))
        except InvalidInputError as exc:
            if len(sources) == 1:
                raise
            gr.Warning(tr_text(f"Skipped: {exc}"))
    if not audios:
        raise InvalidInputError("None of the files could be read as audio; see the warnings.")
    transcripts = tr.transcribe_audio(
        audios,
        language=None if language == AUTO else language,
        task=task,
        progress=progress_callback(progress),
        word_timestamps=bool(words),
    )
    for t in transcripts:
        if not t.text:
            gr.Warning(tr_text(f"No speech was heard in {t.name}."))
    if len(transcripts) == 1:
        text = transcripts[0].text
    else:
        text = "\n\n".join(f"[{t.name}]\n{t.text}" for t in transcripts)
    downloads = save_exports(transcripts, exports_folder())
    return (
        _summary(transcripts),
        text,
        tr_frame(segment_table(transcripts), cells=False),  # headers in the viewer's language
        gr.Dataframe(tr_frame(word_table(transcripts), cells=False), visible=bool(words)),
        [str(p) for p in downloads],
        transcripts,
    )


@page_errors
def score(transcripts, reference):
    """Page handler: WER and CER of the last transcript against a reference text."""
    if not transcripts:
        raise InvalidInputError("Transcribe something first.")
    if not reference or not reference.strip():
        raise InvalidInputError("Paste the reference (correct) transcript first.")
    hypothesis = " ".join(t.text for t in transcripts)
    language = transcripts[0].language
    try:
        wer = word_error_rate([reference], [hypothesis], language)
        cer = character_error_rate([reference], [hypothesis], language)
    except ValueError as exc:  # the metrics' own check, worded for the page
        raise InvalidInputError(f"Cannot score: {exc}.") from None
    return tr(
        "**Word error rate {wer:.1%}**, character error rate {cer:.1%} "
        "(after normalising case, punctuation and numbers).",
        wer=wer, cer=cer,
    )


def live_html(text: LiveText | None) -> str:
    """Final text as it is, the partial text after it greyed and in italics (it still changes)."""
    final, partial = text if text is not None else ("", "")
    return (
        '<div class="speech-live"><span id="speech-live-final">'
        f"{html.escape(final)}</span> "
        '<span id="speech-live-partial" style="color: var(--body-text-color-subdued); '
        f'font-style: italic">{html.escape(partial)}</span></div>'
    )


@page_errors
def live_feed(session, chunk, model, language):
    """Page handler for each microphone chunk: a new session per recording, then feed it."""
    if chunk is None:
        return session, gr.skip(), gr.skip()
    if session is None or session.finished:
        # Decoding runs beside the stream: Gradio keeps only the newest chunk while this runs.
        session = LiveTranscription(
            _transcriber(model), language=None if language == AUTO else language, background=True
        )
    rate, samples = chunk
    text = session.feed(samples, rate)
    return session, live_html(text), text.final


@page_errors
def live_stop(session):
    """Page handler when recording stops: finalise what is still open."""
    if session is None:
        return None, gr.skip(), gr.skip()
    text = session.finish()
    return session, live_html(text), text.final


def _live_section(default: Transcriber) -> None:
    """Live transcription from the microphone (apps.speech.live): words while they are spoken."""
    live = default.manager.settings.speech
    gr.Markdown(
        "### Live transcription\nSpeak into the microphone: the words appear while you speak "
        "(grey and *italic* while they may still change) and are final at each pause. "
        "Stop recording to finalise the rest."
    )
    session = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            mic = gr.Audio(
                sources=["microphone"],
                streaming=True,
                type="numpy",
                label="Microphone",
                elem_id="speech-live-mic",
            )
            model = gr.Dropdown(
                model_choices(), value=FAST, label="Model", elem_id="speech-live-model"
            )
            language = gr.Dropdown(language_choices(), value=AUTO, label="Language")
        with gr.Column(scale=2):
            view = gr.HTML(live_html(None), elem_id="speech-live-text")
            final = gr.Textbox(
                label="Final text", lines=4, buttons=["copy"], elem_id="speech-live-final-text"
            )
    mic.stream(
        live_feed,
        [session, mic, model, language],
        [session, view, final],
        stream_every=0.5,
        time_limit=int(live.live_session_seconds),
        # A stream holds its queue slot while the person records (the decoding is elsewhere).
        concurrency_limit=live.live_max_sessions,
        api_name="speech_live",
        show_progress="hidden",
    )
    mic.stop_recording(live_stop, [session], [session, view, final], api_name="speech_live_stop")


def build_ui() -> gr.Blocks:
    default = transcriber()  # the app's limits, read from settings through its manager
    limit = describe_limit(default.max_seconds)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"## Speech to text\n{DESCRIPTION} Any wav, flac, ogg or mp3 file (any sample "
            f"rate, mono or stereo) up to {limit} and {default.max_upload_mb:g} MB; "
            "long recordings are cut at pauses and decoded in batches."
        )
        transcripts = gr.State([])
        with gr.Row():
            with gr.Column(scale=1):
                clip = gr.Audio(
                    sources=["upload", "microphone"],
                    type="filepath",
                    label="Record or upload a clip",
                    elem_id="speech-clip",
                )
                files = gr.File(file_count="multiple", label="…or several files at once")
                # The configured model (SPRINGBOARD_MODELS__SPEECH) is always one of the choices.
                model = gr.Dropdown(
                    model_choices(),
                    value=default.model,
                    label="Model",
                    elem_id="speech-model",
                )
                language = gr.Dropdown(
                    language_choices(), value=AUTO, label="Language", elem_id="speech-language"
                )
                task = gr.Radio(
                    [("Transcribe", "transcribe"), ("Translate to English", "translate")],
                    value="transcribe",
                    label="Task",
                )
                words = gr.Checkbox(
                    False,
                    label="Word timestamps",
                    info="Time every word (a words table and word-timed .words.vtt subtitles); "
                    "a little slower.",
                    elem_id="speech-words",
                )
                run = gr.Button("Transcribe", variant="primary", elem_id="speech-run")
                # Each example also sets the language menu: the Mandarin clip's language is
                # given, because detection mistakes espeak-ng's Mandarin voice for Thai.
                examples = [
                    [str(p), example_language(p) or AUTO] for p in example_files(default.data_dir)
                ]
                if examples:
                    gr.Examples(
                        examples,
                        inputs=[clip, language],
                        label="Examples (generated with espeak-ng; LibriVox read speech)",
                    )
            with gr.Column(scale=2):
                summary = gr.Markdown(elem_id="speech-summary")
                text = gr.Textbox(
                    label="Transcript", lines=8, buttons=["copy"], elem_id="speech-transcript"
                )
                table = gr.Dataframe(
                    pd.DataFrame(columns=["start", "end", "text"]),
                    label="Segments",
                    wrap=True,
                    interactive=False,
                )
                word_rows = gr.Dataframe(
                    pd.DataFrame(columns=["start", "end", "word", "probability"]),
                    label="Words",
                    interactive=False,
                    visible=False,
                    max_height=300,
                    elem_id="speech-words-table",
                )
                downloads = gr.File(
                    label="Downloads (.txt, .srt, .vtt; .words.vtt with word timestamps)",
                    file_count="multiple",
                )
                with gr.Accordion("Score against a reference transcript", open=False):
                    reference = gr.Textbox(label="Reference transcript", lines=3)
                    score_button = gr.Button("Compute WER / CER")
                    scores = gr.Markdown()
        run.click(
            transcribe,
            [clip, files, model, language, task, words],
            [summary, text, table, word_rows, downloads, transcripts],
            api_name="speech_transcribe",
            concurrency_limit=TRANSCRIBE_CONCURRENCY,
        )
        score_button.click(score, [transcripts, reference], scores, api_name="speech_score")
        _live_section(default)
    return demo
