"""Conversations and tickets are stored redacted: no raw email or phone reaches the database."""

from __future__ import annotations

from pathlib import Path

from apps.customer_service.conversations import ConversationStore
from core.privacy import Redactor

FAQ = (
    "id,category,question,answer\n"
    "parcel,orders,Where is my parcel?,Track your parcel with the link in your dispatch email.\n"
    "hours,general,What are your opening hours?,We are open 9am to 5pm Monday to Friday.\n"
)
EMAIL, PHONE, CN_MOBILE = "ana.lopez@example.com", "+44 20 7946 0958", "13812345678"


def _stored_bytes(folder: Path) -> bytes:
    """Every byte in the data folder: the database, its WAL, the indexes."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_stored_messages_and_tickets_hold_no_raw_email_or_phone(fresh_bot, tmp_path):
    fresh_bot.import_faq(FAQ.encode(), name="faq.csv")
    answered = fresh_bot.ask(f"where is my parcel? I'm {EMAIL}, phone {PHONE}", session_id="p1")
    assert answered.source_id == "parcel"
    # Unanswerable: escalated, so a ticket is opened with the question in it.
    escalated = fresh_bot.ask(f"my neighbour's cat {CN_MOBILE} is stuck in a tree", session_id="p2")
    assert escalated.escalated and escalated.ticket_id is not None
    fresh_bot.ask(f"please call me on {PHONE}", session_id="p3")
    human_ticket = fresh_bot.request_human("p3")

    history = fresh_bot.history("p1")
    assert history[0]["content"] == "where is my parcel? I'm [EMAIL], phone [PHONE]"
    tickets = {t["id"]: t["question"] for t in fresh_bot.tickets()}
    assert tickets[escalated.ticket_id] == "my neighbour's cat [PHONE] is stuck in a tree"
    assert tickets[human_ticket] == "please call me on [PHONE]"
    assert [u["question"] for u in fresh_bot.unanswered()][-1].count("[PHONE]") == 1

    fresh_bot.db.query("PRAGMA wal_checkpoint(FULL)")
    stored = _stored_bytes(fresh_bot.data_dir)
    for raw in (EMAIL, PHONE, CN_MOBILE, "7946 0958"):
        assert raw.encode() not in stored


def test_hash_mode_links_one_customer_across_sessions_without_storing_them(fresh_bot):
    store = ConversationStore(fresh_bot.db, Redactor("hash", salt=b"test salt"))
    turn = dict(intent=None, intent_confidence=None, sentiment=0.0, source_id=None,
                confidence=0.1, escalated=True, ticket_reason="test")
    store.record_turn("h1", f"I am {EMAIL}", "ok", **turn)
    store.record_turn("h2", f"again, {EMAIL.upper()} here", "ok", **turn)
    first, second = (store.history(s)[0]["content"] for s in ("h1", "h2"))
    tag = first.removeprefix("I am ")
    assert tag.startswith("[EMAIL:") and second == f"again, {tag} here"
    assert all(EMAIL not in t["question"].lower() for t in store.tickets())
