"""The page's example clips say what their names promise, to the bundled models."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.speech.examples import (
    EXAMPLE_LANGUAGES,
    INVOICE_CLIP,
    MANDARIN_CLIP,
    example_files,
    example_language,
)
from apps.speech.synth import espeak_available
from apps.speech.ui import build_ui
from tests.support.debian import require_debian_package


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_debian_package("espeak-ng", espeak_available(), "Synthetic speech")
    return {p.name: p for p in example_files(tmp_path_factory.mktemp("speech-data"))}


def test_the_first_example_is_the_english_clip_heard_word_for_word(clips, base):
    assert next(iter(clips)) == INVOICE_CLIP  # the home page and the speech page show it first
    transcript = base.transcribe(clips[INVOICE_CLIP])
    assert transcript.language == "en"
    assert transcript.text == (
        "Please send the invoice to our office before Friday. "
        "The delivery truck arrived at the warehouse this morning."
    ), transcript.text


def test_the_mandarin_example_sets_its_language_and_is_heard_in_chinese(clips, base):
    assert example_language(clips[MANDARIN_CLIP]) == "zh"
    assert example_language(clips[INVOICE_CLIP]) is None
    transcript = base.transcribe(clips[MANDARIN_CLIP], language=EXAMPLE_LANGUAGES[MANDARIN_CLIP])
    assert transcript.text.rstrip("。") == "我想喝一杯咖啡", transcript.text


def test_the_page_examples_fill_in_the_language_too(manager, clips):
    import gradio as gr

    demo = build_ui()
    tables = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    rows = [row for table in tables for row in table.samples or []]
    languages = {Path(str(row[0])).name: row[1] for row in rows if len(row) == 2}
    assert languages.get(MANDARIN_CLIP) == "zh", rows
    assert languages.get(INVOICE_CLIP) == "auto", rows
