"""SQLite storage in WAL mode, in the data directory.

Apps keep what users create here: knowledge bases, conversations, tickets,
feedback, interactions, templates. Each app declares its schema as a list of
migrations; they run once, in order, inside a transaction. Writes go through
``transaction()``, so a crash or a bad request leaves either the whole change or
none of it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from .settings import get_settings


class Database:
    """One SQLite file, with a connection per thread."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else get_settings().data_dir / "springboard.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " app TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (app, version))"
            )

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable with WAL across process crashes
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        conn = self.connect()
        with self._write_lock:  # one writer at a time inside this process
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence = ()) -> list[sqlite3.Row]:
        """Run a read query and return all rows."""
        return self.connect().execute(sql, params).fetchall()

    def migrate(self, app: str, migrations: Sequence[str]) -> None:
        """Apply an app's schema migrations that have not run yet, in order."""
        with self.transaction() as conn:
            done = {
                row[0]
                for row in conn.execute(
                    "SELECT version FROM schema_migrations WHERE app = ?", (app,)
                )
            }
            for version, sql in enumerate(migrations, start=1):
                if version in done:
                    continue
                for statement in _split(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (app, version) VALUES (?, ?)", (app, version)
                )

    def journal_mode(self) -> str:
        return self.connect().execute("PRAGMA journal_mode").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _split(script: str) -> list[str]:
    # executescript() would COMMIT our open transaction; run statements one by one.
    return [s.strip() for s in script.split(";") if s.strip()]
