"""Text the pages build at run time, in the viewer's language.

Labels, buttons and Markdown written in a ``ui.py`` are translated in the browser by Gradio's
i18n (``apps.ui_kit.i18n``). What a handler assembles in Python (a sources panel, a table, a
result summary, an error) reaches the browser as finished text, so it is translated here, on
the server, for the person whose request it answers:

- ``viewer_language()``: "zh" or "en" for the request being handled. The server's
  ``ui.language`` forces one (``set_page_language``); on "auto" it is the language the page
  shows (a cookie that ``i18n.navbar_script`` keeps in step with ``<html lang>``, so the
  footer's language switch counts), else the browser's ``Accept-Language``. Outside a Gradio
  event (a Python caller, a test) it is English.
- ``tr(template, **values)``: a message of the page, e.g. ``tr("Deleted {id}.", id=...)``.
- ``tr_text(text)``: finished English text (an app's sentence, an error message), matched
  against the same templates, their values put into the Chinese.
- ``tr_markdown`` and ``tr_frame``: the same, line by line / header and cell by cell.

One table holds the Chinese: the pages' static texts (``translations/zh.py``) and the runtime
templates beside them (``translations/zh_runtime.py``). Apps' Python APIs stay English; only
what a page shows is translated, and text with no entry stays as it is (English).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import pandas as pd
from gradio.context import LocalContext

from .translations.zh import ZH
from .translations.zh_runtime import RUNTIME_ZH

Viewer = Literal["zh", "en"]
LANGUAGE_COOKIE = "springboard_lang"
_forced: Viewer | None = None


def set_page_language(language: str) -> None:
    """The server's ``ui.language``: "zh" or "en" force it for every viewer, "auto" asks each."""
    global _forced
    _forced = language if language in ("zh", "en") else None  # type: ignore[assignment]


def _is_zh(tag: str) -> bool:
    return tag.strip().lower().startswith("zh")


def viewer_language(request: Any = None) -> Viewer:
    """The language of the person whose request is being handled (``request``: a ``gr.Request``;
    by default the one of the Gradio event running in this thread)."""
    if _forced is not None:
        return _forced
    if request is None:
        request = LocalContext.request.get(None)
    if request is None:
        return "en"
    cookies = getattr(request, "cookies", None) or {}
    shown = cookies.get(LANGUAGE_COOKIE) if hasattr(cookies, "get") else None
    if shown:
        return "zh" if _is_zh(shown) else "en"
    headers = getattr(request, "headers", None) or {}
    accept = headers.get("accept-language", "") if hasattr(headers, "get") else ""
    first = accept.split(",")[0].split(";")[0]
    return "zh" if _is_zh(first) else "en"


def _normal(text: str) -> str:
    return " ".join(text.split())


_TABLE = {**ZH, **RUNTIME_ZH}  # one table: the pages' static texts and the runtime templates
_EXACT = {_normal(k): v for k, v in _TABLE.items()}
_FIELD = re.compile(r"\{(\w+)(?::[^{}]*)?\}")


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each runtime template as a regex over finished English text, longest template first
    (the most specific wins), with the Chinese it maps to (format specs dropped: the values
    come back already formatted). Fields are greedy, so a title with brackets of its own
    ("Heat (1995) (4% of score)") stays whole."""
    compiled = []
    for english, chinese in RUNTIME_ZH.items():
        if not _FIELD.search(english):
            continue
        parts, at, seen = [], 0, set()
        for m in _FIELD.finditer(english):
            name = m.group(1)
            parts.append(re.escape(english[at : m.start()]))
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+)")
            seen.add(name)
            at = m.end()
        parts.append(re.escape(english[at:]))
        compiled.append((len(english), re.compile("".join(parts), re.S), _FIELD.sub(r"{\1}", chinese)))
    compiled.sort(key=lambda c: -c[0])
    return [(p, zh) for _, p, zh in compiled]


def _word(value: str) -> str:
    """A value put into a sentence: translated when it is itself a known text (a state, a
    source name, a clause with its own template), else as it is (a number, a question, a name)."""
    return chinese(value) or value


@lru_cache(maxsize=8192)  # pure; a page refreshing every few seconds asks for the same cells again
def chinese(text: str) -> str | None:
    """The Chinese of one finished English text, or None when no entry matches it."""
    if not text.strip():
        return None
    exact = _EXACT.get(_normal(text))
    if exact is not None:
        return exact
    for pattern, zh in _patterns():
        m = pattern.fullmatch(text)
        if m:
            return zh.format(**{k: _word(v) for k, v in m.groupdict().items()})
    return None


def _zh() -> bool:
    return viewer_language() == "zh"


def tr(template: str, /, **values: Any) -> str:
    """``template.format(**values)`` in the viewer's language (``template`` is the English key
    of ``RUNTIME_ZH``, or of ``ZH`` for a text the layout also shows; a missing entry shows the
    English). Values go in as given: pass a word of the page through ``tr_text`` first, so data
    (an intent called "card", a title) is never taken for one."""
    if _zh():
        zh = _TABLE.get(template)
        if zh is not None:
            return zh.format(**values)
    return template.format(**values)


def tr_text(text: str) -> str:
    """Finished English text in the viewer's language, if the table knows it."""
    if not isinstance(text, str) or not _zh():
        return text
    return chinese(text) or text


_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_LEAD = re.compile(r"^(\s*(?:[#>*-]+\s+|\d+\.\s+)?(?:\W{1,3}\s+)?)(.*)$", re.S)


def _line(line: str) -> str:
    if _TABLE_ROW.match(line):
        cells = line.strip().strip("|").split("|")
        if all(set(c.strip()) <= set("-: ") for c in cells):
            return line  # the header rule
        return "| " + " | ".join(chinese(c.strip()) or c.strip() for c in cells) + " |"
    whole = chinese(line)
    if whole is not None:
        return whole
    # A leading marker (a heading, a bullet, an emoji) is kept and the rest translated.
    lead, rest = _LEAD.match(line).groups()  # type: ignore[union-attr]
    translated = chinese(rest) if lead else None
    return lead + translated if translated is not None else line


def tr_markdown(text: str) -> str:
    """Markdown built by a page, in the viewer's language: each line (each cell of a table
    row) that the table knows is translated; the rest stays as written."""
    if not isinstance(text, str) or not _zh():
        return text
    return "\n".join(_line(line) for line in text.split("\n"))


def tr_frame(frame: pd.DataFrame, cells: bool = True) -> pd.DataFrame:
    """A table for the page in the viewer's language: its headers, and (``cells``) the cells
    that are known texts (states, yes/no). Data (names, numbers, questions) stays as it is."""
    if not _zh() or not isinstance(frame, pd.DataFrame):
        return frame
    frame = frame.rename(columns={c: chinese(c) or c for c in frame.columns if isinstance(c, str)})
    if cells:
        frame = frame.map(lambda v: _cell(v) if isinstance(v, str) else v)
    return frame


def _cell(text: str) -> str:
    """A table cell: the whole text, or each part of a "; "-separated list, translated."""
    if "; " in text:
        parts = [chinese(part) for part in text.split("; ")]
        if all(parts):
            return "；".join(parts)  # type: ignore[arg-type]
    return chinese(text) or text
