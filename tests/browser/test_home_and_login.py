"""The home page's live examples, clicked in Chromium; and the login form when auth is on."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.support.server import ServerProcess, start_server

from .browser import Browser, launch_chromium
from .conftest import SERVER_ENV

# (button, output, what a person must see) for each app's live example on the home page.
HOME_EXAMPLES = [
    ("home-cs-run", "home-cs-output", r"Source: FAQ entry\s*card-not-arrived"),
    ("home-rec-run", "home-rec-output", r"also watched:[\s\S]*Return of the Jedi"),
    ("home-speech-run", "home-speech-output", r"invoice[\s\S]*Language: en"),
    ("home-vision-run", "home-vision-output", r"tabby|tiger cat|egyptian cat"),
    ("home-textgen-run", "home-textgen-output", r"\w+ \w+"),
]


def test_home_page_runs_a_live_example_of_every_app(browser: Browser):
    browser.open("/", "Springboard")
    for button, output, expected in HOME_EXAMPLES:
        browser.click(button)
        browser.wait_for_text(output, expected)
    shot = browser.screenshot("home-examples")
    assert shot.stat().st_size > 10_000
    browser.assert_no_console_errors()


USER, PASSWORD = "founder", "demo-day-password-7"


@pytest.fixture(scope="module")
def auth_browser(tmp_path_factory, screenshots) -> Iterator[Browser]:
    server: ServerProcess = start_server(
        tmp_path_factory.mktemp("auth-browser-server"),
        "--apps", "vision",
        env={**SERVER_ENV, "SPRINGBOARD_AUTH_USERNAME": USER, "SPRINGBOARD_AUTH_PASSWORD": PASSWORD},
    )
    profile = tmp_path_factory.mktemp("chromium-auth-profile")
    driver = launch_chromium(profile)
    try:
        yield Browser(driver, server, screenshots)
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


def _login_form(browser: Browser):
    return browser.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=password]"), 60, "the login form"
    )


def test_login_is_required_and_then_every_page_opens(auth_browser: Browser):
    browser = auth_browser
    browser.driver.get(browser.server.base + "/vision")
    password = _login_form(browser)[0]
    assert browser.driver.current_url.rstrip("/") == browser.server.base, "sent to the login form"
    assert "Classify" not in browser.driver.find_element(By.TAG_NAME, "body").text

    # A wrong password keeps the form up.
    browser.driver.find_element(By.CSS_SELECTOR, "input:not([type=password])").send_keys(USER)
    password.send_keys("not-the-password")
    browser.click_text("Login")
    browser.until(lambda d: "Incorrect" in d.find_element(By.TAG_NAME, "body").text, 30,
                  "the incorrect-credentials message")

    username = browser.driver.find_element(By.CSS_SELECTOR, "input:not([type=password])")
    password = browser.driver.find_element(By.CSS_SELECTOR, "input[type=password]")
    username.clear()
    username.send_keys(USER)
    password.clear()
    password.send_keys(PASSWORD)
    browser.click_text("Login")
    browser.wait_for_heading("Springboard")
    browser.open("/vision", "Vision")
    browser.open("/status", "Status")
    browser.assert_no_console_errors()
