"""A child process that erases one customer-service session, to be killed from outside.

    python -m tests.support.erase_worker <data_dir> <session_id> [--pause]

It prints ``READY`` when the erase is about to start and ``DONE`` when it returned. With
``--pause`` it also prints every SQL statement its connection starts (``SQL <text>``) and
waits a moment after each, so a test can send SIGKILL at an exact point: before a given
DELETE, before COMMIT, or after it. The erase itself is the real one
(``apps.customer_service.session_data.erase_session``); only SQLite's trace hook is used.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from apps.customer_service.knowledge import APP, MIGRATIONS
from apps.customer_service.session_data import APP_FOLDER, DB_FILE, erase_session
from core.audit import AuditLog
from core.settings import Settings
from core.storage import Database

PAUSE_S = 0.5  # long enough for the parent to read the line and kill


def main(argv: list[str]) -> None:
    data_dir, session_id = Path(argv[0]), argv[1]
    pause = "--pause" in argv
    db = Database(data_dir / APP_FOLDER / DB_FILE)
    db.migrate(APP, MIGRATIONS)
    audit = AuditLog.from_settings(db, Settings(data_dir=data_dir))
    if pause:

        last: list[str] = []

        def trace(sql: str) -> None:
            text = " ".join(sql.split())
            print("SQL " + text, flush=True)
            # Python reports each trigger firing as its statement again (one line per
            # deleted row): pause only where a new statement starts, the kill points.
            if not last or last[-1] != text:
                time.sleep(PAUSE_S)
            last[:] = [text]

        db.connect().set_trace_callback(trace)
    print("READY", flush=True)
    erase_session(db, audit, session_id, actor="erase-worker")
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
