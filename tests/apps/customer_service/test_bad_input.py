"""Bad input gets a clear error and leaves what is stored untouched."""

from __future__ import annotations

import json

import pytest

from apps.customer_service.importers import parse_faq
from core.errors import InvalidInputError
from core.settings import Limits

LIMITS = Limits()  # the default limits; the bot passes its manager's
GOOD = b"id,question,answer\na,What is A?,A is the first letter.\n"


def test_empty_and_too_long_messages(bot):
    with pytest.raises(InvalidInputError, match="empty"):
        bot.ask("   ", session_id="t-bad")
    with pytest.raises(InvalidInputError, match="limit"):
        bot.ask("x" * (bot.max_chars + 1), session_id="t-bad")
    with pytest.raises(InvalidInputError, match="text"):
        bot.ask(123, session_id="t-bad")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="session id"):
        bot.ask("hello", session_id="../../etc/passwd")


def test_malformed_csv_names_the_row():
    data = b"id,question,answer\na,Q1?,Fine.\nb,Q2?,Unquoted, comma in the answer\n"
    with pytest.raises(InvalidInputError, match="row 3"):
        parse_faq(data, "faq.csv", LIMITS)


def test_missing_columns():
    with pytest.raises(InvalidInputError, match="missing the column.*answer"):
        parse_faq(b"question,reply\nQ?,A.\n", "faq.csv", LIMITS)
    with pytest.raises(InvalidInputError, match="Entry 2 is missing answer"):
        parse_faq(
            json.dumps([{"question": "Q?", "answer": "A."}, {"question": "Q2?"}]).encode(),
            "faq.json",
            LIMITS,
        )


def test_duplicate_ids():
    with pytest.raises(InvalidInputError, match="Duplicate id 'a'.*1 and 2"):
        parse_faq(b"id,question,answer\na,Q1?,A1.\na,Q2?,A2.\n", "faq.csv", LIMITS)


def test_non_utf8_file():
    data = "id,question,answer\na,Qué?,Sí.\n".encode("latin-1")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        parse_faq(data, "faq.csv", LIMITS)


def test_other_bad_files():
    with pytest.raises(InvalidInputError, match="Unsupported"):
        parse_faq(GOOD, "faq.exe", LIMITS)
    with pytest.raises(InvalidInputError, match="empty"):
        parse_faq(b"   ", "faq.csv", LIMITS)
    with pytest.raises(InvalidInputError, match="Malformed JSON at line 1"):
        parse_faq(b"[{", "faq.json", LIMITS)
    with pytest.raises(InvalidInputError, match="id"):
        parse_faq(b"id,question,answer\n../etc,Q?,A.\n", "faq.csv", LIMITS)
    with pytest.raises(InvalidInputError, match="answer is empty"):
        parse_faq(b"## A question\n\n## Another\nBody\n", "faq.md", LIMITS)


def test_markdown_and_json_formats():
    md = "# Orders\n## Where is my parcel? {#parcel}\nAlso asked: where's my order | delivery status\nUse the tracking link.\n"
    entries = parse_faq(md.encode(), "faq.md", LIMITS)
    assert entries[0].id == "parcel" and entries[0].category == "Orders"
    assert entries[0].alternatives == ["where's my order", "delivery status"]
    assert entries[0].answer == "Use the tracking link."
    js = json.dumps({"entries": [{"question": "Q?", "answer": "A.", "alternatives": ["Q again?"]}]})
    (entry,) = parse_faq(js.encode(), "faq.json", LIMITS)
    assert entry.id.startswith("faq-") and entry.alternatives == ["Q again?"]


def test_bad_import_leaves_knowledge_base_untouched(fresh_bot):
    fresh_bot.import_faq(GOOD, name="faq.csv")
    before = [(e.id, e.answer) for e in fresh_bot.entries()]
    with pytest.raises(InvalidInputError):
        fresh_bot.import_faq(
            b"id,question,answer\na,Q1?,Changed.\nb,,No question.\n", name="faq.csv"
        )
    assert [(e.id, e.answer) for e in fresh_bot.entries()] == before
    assert fresh_bot.kb.index.ntotal == 2


def test_empty_knowledge_base(fresh_bot):
    with pytest.raises(InvalidInputError, match="knowledge base is empty"):
        fresh_bot.ask("where is my parcel?")


def test_bad_intent_examples(fresh_bot):
    with pytest.raises(InvalidInputError, match="at least two"):
        fresh_bot.train_intents([("hi", "greet"), ("hello", "greet")])
    with pytest.raises(InvalidInputError, match="at least 2 examples"):
        fresh_bot.train_intents([("hi", "greet"), ("hello", "greet"), ("bye", "leave")])
    with pytest.raises(InvalidInputError, match="empty"):
        fresh_bot.train_intents([("", "greet"), ("hello", "greet")])
    with pytest.raises(InvalidInputError, match="DataFrame or a list"):
        fresh_bot.train_intents("text,intent")
