"""The page: it builds, names its API endpoints, and its handlers stream, cancel and save."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pytest

from apps.textgen import ui
from apps.textgen.templates import MAX_FIELDS
from shared_models.text_generation import TINY

CONTROLS = [
    24,
    0.0,
    0.8,
    20,
    1.0,
    -1,
    "",
]  # max new, temperature, top-p, top-k, penalty, seed, stops


def _fields(*values: str) -> list[str]:
    return list(values) + [""] * (MAX_FIELDS - len(values))


def test_page_builds_with_named_endpoints(manager):
    demo = ui.build_ui()
    assert isinstance(demo, gr.Blocks)
    names = [d.api_name for d in demo.fns.values() if d.api_visibility == "public"]
    assert len(names) == len(set(names))
    assert all(n.startswith("textgen_") for n in names)
    assert {"textgen_write", "textgen_chat", "textgen_perplexity", "textgen_save_template"} <= set(
        names
    )
    assert ui.TITLE and ui.DESCRIPTION


def test_template_form_shows_the_template_fields(manager):
    note, system, choice, *boxes = ui.template_form("translation")
    assert "Translation" in note and "translator" in system
    # (shown, value) pairs: shown in the viewer's language (English outside a request), sent as is.
    assert choice["visible"] and choice["choices"] == [
        ("English", "English"), ("Simplified Chinese", "Simplified Chinese")
    ]
    assert boxes[0]["visible"] and boxes[0]["label"] == "Text"
    assert not any(b["visible"] for b in boxes[1:])


def test_write_streams_into_the_output_and_offers_a_download(manager):
    outputs = list(
        ui.write(TINY, "free_chat", None, None, *_fields("Name three colours."), *CONTROLS)
    )
    assert len(outputs) >= 3  # the text arrives in steps, not all at once
    texts = [o[0] for o in outputs]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    text, notices, stats, download, sent, coloured = outputs[-1]
    assert coloured == ""  # "Show confidence" is off
    assert text.strip() and "new tokens" in stats and "smollm2" in stats
    assert Path(download["value"]).read_text(encoding="utf-8") == text
    assert sent[-1] == {"role": "user", "content": "Name three colours."}


def test_write_reports_bad_input_as_a_page_error(manager):
    with pytest.raises(gr.Error, match="Fill in"):
        list(ui.write(TINY, "summary", None, "one sentence", *_fields(""), *CONTROLS))
    bad_controls = [24, -1.0, 0.8, 20, 1.0, -1, ""]
    with pytest.raises(gr.Error, match="Temperature"):
        list(ui.write(TINY, "free_chat", None, None, *_fields("Hi"), *bad_controls))


def test_cancel_ends_only_the_sessions_own_stream(manager):
    class Request:  # what Gradio passes: just the session id matters here
        def __init__(self, session: str) -> None:
            self.session_hash = session

    long = [200, 0.7, 0.8, 20, 1.0, 1, ""]
    mine = ui.write(
        TINY, "free_chat", None, None, *_fields("Tell a long story."), *long, request=Request("a")
    )
    other = ui.write(
        TINY, "free_chat", None, None, *_fields("Count to three."), *CONTROLS, request=Request("b")
    )
    with ThreadPoolExecutor(2) as pool:  # start both at once so they share a batch
        first_mine = pool.submit(next, mine)
        first_other = pool.submit(next, other)
        first_mine.result()
        ui.cancel("write")(Request("a"))
        ui.cancel("write")(Request("a"))  # a second click is harmless
        first_other.result()
    *_, last = mine
    assert "cancelled" in last[2]
    *_, other_last = other
    assert "cancelled" not in other_last[2] and other_last[0].strip()


def test_chat_keeps_the_history_and_streams_the_answer(manager):
    history = [
        {"role": "user", "content": [{"type": "text", "text": "My name is Ada."}]},
        {"role": "assistant", "content": "Nice to meet you, Ada!"},
    ]
    outputs = list(ui.chat("What is my name?", history, "Be brief.", TINY, *CONTROLS))
    chat, cleared, _notes = outputs[-1]
    assert cleared == ""
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant"]
    assert chat[2]["content"] == "What is my name?" and chat[3]["content"].strip()
    with pytest.raises(gr.Error, match="empty"):
        list(ui.chat("   ", history, "", TINY, *CONTROLS))


def test_templates_and_perplexity_from_the_page(manager):
    table, dropdown, deletable = ui.save_template(
        "page_template", "Page template", "", "", "Write a haiku about {topic}.", False
    )
    assert ["page_template", "Page template", "topic", ""] in table
    assert ("Page template (mine)", "page_template") in dropdown["choices"]
    with pytest.raises(gr.Error, match="already exists"):
        ui.save_template("page_template", "Again", "", "", "Say {x}", False)
    table, _, _ = ui.delete_template("page_template")
    assert not any(row[0] == "page_template" for row in table)
    assert "Perplexity" in ui.perplexity(ui.FLUENT_EXAMPLE, TINY)
