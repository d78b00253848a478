"""The Chinese interface: the table, the pass over built Blocks, and what the server sends.

The browser side (Chromium in a zh-CN locale) is ``tests/browser/test_chinese_interface.py``.
"""

from __future__ import annotations

import json
import re

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from apps.pages import discover_pages
from apps.server import build_blocks, create_app
from apps.ui_kit.i18n import _key as _i18n_key
from apps.ui_kit.i18n import localize, localize_app, mark_example_tables, navbar_script, translation
from apps.ui_kit.translations.zh import ZH

# Visible English texts of the suite that may still lack a translation. Raise it only with a
# reason; better, add the texts to apps/ui_kit/translations/zh.py (the failure lists them).
MAX_UNTRANSLATED = 5
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Translations with no Chinese in them on purpose: names, and text a user types as it is.
_NAMES_ONLY = {
    "EASE（ease）", "ImageNet（efficientnet-lite0）", "K", "Alpha", "Top-p", "Top-k",
    "launch_tweet", "house-json", "view=1, cart=2, purchase=3, remove_from_cart=0",
}


def _key(text: str) -> str:
    return str(gr.I18n()(text))


def test_known_texts_become_gradio_keys_and_unknown_ones_stay_english():
    with gr.Blocks() as demo:
        known = gr.Textbox(label="Question", placeholder="Ask anything…", info="0 = no limit")
        unknown = gr.Textbox(label="A label nobody translated")
        button = gr.Button("Send")
        typed = gr.Textbox("Search", label="Answer")  # a text box's value is the user's, not ours
        radio = gr.Radio(["Uploaded CSV", "Not in the table"], label="Data")
        models = gr.Dropdown(["minilm-l6", "English (en)"], label="Model")
    result = localize(demo.blocks.values())
    assert known.label == _key("Question") and known.placeholder == _key("Ask anything…")
    assert known.info == _key("0 = no limit")
    assert unknown.label == "A label nobody translated"
    assert button.value == _key("Send")
    assert typed.value == "Search" and typed.label == _key("Answer")
    assert radio.choices == [(_key("Uploaded CSV"), "Uploaded CSV"), ("Not in the table", "Not in the table")]
    # A dropdown of names is data: only the entries the table knows change, none is "missing".
    assert models.choices == [("minilm-l6", "minilm-l6"), (_key("English (en)"), "English (en)")]
    assert result.missing == ["A label nobody translated", "Not in the table"]
    assert result.used["Question"] == "问题" and result.used["Send"] == "发送"
    # The keys reach the page config as Gradio's own i18n markers.
    props = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}
    assert props[known._id]["label"] == _key("Question") and props[button._id]["value"] == _key("Send")


def test_a_reflowed_paragraph_still_finds_its_translation():
    text = "Sources and confidence appear here after each answer."
    assert translation(text.replace(" ", "\n  ", 2)) == ZH[text]
    assert translation("Sources and confidence appear here") is None


def test_the_language_setting_picks_the_locales():
    with gr.Blocks() as demo:
        gr.Button("Send")
    result = localize(demo.blocks.values())
    auto = result.i18n("auto").translations_dict
    assert set(auto) == {"zh", "zh-CN"} and auto["zh-CN"] == {"Send": "发送"}
    # "zh" also answers English (and, by fallback, every other) browser in Chinese.
    assert set(result.i18n("zh").translations_dict) == {"zh", "zh-CN", "en"}
    assert result.i18n("en") is None
    assert navbar_script(["Home", "Vision"], "en") == ""
    script = navbar_script(["Home", "Vision", "Not translated"], "auto")
    assert '"Vision": "图像识别"' in script and "Not translated" not in script
    assert "const FORCE = false" in script and "const FORCE = true" in navbar_script(["Home"], "zh")


def _braces(text: str) -> list[str]:
    return sorted(re.findall(r"\{\{|\}\}|\{[^{}]*\}", text))


