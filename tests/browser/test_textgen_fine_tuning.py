"""The textgen page's Train tab in a real browser, in one sitting: upload a file, train a LoRA
adapter on the tiny model, watch the loss, compare base and adapter, then chat with it."""

from __future__ import annotations

import json
import re

from selenium.webdriver.common.by import By

from tests.support.lora import example_chats

from .browser import MODEL_TIMEOUT_S, Browser

ADAPTER = "browser-json"
LISTING = "Lumo Trek 45 backpack by Lumo, 89 EUR. In stock."


def _jsonl(path, chats) -> None:
    path.write_text("".join(json.dumps({"messages": c}) + "\n" for c in chats), encoding="utf-8")


def test_train_an_adapter_on_the_page_then_chat_with_it(browser: Browser, tmp_path) -> None:
    train, held = tmp_path / "listings.jsonl", tmp_path / "heldout.jsonl"
    _jsonl(train, example_chats("train.jsonl", 32))  # the worked example's shop listings
    _jsonl(held, example_chats("heldout.jsonl", 6))
    system = example_chats("heldout.jsonl", 1)[0][0]["content"]

    browser.open("/textgen", "Text generation")
    browser.tab("Train")
    browser.upload("tg-train-file", train)
    browser.upload("tg-heldout-file", held)
    for elem_id, name in (("tg-train-file", train.name), ("tg-heldout-file", held.name)):
        browser.until(lambda d, e=elem_id, n=name: browser.element(e).find_elements(
            By.CSS_SELECTOR, f"[aria-label='{n}']"), 60, f"{name} uploaded")  # fmt: skip
    browser.type("tg-adapter-name", ADAPTER)
    browser.open_accordion("tg-train-settings", "tg-train-epochs")
    # The smallest honest run: 8 steps of 4 examples (as the API tests' adapter).
    for elem_id, value in (("tg-train-epochs", 1), ("tg-train-batch", 4), ("tg-train-tokens", 160),
                           ("tg-train-lr", 0.005), ("tg-train-seed", 3)):  # fmt: skip
        browser.set_number(elem_id, value)
    browser.screenshot("textgen-train-ready")

    browser.click("tg-train")
    browser.wait_for_text("tg-train-status", r"Training: epoch 1/1, step \d/8|Training: epoch 1 done|"
                          r"Comparing")  # fmt: skip
    browser.screenshot("textgen-train-progress")  # the progress bar and loss curve while it trains
    status = browser.wait_for_text("tg-train-status", r"Valid JSON", timeout=2 * MODEL_TIMEOUT_S)
    before, after = map(float, re.search(r"Held-out perplexity: ([\d.]+) \(base\) (?:->|→) ([\d.]+)",
                                         status).groups())  # fmt: skip
    assert after < before, status
    valid = re.search(r"Valid JSON: (\d+)% (?:->|→) (\d+)%", status)
    assert valid and int(valid[2]) > int(valid[1]), status
    assert browser.element("tg-loss").find_elements(By.CSS_SELECTOR, "img, svg, canvas")
    assert "name" in browser.text("tg-comparison")  # the held-out prompts, base and adapter
    assert ADAPTER in browser.wait_for_text("tg-adapters", ADAPTER, timeout=60)
    browser.wait_idle()
    browser.screenshot("textgen-train-result")

    # Use it: pick the adapter, then chat (greedy, short) with the example's system prompt.
    browser.choose("tg-adapter", ADAPTER)
    browser.set_number("tg-max-new", 60)
    browser.set_number("tg-temperature", 0)
    browser.tab("Chat")
    browser.type("tg-chat-system", system)
    browser.type("tg-message", LISTING)
    browser.click("tg-send")
    try:
        browser.wait_for_text("tg-chat-notices", r"new tokens|⚠️")  # the answer has ended
        browser.wait_idle(timeout=MODEL_TIMEOUT_S)
    finally:
        browser.screenshot("textgen-train-chat-with-adapter")
    reply = browser.text("tg-chatbot").split(LISTING, 1)[-1]
    assert reply.strip(), browser.text("tg-chatbot")
    browser.assert_no_console_errors()


