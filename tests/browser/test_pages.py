"""Every page renders in a real browser, with its heading and no JavaScript errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from apps.pages import discover_pages

from .browser import Browser

# path -> the page's main heading
APP_HEADINGS = {
    "/customer-service": "Customer service",
    "/recommendation": "Recommendation",
    "/speech": "Speech to text",
    "/vision": "Vision",
    "/textgen": "Text generation",
}
PAGES = {"/": "Springboard", **APP_HEADINGS, "/status": "Status"}


def test_every_app_has_a_page_here():
    assert sorted(p.path for p in discover_pages()) == sorted(APP_HEADINGS)


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_without_errors(browser: Browser, path: str):
    browser.open(path, PAGES[path])
    assert "Springboard" in browser.driver.title or PAGES[path] in browser.driver.title
    body = browser.driver.find_element(By.TAG_NAME, "body").text
    assert "Error" not in browser.headings()
    assert "Connection errored out" not in body
    browser.assert_no_console_errors()
    shot = browser.screenshot("page" + (path.replace("/", "-") if path != "/" else "-home"))
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_home_links_to_every_app_and_each_link_opens(browser: Browser):
    browser.open("/", "Springboard")
    base = browser.server.base
    # Links in the page body (the navbar has its own): robust to whatever else the home shows.
    hrefs = browser.js(
        "return Array.from(document.querySelectorAll('.prose a, [data-testid=markdown] a'))"
        ".map(a => a.href)"
    )
    linked = {h.removeprefix(base) for h in hrefs if h.startswith(base)}
    missing = set(APP_HEADINGS) - linked
    assert not missing, f"the home page does not link to {sorted(missing)}; links: {hrefs}"
    driver = browser.driver
    for path, heading in APP_HEADINGS.items():
        browser.open("/", "Springboard")
        link = next(
            a
            for a in browser.driver.find_elements(
                By.CSS_SELECTOR, ".prose a, [data-testid=markdown] a"
            )
            if a.get_attribute("href") == base + path
        )
        browser.js("arguments[0].scrollIntoView({block: 'center'});", link)
        home, before = driver.current_window_handle, set(driver.window_handles)
        link.click()
        # Markdown links open in a new tab (target=_blank); follow it wherever it opens.
        browser.until(
            lambda d, before=before, url=base + path: (
                set(d.window_handles) - before or d.current_url.rstrip("/") == url
            ),
            30,
            f"the link to {path} to open",
        )
        new_tabs = set(driver.window_handles) - before
        if new_tabs:
            driver.switch_to.window(new_tabs.pop())
        try:
            browser.wait_for_heading(heading)
            assert driver.current_url.rstrip("/") == base + path
            browser.wait_idle()
            browser.assert_no_console_errors()
        finally:
            if driver.current_window_handle != home:
                driver.close()
                driver.switch_to.window(home)
