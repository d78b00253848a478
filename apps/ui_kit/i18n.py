"""The pages in Simplified Chinese, through Gradio's own i18n (``gr.I18n``).

The pages are written in English. One table (``translations/zh.py``) maps the English
text they show to Chinese. After the suite's Blocks are built, ``localize`` walks them
once and turns every label, info, placeholder, button text, tab or accordion name, choice
and Markdown text that the table knows into a Gradio translation key: the English text
itself, wrapped in Gradio's ``__i18n__`` marker (what ``gr.I18n()(key)`` serialises to).

Gradio's front end then picks the language: for a ``zh*`` locale (the browser's, or the one
chosen under the footer's *Settings*) it shows the key's Chinese; for any other locale the
key is missing and Gradio shows the key, i.e. the English. So no ``ui.py`` changes, text
the table does not know stays English, and a string edited in a ``ui.py`` simply falls
back to English until the table catches up (``untranslated`` lists those).

Why a marker string rather than ``I18nData`` objects: the marker is what Gradio sends
anyway, and a plain ``str`` attribute keeps every backend use of a label working.

Gradio's navbar shows page titles as given, without translating them, so a few lines of
script (``navbar_script``) swap the navbar's link texts when the page's language (``<html
lang>``, which Gradio's i18n sets) is Chinese. The same script keeps that language in a cookie,
so text built on the server per request follows it (``apps.ui_kit.language``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import gradio as gr
from gradio.helpers import Examples
from gradio.i18n import I18nData

from .language import LANGUAGE_COOKIE
from .translations.zh import ZH

Language = Literal["auto", "zh", "en"]

# Component attributes that hold text a person reads. ``value`` only for the components
# whose value is their visible text (not a user's input).
_TEXT_ATTRS = ("label", "info", "placeholder")
_VALUE_IS_TEXT = ("Markdown", "Button", "DownloadButton", "UploadButton", "ClearButton")
# Choices of these are words a person picks from; a dropdown of model or language names is
# data, and only the entries the table knows are translated.
_CHOICES_ARE_TEXT = ("Radio", "CheckboxGroup", "Dropdown")
_MARKER = "__i18n__"
# Locales that get the Chinese table: Gradio chooses "zh-CN" for a Chinese browser and
# svelte-i18n falls back from any "zh-*" to "zh".
_ZH_LOCALES = ("zh", "zh-CN")


def _normal(text: str) -> str:
    """The lookup form of a text: whitespace runs folded, so reflowing a paragraph keeps it."""
    return " ".join(text.split())


_ZH_BY_NORMAL = {_normal(k): v for k, v in ZH.items()}


def translation(text: str) -> str | None:
    """The Chinese for one English text of the pages, or None."""
    return _ZH_BY_NORMAL.get(_normal(text))


def _key(text: str) -> str:
    """Gradio's translation marker for ``text`` (what ``str(gr.I18n()(text))`` gives), except
    that braces inside the text are JSON unicode escapes: Gradio's frontend reads the marker's
    JSON only up to its first "}", so "Prompt with {fields}" showed as the raw marker."""
    body = json.dumps(I18nData(text).to_dict())
    inner = body[1:-1].replace("{", "\\u007b").replace("}", "\\u007d")
    return f"{_MARKER}{{{inner}}}"


@dataclass
class Localized:
    """What ``localize`` did: the translations the pages use, and the texts left in English."""

    used: dict[str, str] = field(default_factory=dict)  # exact English text -> Chinese
    missing: list[str] = field(default_factory=list)  # visible texts with no translation

    def i18n(self, language: Language = "auto") -> gr.I18n | None:
        """The ``gr.I18n`` for ``gr.mount_gradio_app``: Chinese for Chinese browsers ("auto"),
        for every browser ("zh"), or none ("en")."""
        if language == "en" or not self.used:
            return None
        locales = _ZH_LOCALES if language == "auto" else (*_ZH_LOCALES, "en")
        return gr.I18n(**{locale: dict(self.used) for locale in locales})


def _swap(text: object, result: Localized) -> object:
    """``text``'s translation key if the table knows it; else ``text`` (noted as missing)."""
    if not isinstance(text, str) or not text.strip() or _MARKER in text:
        return text
    zh = translation(text)
    if zh is None:
        if any(ch.isalpha() for ch in text):
            result.missing.append(text)
        return text
    result.used[text] = zh
    return _key(text)


def localize(blocks: Iterable[gr.blocks.Block]) -> Localized:
    """Replace the English texts of ``blocks`` that have a Chinese translation by Gradio
    translation keys, in place; return the translations used and the texts left over."""
    result = Localized()
    for block in blocks:
        kind = type(block).__name__
        attrs = _TEXT_ATTRS + (("value",) if kind in _VALUE_IS_TEXT else ())
        for attr in attrs:
            value = getattr(block, attr, None)
            if isinstance(value, str):
                setattr(block, attr, _swap(value, result))
        if kind in _CHOICES_ARE_TEXT and isinstance(getattr(block, "choices", None), list):
            block.choices = [_swap_choice(c, kind, result) for c in block.choices]
    result.missing = sorted(set(result.missing))
    return result


