"""The status page shows what requests cost, per app and model, and exports them as CSV."""

from __future__ import annotations

import csv
import io

import httpx
from selenium.webdriver.common.by import By

from .browser import Browser


def test_a_question_shows_up_in_the_status_pages_costs_and_csv(browser: Browser):
    browser.open("/customer-service", "Customer service")
    browser.type("cs-message", "my card never showed up", submit=True)
    browser.wait_for_text("cs-sources", r"Answer verbatim from")

    browser.open("/status", "Status")
    apps = browser.wait_for_text("status-cost-apps", r"apps\.customer_service", timeout=30)
    assert "CPU s" in apps and "cost (USD)" in apps
    browser.wait_for_text("status-cost-models", r"minilm-l6", timeout=30)
    assert "CPU core-hour" in browser.text("status-cost-summary")

    browser.click("status-cost-export")
    link = browser.until(
        lambda d: [
            a
            for a in browser.element("status-cost-file").find_elements(By.CSS_SELECTOR, "a")
            if ".csv" in (a.get_attribute("href") or "")
        ],
        30,
        "the CSV download link",
    )[0]
    download = httpx.get(link.get_attribute("href"), timeout=30)
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.text)))
    asked = [r for r in rows if r["app"] == "apps.customer_service" and r["model"] == "minilm-l6"]
    assert asked and float(asked[0]["cpu_seconds"]) > 0
    shot = browser.screenshot("status-costs")
    assert shot.is_file() and shot.stat().st_size > 10_000
    browser.assert_no_console_errors()
