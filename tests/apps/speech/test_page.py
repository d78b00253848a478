"""The page's handlers, called as Gradio calls them (no browser)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from apps.speech import ui


def _no_progress(*args, **kwargs) -> None:
    return None


@pytest.mark.slow
def test_page_transcribes_uploads_and_offers_downloads(manager, librivox, tmp_path):
    _, first, _ = librivox[1]
    _, second, _ = librivox[4]
    summary, text, table, words, downloads, transcripts = ui.transcribe(
        str(first), [str(second)], "whisper-tiny.en", ui.AUTO, "transcribe", False, _no_progress
    )
    assert "young man" in text.lower() and "amiable himself" in text.lower()
    assert list(table.columns) == ["file", "start", "end", "text"] and len(table) >= 2
    assert sorted(Path(p).suffix for p in downloads) == [
        ".srt",
        ".srt",
        ".txt",
        ".txt",
        ".vtt",
        ".vtt",
    ]
    assert "language **en**" in summary and len(transcripts) == 2

    result = ui.score(transcripts[:1], "He was not an ill-disposed young man.")
    assert "Word error rate" in result
    assert not words.visible


@pytest.mark.slow
def test_page_word_timestamps_fill_the_words_table_and_word_vtt(manager, librivox):
    _, clip, _ = librivox[1]
    _, text, _, words, downloads, _ = ui.transcribe(
        str(clip), [], "whisper-tiny.en", ui.AUTO, "transcribe", True, _no_progress
    )
    table = words.value
    assert words.visible and table["headers"] == ["start", "end", "word", "probability"]
    assert "".join(row[2] for row in table["data"]) == text.replace(" ", "")
    starts = [float(row[0]) for row in table["data"]]
    assert starts == sorted(starts) and starts[-1] > 1.0
    assert sum(str(p).endswith(".words.vtt") for p in downloads) == 1


def test_page_errors_are_readable(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    with pytest.raises(gr.Error, match="does not look like an audio file"):
        ui.transcribe(
            None, [str(bad)], "whisper-tiny.en", ui.AUTO, "transcribe", False, _no_progress
        )
    with pytest.raises(gr.Error, match="Upload an audio file"):
        ui.transcribe(None, [], "whisper-tiny.en", ui.AUTO, "transcribe", False, _no_progress)
    with pytest.raises(gr.Error, match="Transcribe something first"):
        ui.score([], "reference")


def test_page_builds_with_examples(manager):
    # The page reads its limits and data folder through the app, i.e. the session's manager.
    demo = ui.build_ui()
    assert isinstance(demo, gr.Blocks)
    names = {d["api_name"] for d in demo.config["dependencies"] if d.get("api_name")}
    assert {"speech_transcribe", "speech_score"} <= names
