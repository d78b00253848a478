"""Retention for the whole server: delete customer data older than ``privacy.retention_days``.

At start and daily (``start_retention``), when the setting is present:

- customer service: messages, tickets and ratings older than the limit, and the sessions
  left empty (in the default data folder, even if the page was never opened in this run);
- speech: the transcript downloads (.txt/.srt/.vtt) the page wrote; customer service: the
  session exports (.json) its privacy tab wrote;
- uploads and results that Gradio cached for the pages (recordings, images, files): the
  server sets Gradio's own ``delete_cache`` to the same age (``gradio_delete_cache``).

Each run is audited in the customer-service audit log when it deleted anything.
"""

from __future__ import annotations

import logging

from core.audit import AuditLog
from core.retention import DAY_S, DailyJob, cutoff
from core.settings import Settings
from core.storage import Database

from .customer_service.knowledge import APP as CS_APP
from .customer_service.knowledge import MIGRATIONS as CS_MIGRATIONS
from .customer_service.session_data import APP_FOLDER, DB_FILE, purge_before, purge_old_export_files
from .speech.api import purge_old_exports

log = logging.getLogger(__name__)


def run_retention(settings: Settings, now: float | None = None) -> dict | None:
    """One retention pass; returns what was deleted (None when no limit is set)."""
    days = settings.privacy.retention_days
    if not days:
        return None
    before = cutoff(days, now)
    report: dict = {"customer_service": None}
    path = settings.data_dir / APP_FOLDER / DB_FILE
    if path.exists():  # never create a database just to find it empty
        db = Database(path)
        try:
            db.migrate(CS_APP, CS_MIGRATIONS)
            report["customer_service"] = purge_before(db, AuditLog.from_settings(db, settings), before)
        finally:
            db.close()
    report["speech_exports"] = purge_old_exports(before)
    report["session_exports"] = purge_old_export_files(before)
    return report


def start_retention(settings: Settings) -> DailyJob | None:
    """Run ``run_retention`` now and daily on a daemon thread, if a limit is set."""
    if not settings.privacy.retention_days:
        return None
    log.info("retention: customer data older than %d days is deleted daily", settings.privacy.retention_days)
    return DailyJob("retention", lambda: run_retention(settings)).start()


def gradio_delete_cache(settings: Settings) -> tuple[int, int] | None:
    """Gradio's ``delete_cache`` (every day, files older than the limit), or None to keep."""
    days = settings.privacy.retention_days
    return (int(DAY_S), int(days * DAY_S)) if days else None
