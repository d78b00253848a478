"""What erasing a customer session costs: ``erase_session`` against a plain delete.

A database holds 50 sessions of ``--turns`` turns each (a question, an answer, a ticket for
every third turn, a rating for every answer). ``erase_session`` deletes one session with
``secure_delete`` on, writes its audit row and truncates the WAL; the baseline deletes the
same rows with plain DELETEs in one transaction, in the same run, from an identical copy.
Median of ``--rounds`` interleaved rounds. Run:

    .venv/bin/python -m bench.erase [--turns 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from apps.customer_service.conversations import ConversationStore
from apps.customer_service.knowledge import APP, MIGRATIONS
from apps.customer_service.session_data import erase_session
from core.audit import AuditLog
from core.privacy import Redactor
from core.storage import Database

SESSIONS = 50


def _build(path: Path, turns: int) -> None:
    db = Database(path)
    db.migrate(APP, MIGRATIONS)
    AuditLog(db, salt=b"bench")
    store = ConversationStore(db, Redactor("keep"))
    for s in range(SESSIONS):
        for t in range(turns):
            message_id, _ = store.record_turn(
                f"s{s}", f"question {t} of session {s} about my parcel", f"answer {t}",
                intent=None, intent_confidence=None, sentiment=0.0, source_id=None,
                confidence=0.4, escalated=t % 3 == 0, ticket_reason="bench" if t % 3 == 0 else None,
            )  # fmt: skip
            store.add_feedback(message_id, helpful=t % 2 == 0)
    db.close()


def _plain(path: Path) -> float:
    db = Database(path)
    start = time.perf_counter()
    with db.transaction() as conn:
        conn.execute("DELETE FROM cs_feedback WHERE message_id IN (SELECT id FROM cs_messages WHERE session_id = 's7')")
        conn.execute("DELETE FROM cs_tickets WHERE session_id = 's7'")
        conn.execute("DELETE FROM cs_messages WHERE session_id = 's7'")
        conn.execute("DELETE FROM cs_sessions WHERE id = 's7'")
    took = time.perf_counter() - start
    db.close()
    return took


def _erase(path: Path) -> float:
    db = Database(path)
    audit = AuditLog(db, salt=b"bench")
    start = time.perf_counter()
    erase_session(db, audit, "s7", actor="bench")
    took = time.perf_counter() - start
    db.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        _build(template, args.turns)
        times: dict[str, list[float]] = {"plain": [], "erase": []}
        for r in range(args.rounds):
            for name, fn in (("plain", _plain), ("erase", _erase)):
                copy = Path(tmp) / f"{name}-{r}.db"
                shutil.copy(template, copy)
                times[name].append(fn(copy))
    plain, erase = statistics.median(times["plain"]), statistics.median(times["erase"])
    rows = 2 * args.turns + (args.turns + 2) // 3 + args.turns + 1  # messages, tickets, ratings, session
    print(f"one session of {args.turns} turns (~{rows} rows) among {SESSIONS}:")
    print(f"  plain DELETE (baseline): {plain * 1000:.1f} ms")
    print(f"  erase_session (secure delete, audit, WAL truncate): {erase * 1000:.1f} ms  ({erase / plain:.2f}x)")


if __name__ == "__main__":
    main()