def test_a_text_with_braces_gets_a_key_gradios_frontend_can_read():
    """The frontend reads a marker's JSON up to its first "}": braces in the text are escaped."""
    key = _i18n_key("Prompt with {fields}")
    body = key.removeprefix("__i18n__")
    assert json.loads(body[: body.index("}") + 1])["key"] == "Prompt with {fields}"


def test_translations_are_chinese_and_safe_for_gradio():
    for english, chinese in ZH.items():
        assert chinese.strip(), english
        # Braces are syntax the user types ({#id}, {fields}, {{ }}): the same in both languages.
        assert _braces(chinese) == _braces(english), english
        # No English left in a translation, except names and syntax kept on purpose.
        assert _CJK.search(chinese) or chinese in _NAMES_ONLY, f"{english!r} -> {chinese!r}"
        # Markdown keeps its shape: headings stay headings, links keep their targets.
        if english.startswith("#"):
            assert chinese.split(" ", 1)[0] == english.split(" ", 1)[0], english
        assert re.findall(r"\]\((/[^)]*)\)", chinese) == re.findall(r"\]\((/[^)]*)\)", english)


def test_every_page_is_in_chinese_but_for_a_few_texts(manager):
    pages = discover_pages()
    demo = build_blocks(manager, pages)
    result = localize_app(demo)
    listing = "\n".join(f"  {t!r}" for t in result.missing)
    print(f"{len(result.used)} texts translated; {len(result.missing)} without a translation:\n{listing}")
    assert len(result.missing) <= MAX_UNTRANSLATED, (
        f"{len(result.missing)} visible texts have no Chinese (add them to "
        f"apps/ui_kit/translations/zh.py):\n{listing}"
    )
    assert len(result.used) > 250
    # Every page title has a navbar name, and every example table's header a Chinese one.
    assert all(translation(t) for t in ["Home", "Status", *(p.title for p in pages)])
    shown = mark_example_tables(demo)
    assert "Your message" in shown and "MovieLens-100k demo" in shown, shown
    assert [t for t in shown if translation(t) is None] == ["LinkedIn"]  # a name stays a name


def test_clicking_an_example_keeps_the_inputs_labels_in_chinese(manager):
    # An example click sends its inputs the properties they had when the table was made.
    # They must be the localized ones, or a click turns "语言" back into "Language".
    from gradio.helpers import Examples

    from apps.ui_kit.i18n import _example_sets

    demo = build_blocks(manager, discover_pages())
    localize_app(demo)
    example_sets = _example_sets(demo)
    assert len(example_sets) >= 5 and all(isinstance(e, Examples) for e in example_sets)
    sent = [props for e in example_sets for props in e.input_component_props]
    labels = [props["label"] for props in sent if isinstance(props.get("label"), str)]
    keyed = [label for label in labels if label.startswith("__i18n__")]
    english = [label for label in labels if translation(label) is not None]
    assert keyed and not english, english
    speech = next(e for e in example_sets if any("speech" in str(row[0]) for row in e.examples))
    language = next(props for props in speech.input_component_props if props.get("choices"))
    assert "__i18n__" in language["label"] and "Language" in language["label"]


@pytest.mark.parametrize("language", ["auto", "zh", "en"])
def test_the_server_sends_the_translations_the_setting_asks_for(manager, language):
    settings = manager.settings.model_copy(
        update={"ui": manager.settings.ui.model_copy(update={"language": language})}
    )
    app = create_app(settings, manager, apps=["customer_service"])
    with TestClient(app) as client:
        config = client.get("/config").json()
        page = client.get("/customer-service").text
    translations = config.get("i18n_translations")
    labels = [c["props"].get("label") for c in config["components"]]
    if language == "en":
        assert translations is None and "Your message" in labels
        assert "__i18n__" not in json.dumps(config["components"])
        return
    assert translations["zh-CN"]["Your message"] == "你的消息"
    assert ("en" in translations) == (language == "zh")
    assert _key("Your message") in labels
    assert "智能客服" in page  # the navbar script, in the page head
    # and the example table's header (the script sits JSON-escaped in the page's config)
    assert re.search(r"const EXAMPLES = \{[^}]*Your message[^}]*你的消息", page)
