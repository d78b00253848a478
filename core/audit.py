"""An audit log of what was done to stored personal data: who, what, when, to which subject.

It records exports, erasures and retention runs, in the same SQLite database (and the same
transaction) as the change itself, so an erase is audited if and only if it happened::

    audit = AuditLog.from_settings(db, settings)
    with db.transaction() as conn:
        counts = ...delete the rows...
        audit.record(conn, actor="ana", action="erase", subject=session_id, counts=counts)

A row never holds the erased content: only the actor, the action, the time, the subject's
key and the number of rows touched.

The subject (a session id) is stored as a key, not as typed, unless redaction is ``keep``:
a session id is chosen by the caller and may be personal (a phone number, a customer
number), and keeping it after the customer asked to be forgotten would defeat the erase.
The key is a salted HMAC (``sid:<16 hex>``, the installation's redaction salt), so the log
can still answer "was session X erased?" (``entries(subject=X)`` hashes X the same way),
but the id cannot be read back from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Mapping

from .errors import InvalidInputError
from .privacy import installation_salt
from .storage import Database

APP = "audit"
MIGRATIONS = [
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        counts TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_subject ON audit_log(subject, id)
    """,
]
ACTIONS = ("export", "erase", "retention")
MAX_ACTOR_CHARS = 100
ALL_SUBJECTS = "*"  # the subject of a retention run: every session older than the limit
KEY_HEX_CHARS = 16


class AuditLog:
    """The ``audit_log`` table of one database.

    Args:
        db: the database whose changes are audited (the table is created there).
        salt: secret for subject keys; ``None`` stores subjects as typed (redaction ``keep``).
    """

    def __init__(self, db: Database, salt: bytes | None) -> None:
        self.db = db
        self._salt = salt
        db.migrate(APP, MIGRATIONS)

    @classmethod
    def from_settings(cls, db: Database, settings) -> AuditLog:
        """Keys salted like hash-mode redaction (``privacy.hash_salt`` or the installation's);
        subjects as typed only when ``privacy.redaction`` is ``keep``."""
        privacy = settings.privacy
        if privacy.redaction == "keep":
            return cls(db, None)
        configured = privacy.hash_salt.get_secret_value() if privacy.hash_salt else ""
        return cls(db, configured.encode() if configured else installation_salt(settings.data_dir))

    def subject_key(self, subject: str) -> str:
        """What is stored for a subject: itself in keep mode, else ``sid:<salted hash>``."""
        if subject == ALL_SUBJECTS or self._salt is None:
            return subject
        digest = hmac.new(self._salt, f"session:{subject}".encode(), hashlib.sha256).hexdigest()
        return f"sid:{digest[:KEY_HEX_CHARS]}"

    def record(
        self,
        conn: sqlite3.Connection,
        *,
        actor: str,
        action: str,
        subject: str,
        counts: Mapping[str, int],
    ) -> int:
        """Add one row inside the caller's transaction ``conn``; returns its id."""
        if action not in ACTIONS:
            raise ValueError(f"Unknown audit action {action!r}; one of {', '.join(ACTIONS)}.")
        cur = conn.execute(
            "INSERT INTO audit_log (at, actor, action, subject, counts) VALUES (?, ?, ?, ?, ?)",
            (
                time.time(),
                check_actor(actor),
                action,
                self.subject_key(subject),
                json.dumps({k: int(v) for k, v in counts.items()}, sort_keys=True),
            ),
        )
        return int(cur.lastrowid)

    def entries(self, limit: int = 100, subject: str | None = None) -> list[dict]:
        """The newest rows first; ``subject`` (as typed) narrows them to one session."""
        if subject:
            rows = self.db.query(
                "SELECT * FROM audit_log WHERE subject = ? ORDER BY id DESC LIMIT ?",
                (self.subject_key(subject), int(limit)),
            )
        else:
            rows = self.db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (int(limit),))
        return [{**dict(r), "counts": json.loads(r["counts"])} for r in rows]


def check_actor(actor: object) -> str:
    """Who did it: a non-empty name of at most ``MAX_ACTOR_CHARS`` printable characters.

    The actor is an operator of the service, not a customer, so it is kept as given:
    an audit log that does not say who acted is no audit log.
    """
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidInputError("Say who is doing this (the actor): a user name or a role.")
    actor = actor.strip()
    if len(actor) > MAX_ACTOR_CHARS or not actor.isprintable():
        raise InvalidInputError(
            f"An actor is at most {MAX_ACTOR_CHARS} printable characters, on one line."
        )
    return actor
