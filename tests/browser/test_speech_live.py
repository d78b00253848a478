"""Live transcription on the speech page: Chromium's microphone plays LibriVox read speech.

Chromium's fake capture device plays a WAV file as the microphone (looped): a sentence,
a 1.5 s pause, a second sentence, then silence. The page must show the words while they
are spoken (partial, greyed), finalise the first sentence at the pause, and finalise the
rest when recording stops.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from selenium.webdriver.common.by import By

from apps.speech.audio import to_mono_16k
from tests.support.server import ServerProcess

from .browser import Browser, launch_chromium
from .conftest import _require_chromium

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
FIRST = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"  # "... mister john dashwood ..."
SECOND = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0930.wav"  # "... made amiable himself"


def _microphone_wav(path: Path) -> Path:
    rate = 16_000
    parts = []
    for clip, pause in ((FIRST, 1.5), (SECOND, 6.0)):
        samples, clip_rate = sf.read(clip, dtype="float32")
        parts += [to_mono_16k(samples, clip_rate), np.zeros(int(pause * rate), np.float32)]
    sf.write(path, np.concatenate([np.zeros(rate // 2, np.float32), *parts]), rate, "PCM_16")
    return path


@pytest.fixture(scope="module")
def mic_browser(
    server: ServerProcess, screenshots: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """A Chromium whose microphone is the WAV above, allowed without asking (this test only)."""
    _require_chromium()
    if not FIRST.is_file():
        pytest.fail("needs Debian's pocketsphinx-testdata (LibriVox clips)", pytrace=False)
    folder = tmp_path_factory.mktemp("live-mic")
    wav = _microphone_wav(folder / "speech.wav")
    driver = launch_chromium(
        folder / "profile",
        flags=(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required",
        ),
    )
    try:
        yield Browser(driver, server, screenshots)
    finally:
        driver.quit()
        shutil.rmtree(folder, ignore_errors=True)


def test_live_transcription_shows_partial_then_final_text(mic_browser: Browser):
    browser = mic_browser
    browser.open("/speech", "Speech to text")
    mic = browser.element("speech-live-mic")
    browser.js("arguments[0].scrollIntoView({block: 'center'});", mic)
    record = browser.until(
        lambda d: mic.find_elements(By.CSS_SELECTOR, "button.record-button"), 30, "Record"
    )[0]
    record.click()

    partials: list[str] = []

    def final_has(word: str):
        def check(_driver):
            partial = browser.text("speech-live-partial")
            if partial and (not partials or partials[-1] != partial):
                partials.append(partial)
            return word in browser.text("speech-live-final-text").lower()

        return check

    # The first sentence: partial text while it is spoken, final after the 1.5 s pause.
    browser.until(final_has("dashwood"), 180, "the first sentence, finalised")
    assert any("john" in p.lower() or "dashwood" in p.lower() for p in partials), partials
    # The second sentence shows up (partial or already final) while recording goes on.
    browser.until(
        lambda d: (
            final_has("amiable")(d) or "amiable" in browser.text("speech-live-partial").lower()
        ),
        120,
        "the second sentence",
    )
    live = browser.screenshot("speech-live-recording")
    stop = mic.find_element(By.CSS_SELECTOR, "button.stop-button")
    stop.click()
    # Stopping finalises the rest: the second sentence is final and nothing is partial.
    browser.until(final_has("amiable"), 120, "the second sentence, finalised")
    browser.until(lambda d: browser.text("speech-live-partial") == "", 60, "no partial text")
    final = browser.text("speech-live-final-text").lower()
    assert final.index("dashwood") < final.index("amiable"), final
    assert "dashwood" in browser.text("speech-live-final").lower()  # the live view shows it too
    stopped = browser.screenshot("speech-live-stopped")
    assert live.stat().st_size > 10_000 and stopped.stat().st_size > 10_000
    browser.assert_no_console_errors()
