"""A thin helper over Selenium for Gradio pages: open, type, upload, click, wait, look.

Components are found by the ``elem_id`` their ``ui.py`` gives them (``#cs-message``).
Every wait is explicit; a red Gradio error toast ends a wait at once with its text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.server import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# These machines have no network: selenium-manager must never try to download a driver.
os.environ.setdefault("SE_OFFLINE", "true")

PAGE_TIMEOUT_S = 60  # a page and its load events
MODEL_TIMEOUT_S = 300  # a first request that loads a real model on a slow, shared CPU
WINDOW = (1400, 1000)

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)

# Console noise that says nothing about our pages.
_IGNORED_CONSOLE = (re.compile(r"favicon\.ico"),)

# Status trackers that are showing (pending or generating), i.e. events still running.
_BUSY_JS = """
return Array.from(document.querySelectorAll('[data-testid="status-tracker"]'))
  .filter(e => !e.classList.contains('hide') && e.offsetParent !== null).length;
"""
_ERROR_TOASTS_JS = """
return Array.from(document.querySelectorAll('[data-testid="toast-body"]'))
  .filter(e => e.className.includes('error')).map(e => e.innerText);
"""


def launch_chromium(
    profile: Path, language: str | None = None, flags: tuple[str, ...] = ()
) -> webdriver.Chrome:
    """Headless Chromium from Debian's packages, with a fresh profile and console logging.

    ``language`` (e.g. "zh-CN") sets the browser's locale, ``navigator.language`` and the
    Accept-Language header, as a person's browser in that language would; default: Chromium's.
    ``flags`` are added to ``CHROMIUM_FLAGS`` (e.g. a WAV file as the microphone).
    """
    options = webdriver.ChromeOptions()
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    if language:
        options.add_argument(f"--lang={language}")
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    return driver


class GradioError(AssertionError):
    """The page showed a red error toast while we waited for a result."""


class Browser:
    """One Chromium tab on the test server."""

    def __init__(self, driver: webdriver.Chrome, server: ServerProcess, screenshots: Path):
        self.driver = driver
        self.server = server
        self.screenshots = screenshots

    # ------------------------------------------------------------------ navigation
    def open(self, path: str, heading: str) -> None:
        """Load a page and wait for its heading and its load events.

        The previous page is left only once its events are done, so an aborted request
        is never mistaken for an error of the next page; its console is then cleared.
        """
        self.wait_idle(timeout=PAGE_TIMEOUT_S, strict=False)
        self.driver.get("about:blank")
        self.driver.get_log("browser")
        self.driver.get(self.server.base + path)
        self.wait_for_heading(heading)
        self.wait_idle()

    def wait_for_heading(self, heading: str, timeout: float = PAGE_TIMEOUT_S) -> None:
        self.until(
            lambda d: heading in self.headings(),
            timeout,
            f"heading {heading!r} on {self.driver.current_url}",
        )

    def headings(self) -> list[str]:
        try:
            return [h.text.strip() for h in self.driver.find_elements(By.CSS_SELECTOR, "h1, h2")]
        except StaleElementReferenceException:
            return []

    def wait_idle(self, timeout: float = PAGE_TIMEOUT_S, strict: bool = True) -> None:
        """Wait until no event of the page is pending (no status tracker is showing)."""
        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(
                lambda d: d.execute_script(_BUSY_JS) == 0
            )
        except TimeoutException:
            if strict:
                raise

    # ------------------------------------------------------------------ waiting
    def until(self, condition: Callable[[Any], Any], timeout: float, what: str) -> Any:
        """Wait for ``condition``; fail at once on a Gradio error toast, or on timeout."""

        def check(driver):
            errors = driver.execute_script(_ERROR_TOASTS_JS)
            if errors:
                raise GradioError(f"error shown while waiting for {what}: {errors}")
            try:
                return condition(driver)
            except StaleElementReferenceException:
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(check)
        except TimeoutException:
            raise TimeoutException(
                f"timed out after {timeout:.0f} s waiting for {what}; server log tail:\n"
                + self.server.output()[-3000:]
            ) from None

    def wait_for_text(
        self, elem_id: str, pattern: str, timeout: float = MODEL_TIMEOUT_S, flags=re.I
    ) -> str:
        """Wait until the visible text (or value) of ``#elem_id`` matches ``pattern``."""
        found = self.until(
            lambda d: (t := self.text(elem_id)) and re.search(pattern, t, flags) and t,
            timeout,
            f"/{pattern}/ in #{elem_id}",
        )
        return found

    # ------------------------------------------------------------------ reading
    def element(self, elem_id: str) -> WebElement:
        return self.driver.find_element(By.ID, elem_id)

    def text(self, elem_id: str) -> str:
        """What a person sees in a component: a text box's value, else its text."""
        el = self.element(elem_id)
        fields = el.find_elements(By.CSS_SELECTOR, "textarea, input[type=text]")
        if el.tag_name in ("textarea", "input") or (
            fields and not el.find_elements(By.CSS_SELECTOR, "table, [data-testid=bot]")
        ):
            field = el if el.tag_name in ("textarea", "input") else fields[0]
            return field.get_property("value") or ""
        return el.text

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def console_errors(self, ignore: str | None = None) -> list[str]:
        """SEVERE console messages since the last call (drains the log)."""
        ignored = [*_IGNORED_CONSOLE, *([re.compile(ignore)] if ignore else [])]
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and not any(p.search(entry["message"]) for p in ignored)
        ]

    def assert_no_console_errors(self, ignore: str | None = None) -> None:
        self.wait_idle(strict=False)
        errors = self.console_errors(ignore)
        assert not errors, f"JavaScript errors on {self.driver.current_url}:\n" + "\n".join(errors)

    # ------------------------------------------------------------------ acting
    def type(self, elem_id: str, text: str, submit: bool = False) -> None:
        """Replace the text of a text box, as typed by a person; Enter with ``submit``."""
        field = self.element(elem_id).find_element(By.CSS_SELECTOR, "textarea, input")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        field.send_keys(text)
        if submit:
            field.send_keys(Keys.ENTER)

    def set_number(self, elem_id: str, value: float) -> None:
        """Type a number into a slider's or number box's field and leave it."""
        field = self.element(elem_id).find_element(By.CSS_SELECTOR, "input[type=number]")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(str(value), Keys.TAB)
        self.until(
            lambda d: float(field.get_property("value") or "nan") == float(value),
            10,
            f"#{elem_id} = {value}",
        )

    def click(self, elem_id: str) -> None:
        button = self.element(elem_id)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        self.until(lambda d: button.is_enabled(), 30, f"#{elem_id} enabled")
        button.click()

    def click_text(self, text: str, css: str = "button") -> None:
        """Click the visible element matching ``css`` whose text is ``text`` (tabs, examples)."""

        def find(driver):
            for el in driver.find_elements(By.CSS_SELECTOR, css):
                if el.is_displayed() and el.text.strip() == text:
                    return el
            return False

        el = self.until(find, 30, f"{css} {text!r}")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        el.click()

    def choose(self, elem_id: str, option: str, attempts: int = 3) -> None:
        """Open a dropdown, type to filter its options, and click ``option``, as a person would.

        A page event still in flight (a ``.then`` refreshing the choices, say) may reset the
        value just after it was picked; then it is picked again, up to ``attempts`` times.
        """
        def options(driver):  # compared in Python: labels may hold quotes
            return [o for o in driver.find_elements(By.CSS_SELECTOR, "li[data-testid=dropdown-option]")
                    if o.get_attribute("aria-label") == option]  # fmt: skip

        for attempt in range(1, attempts + 1):
            field = self.element(elem_id).find_element(By.CSS_SELECTOR, "input")
            self.js("arguments[0].scrollIntoView({block: 'center'});", field)
            field.click()
            self.until(options, 30, f"the option {option!r} of #{elem_id}")
            self.type(elem_id, option)
            try:
                item = self.until(options, 10, f"the option {option!r} of #{elem_id}, filtered")[0]
                item.click()
                self.until(lambda d: self._value(elem_id) == option, 10, f"#{elem_id} = {option}")
                self.wait_idle(strict=False)
                if self._value(elem_id) == option:
                    return
            except (TimeoutException, StaleElementReferenceException, ElementClickInterceptedException):
                if attempt == attempts:
                    raise
        raise TimeoutException(f"#{elem_id} did not keep the value {option!r} after {attempts} picks")

    def _value(self, elem_id: str) -> str:
        """The text a dropdown or text field shows now (found afresh: Gradio may redraw it)."""
        return self.element(elem_id).find_element(By.CSS_SELECTOR, "input").get_property("value")

    def check(self, elem_id: str, on: bool = True) -> None:
        """Tick (or untick) a checkbox."""
        box = self.element(elem_id).find_element(By.CSS_SELECTOR, "input[type=checkbox]")
        self.js("arguments[0].scrollIntoView({block: 'center'});", box)
        if box.is_selected() != on:
            box.click()
        self.until(lambda d: box.is_selected() == on, 10, f"#{elem_id} ticked={on}")

    def open_accordion(self, elem_id: str, inside_id: str, attempts: int = 3) -> None:
        """Open the closed accordion ``#elem_id``: its content (``#inside_id``) is drawn only
        once it is open, and a click during the page's first events may be lost."""
        for _ in range(attempts):
            if self.driver.find_elements(By.ID, inside_id):
                return
            header = self.element(elem_id).find_elements(By.CSS_SELECTOR, ".label-wrap, button")
            self.js("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", header[0])
            try:
                self.until(lambda d: d.find_elements(By.ID, inside_id), 10, f"#{inside_id}")
                return
            except TimeoutException:  # click again
                continue
        raise AssertionError(f"the accordion #{elem_id} did not open")

    def tab(self, label: str) -> None:
        self.click_text(label, "button[role=tab]")

    def upload(self, elem_id: str, path: Path) -> None:
        """Give a file to the component's upload field, as a file chooser would."""
        field = self.element(elem_id).find_element(By.CSS_SELECTOR, "input[type=file]")
        field.send_keys(str(Path(path).resolve()))

    # ------------------------------------------------------------------ evidence
    def screenshot(self, name: str) -> Path:
        """The whole page as a PNG under the session's screenshot folder."""
        height = self.js("return document.documentElement.scrollHeight") or WINDOW[1]
        self.driver.set_window_size(WINDOW[0], min(max(height, WINDOW[1]), 6000))
        try:
            path = self.screenshots / f"{name}.png"
            assert self.driver.save_screenshot(str(path)), f"no screenshot for {name}"
        finally:
            self.driver.set_window_size(*WINDOW)
        return path