def _swap_choice(choice: object, kind: str, result: Localized) -> object:
    if not (isinstance(choice, tuple) and len(choice) == 2 and isinstance(choice[0], str)):
        return choice
    shown, value = choice
    if kind == "Dropdown" and translation(shown) is None:
        return choice  # model names, languages, ids: data, not missing words
    return (_swap(shown, result), value)


def localize_app(demo: gr.Blocks) -> Localized:
    """``localize`` every component of the suite (home, app pages, status), and what the
    example tables send back when an example is clicked."""
    result = localize(list(demo.blocks.values()))
    for examples in _example_sets(demo):
        # A click on an example sends its inputs their value together with the properties
        # they had when the table was made, labels and choices included: made before
        # ``localize`` ran, those were English, and a click turned a Chinese "语言" back
        # into "Language". Read them again from the now localized components.
        examples.input_component_props = [
            c.recover_kwargs(c.get_config(), ["value"]) for c in examples.inputs_with_examples
        ]
    return result


def _example_sets(demo: gr.Blocks) -> list[Examples]:
    """The example tables (``gr.Examples``) of ``demo``. Gradio keeps no list of them; each is reachable from
    the click handler it registered on its table."""
    found: list[Examples] = []
    for function in demo.fns.values():
        for cell in getattr(function.fn, "__closure__", None) or ():
            try:
                held = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(held, Examples) and all(held is not f for f in found):
                found.append(held)
    return found


EXAMPLES_CLASS = "sb-examples"  # on every example table, so the page script finds their headers


def mark_example_tables(demo: gr.Blocks) -> list[str]:
    """Give the pages' example tables (``gr.Examples``) the class ``EXAMPLES_CLASS`` and
    return the texts they show that a person reads: column headers and the choices of radio
    buttons and dropdowns. Gradio copies both when a page is built (headers from the input labels, a
    choice as its value) and shows them without translating, so ``navbar_script`` swaps
    them in the browser like the navbar's titles. Typed example inputs stay as they are:
    they are what a click fills in."""
    texts: set[str] = set()
    for block in demo.blocks.values():
        if not isinstance(block, gr.Dataset):
            continue
        classes = list(block.elem_classes or [])
        block.elem_classes = classes if EXAMPLES_CLASS in classes else [*classes, EXAMPLES_CLASS]
        texts.update(h for h in block.headers or [] if h)
        for column, component in enumerate(getattr(block, "_components", [])):
            if isinstance(component, (gr.Radio, gr.Dropdown)):
                # A cell shows its choice's label, in English (as a key, once ``localize`` ran).
                shown = {
                    value: _unkey(label) for label, value in (_pair(c) for c in component.choices or [])
                }
                texts.update(
                    shown[row[column]] for row in block.samples or []
                    if column < len(row) and isinstance(row[column], str)
                    and isinstance(shown.get(row[column]), str)
                )  # fmt: skip
    return sorted(texts)


def _unkey(text: object) -> object:
    """The English text of a translation key made by ``_key``; anything else as it is."""
    if isinstance(text, str) and text.startswith(_MARKER):
        return json.loads(text.removeprefix(_MARKER)).get("key", text)
    return text


def _pair(choice: object) -> tuple[object, object]:
    """A choice as (label, value): Gradio keeps them as pairs, or one value for both."""
    return choice if isinstance(choice, tuple) and len(choice) == 2 else (choice, choice)  # type: ignore[return-value]


def navbar_script(titles: Iterable[str], language: Language = "auto", examples: Iterable[str] = ()) -> str:
    """A ``<script>`` for the page head that shows the navbar's page titles, and the texts of
    the example tables (``mark_example_tables``), in Chinese when the page's language is
    Chinese (or always, with ``language="zh"``)."""
    names = {t: zh for t in titles if (zh := translation(t)) is not None}
    example_names = {t: zh for t in examples if (zh := translation(t)) is not None}
    if language == "en" or not (names or example_names):
        return ""
    force = "true" if language == "zh" else "false"
    return f"""<script>
(() => {{
  const NAMES = {json.dumps(names, ensure_ascii=False)};
  const EXAMPLES = {json.dumps(example_names, ensure_ascii=False)};
  const FORCE = {force};
  const apply = () => {{
    const lang = document.documentElement.lang || "";
    const zh = FORCE || lang.toLowerCase().startsWith("zh");
    // The language shown, for the text the server builds per request (apps.ui_kit.language).
    if (lang && !document.cookie.includes("{LANGUAGE_COOKIE}=" + lang)) {{
      document.cookie = "{LANGUAGE_COOKIE}=" + lang + "; path=/; SameSite=Lax";
    }}
    const swap = (selector, table) => {{
      for (const el of document.querySelectorAll(selector)) {{
        const en = el.dataset.sbEn || el.textContent.trim();
        if (!(en in table)) continue;
        el.dataset.sbEn = en;
        const text = zh ? table[en] : en;
        if (el.textContent !== text) el.textContent = text;
      }}
    }};
    swap(".nav-holder nav a", NAMES);
    swap(".{EXAMPLES_CLASS} thead th, .{EXAMPLES_CLASS} tbody td", EXAMPLES);
  }};
  new MutationObserver(apply).observe(document.documentElement, {{
    subtree: true, childList: true, attributes: true, attributeFilter: ["lang"],
  }});
}})();
</script>"""
