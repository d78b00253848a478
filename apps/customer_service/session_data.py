"""Export and erase everything stored about one customer session; delete old sessions.

What the customer-service app stores per session, all in its SQLite database
(``customer_service.db``): the session row (``cs_sessions``), its messages
(``cs_messages``, questions and answers, redacted at the storage boundary), its escalation
tickets (``cs_tickets``, holding the redacted question) and the ratings of its answers
(``cs_feedback``). Nothing else is built from a conversation: the dense (FAISS) and lexical
(BM25) indexes hold only knowledge-base entries, the intent model is trained on labelled
examples, and unanswered questions are read from the tickets, not embedded. So erasing these
rows erases the session.

An erase is one SQLite transaction together with its audit row: a crash (even SIGKILL)
leaves either all of it or none of it. ``secure_delete`` makes SQLite overwrite the freed
rows with zeros, and a truncating WAL checkpoint drops the old page copies, so the erased
text does not linger in the database files.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from core.audit import ALL_SUBJECTS, AuditLog
from core.errors import InvalidInputError
from core.retention import delete_old_files
from core.storage import Database

from .conversations import SESSION_ID

log = logging.getLogger(__name__)

EXPORT_FORMAT = "springboard.customer_service.session/1"
APP_FOLDER, DB_FILE = "customer_service", "customer_service.db"  # under the data directory
EXPORT_FILES_PREFIX = "springboard-cs-export-"  # the page's download folders, in the temp dir


def check_session_id(session_id: object) -> str:
    """An existing session's id as typed; unlike a new chat, none is made up."""
    if not isinstance(session_id, str) or not session_id.strip():
        raise InvalidInputError("Give the session id of the conversation (the Inbox lists it with each ticket).")
    session_id = session_id.strip()
    if not SESSION_ID.match(session_id):
        raise InvalidInputError("A session id is 1-64 letters, digits, '_', '-', '.' or ':'.")
    return session_id


def export_session(db: Database, audit: AuditLog, session_id: str, actor: str) -> dict:
    """Everything stored about one session, as a JSON-able dict; the export is audited.

    Read in one transaction with its audit row, so the export is a consistent snapshot.
    Raises ``InvalidInputError`` if nothing is stored under this id.
    """
    session_id = check_session_id(session_id)
    with db.transaction() as conn:
        session = conn.execute("SELECT * FROM cs_sessions WHERE id = ?", (session_id,)).fetchone()
        if session is None:
            raise InvalidInputError(f"Nothing is stored under session id {session_id!r}.")
        messages = _rows(conn, "SELECT * FROM cs_messages WHERE session_id = ? ORDER BY id", session_id)
        tickets = _rows(conn, "SELECT * FROM cs_tickets WHERE session_id = ? ORDER BY id", session_id)
        feedback = _rows(
            conn,
            "SELECT f.* FROM cs_feedback f JOIN cs_messages m ON m.id = f.message_id"
            " WHERE m.session_id = ? ORDER BY f.message_id",
            session_id,
        )
        counts = {"messages": len(messages), "tickets": len(tickets), "feedback": len(feedback)}
        audit.record(conn, actor=actor, action="export", subject=session_id, counts=counts)
    return {
        "format": EXPORT_FORMAT,
        "session_id": session_id,
        "exported_at": time.time(),
        "session": dict(session),
        "messages": messages,
        "tickets": tickets,
        "feedback": feedback,
    }


def erase_session(db: Database, audit: AuditLog, session_id: str, actor: str) -> dict[str, int]:
    """Delete every row of one session and audit it, all in one transaction.

    Returns the number of rows erased per table (all zero if nothing was stored: erasing
    twice is not an error, and the second request is audited too).
    """
    session_id = check_session_id(session_id)
    _secure_delete(db)
    with db.transaction() as conn:
        counts = {
            "feedback": conn.execute(
                "DELETE FROM cs_feedback WHERE message_id IN"
                " (SELECT id FROM cs_messages WHERE session_id = ?)",
                (session_id,),
            ).rowcount,
            "tickets": conn.execute(
                "DELETE FROM cs_tickets WHERE session_id = ?", (session_id,)
            ).rowcount,
            "messages": conn.execute(
                "DELETE FROM cs_messages WHERE session_id = ?", (session_id,)
            ).rowcount,
            "sessions": conn.execute("DELETE FROM cs_sessions WHERE id = ?", (session_id,)).rowcount,
        }
        audit.record(conn, actor=actor, action="erase", subject=session_id, counts=counts)
    _drop_old_pages(db)
    return counts


def purge_before(db: Database, audit: AuditLog, before: float, actor: str = "retention") -> dict[str, int]:
    """Retention: delete messages, tickets and ratings made before ``before`` (a timestamp),
    and sessions left with nothing; one transaction, audited when anything went."""
    _secure_delete(db)
    old = "SELECT id FROM cs_messages WHERE created_at < ?"
    with db.transaction() as conn:
        counts = {
            "feedback": conn.execute(
                f"DELETE FROM cs_feedback WHERE message_id IN ({old})", (before,)
            ).rowcount,
            # A ticket opened later still points at an old message: it goes with it.
            "tickets": conn.execute(
                f"DELETE FROM cs_tickets WHERE created_at < ? OR message_id IN ({old})",
                (before, before),
            ).rowcount,
            "messages": conn.execute("DELETE FROM cs_messages WHERE created_at < ?", (before,)).rowcount,
            "sessions": conn.execute(
                "DELETE FROM cs_sessions WHERE updated_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM cs_messages m WHERE m.session_id = cs_sessions.id)"
                " AND NOT EXISTS (SELECT 1 FROM cs_tickets t WHERE t.session_id = cs_sessions.id)",
                (before,),
            ).rowcount,
        }
        if any(counts.values()):
            audit.record(conn, actor=actor, action="retention", subject=ALL_SUBJECTS, counts=counts)
    if any(counts.values()):
        _drop_old_pages(db)
        log.info("retention: deleted %s", _describe(counts))
    return counts


def write_export_file(export: dict) -> Path:
    """The export as a JSON file for the page's download button, in a new temp folder that
    retention finds (``purge_old_export_files``)."""
    folder = Path(tempfile.mkdtemp(prefix=EXPORT_FILES_PREFIX))
    path = folder / f"session-{export['session_id']}.json"
    path.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def purge_old_export_files(before: float, root: str | Path | None = None) -> int:
    """Delete export downloads written before ``before`` (a timestamp); returns the count."""
    return delete_old_files(Path(root or tempfile.gettempdir()), f"{EXPORT_FILES_PREFIX}*", before)


def _rows(conn: sqlite3.Connection, sql: str, session_id: str) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, (session_id,))]


def _secure_delete(db: Database) -> None:
    # Per connection, and it must be set outside a transaction: this thread's connection
    # then zeroes what it deletes instead of leaving it in free pages.
    db.connect().execute("PRAGMA secure_delete = ON")


def _drop_old_pages(db: Database) -> None:
    """Copy the WAL into the database and truncate it, so old page versions (which still
    hold the deleted text) are gone from disk too. Busy readers only postpone this to the
    next automatic checkpoint; the rows are erased either way."""
    busy, _, _ = db.connect().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("WAL checkpoint postponed by a reader; old page copies stay until the next one")


def _describe(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())
