"""Recommendation's column mapping in a real browser: upload MovieLens' ratings.csv and a
shop's event log, see the guessed columns, change one, load."""

from __future__ import annotations

import pandas as pd
from selenium.webdriver.common.by import By

from apps.recommendation.data import movielens_dir

from .browser import Browser


def _dropdown_value(browser: Browser, elem_id: str) -> str:
    return browser.element(elem_id).find_element(By.CSS_SELECTOR, "input").get_property("value")


def test_upload_guesses_the_columns_and_the_mapping_can_be_changed(browser: Browser, tmp_path):
    raw = pd.read_csv(movielens_dir() / "ml-100k.inter", sep="\t", dtype=str)
    raw.columns = ["userId", "movieId", "rating", "timestamp"]
    ratings = tmp_path / "ratings.csv"
    raw[raw["userId"].astype(int) <= 100].to_csv(ratings, index=False)

    browser.open("/recommendation", "Recommendation")
    browser.click_text("Upload my own files", "label")
    browser.upload("rec-inter-file", ratings)
    browser.until(lambda d: _dropdown_value(browser, "rec-col-user") == "userId", 60, "the guessed user column")
    assert _dropdown_value(browser, "rec-col-item") == "movieId"
    assert _dropdown_value(browser, "rec-col-rating") == "rating"
    assert _dropdown_value(browser, "rec-col-event") == "(none)"
    browser.choose("rec-col-rating", "(none)")  # train on who rated what, ignoring the stars
    browser.click("rec-load")
    summary = browser.wait_for_text("rec-summary", r"interactions")
    assert "100 users" in summary and "ratings: no" in summary, summary
    assert "user = userId, item = movieId, timestamp = timestamp" in summary, summary
    shot = browser.screenshot("recommendation-column-mapping")
    assert shot.stat().st_size > 10_000
    browser.assert_no_console_errors()
