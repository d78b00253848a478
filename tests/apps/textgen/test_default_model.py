"""End to end on the real default model (Qwen2.5-Coder-0.5B-Instruct): a template, streamed."""

from __future__ import annotations

import pytest

from apps.textgen import GenerationOptions, TextGenerator


@pytest.mark.slow
def test_default_model_translates_from_a_template_reproducibly(manager, textgen_db):
    gen = TextGenerator(manager=manager, db=textgen_db)
    assert gen.model == "qwen2.5-coder-0.5b" and gen.context_tokens == 4096
    options = GenerationOptions(max_new_tokens=24, temperature=0.7, seed=11)
    fields = {
        "text": "Our app helps small shops send invoices in two minutes.",
        "target_language": "Simplified Chinese",
    }
    stream = gen.start_template("translation", fields, options)
    pieces = list(stream)
    assert len(pieces) >= 3 and "".join(pieces) == stream.result.text
    assert not any("\ufffd" in p for p in pieces)  # multi-byte characters are never split
    assert any("\u4e00" <= ch <= "\u9fff" for ch in stream.result.text)  # it wrote Chinese
    assert stream.request.messages[0]["content"].startswith("You are a professional translator")
    again = gen.start_template("translation", fields, options)
    assert again.consume() == stream.result.text  # same seed, same text
