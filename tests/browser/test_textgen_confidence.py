"""The Write tab's "Show confidence" in a real browser: the output coloured by token probability."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from .browser import Browser


def test_show_confidence_colours_the_output_by_token_probability(browser: Browser) -> None:
    browser.open("/textgen", "Text generation")
    hidden = browser.driver.find_elements(By.ID, "tg-confidence")  # Gradio leaves hidden ones out
    assert not hidden or not hidden[0].is_displayed()
    browser.type("tg-field-0", "a foldable e-bike for commuters")
    browser.set_number("tg-max-new", 40)
    browser.set_number("tg-temperature", 0)
    browser.check("tg-show-confidence")
    browser.until(lambda d: (v := d.find_elements(By.ID, "tg-confidence")) and v[0].is_displayed(),
                  30, "the confidence view")  # fmt: skip
    browser.click("tg-generate")
    browser.wait_for_text("tg-stats", r"new tokens")
    view = browser.element("tg-confidence")
    spans = view.find_elements(By.CSS_SELECTOR, "span.sb-conf")
    assert len(spans) >= 5
    probabilities = [float(s.get_attribute("data-p")) for s in spans]
    assert all(0 < p <= 1 for p in probabilities) and min(probabilities) < max(probabilities)
    assert all("%" in s.get_attribute("title") for s in spans)
    # The coloured view is the output, token by token.
    shown = browser.js("return document.querySelector('#tg-confidence .sb-conf-text').textContent")
    assert shown == browser.text("tg-output")
    assert "Model confidence per token" in view.text
    browser.screenshot("textgen-confidence")
    browser.assert_no_console_errors()
