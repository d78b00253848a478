"""Text the pages build at run time, in the viewer's language (``apps.ui_kit.language``).

The viewer is a real request: a ``gr.Request`` made from an ASGI scope with the browser's
``Accept-Language`` (and the page's language cookie), installed where Gradio puts it while it
runs an event. The texts come from the apps' real calls on the real models (the session's
manager; the tiny generation and speech models), and are checked for Chinese and for the
English they replaced. The browser side is ``tests/browser/test_chinese_interface.py``.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from gradio.context import LocalContext
from PIL import Image
from starlette.requests import Request

from apps.ui_kit import language
from apps.ui_kit.errors import page_error
from apps.ui_kit.language import chinese, set_page_language, tr, tr_frame, tr_text, viewer_language
from apps.ui_kit.translations.zh import ZH
from apps.ui_kit.translations.zh_runtime import RUNTIME_ZH
from core.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Values with no Chinese on purpose: names and symbols.
_NAMES_ONLY = {"MovieLens-100k", "BM25"}


def _request(accept_language: str = "", cookie: str = "") -> gr.Request:
    headers = [(b"accept-language", accept_language.encode())] if accept_language else []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "headers": headers,
             "query_string": b""}  # fmt: skip
    return gr.Request(Request(scope))


@pytest.fixture
def viewer() -> Iterator[callable]:
    """Handle "events" for a viewer: ``viewer("zh-CN,zh;q=0.9")`` installs their request."""
    tokens = []
    set_page_language("auto")  # a server built earlier in this process may have forced one

    def install(accept_language: str, cookie: str = "") -> None:
        tokens.append(LocalContext.request.set(_request(accept_language, cookie)))

    yield install
    for token in reversed(tokens):  # back to no request at all, not to the first viewer's
        LocalContext.request.reset(token)
    set_page_language("auto")


def _english_words(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """Runs of 4+ Latin letters that are not code, ids or names the test allows."""
    text = re.sub(r"`[^`]*`", "", text)  # code: ids, model names
    return [w for w in re.findall(r"[A-Za-z]{4,}", text) if w not in allowed]


# --------------------------------------------------------------------------- the mechanism
def test_the_viewer_language_comes_from_the_request_then_the_setting(viewer):
    assert viewer_language() == "en"  # no event: a Python caller
    viewer("zh-CN,zh;q=0.9,en;q=0.8")
    assert viewer_language() == "zh"
    viewer("en-GB,en;q=0.9,zh-CN;q=0.5")
    assert viewer_language() == "en"
    # The page's own language (the footer's switch, kept in a cookie) beats the browser's.
    viewer("zh-CN,zh;q=0.9", cookie=f"{language.LANGUAGE_COOKIE}=en")
    assert viewer_language() == "en" and tr("Choose a model first.") == "Choose a model first."
    viewer("en-US", cookie=f"{language.LANGUAGE_COOKIE}=zh-CN")
    assert viewer_language() == "zh" and tr("Choose a model first.") == "请先选择一个模型。"
    # ui.language forces one language for everybody.
    set_page_language("en")
    assert viewer_language() == "en"
    set_page_language("zh")
    assert viewer_language() == "zh" and viewer_language(_request("en-US")) == "zh"


def _page_sources() -> list[Path]:
    return [*ROOT.glob("apps/*/ui.py"), ROOT / "apps/home.py", ROOT / "apps/status.py"]


def _tr_templates() -> list[tuple[str, str]]:
    """Every ``tr("...")`` literal in the pages: (file, template)."""
    found = []
    for path in _page_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr"
                    and node.args and isinstance(node.args[0], ast.Constant)):  # fmt: skip
                found.append((path.name, node.args[0].value))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr"
                  and node.args and isinstance(node.args[0], ast.IfExp)):  # fmt: skip
                found += [(path.name, b.value) for b in (node.args[0].body, node.args[0].orelse)
                          if isinstance(b, ast.Constant)]  # fmt: skip
    return found


def test_every_template_the_pages_use_has_chinese_with_the_same_fields():
    templates = _tr_templates()
    assert len(templates) > 80
    missing = [f"{f}: {t!r}" for f, t in templates if t not in RUNTIME_ZH and t not in ZH]
    assert not missing, "add these to apps/ui_kit/translations/zh_runtime.py:\n" + "\n".join(missing)
    fields = string.Formatter()
    for english, zh in RUNTIME_ZH.items():
        assert zh.strip() and (_CJK.search(zh) or zh in _NAMES_ONLY), f"{english!r} -> {zh!r}"
        names = {f for _, f, _, _ in fields.parse(english) if f}
        assert {f for _, f, _, _ in fields.parse(zh) if f} == names, english


def test_finished_sentences_are_matched_with_their_values(viewer):
    from apps.customer_service import explain

    viewer("zh-CN")
    assert tr_text(explain.angry_note(-0.82)) == "已提议转人工：这条消息读起来带有怒气（情绪 -0.82）。"
    # A value that is itself a known text is translated too; data (a title) stays as it is.
    assert tr_text("Similar to Heat (1995)") == "与 Heat (1995) 相似"
    assert tr_text("Heat (1995) (4.2% of score)") == "Heat (1995)（占得分 4.2%）"
    assert tr("| threshold | **{threshold:.2f}** ({source}) |", threshold=0.5, source=tr_text("set by hand")) == (
        "| 阈值 | **0.50**（手动设置） |"
    )
    assert tr("Added {id}.", id="default") == "已新增 default。"  # a value is data unless translated first
    # Text the table does not know stays English, and an English viewer sees English.
    assert tr_text("A sentence nobody translated.") == "A sentence nobody translated."
    assert chinese("") is None
    viewer("en-US")
    assert tr_text(explain.angry_note(-0.82)) == explain.angry_note(-0.82)


def test_errors_are_shown_in_the_viewers_language(viewer):
    viewer("zh-CN")
    assert page_error(InvalidInputError("Upload one or more images.")).message == "请上传一张或多张图片。"
    shown = page_error(RuntimeError("/secret/path")).message
    assert "服务器出错了" in shown and "/secret/path" not in shown
    viewer("en-US")
    assert page_error(InvalidInputError("Upload one or more images.")).message == "Upload one or more images."


# --------------------------------------------------------------------------- each app, real calls
@pytest.fixture(scope="module")
def cs_bot(manager, tmp_path_factory):
    from apps.customer_service import CustomerServiceBot

    return CustomerServiceBot.demo(data_dir=tmp_path_factory.mktemp("cs-zh"), manager=manager)


def test_a_chinese_viewer_meets_the_chinese_demo_until_a_knowledge_base_is_picked(
    viewer, monkeypatch, manager, tmp_path
):
    from apps.customer_service import CustomerServiceBot, ui
    from apps.ui_kit import LazyByKey

    own = CustomerServiceBot(data_dir=tmp_path / "own", manager=manager)  # nothing imported yet
    monkeypatch.setattr(ui, "_bots", LazyByKey(lambda kb: own))
    monkeypatch.setattr(ui, "_active", {})  # nobody has picked a knowledge base on the page
    viewer("zh-CN,zh;q=0.9")
    assert ui.active_kb() == "demo-zh"
    viewer("en-GB,en;q=0.9")
    assert ui.active_kb() == "demo"
    ui._set_active("demo")  # picked on the page: every visitor gets it, whatever the language
    viewer("zh-CN,zh;q=0.9")
    assert ui.active_kb() == "demo"
    viewer("en-US")


def test_customer_service_sources_and_why_this_answer_in_chinese(viewer, cs_bot):
    from apps.customer_service import ui

    viewer("zh-CN,zh;q=0.9")
    answered = cs_bot.ask("I lost my card, what should I do?", explain=True)
    escalated = cs_bot.ask("What is the capital of Mongolia?", explain=True)
    assert not answered.escalated and escalated.escalated
    sources = ui._sources_markdown(answered)
    assert "**置信度**" in sources and "| 排名 | 条目 | 问题 |" in sources and "答案原文来自" in sources
    # Left in the head: the entry's own id and question (data), and nothing else in English.
    head = sources.split("| 排名")[0].replace(answered.source_question, "").replace(answered.source_id, "")
    assert not _english_words(head), sources
    why = ui._why_markdown(answered.why)
    assert "| 最佳匹配 |" in why and "校准后的置信度" in why and "**意图，前 3 名：**" in why
    # Data is never taken for a word of the page: the intent "card" stays `card`.
    assert f"**影响 `{answered.why.intents[0].intent}` 的词**" in why, why
    why_escalated = ui._why_markdown(escalated.why)
    assert "已转人工" in why_escalated, why_escalated
    for text in (why, why_escalated):
        assert not re.search(r"Escalated|best match|threshold|calibration|Answered", text), text
    viewer("en-US")
    assert "**Confidence**" in ui._sources_markdown(answered) and "| best match |" in ui._why_markdown(answered.why)


def test_status_and_home_tables_in_chinese(viewer, manager):
    from apps.home import models_table
    from apps.status import (
        costs_markdown,
        full_report,
        metrics_frame,
        models_frame,
        summary_markdown,
    )

    viewer("zh-CN")
    report = full_report(manager)
    summary = summary_markdown(report)
    assert "**设备：**" in summary and "**已加载模型：**" in summary and "**进程内存：**" in summary
    assert not _english_words(summary, {"float", "bfloat", "cuda", "keep", "IBAN"}), summary
    assert "**目前用掉的算力：**" in costs_markdown(report)
    models = tr_frame(models_frame(report))
    assert list(models.columns[:3]) == ["模型", "角色", "已加载"] and set(models["已加载"]) <= {"是", "否"}
    assert "p95 毫秒" in tr_frame(metrics_frame(report)).columns
    home = tr_frame(models_table(manager))
    assert {"角色", "模型", "该角色默认", "已加载", "说明", "权重来源"} <= set(home.columns)
    assert set(home["已加载"]) <= {"是", "否"} and "是" in set(home["该角色默认"])
    viewer("en-US")
    assert "role" in tr_frame(models_table(manager)).columns


def test_text_generation_template_fields_and_stats_in_chinese(viewer, manager, tmp_path):
    from apps.textgen import TextGenerator, ui
    from core.storage import Database
    from shared_models.text_generation import TINY

    viewer("zh-CN")
    for name in ("product_description", "marketing_email", "social_post", "summary", "translation", "free_chat"):
        note, _system, choice, *fields = ui.template_form(name)
        assert _CJK.search(note) and not _english_words(note), note
        shown = [f for f in fields if f["visible"]]
        assert shown and all(_CJK.search(f["label"]) for f in shown), (name, shown)
        for f in shown:
            assert not f["placeholder"] or _CJK.search(f["placeholder"]), (name, f)
        if choice["visible"]:
            assert _CJK.search(choice["label"])
            assert all(value in {"LinkedIn", "X (Twitter)", "Instagram", "Facebook"} or _CJK.search(shown_as)
                       for shown_as, value in choice["choices"])  # fmt: skip
    _, _, choice, *_ = ui.template_form("summary")
    assert ("三个要点", "three bullet points") in choice["choices"]  # shown in Chinese, sent in English
    gen = TextGenerator(TINY, manager=manager, db=Database(tmp_path / "tg.db"))
    stream = gen.start_template("free_chat", {"message": "Say hi."}, ui._options(8, 0.0, 1.0, 0, 1.0, 0, ""))
    "".join(stream)
    stats = ui._stats_md(stream)
    assert "提示" in stats and "结束原因：" in stats and not _english_words(stats.replace(TINY, "")), stats


def test_recommendation_reasons_tables_and_why_not_in_chinese(viewer, manager):
    from apps.recommendation.workspace import Workspace, recommendations_table

    viewer("zh-CN")
    ws = Workspace(manager)
    ws.load_demo()
    table = tr_frame(ws.train(["popular", "itemknn"], "random", 10), cells=False)
    assert "训练秒数" in table.columns
    rec = ws.serve("itemknn")
    recs = tr_frame(recommendations_table(rec.recommend("1", k=5, explain_text=True)))
    assert list(recs.columns[:7]) == ["排名", "标题", "物品编号", "得分", "原因", "强度", "其他原因"]
    assert recs["原因"].str.startswith("因为你喜欢 ").all(), recs["原因"]
    assert recs["强度"].str.fullmatch(r"占得分 [\d.]+% · 相似度 [\d.]+").all(), recs["强度"]
    assert not recs["其他原因"].str.contains("of score").any(), recs["其他原因"]
    answer = ws.why_not("1", "1000", 10, "itemknn", translate=tr_text)
    assert "未看过的" in answer and "<th>排名</th>" in answer and "ranks" not in answer, answer
    viewer("en-US")
    assert "ranks" in ws.why_not("1", "1000", 10, "itemknn", translate=tr_text)


def test_speech_summary_and_tables_in_chinese(viewer, manager):
    from apps.speech import Transcriber, ui
    from shared_models.types.speech import FAST_MODEL

    clip = next(Path("/usr/share/pocketsphinx/test/data/librivox").glob("*.wav"))
    transcript = Transcriber(FAST_MODEL, manager=manager).transcribe(str(clip), language="en")
    viewer("zh-CN")
    summary = ui._summary([transcript])
    assert "语言" in summary and "个片段" in summary and "转写" in summary, summary
    assert not _english_words(summary.replace(clip.name, ""), {"whisper", "tiny"}), summary
    assert list(tr_frame(ui.segment_table([transcript]), cells=False).columns) == ["开始", "结束", "文本"]
    with pytest.raises(gr.Error, match="请先粘贴参考"):
        ui.score([transcript], "")


def test_vision_tables_and_errors_in_chinese(viewer, manager, tmp_path):
    from apps.vision import ui

    viewer("zh-CN")
    photo = tmp_path / "red.png"
    Image.fromarray(np.full((64, 64, 3), (200, 30, 30), dtype=np.uint8)).save(photo)
    _, table = ui.classify(str(photo), 3, ui.IMAGENET_CHOICE)
    assert list(table.columns) == ["标签", "概率"] and len(table) == 3
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    rows = ui.classify_many([str(photo), str(broken)], 3, ui.IMAGENET_CHOICE)
    assert list(rows.columns) == ["文件", "最可能的类别", "错误"]
    assert _CJK.search(rows["错误"].iloc[1]), rows["错误"].iloc[1]
    with pytest.raises(gr.Error, match="请先上传一张图片"):
        ui.classify(None, 3, ui.IMAGENET_CHOICE)
    assert isinstance(table, pd.DataFrame)


def test_every_bundled_models_description_has_chinese(manager):
    # The home page's models table shows these in its "about" column.
    # Models users trained ("local:...", "vision:...") describe themselves by their labels:
    # data, not text of the page. Any test may have trained one earlier in the session.
    bundled = [s for s in manager.model_specs() if ":" not in s.name]
    assert len(bundled) >= 10
    missing = [s.description for s in bundled if not chinese(s.description)]
    assert not missing, missing
