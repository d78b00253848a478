"""The customer-service page's Privacy tab: export or erase one session, and the audit log.

Called from ``ui.py`` inside its ``gr.Tabs``: ``render_privacy_tab(get_bot)``. The work is
the bot's (``export_session``, ``erase_session``, ``audit_log``); this is layout. An erase
asks for confirmation first; the actor is the logged-in user (or "page, no login").
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gradio as gr
import pandas as pd

from apps.ui_kit import page_errors

from .api import CustomerServiceBot
from .session_data import check_session_id, write_export_file

AUDIT_ROWS = 200
AUDIT_COLUMNS = ["when", "who", "action", "session", "rows"]
ANONYMOUS = "page (no login)"


def _actor(request: gr.Request | None) -> str:
    username = getattr(request, "username", None)
    return f"page user {username}" if username else ANONYMOUS


ORDER = ("messages", "tickets", "feedback", "sessions")


def _rows(counts: dict) -> str:
    ordered = sorted(counts.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER))
    return ", ".join(f"{n} {'ratings' if table == 'feedback' else table}" for table, n in ordered) or "none"


def audit_frame(bot: CustomerServiceBot) -> pd.DataFrame:
    """The newest audit rows as a table (never the erased content)."""
    rows = [
        [
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"])),
            r["actor"],
            r["action"],
            r["subject"],
            _rows(r["counts"]),
        ]
        for r in bot.audit_log(AUDIT_ROWS)
    ]
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def render_privacy_tab(bot_getter: Callable[[], CustomerServiceBot]) -> None:
    """The Privacy tab; call it inside the page's ``gr.Tabs``."""

    @page_errors
    def export(session_id: str, request: gr.Request):
        bot = bot_getter()
        data = bot.export_session(check_session_id(session_id), actor=_actor(request))
        note = (
            f"Exported session `{data['session_id']}`: {len(data['messages'])} messages, "
            f"{len(data['tickets'])} tickets, {len(data['feedback'])} ratings."
        )
        return note, str(write_export_file(data)), audit_frame(bot)

    @page_errors
    def ask_to_confirm(session_id: str):
        session_id = check_session_id(session_id)
        question = (
            f"Erase everything stored about session `{session_id}` (messages, tickets, ratings)? "
            "This cannot be undone."
        )
        return gr.update(value=question), gr.update(visible=True)

    @page_errors
    def erase(session_id: str, request: gr.Request):
        bot = bot_getter()
        counts = bot.erase_session(check_session_id(session_id), actor=_actor(request))
        note = f"Erased session `{session_id.strip()}`: {_rows(counts)}."
        if not any(counts.values()):
            note = f"Nothing was stored under session `{session_id.strip()}`; the request is logged."
        return note, gr.update(visible=False), audit_frame(bot)

    def cancel():
        return "Nothing was erased.", gr.update(visible=False)

    with gr.Tab("Privacy"):
        gr.Markdown(
            "Everything stored about one customer conversation: export it as JSON, or erase it "
            "(its messages, tickets and ratings; no index is built from conversations). "
            "Each export and erase is recorded below, without the content."
        )
        with gr.Row():
            session_id = gr.Textbox(label="Session id", elem_id="cs-privacy-session", scale=3)
            export_btn = gr.Button("Export (JSON)", elem_id="cs-privacy-export")
            erase_btn = gr.Button("Erase…", variant="stop", elem_id="cs-privacy-erase")
        status = gr.Markdown(elem_id="cs-privacy-status")
        download = gr.File(label="Export (JSON)", interactive=False, elem_id="cs-privacy-download")
        with gr.Row(visible=False, elem_id="cs-privacy-confirm") as confirm_box:
            confirm_btn = gr.Button("Yes, erase it", variant="stop", elem_id="cs-privacy-confirm-yes")
            cancel_btn = gr.Button("Cancel", elem_id="cs-privacy-confirm-no")
        audit = gr.Dataframe(
            value=lambda: audit_frame(bot_getter()),  # filled when the page loads
            label="Audit log (newest first)",
            interactive=False,
            wrap=True,
            elem_id="cs-privacy-audit",
        )
        refresh = gr.Button("Refresh the audit log", size="sm")

        export_btn.click(
            export, session_id, [status, download, audit], api_name="customer_service_export_session"
        )
        erase_btn.click(ask_to_confirm, session_id, [status, confirm_box], api_name=False)
        confirm_btn.click(
            erase, session_id, [status, confirm_box, audit], api_name="customer_service_erase_session"
        )
        cancel_btn.click(cancel, None, [status, confirm_box], api_name=False)
        refresh.click(
            page_errors(lambda: audit_frame(bot_getter())), None, audit, api_name="customer_service_audit_log"
        )
