"""The vision page's "Show what the model looked at" toggle, in a real browser."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By

from apps.vision.examples import example_photos

from .browser import Browser

CATS = r"tabby|tiger cat|egyptian cat"


def test_toggle_shows_the_heatmap_next_to_the_labels(browser: Browser, tmp_path: Path):
    photos = example_photos(tmp_path)
    browser.open("/vision", "Vision")
    overlay = browser.driver.find_elements(By.CSS_SELECTOR, "#vision-explain-overlay img")
    assert not any(img.is_displayed() for img in overlay), "hidden until the toggle is on"
    browser.element("vision-explain-toggle").find_element(By.CSS_SELECTOR, "input").click()
    browser.upload("vision-classify-image", photos["chelsea.png"])
    browser.until(
        lambda d: browser.element("vision-classify-image").find_elements(By.CSS_SELECTOR, "img"),
        60,
        "the uploaded photo",
    )
    browser.click("vision-classify")
    browser.wait_for_text("vision-classify-table", CATS)
    img = browser.until(
        lambda d: [i for i in d.find_elements(By.CSS_SELECTOR, "#vision-explain-overlay img")
                   if i.is_displayed() and i.get_attribute("naturalWidth") not in (None, "0")],
        90,
        "the heatmap overlay",
    )[0]
    assert int(img.get_attribute("naturalWidth")) > 200
    assert "What the model looked at for" in browser.text("vision-explain-overlay")
    shot = browser.screenshot("vision-explain-on")
    assert shot.is_file() and shot.stat().st_size > 10_000
    browser.assert_no_console_errors()
