"""Privacy in the server: the application log is redacted, and the status page says how."""

from __future__ import annotations

import logging

from apps.server import configure_logging
from apps.status import full_report, privacy_report, summary_markdown
from core.privacy import RedactingFilter
from core.settings import Settings


def test_the_server_log_redacts_personal_data_from_every_module(tmp_path, caplog):
    root = logging.getLogger()
    try:
        configure_logging(Settings(data_dir=tmp_path))
        assert root.handlers and all(
            any(isinstance(f, RedactingFilter) for f in h.filters) for h in root.handlers
        )
        with caplog.at_level(logging.INFO):
            # A child logger's record reaches the root's handlers, and is redacted there.
            logging.getLogger("apps.customer_service.api").warning(
                "reply for %s strayed: %r", "ana@example.com", "call 13812345678"
            )
        assert "reply for [EMAIL] strayed: 'call [PHONE]'" in caplog.text
        assert "ana@example.com" not in caplog.text and "13812345678" not in caplog.text
    finally:
        for handler in root.handlers:
            for f in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(f)


def test_the_status_page_shows_the_redaction_mode_and_keep_stands_out(manager, tmp_path):
    report = full_report(manager)
    assert report["privacy"]["redaction"] == "mask"  # the default
    assert "**Personal-data redaction:** mask: email, card, iban, cn_id, phone, ip, name masked" in (
        summary_markdown(report)
    )
    keep = Settings(data_dir=tmp_path, privacy={"redaction": "keep"})
    report["privacy"] = privacy_report(keep)
    assert "off (keep, opted in)" in summary_markdown(report)
