"""The status page shows the text generation loop's counters after a generation."""

from __future__ import annotations

import re

import httpx

from .browser import Browser


def test_the_status_page_shows_the_decode_loop_after_a_generation(browser: Browser):
    # A generation through the API (the same shared model the textgen page uses).
    r = httpx.post(f"{browser.server.base}/v1/completions", timeout=120,
                   json={"model": "smollm2-135m", "prompt": "Once upon a time", "max_tokens": 8,
                         "temperature": 0})  # fmt: skip
    assert r.status_code == 200, r.text
    new_tokens = r.json()["usage"]["completion_tokens"]

    browser.open("/status", "Status")
    table = browser.wait_for_text("status-decode-loop", r"smollm2-135m", timeout=30)
    for header in ("decoding", "waiting", "KV cache MB (reserved / budget)", "decode steps", "refused (429)"):
        assert header in table
    # The model's row, one cell a line: idle now, nothing reserved, and the steps it decoded.
    lines = [line.strip() for line in table.splitlines() if line.strip()]
    at = lines.index("smollm2-135m")
    decoding, prefilling, waiting, kv, steps, joined, refused = lines[at + 1 : at + 8]
    assert re.fullmatch(r"0 of \d+", decoding) and re.fullmatch(r"0 of \d+", waiting), lines
    assert re.fullmatch(r"0 / [\d,]+", kv) and int(kv.split(" / ")[1].replace(",", "")) > 0
    # The prefill gives the first token; each later one is a decode step.
    assert int(steps) >= new_tokens - 1 and int(refused) == 0 and int(prefilling) == 0, lines
    assert int(joined) >= 0
    shot = browser.screenshot("status-decode-loop")
    assert shot.is_file() and shot.stat().st_size > 10_000
    browser.assert_no_console_errors()
