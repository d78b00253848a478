"""A SIGKILL during an erase leaves either everything or nothing erased (issue 19).

A child process (``tests.support.erase_worker``) erases one customer session with the
real ``erase_session``; the test kills it with SIGKILL

- at each SQL statement of the erase, in turn (SQLite's trace hook pauses the child there),
  where the outcome is known exactly: before COMMIT nothing is erased, after it everything;
- at random moments of an erase of 150,000 rows;

and then opens the database as the next process would, and checks all-or-nothing: the
session's rows and the audit row are either all there or all gone, the other session is
untouched, and the file passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from apps.customer_service.conversations import ConversationStore
from apps.customer_service.knowledge import APP, MIGRATIONS
from apps.customer_service.session_data import APP_FOLDER, DB_FILE
from core.privacy import Redactor
from core.settings import PROJECT_ROOT
from core.storage import Database
from tests.support.databases import integrity_problems

VICTIM, BYSTANDER = "victim-1", "bystander-1"
BULK_MESSAGES = 150_000  # the random kills need an erase that takes a while (0.2 s here)
WAIT_S = 120.0  # the child's start on two shared cores; a limit on waiting, not an assert
TABLES = ("cs_sessions", "cs_messages", "cs_tickets", "cs_feedback")


def _turn(store: ConversationStore, session: str, text: str, *, ticket: bool) -> int:
    message_id, _ = store.record_turn(
        session, f"{text} question", f"{text} answer", intent=None, intent_confidence=None,
        sentiment=0.0, source_id=None, confidence=0.3, escalated=ticket,
        ticket_reason="no confident answer in the knowledge base" if ticket else None,
    )  # fmt: skip
    return message_id


def _make_data(folder: Path, bulk: int) -> Path:
    """A data folder whose database holds the victim (turns, tickets, ratings, ``bulk``
    extra messages) and a bystander session."""
    db = Database(folder / APP_FOLDER / DB_FILE)
    db.migrate(APP, MIGRATIONS)
    store = ConversationStore(db, Redactor("mask"))
    for i in range(20):
        store.add_feedback(_turn(store, VICTIM, f"victim {i}", ticket=i % 3 == 0), helpful=i % 2 == 0)
    for i in range(5):
        store.add_feedback(_turn(store, BYSTANDER, f"bystander {i}", ticket=i == 0), helpful=True)
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO cs_messages (session_id, role, content, created_at) VALUES (?, 'user', ?, ?)",
            [(VICTIM, f"bulk message {i} of the victim", time.time()) for i in range(bulk)],
        )
    db.close()  # the last connection checkpoints: one self-contained file to copy
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return _make_data(tmp_path_factory.mktemp("erase-template"), BULK_MESSAGES)


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def _counts(data_dir: Path) -> dict:
    """Rows per table and erase audit rows, read by a fresh connection (as after a restart)."""
    path = data_dir / APP_FOLDER / DB_FILE
    with closing(sqlite3.connect(path)) as conn:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        counts["victim_messages"] = conn.execute(
            "SELECT COUNT(*) FROM cs_messages WHERE session_id = ?", (VICTIM,)
        ).fetchone()[0]
        counts["bystander_messages"] = conn.execute(
            "SELECT COUNT(*) FROM cs_messages WHERE session_id = ?", (BYSTANDER,)
        ).fetchone()[0]
        has_audit = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_log'"
        ).fetchone()[0]
        counts["erase_audits"] = (
            conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'erase'").fetchone()[0]
            if has_audit
            else 0
        )
    return counts


def _expected_after_erase(before: dict) -> dict:
    return {
        "cs_sessions": 1,
        "cs_messages": before["bystander_messages"],
        "cs_tickets": 1,
        "cs_feedback": 5,
        "victim_messages": 0,
        "bystander_messages": before["bystander_messages"],
        "erase_audits": 1,
    }


def _start(data_dir: Path, *, pause: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "tests.support.erase_worker", str(data_dir), VICTIM]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        args + (["--pause"] if pause else []), cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _read_until(child: subprocess.Popen, wanted) -> str:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            raise AssertionError(f"the worker ended early: {child.stderr.read()[-2000:]}")
        if wanted(line.strip()):
            return line.strip()
    raise AssertionError("the worker did not get there in time")


def _kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(WAIT_S) == -signal.SIGKILL


def _check_all_or_nothing(data_dir: Path, before: dict) -> str:
    assert integrity_problems(data_dir / APP_FOLDER / DB_FILE) == []
    after = _counts(data_dir)
    if after == before:
        return "nothing"
    assert after == _expected_after_erase(before), f"a partial erase: {after} (before: {before})"
    return "everything"


# The statements of one erase, in order, and what a kill just before each one leaves.
KILL_POINTS = [
    ("BEGIN IMMEDIATE", "nothing"),
    ("DELETE FROM cs_feedback", "nothing"),
    ("DELETE FROM cs_tickets", "nothing"),  # the ratings are already deleted, uncommitted
    ("DELETE FROM cs_messages", "nothing"),
    ("DELETE FROM cs_sessions", "nothing"),
    ("INSERT INTO audit_log", "nothing"),  # every row is deleted, not yet committed
    ("COMMIT", "nothing"),
    ("PRAGMA wal_checkpoint", "everything"),  # committed, the old pages not yet dropped
]


@pytest.mark.parametrize(("statement", "outcome"), KILL_POINTS, ids=[p[0] for p in KILL_POINTS])
def test_sigkill_at_each_statement_of_an_erase(tmp_path, statement, outcome):
    data_dir = _make_data(tmp_path / "data", bulk=50)
    before = _counts(data_dir)
    child = _start(data_dir, pause=True)
    try:
        _read_until(child, lambda line: line.startswith(f"SQL {statement}"))
        _kill(child)
    finally:
        child.kill()
    assert _check_all_or_nothing(data_dir, before) == outcome


def test_an_erase_that_is_not_killed_erases_everything(template, tmp_path):
    data_dir = _copy(template, tmp_path / "data")
    before = _counts(data_dir)
    child = _start(data_dir, pause=False)
    out, err = child.communicate(timeout=WAIT_S)
    assert child.returncode == 0, err
    assert out.split() == ["READY", "DONE"]
    assert _counts(data_dir) == _expected_after_erase(before)


def test_sigkill_at_random_moments_of_a_large_erase(template, tmp_path):
    # How long one erase takes here, from READY to DONE: the kills fall inside that span.
    data_dir = _copy(template, tmp_path / "timing")
    child = _start(data_dir, pause=False)
    _read_until(child, lambda line: line == "READY")
    started = time.monotonic()
    _read_until(child, lambda line: line == "DONE")
    span = time.monotonic() - started
    child.wait(WAIT_S)
    rng = random.Random(19)
    outcomes = []
    for n in range(8):
        data_dir = _copy(template, tmp_path / f"kill-{n}")
        before = _counts(data_dir)
        child = _start(data_dir, pause=False)
        try:
            _read_until(child, lambda line: line == "READY")
            time.sleep(rng.uniform(0.0, span))
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait(WAIT_S)
        finally:
            child.kill()
        outcomes.append(_check_all_or_nothing(data_dir, before))
    print("ERASE_KILLS", {"erase_s": round(span, 3), "outcomes": outcomes})
