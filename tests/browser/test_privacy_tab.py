"""The customer-service page's Privacy tab in a real browser: export, erase with confirmation, audit."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By

from .browser import Browser

QUESTION = "my pet zebracorn ate the remote control, is that covered?"  # nothing in the FAQ answers it


def test_a_session_is_exported_then_erased_and_the_audit_log_says_so(browser: Browser):
    browser.open("/customer-service", "Customer service")
    browser.type("cs-message", QUESTION, submit=True)
    browser.wait_for_text("cs-chatbot", r"ticket #\d+")  # escalated: a ticket with the session id
    browser.tab("Inbox")
    browser.click("cs-inbox-refresh")
    tickets = browser.wait_for_text("cs-tickets", r"zebracorn", timeout=60)
    # Columns: ticket, session id, question, ...: the last session id before our question.
    session_id = re.findall(r"\b[0-9a-f]{16}\b", tickets[: tickets.index("zebracorn")])[-1]

    browser.tab("Privacy")
    browser.type("cs-privacy-session", session_id)
    browser.click("cs-privacy-export")
    browser.wait_for_text("cs-privacy-status", r"Exported session\s+\S+\s*: 2 messages, 1 tickets", timeout=60)
    link = browser.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#cs-privacy-download a"), 30, "the download link"
    )[0]
    assert link.get_attribute("href").endswith(f"session-{session_id}.json")

    browser.click("cs-privacy-erase")
    browser.wait_for_text("cs-privacy-status", r"cannot be undone", timeout=30)
    assert browser.element("cs-privacy-confirm").is_displayed()
    browser.screenshot("privacy-confirm")
    browser.click("cs-privacy-confirm-yes")
    browser.wait_for_text("cs-privacy-status", r"Erased session\s+\S+\s*: 2 messages", timeout=60)
    audit = browser.wait_for_text("cs-privacy-audit", r"erase", timeout=30)
    assert "export" in audit and "page (no login)" in audit
    assert session_id not in audit and "zebracorn" not in audit  # hashed subject, no content
    browser.screenshot("privacy-erased")

    browser.tab("Inbox")
    browser.click("cs-inbox-refresh")
    browser.until(lambda d: "zebracorn" not in browser.text("cs-tickets"), 60, "the ticket to go")
    browser.assert_no_console_errors()
