"""Each app's example, run through its page as a person would: type, upload, click, read."""

from __future__ import annotations

import re
from pathlib import Path

from selenium.webdriver.common.by import By

from apps.speech.examples import example_files
from apps.vision.examples import example_photos

from .browser import Browser

MOVIE_TITLE = r"\(\d{4}\)"  # MovieLens titles end with their year: "Toy Story (1995)"
CATS = r"tabby|tiger cat|egyptian cat|persian cat|siamese cat|lynx"


def _screenshot(browser: Browser, name: str) -> None:
    shot = browser.screenshot(name)
    assert shot.is_file() and shot.stat().st_size > 10_000, f"{shot} is missing or blank"


def _data_dir(browser: Browser) -> Path:
    return Path(browser.server.env["SPRINGBOARD_DATA_DIR"])


def test_customer_service_answers_with_its_source(browser: Browser):
    browser.open("/customer-service", "Customer service")
    llm = browser.driver.find_element(
        By.XPATH, "//label[contains(., 'Phrase answers with the language model')]//input"
    )
    assert not llm.is_selected(), "the page answers without the language model by default"
    # The examples come from the knowledge base (one per top category); one fills the box.
    browser.click_text("When will my card arrive?")
    browser.until(
        lambda d: browser.text("cs-message") == "When will my card arrive?", 30, "the example"
    )
    browser.type("cs-message", "my card never showed up", submit=True)
    sources = browser.wait_for_text("cs-sources", r"Answer verbatim from \*?\*?card-not-arrived")
    assert "Confidence" in sources
    answer = browser.until(
        lambda d: [
            b.text for b in d.find_elements(By.CSS_SELECTOR, "#cs-chatbot [data-testid=bot]")
        ],
        60,
        "the bot's answer",
    )[-1]
    assert "card" in answer.lower() and len(answer) > 40, answer
    _screenshot(browser, "example-customer-service")
    browser.assert_no_console_errors()


def test_recommendation_trains_then_recommends_and_finds_similar_items(browser: Browser):
    browser.open("/recommendation", "Recommendation")
    browser.click("rec-load")  # the MovieLens-100k demo is the default data
    browser.wait_for_text("rec-summary", r"100,000 interactions")

    browser.tab("2. Train & evaluate")
    # Item-kNN alone: about a second on MovieLens-100k (BPR and EASE take longer).
    for box in browser.element("rec-models").find_elements(By.CSS_SELECTOR, "label"):
        checkbox = box.find_element(By.CSS_SELECTOR, "input")
        if checkbox.is_selected() != ("(itemknn)" in box.text):
            box.click()
    browser.click("rec-train")
    browser.wait_for_text("rec-note", r"Best on NDCG@10: itemknn")

    browser.tab("3. Recommend for a user")
    browser.click_text("196", "button")  # an example user
    browser.click("rec-recommend")
    recs = browser.wait_for_text("rec-user-recs", MOVIE_TITLE)
    assert len(re.findall(MOVIE_TITLE, recs)) >= 5, recs

    browser.tab("4. Similar items")
    browser.click_text("Star Wars (1977) [50]", "button")
    browser.click("rec-similar")
    similar = browser.wait_for_text("rec-item-recs", MOVIE_TITLE)
    # Title cells only: the reason column says "similar to Star Wars (1977)".
    titles = [
        line.strip()
        for line in similar.splitlines()
        if re.search(MOVIE_TITLE, line) and "similar" not in line.lower()
    ]
    assert len(titles) >= 5, similar
    assert "Star Wars (1977)" not in titles, "an item is not similar to itself"
    _screenshot(browser, "example-recommendation")
    browser.assert_no_console_errors()


def test_speech_transcribes_an_uploaded_example(browser: Browser):
    clips = {p.name: p for p in example_files(_data_dir(browser))}
    assert clips, "the server made no example clips (espeak-ng or pocketsphinx-testdata)"
    clip = clips.get("invoice_delivery.wav") or next(iter(clips.values()))
    browser.open("/speech", "Speech to text")
    model = browser.element("speech-model").find_element(By.CSS_SELECTOR, "input")
    assert "tiny" in model.get_property("value").lower(), "the configured model is preselected"
    browser.upload("speech-clip", clip)
    browser.until(
        lambda d: browser.element("speech-clip").find_elements(By.CSS_SELECTOR, "audio, wave"),
        60,
        "the uploaded clip",
    )
    browser.click("speech-run")
    transcript = browser.wait_for_text("speech-transcript", r"\w+ \w+")
    if clip.name == "invoice_delivery.wav":  # "Please send the invoice to our office before Friday. …"
        assert re.search(r"invoice|office|friday", transcript, re.I), transcript
    assert clip.name in browser.text("speech-summary")
    _screenshot(browser, "example-speech")
    browser.assert_no_console_errors()


def test_vision_classifies_and_detects_example_photos(browser: Browser, tmp_path: Path):
    photos = example_photos(tmp_path)
    browser.open("/vision", "Vision")
    browser.upload("vision-classify-image", photos["chelsea.png"])
    browser.until(
        lambda d: browser.element("vision-classify-image").find_elements(By.CSS_SELECTOR, "img"),
        60,
        "the uploaded photo",
    )
    browser.click("vision-classify")
    browser.wait_for_text("vision-classify-table", CATS)

    browser.tab("Detect")
    browser.upload("vision-detect-image", photos["motorcycle.png"])
    browser.until(
        lambda d: browser.element("vision-detect-image").find_elements(By.CSS_SELECTOR, "img"),
        60,
        "the uploaded photo",
    )
    browser.click("vision-detect")
    browser.wait_for_text("vision-detect-table", r"motorbike")
    _screenshot(browser, "example-vision")
    browser.assert_no_console_errors()


def test_textgen_streams_a_template_example(browser: Browser):
    browser.open("/textgen", "Text generation")
    # The first example row: the product description template with its fields filled in.
    rows = browser.until(
        lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "tr.tr-body") if r.is_displayed()],
        30,
        "the examples",
    )
    rows[0].click()
    browser.until(lambda d: browser.text("tg-field-0").strip(), 30, "the example's fields")
    browser.set_number("tg-max-new", 12)
    browser.click("tg-generate")
    seen: set[str] = set()

    def done(driver) -> bool:
        seen.add(browser.text("tg-output"))
        return "new tokens" in browser.text("tg-stats")

    browser.until(done, 300, "the generation to finish")
    output = browser.text("tg-output")
    assert output.strip(), "generated text appears in the output box"
    assert re.search(r"[1-9]\d* new tokens", browser.text("tg-stats"))
    _screenshot(browser, "example-textgen")
    browser.assert_no_console_errors()
