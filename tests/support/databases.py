"""Checks on the SQLite files an app writes, read from outside the process that writes them."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def integrity_problems(db: Path) -> list[str]:
    """What ``PRAGMA integrity_check`` reports about ``db``; empty when it is intact.

    A missing file, or one SQLite cannot read at all ("file is not a database",
    "database disk image is malformed"), is reported as a problem too, so a caller
    asserting an empty list can never pass on a database that is not there.
    """
    db = Path(db)
    if not db.is_file():
        return [f"{db} does not exist"]
    try:
        with closing(sqlite3.connect(db)) as conn:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return [f"{db}: {type(exc).__name__}: {exc}"]
    return [] if rows == ["ok"] else rows
