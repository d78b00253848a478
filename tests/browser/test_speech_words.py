"""Word timestamps on the speech page: the checkbox, the words table, the word-timed VTT."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By

from apps.speech.examples import example_files

from .browser import Browser


def test_speech_word_timestamps_show_a_words_table(browser: Browser):
    data_dir = Path(browser.server.env["SPRINGBOARD_DATA_DIR"])
    clips = {p.name: p for p in example_files(data_dir)}
    assert clips, "the server made no example clips"
    clip = clips.get("invoice_delivery.wav") or next(iter(clips.values()))
    browser.open("/speech", "Speech to text")
    assert (
        not browser.driver.find_elements(By.ID, "speech-words-table")
        or not browser.element("speech-words-table").is_displayed()
    ), "the words table is hidden until words are asked for"
    browser.element("speech-words").find_element(By.CSS_SELECTOR, "input").click()
    browser.upload("speech-clip", clip)
    browser.until(
        lambda d: browser.element("speech-clip").find_elements(By.CSS_SELECTOR, "audio, wave"),
        60,
        "the uploaded clip",
    )
    browser.click("speech-run")
    browser.wait_for_text("speech-transcript", r"\w+ \w+")
    browser.until(
        lambda d: (
            d.find_elements(By.ID, "speech-words-table")
            and "probability" in browser.element("speech-words-table").text
        ),
        60,
        "the words table",
    )
    table = browser.element("speech-words-table").text
    first_word = browser.text("speech-transcript").split()[0].strip(".,")
    assert first_word in table, table
    assert ".words.vtt" in browser.driver.page_source
    shot = browser.screenshot("speech-word-timestamps")
    assert shot.is_file() and shot.stat().st_size > 10_000
    browser.assert_no_console_errors()
