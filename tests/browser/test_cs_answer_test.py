"""Testing the customer-service bot on one's own labelled questions, in a real browser."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By

from .browser import Browser


def test_an_uploaded_set_of_labelled_questions_scores_the_bot(browser: Browser, tmp_path: Path):
    questions = tmp_path / "our-customers.csv"
    questions.write_text(
        "question,expected_id\n"
        "my card never showed up,card-not-arrived\n"
        "my card never showed up,card-lost\n"  # labelled wrongly on purpose: a mistake to list first
        "how do I bake sourdough bread?,\n",
        encoding="utf-8",
    )
    browser.open("/customer-service", "Customer service")
    browser.tab("Knowledge base")
    browser.open_accordion("cs-test", "cs-test-run")
    browser.upload("cs-test-upload", questions)
    browser.wait_idle()
    browser.click_text("Uploaded CSV", "#cs-test-source label")
    browser.click("cs-test-run")
    summary = browser.wait_for_text("cs-test-summary", r"Fast match")
    assert "right 50% · wrong 50% · escalated 0% (with the right entry suggested 0%) of 2 answerable" in summary, summary
    assert "off-topic escalated 100% of 1" in summary, summary
    table = browser.wait_for_text("cs-test-table", r"card-lost")
    # Mistakes first: the wrong answer, then the escalated off-topic question, then the right one.
    assert table.index("wrong") < table.index("off-topic escalated") < table.index("right"), table
    assert browser.element("cs-test-plot").find_elements(By.CSS_SELECTOR, "img, svg, canvas")
    browser.screenshot("cs-test-the-bot")
    browser.assert_no_console_errors()
