"""Sessions, messages, escalation tickets and feedback, all in SQLite.

This is the storage boundary of conversations: every text is passed through the
redactor (``core.privacy``, mode from ``Settings.privacy``) before it is written, so no
raw email, phone or card number reaches the database or the tickets built from it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

from core.errors import InvalidInputError
from core.privacy import Redactor
from core.storage import Database

NO_ANSWER = "no confident answer in the knowledge base"  # ticket reason of unanswered questions
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass
class Ticket:
    id: int
    session_id: str
    question: str
    reason: str
    status: str
    created_at: float


class ConversationStore:
    """Persistence for chats; the schema is created by the knowledge base migrations.

    ``redactor`` cleans every question and answer before it is stored; without one,
    personal data is masked (private by default).
    """

    def __init__(self, db: Database, redactor: Redactor | None = None) -> None:
        self.db = db
        self.redactor = redactor or Redactor("mask")

    @staticmethod
    def check_session_id(session_id: str | None) -> str:
        if session_id is None or session_id == "":
            return uuid.uuid4().hex[:16]
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            raise InvalidInputError("A session id is 1-64 letters, digits, '_', '-', '.' or ':'.")
        return session_id

    def history(self, session_id: str, limit: int = 50) -> list[dict]:
        rows = self.db.query(
            "SELECT * FROM (SELECT * FROM cs_messages WHERE session_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (session_id, limit),
        )
        return [dict(row) for row in rows]

    def record_turn(
        self,
        session_id: str,
        question: str,
        answer: str,
        *,
        intent: str | None,
        intent_confidence: float | None,
        sentiment: float,
        source_id: str | None,
        confidence: float,
        escalated: bool,
        ticket_reason: str | None,
    ) -> tuple[int, int | None]:
        """Store a question and its answer (and a ticket if escalated) in one transaction.

        Both are redacted first; the ticket holds the redacted question.
        """
        question, answer = self.redactor.redact(question), self.redactor.redact(answer)
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO cs_sessions (id, created_at, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at",
                (session_id, now, now),
            )
            conn.execute(
                "INSERT INTO cs_messages (session_id, role, content, intent, intent_confidence, sentiment,"
                " created_at) VALUES (?, 'user', ?, ?, ?, ?, ?)",
                (session_id, question, intent, intent_confidence, sentiment, now),
            )
            cur = conn.execute(
                "INSERT INTO cs_messages (session_id, role, content, intent, source_id, confidence, escalated,"
                " created_at) VALUES (?, 'assistant', ?, ?, ?, ?, ?, ?)",
                (session_id, answer, intent, source_id, confidence, int(escalated), now),
            )
            message_id = int(cur.lastrowid)
            ticket_id = None
            if ticket_reason:
                ticket_id = int(
                    conn.execute(
                        "INSERT INTO cs_tickets (session_id, message_id, question, reason, created_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (session_id, message_id, question, ticket_reason, now),
                    ).lastrowid
                )
        return message_id, ticket_id

    def open_ticket(self, session_id: str, reason: str) -> int:
        """A ticket for the session's last question (used when a customer asks for a human)."""
        with self.db.transaction() as conn:
            last = conn.execute(
                "SELECT id, content FROM cs_messages WHERE session_id = ? AND role = 'user' ORDER BY id DESC LIMIT 1",
                (session_id,),
            ).fetchone()
            if last is None:
                raise InvalidInputError("This conversation has no messages yet.")
            existing = conn.execute(
                "SELECT id FROM cs_tickets WHERE session_id = ? AND status = 'open'", (session_id,)
            ).fetchone()
            if existing:
                return int(existing[0])
            return int(
                conn.execute(
                    "INSERT INTO cs_tickets (session_id, message_id, question, reason, created_at) VALUES (?, ?, ?, ?, ?)",
                    (session_id, last["id"], last["content"], reason, time.time()),
                ).lastrowid
            )

    def tickets(self, status: str | None = "open") -> list[dict]:
        if status:
            rows = self.db.query(
                "SELECT * FROM cs_tickets WHERE status = ? ORDER BY id DESC", (status,)
            )
        else:
            rows = self.db.query("SELECT * FROM cs_tickets ORDER BY id DESC")
        return [dict(r) for r in rows]

    def ticket(self, ticket_id: int) -> dict | None:
        """One ticket (open or closed) by number, or None if there is none."""
        rows = self.db.query("SELECT * FROM cs_tickets WHERE id = ?", (int(ticket_id),))
        return dict(rows[0]) if rows else None

    def close_ticket(self, ticket_id: int) -> None:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE cs_tickets SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'",
                (time.time(), int(ticket_id)),
            )
            if cur.rowcount == 0:
                raise InvalidInputError(f"There is no open ticket #{ticket_id}.")

    def unanswered(self, limit: int = 100) -> list[dict]:
        """Customer questions the bot could not answer from the knowledge base."""
        rows = self.db.query(
            "SELECT t.session_id, t.question, m.confidence, t.created_at FROM cs_tickets t"
            " JOIN cs_messages m ON m.id = t.message_id WHERE t.reason = ? ORDER BY t.id DESC LIMIT ?",
            (NO_ANSWER, limit),
        )
        return [dict(r) for r in rows]

    def add_feedback(self, message_id: int, helpful: bool) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT role FROM cs_messages WHERE id = ?", (int(message_id),)
            ).fetchone()
            if row is None or row["role"] != "assistant":
                raise InvalidInputError(f"There is no answer #{message_id} to rate.")
            conn.execute(
                "INSERT INTO cs_feedback (message_id, rating, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT(message_id) DO UPDATE SET rating = excluded.rating, created_at = excluded.created_at",
                (int(message_id), 1 if helpful else -1, time.time()),
            )

    def feedback_stats(self) -> dict:
        row = self.db.query(
            "SELECT SUM(rating > 0) AS up, SUM(rating < 0) AS down, COUNT(*) AS n FROM cs_feedback"
        )[0]
        answers = self.db.query("SELECT COUNT(*) FROM cs_messages WHERE role = 'assistant'")[0][0]
        escalated = self.db.query(
            "SELECT COUNT(*) FROM cs_messages WHERE role = 'assistant' AND escalated = 1"
        )[0][0]
        up, down, n = int(row["up"] or 0), int(row["down"] or 0), int(row["n"] or 0)
        return {
            "answers": int(answers),
            "rated": n,
            "helpful": up,
            "not_helpful": down,
            "helpful_rate": up / n if n else None,
            "escalation_rate": escalated / answers if answers else None,
        }
