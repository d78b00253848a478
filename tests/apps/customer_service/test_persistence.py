"""The knowledge base, its FAISS index, conversations and intents survive a restart."""

from __future__ import annotations

import pytest

from apps.customer_service import ConflictError, CustomerServiceBot
from core.errors import InvalidInputError

FAQ = (
    "id,category,question,answer\n"
    "hours,general,What are your opening hours?,We are open 9am to 5pm Monday to Friday.\n"
    "returns,orders,How do I return an item?,Use the returns form within 30 days of delivery.\n"
    "parcel,orders,Where is my parcel?,Track your parcel with the link in your dispatch email.\n"
)


def test_restart_keeps_entries_index_and_history(manager, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text(FAQ, encoding="utf-8")
    data = tmp_path / "cs"
    bot = CustomerServiceBot.from_faq(path, data_dir=data, manager=manager)
    reply = bot.ask("where is my parcel?", session_id="s1")
    assert reply.source_id == "parcel" and not reply.escalated
    bot.add_entry("Do you ship abroad?", "Yes, to 30 countries.", "orders", entry_id="abroad")
    bot.edit_entry("hours", "When are you open?", "We are open 8am to 6pm every day.")
    bot.delete_entry("returns")
    index_file = data / "index" / "kb.faiss"
    assert index_file.is_file()
    # A company's own knowledge base has no intents until it trains some.
    assert bot.intent_model is None
    bot.train_intents(
        [("hello there", "greeting"), ("hi", "greeting"), ("where is my order", "parcel"),
         ("my parcel has not come", "parcel")]
    )  # fmt: skip

    assert bot.wait_for_calibration()  # the edits' background refit
    again = CustomerServiceBot(data_dir=data, manager=manager)
    assert not again.kb.rebuilt_index  # the persisted index was current and reused
    assert {e.id for e in again.entries()} == {"hours", "parcel", "abroad"}
    assert again.ask("do you deliver to other countries?", session_id="s2").source_id == "abroad"
    assert "8am" in again.ask("what time do you open?", session_id="s2").answer
    assert [m["role"] for m in again.history("s1")] == ["user", "assistant"]
    assert again.intent_model.labels == bot.intent_model.labels
    # The calibration fitted after the last edit is stored and reused, not refitted.
    assert again.calibration == bot.calibration


def test_stale_index_is_rebuilt_from_stored_vectors(manager, tmp_path):
    data = tmp_path / "cs"
    bot = CustomerServiceBot(data_dir=data, manager=manager)
    bot.import_faq(FAQ.encode(), name="faq.csv")
    (data / "index" / "kb.faiss").write_bytes(b"not a faiss index")
    again = CustomerServiceBot(data_dir=data, manager=manager)
    assert again.kb.rebuilt_index
    assert again.search("where's my package").top.entry.id == "parcel"


def test_incremental_updates_do_not_rebuild(fresh_bot):
    fresh_bot.import_faq(FAQ.encode(), name="faq.csv")
    index = fresh_bot.kb.index
    before = index.ntotal
    fresh_bot.add_entry("Can I pay by invoice?", "Yes, for business accounts.", entry_id="invoice")
    assert fresh_bot.kb.index is index and index.ntotal == before + 2  # question + question/answer
    fresh_bot.delete_entry("invoice")
    assert fresh_bot.kb.index is index and index.ntotal == before


def test_concurrent_edit_is_refused(fresh_bot):
    fresh_bot.import_faq(FAQ.encode(), name="faq.csv")
    seen = fresh_bot.kb.get("hours").version
    fresh_bot.edit_entry("hours", "Opening hours?", "9 to 5.", expected_version=seen)
    with pytest.raises(ConflictError, match="changed by someone else"):
        fresh_bot.edit_entry("hours", "Opening times?", "10 to 4.", expected_version=seen)
    assert fresh_bot.kb.get("hours").answer == "9 to 5."
    with pytest.raises(ConflictError):
        fresh_bot.delete_entry("hours", expected_version=seen)
    with pytest.raises(InvalidInputError, match="already exists"):
        fresh_bot.add_entry("Again?", "Yes.", entry_id="hours")


def test_threads_editing_at_once_lose_nothing(fresh_bot):
    from concurrent.futures import ThreadPoolExecutor

    def add(i: int) -> None:
        fresh_bot.add_entry(
            f"Question number {i} about topic {i}?", f"Answer {i}.", entry_id=f"q{i}"
        )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(add, range(12)))
    assert len(fresh_bot.entries()) == 12
    assert fresh_bot.kb.index.ntotal == 24
    again = CustomerServiceBot(data_dir=fresh_bot.data_dir, manager=fresh_bot.manager)
    assert len(again.entries()) == 12 and not again.kb.rebuilt_index
