"""The pages in Chinese: Chromium with a zh-CN locale, as a Chinese-speaking founder opens them.

The server is the session's (``ui.language`` at its default, "auto"): the language comes from
the browser alone. Every page shows its headings, navbar, labels and buttons in Chinese, no
raw translation key, no JavaScript error; the customer-service bot answers a Chinese question
from the Chinese demo knowledge base in Chinese.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from apps.ui_kit.i18n import EXAMPLES_CLASS, translation
from tests.support.server import ServerProcess

from .browser import Browser, GradioError, launch_chromium
from .conftest import _require_chromium

# path -> (the page's heading, texts of its labels and buttons that must show in Chinese)
PAGES = {
    "/": ("Springboard", ["应用", "在这里试用每个应用", "问客服机器人", "客户来信"]),
    "/customer-service": ("智能客服", ["知识库", "对话记录", "你的消息", "转人工客服", "新对话"]),
    "/recommendation": ("推荐系统", ["1. 数据", "2. 训练与评估", "加载数据", "MovieLens-100k 演示数据"]),
    "/speech": ("语音转文字", ["录制或上传一段音频", "转写", "文字稿", "与参考文字稿对比评分"]),
    "/vision": ("图像识别", ["分类", "检测", "模型（ImageNet，或你训练的模型）", "前 k 个"]),
    "/textgen": ("文本生成", ["写作", "模板", "生成", "系统提示词", "生成参数"]),
    "/status": ("运行状态", ["模型", "手动加载或卸载模型", "导出成本 CSV"]),
}
NAVBAR = ["首页", "智能客服", "推荐系统", "语音转文字", "图像识别", "文本生成", "运行状态"]
ZH_DEMO, EN_DEMO = "演示：Kestrel Money（中文）", "演示：Kestrel Money（英文）"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _require_cjk_fonts() -> None:
    """Without a CJK font Chromium draws Chinese as boxes, and a screenshot would hide it."""
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    if not found.strip():
        pytest.fail(
            "The Chinese pages need a CJK font: sudo apt-get install fonts-noto-cjk (.ci/run installs it)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def zh_browser(
    server: ServerProcess, screenshots: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """A second Chromium whose language is Simplified Chinese (the English one stays as it is)."""
    _require_chromium()
    _require_cjk_fonts()
    profile = tmp_path_factory.mktemp("chromium-profile-zh")
    driver = launch_chromium(profile, language="zh-CN")
    try:
        yield Browser(driver, server, screenshots)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _visible_text(browser: Browser) -> str:
    return browser.driver.find_element(By.TAG_NAME, "body").text


def _flat_text(browser: Browser) -> str:
    return " ".join(_visible_text(browser).split())


def _example_texts(browser: Browser, cell: str) -> list[str]:
    """The visible texts of the page's example tables (``gr.Examples``): ``cell`` "th" for
    the column headers, "td" for the examples."""
    cells = browser.driver.find_elements(By.CSS_SELECTOR, f".{EXAMPLES_CLASS} {cell}")
    return [c.text.strip() for c in cells if c.is_displayed() and c.text.strip()]


def _navbar(browser: Browser) -> list[str]:
    return [a.text.strip() for a in browser.driver.find_elements(By.CSS_SELECTOR, ".nav-holder nav a")]


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_is_in_chinese(zh_browser: Browser, path: str):
    heading, texts = PAGES[path]
    assert zh_browser.js("return navigator.language") == "zh-CN"
    zh_browser.open(path, heading)
    zh_browser.until(lambda d: _navbar(zh_browser) == NAVBAR, 30, "the navbar in Chinese")
    body = _visible_text(zh_browser)
    missing = [t for t in texts if t not in body]
    assert not missing, f"not shown on {path}: {missing}"
    assert "__i18n__" not in body and "translation_metadata" not in body
    # The example tables' headers too (Gradio shows them untranslated; the page script swaps them).
    headers = _example_texts(zh_browser, "th")
    assert not [h for h in headers if translation(h)], headers  # none left in English
    if path == "/recommendation":  # a radio button's choices, shown as the examples' cells
        cells = _example_texts(zh_browser, "td")
        assert "数据" in headers and {"MovieLens-100k 演示数据", "上传我自己的文件"} <= set(cells), cells
    if path == "/textgen":  # the template dropdown's names
        assert "模板" in headers and "商品描述" in _example_texts(zh_browser, "td")
    assert zh_browser.js("return document.documentElement.lang") == "zh-CN"
    zh_browser.assert_no_console_errors()
    shot = zh_browser.screenshot("zh" + (path.replace("/", "-") if path != "/" else "-home"))
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_clicking_an_example_keeps_the_page_in_chinese(zh_browser: Browser):
    # A click sends the example's inputs their properties too; they must be the Chinese ones.
    zh_browser.open("/speech", PAGES["/speech"][0])
    rows = zh_browser.driver.find_elements(By.CSS_SELECTOR, f".{EXAMPLES_CLASS} tbody tr")
    mandarin = [r for r in rows if "mandarin" in r.text]
    assert mandarin and "中文" in mandarin[0].text, [r.text for r in rows]
    mandarin[0].click()
    menu = zh_browser.element("speech-language").find_element(By.CSS_SELECTOR, "input")
    zh_browser.until(lambda d: "中文" in menu.get_property("value"), 30, "the example's language")
    label = zh_browser.element("speech-language").find_element(By.CSS_SELECTOR, "[data-testid='block-info']")
    assert label.text == "语言", label.text
    zh_browser.assert_no_console_errors()


def _choose_kb(browser: Browser, label: str) -> None:
    """Pick a knowledge base in the page's dropdown by its (Chinese) name, as a person would
    (nothing to do when the page already shows it: a Chinese browser starts on the Chinese
    demo until someone picks another)."""
    browser.wait_idle(strict=False)  # the page's load events fill the dropdown
    field = browser.element("cs-kb").find_element(By.CSS_SELECTOR, "input")
    if field.get_property("value") != label:
        browser.choose("cs-kb", label)
        field = browser.element("cs-kb").find_element(By.CSS_SELECTOR, "input")
    browser.js("arguments[0].blur();", field)  # close the list before anything is read or shot


def _bot_messages(browser: Browser) -> list[str]:
    return [
        b.text for b in browser.driver.find_elements(By.CSS_SELECTOR, "#cs-chatbot [data-testid=bot]")
    ]


def test_the_bot_answers_a_chinese_question_from_the_chinese_knowledge_base(zh_browser: Browser):
    zh_browser.open("/customer-service", "智能客服")
    try:
        _choose_kb(zh_browser, ZH_DEMO)
        greeting = zh_browser.wait_for_text("cs-greeting", r"您好")
        assert "Kestrel Money" in greeting and _CJK.search(greeting)
        zh_browser.wait_idle()
        zh_browser.type("cs-message", "我的银行卡丢了，怎么办？", submit=True)
        zh_browser.wait_for_text("cs-sources", r"zh-card-lost")
        answer = zh_browser.until(lambda d: _bot_messages(zh_browser), 60, "the bot's answer")[-1]
        assert "冻结" in answer and "挂失" in answer, answer
        assert not re.search(r"[A-Za-z]{4,}", answer.replace("App", "")), answer
        zh_browser.screenshot("zh-customer-service-answer")
        zh_browser.assert_no_console_errors()
    finally:
        # The knowledge base is the page's, for every visitor: leave the English demo active.
        zh_browser.open("/customer-service", "智能客服")
        _choose_kb(zh_browser, EN_DEMO)
        zh_browser.wait_for_text("cs-greeting", r"Hello")


def test_testing_the_bot_on_the_chinese_demos_questions(zh_browser: Browser):
    zh_browser.open("/customer-service", "智能客服")
    try:
        _choose_kb(zh_browser, ZH_DEMO)
        zh_browser.tab("知识库")
        zh_browser.open_accordion("cs-test", "cs-test-run")
        zh_browser.click("cs-test-run")
        summary = zh_browser.wait_for_text("cs-test-summary", r"快速匹配", timeout=120)
        assert "在 48 个可回答的问题中" in summary and "10 个无关问题中转人工" in summary, summary
        assert not re.search(r"right|wrong|escalated|questions", summary), summary
        table = zh_browser.wait_for_text("cs-test-table", r"答对")
        assert "结果" in table and "outcome" not in table, table
        zh_browser.screenshot("zh-customer-service-test-the-bot")
        zh_browser.assert_no_console_errors()
    finally:
        zh_browser.open("/customer-service", "智能客服")
        _choose_kb(zh_browser, EN_DEMO)
        zh_browser.wait_for_text("cs-greeting", r"Hello")


def _pick_language(browser: Browser, name: str) -> None:
    """Choose a language in Gradio's footer Settings (the page's language switch)."""

    def language_field(driver):
        fields = driver.find_elements(By.CSS_SELECTOR, "input[aria-label=Language]")
        return next((f for f in fields if f.is_displayed()), False)

    if not language_field(browser.driver):  # the Settings panel is not open yet
        button = browser.until(
            lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, "button.settings")), False),
            20,
            "the footer's Settings button",
        )
        browser.js("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", button)
    field = browser.until(language_field, 20, "the language field of the Settings")
    field.click()
    option = browser.until(
        lambda d: next(
            (li for li in d.find_elements(By.CSS_SELECTOR, "li[data-testid=dropdown-option]")
             if li.text.strip() == name),
            False,
        ),
        10,
        f"the language {name!r}",
    )
    option.click()


def test_the_footer_settings_switch_between_chinese_and_english(zh_browser: Browser):
    zh_browser.open("/vision", "图像识别")
    _pick_language(zh_browser, "English")
    zh_browser.wait_for_heading("Vision")
    zh_browser.until(lambda d: _navbar(zh_browser)[:2] == ["Home", "Customer service"], 30, "the navbar in English")
    body = _visible_text(zh_browser)
    assert "Model (ImageNet, or one you trained)" in body and "图像识别" not in body
    zh_browser.screenshot("zh-switched-to-english")
    _pick_language(zh_browser, "简体中文")
    zh_browser.wait_for_heading("图像识别")
    zh_browser.until(lambda d: _navbar(zh_browser) == NAVBAR, 30, "the navbar in Chinese again")
    zh_browser.assert_no_console_errors()


# --------------------------------------------------------------------------- text built at run time
def _home(browser: Browser) -> str:
    browser.click("home-rec-run")
    shown = browser.wait_for_text("home-rec-output", r"看过 .+ 的人也看了", timeout=60)
    assert "相似度" in shown and "also watched" not in shown and "similarity" not in shown, shown
    body = _visible_text(browser)
    assert "该角色默认" in body and "权重来源" in body  # the models table, built per request
    return shown


def _customer_service(browser: Browser) -> str:
    _choose_kb(browser, EN_DEMO)  # the English demo's entries, with the page in Chinese
    browser.wait_for_text("cs-greeting", r"Hello")
    browser.wait_idle()
    browser.type("cs-message", "my card never showed up", submit=True)
    sources = browser.wait_for_text("cs-sources", r"答案原文来自", timeout=60)
    assert "置信度" in sources and "Confidence" not in sources, sources
    why = browser.wait_for_text("cs-why-details", r"最佳匹配", timeout=30)
    assert "校准后的置信度" in why and not re.search(r"best match|threshold|calibration", why), why
    return sources + "\n" + why


def _recommendation(browser: Browser) -> str:
    browser.click("rec-load")
    shown = browser.wait_for_text("rec-summary", r"条交互", timeout=90)
    assert "interactions" not in shown, shown
    return shown


def _speech(browser: Browser) -> str:
    from apps.speech.examples import example_files

    clips = example_files(Path(browser.server.env["SPRINGBOARD_DATA_DIR"]))
    assert clips, "the server made no example clips"
    browser.upload("speech-clip", clips[0])
    browser.until(
        lambda d: browser.element("speech-clip").find_elements(By.CSS_SELECTOR, "audio, wave"), 60, "the clip"
    )
    browser.click("speech-run")
    shown = browser.wait_for_text("speech-summary", r"语言", timeout=120)
    assert "个片段" in shown and "segment" not in shown, shown
    return shown


def _vision(browser: Browser) -> str:
    from apps.vision.examples import example_photos

    photos = example_photos(Path(browser.server.env["SPRINGBOARD_DATA_DIR"]) / "zh-photos")
    browser.upload("vision-classify-image", photos["chelsea.png"])
    browser.until(
        lambda d: browser.element("vision-classify-image").find_elements(By.CSS_SELECTOR, "img"), 60, "the photo"
    )
    browser.click("vision-classify")
    shown = browser.wait_for_text("vision-classify-table", r"标签", timeout=90)
    assert "概率" in shown and "probability" not in shown, shown
    return shown


def _textgen(browser: Browser) -> str:
    # The template's fields are built per request: names, placeholders and the description.
    field = browser.until(
        lambda d: "产品" in browser.element("tg-field-0").text and browser.element("tg-field-0"), 30, "the fields"
    )
    placeholder = field.find_element(By.CSS_SELECTOR, "textarea, input").get_attribute("placeholder")
    assert _CJK.search(placeholder), placeholder
    browser.click("tg-generate")  # nothing filled in: the page says so, in Chinese
    with pytest.raises(GradioError, match="请填写“产品”（模板“商品描述”）"):
        browser.wait_for_text("tg-stats", r"结束原因", timeout=30)
    browser.open("/textgen", "文本生成")  # a fresh page, without the error toast
    field = browser.until(
        lambda d: "产品" in browser.element("tg-field-0").text and browser.element("tg-field-0"), 30, "the fields"
    )
    browser.type("tg-field-0", "一款折叠自行车")
    browser.set_number("tg-max-new", 12)
    browser.click("tg-generate")
    stats = browser.wait_for_text("tg-stats", r"结束原因", timeout=120)
    assert "prompt tokens" not in stats, stats
    return field.text + "\n" + stats


def _status(browser: Browser) -> str:
    summary = browser.wait_for_text("status-cost-summary", r"目前用掉的算力", timeout=30)
    body = _visible_text(browser)
    assert "设备" in body and "进程内存" in body and "权重来源" in body, body[:500]
    assert "Compute used so far" not in body and "Process memory" not in body
    return summary


# path -> (heading, what to do there; returns the runtime text it checked)
RUNTIME = {
    "/": ("Springboard", _home),
    "/customer-service": ("智能客服", _customer_service),
    "/recommendation": ("推荐系统", _recommendation),
    "/speech": ("语音转文字", _speech),
    "/vision": ("图像识别", _vision),
    "/textgen": ("文本生成", _textgen),
    "/status": ("运行状态", _status),
}


@pytest.mark.parametrize("path", list(RUNTIME))
def test_text_built_at_run_time_is_chinese_too(zh_browser: Browser, path: str):
    """One result per page, built by Python for this request, in Chinese (screenshot: zh-result-*)."""
    heading, act = RUNTIME[path]
    zh_browser.open(path, heading)
    shown = act(zh_browser)
    assert _CJK.search(shown), shown
    zh_browser.screenshot("zh-result" + (path.replace("/", "-") if path != "/" else "-home"))
    zh_browser.assert_no_console_errors()


def test_the_footer_switch_also_switches_the_text_built_on_the_server(zh_browser: Browser):
    """The page's language (not only the browser's) decides: the status page refreshes itself, so
    after the footer switch its summary follows within a refresh."""
    zh_browser.open("/status", "运行状态")
    zh_browser.wait_for_text("status-cost-summary", r"目前用掉的算力", timeout=30)
    _pick_language(zh_browser, "English")
    zh_browser.wait_for_text("status-cost-summary", r"Compute used so far", timeout=30)
    assert "**" not in zh_browser.text("status-cost-summary")
    _pick_language(zh_browser, "简体中文")
    zh_browser.wait_for_text("status-cost-summary", r"目前用掉的算力", timeout=30)
    zh_browser.assert_no_console_errors()


# Texts with braces: Gradio's frontend reads a translation marker's JSON only up to its first
# "}", and its messages treat braces as placeholders; both are escaped in apps.ui_kit.i18n.
_BRACES = {
    "en": [("/customer-service", "Customer service", "Knowledge base", "`## Question {#id}`"),
           ("/textgen", "Text generation", "My templates", "`{{` and `}}` for literal braces")],
    "zh": [("/customer-service", "智能客服", "知识库", "`## 问题 {#id}`"),
           ("/textgen", "文本生成", "我的模板", "`{{` 和 `}}` 表示花括号本身")],
}  # fmt: skip


@pytest.mark.parametrize("language", list(_BRACES))
def test_texts_with_braces_show_as_written_in_both_languages(browser: Browser, zh_browser: Browser, language: str):
    viewer = zh_browser if language == "zh" else browser
    for path, heading, tab, expected in _BRACES[language]:
        viewer.open(path, heading)
        viewer.tab(tab)
        # Code spans show without their backticks, on lines of their own in the body's text.
        shown = " ".join(expected.replace("`", "").split())
        viewer.until(lambda d, shown=shown: shown in _flat_text(viewer), 20, f"{shown!r} on {path}")
        body = _visible_text(viewer)
        assert "translation_metadata" not in body and "__i18n__" not in body
    label = "Prompt with {fields}" if language == "en" else "提示词（用 {fields} 标出字段）"
    assert label in _flat_text(viewer)  # a label with braces, on the textgen tab just opened
    viewer.screenshot(f"braces-{language}")
