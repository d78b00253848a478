"""The customer-service chat's "Why this answer?" panel in a real browser."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By

from .browser import MODEL_TIMEOUT_S, Browser


def _highlighted(browser: Browser) -> list[str]:
    """The words the highlighted question marks (pieces with a category)."""
    return [
        el.text.strip()
        for el in browser.driver.find_elements(By.CSS_SELECTOR, "#cs-why-words .token.highlighted")
    ]


def test_why_this_answer_shows_matched_words_scores_intent_words_and_escalation(browser: Browser):
    browser.open("/customer-service", "Customer service")
    browser.type("cs-message", "my card never showed up", submit=True)
    details = browser.wait_for_text("cs-why-details", r"Answered from\s+card-not-arrived")
    assert re.search(r"calibrated confidence\s+0\.\d\d", details), details
    assert re.search(r"threshold\s+0\.50 \(default\)", details), details
    assert re.search(r"Intent, top 3:\s*card\s+\d+%", details), details
    drivers = re.search(r"Words that drove\s+card\s.*?left out\):\s*(.*)", details, re.S).group(1)
    assert drivers.split()[0] == "card", drivers  # the decisive word first
    browser.until(lambda d: "card" in _highlighted(browser), 30, "'card' highlighted")
    assert "my" not in _highlighted(browser)
    browser.screenshot("cs-why-answered")

    browser.type("cs-message", "how do I bake sourdough bread?", submit=True)
    details = browser.wait_for_text("cs-why-details", r"Escalated: the best match")
    assert re.search(r"had confidence 0\.\d\d, below the threshold 0\.50\.", details), details
    browser.screenshot("cs-why-escalated")
    browser.assert_no_console_errors()


def test_a_match_in_doubt_is_checked_by_the_language_model_when_asked(browser: Browser):
    # Confidence about 0.45 from the fast evidence: escalated without the check.
    browser.open("/customer-service", "Customer service")
    browser.check("cs-check")
    browser.type("cs-message", "can i transfer euros to my family in spain", submit=True)
    details = browser.wait_for_text(
        "cs-why-details", r"Answered from\s+transfer-international", timeout=MODEL_TIMEOUT_S
    )
    assert "(this knowledge base's calibration, checked by the language model)" in details, details
    sources = browser.element("cs-sources").text
    assert "phrased by the language model" not in sources, sources  # the entry's own words
    browser.screenshot("cs-checked-by-the-language-model")
    browser.assert_no_console_errors()
