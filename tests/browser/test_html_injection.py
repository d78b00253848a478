"""HTML and JavaScript typed into a page is shown as text and never run.

Each payload would set ``window.__pwned`` if the browser ran it. Chat bubbles render
Markdown through Gradio's sanitiser, so a tag may be shown as text or stripped of its
handlers; either way nothing may run and no element may carry an event handler.
"""

from __future__ import annotations

from selenium.webdriver.common.by import By

from .browser import Browser

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"
PAYLOADS = (IMG, SCRIPT)
# Literal, or escaped as a page would show it.
SHOWN = {IMG: ("onerror", "window.__pwned=1"), SCRIPT: ("window.__pwned=2",)}

_HANDLERS_JS = """
const root = document.getElementById(arguments[0]) || document;
return Array.from(root.querySelectorAll('*'))
  .filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on')))
  .map(e => e.outerHTML.slice(0, 200));
"""


def _assert_inert(browser: Browser, elem_id: str) -> None:
    assert browser.js("return window.__pwned") is None, "an injected script ran"
    handlers = browser.js(_HANDLERS_JS, elem_id)
    assert not handlers, f"elements with event handlers in #{elem_id}: {handlers}"
    scripts = browser.js(
        "return document.getElementById(arguments[0]).querySelectorAll('script').length", elem_id
    )
    assert scripts == 0, f"a <script> element was inserted into #{elem_id}"


def _bubbles(browser: Browser, elem_id: str, role: str) -> list[str]:
    return [
        b.text
        for b in browser.driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} [data-testid={role}]")
    ]


def test_customer_service_chat_and_inbox_show_markup_as_text(browser: Browser):
    browser.open("/customer-service", "Customer service")
    for n, payload in enumerate(PAYLOADS, start=1):
        browser.type("cs-message", f"is this safe? {payload}", submit=True)
        browser.until(
            lambda d, n=n: (
                len(_bubbles(browser, "cs-chatbot", "bot")) >= n
                and _bubbles(browser, "cs-chatbot", "bot")[-1].strip() not in ("", "…")
            ),
            120,
            "the bot's answer",
        )
        browser.wait_idle()
        _assert_inert(browser, "cs-chatbot")
        shown = _bubbles(browser, "cs-chatbot", "user")[-1]
        assert "is this safe?" in shown and all(s in shown for s in SHOWN[payload]), shown
        assert not browser.driver.find_elements(By.CSS_SELECTOR, "#cs-chatbot img[src=x]")
    # The questions were stored and come back in the inbox (a stored-XSS path).
    browser.tab("Inbox")
    browser.click("cs-inbox-refresh")
    inbox = browser.wait_for_text("cs-unanswered", r"is this safe\?", timeout=60)
    for payload in PAYLOADS:
        assert all(s in inbox for s in SHOWN[payload]), inbox
    _assert_inert(browser, "cs-unanswered")
    _assert_inert(browser, "cs-tickets")
    browser.screenshot("injection-customer-service")
    browser.assert_no_console_errors()


def test_textgen_prompt_and_chat_show_markup_as_text(browser: Browser):
    browser.open("/textgen", "Text generation")
    browser.set_number("tg-max-new", 4)
    # Write: the payload as the product; the output box and the prompt sent show it as text.
    browser.type("tg-field-0", " ".join(PAYLOADS))
    browser.click("tg-generate")
    browser.wait_for_text("tg-stats", r"new tokens")
    browser.click_text("Prompt sent to the model", "button, span, div.label-wrap")
    sent = browser.wait_for_text("tg-sent", r"__pwned", timeout=30)
    for payload in PAYLOADS:
        assert all(s in sent for s in SHOWN[payload]), sent
    _assert_inert(browser, "tg-sent")
    _assert_inert(browser, "tg-output")

    # Chat: the message bubble.
    browser.tab("Chat")
    for n, payload in enumerate(PAYLOADS, start=1):
        browser.type("tg-message", payload)
        browser.click("tg-send")
        # While the reply streams the notices are empty; at the end they give its statistics.
        browser.until(
            lambda d, n=n: (
                len(_bubbles(browser, "tg-chatbot", "bot")) >= n
                and "new tokens" in browser.text("tg-chat-notices")
            ),
            300,
            "the model's reply",
        )
        _assert_inert(browser, "tg-chatbot")
    browser.screenshot("injection-textgen")
    assert browser.js("return window.__pwned") is None
    # Known weakness: the chat bubble renders the user's own Markdown/HTML through Gradio's
    # sanitiser, so the <img> is shown without its handler and the browser asks for /x.
    browser.assert_no_console_errors(ignore=r"/x - Failed to load resource")
