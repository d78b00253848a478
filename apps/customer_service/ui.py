"""The customer service page: chat, knowledge base, intents, inbox. Thin: logic is in api.py."""

from __future__ import annotations

import html
import threading
import uuid
from pathlib import Path

import gradio as gr
import pandas as pd

from apps.ui_kit import (
    LazyByKey,
    bars_figure,
    confusion_figure,
    page_errors,
    progress_callback,
    support_bot,
    tr,
    tr_frame,
    tr_text,
    viewer_language,
)
from core.errors import InvalidInputError

from .api import KNOWLEDGE_BASES, NO_INTENTS_HINT, CustomerServiceBot, Reply
from .datasets import load_examples
from .evaluation import (
    MISTAKES_FIRST,
    AnswerEvaluation,
    Rates,
    demo_questions,
    read_labelled_questions,
)
from .explain import PART, WHOLE, Explanation
from .importers import SUPPORTED
from .privacy_ui import render_privacy_tab

TITLE = "Customer service"
DESCRIPTION = "A support assistant that answers from your FAQ, cites its source, detects intents and hands over to people."

# Examples that work on any knowledge base; the rest come from the knowledge base itself.
GENERIC_EXAMPLES = {
    "en": ["what's the weather like tomorrow?", "can I talk to a real person?"],
    "zh": ["明天天气怎么样？", "转人工"],
}
# (label shown, example set name for datasets.load_examples)
INTENT_SOURCES = [
    ("Demo intents (Kestrel, 10 intents)", "demo"),
    ("BANKING77 train (10,003 utterances)", "banking77-train"),
    ("Uploaded CSV", "upload"),
]
EVAL_SOURCES = [
    ("BANKING77 test (3,080 utterances)", "banking77-test"),
    ("Demo intents (Kestrel, 10 intents)", "demo"),
    ("Uploaded CSV", "upload"),
]
WORST_INTENTS = 15
# (label shown, source) of the questions the Knowledge base tab tests the bot on
ANSWER_TEST_SOURCES = [
    ("The demo's customer questions (demo knowledge bases)", "demo"),
    ("Uploaded CSV", "upload"),
]


def _open_bot(kb: str) -> CustomerServiceBot:
    # The English demo is the bot the home page shares.
    return support_bot() if kb == "demo" else CustomerServiceBot.open(kb)


_bots: LazyByKey[str, CustomerServiceBot] = LazyByKey(_open_bot)
_active: dict[str, str] = {}
_active_lock = threading.Lock()


def active_kb() -> str:
    """The knowledge base the page answers from, for every visitor: the company's own once
    it has imported one (also after a restart) or the one picked on the page; until then
    the demo in the viewer's language (a Chinese browser meets the Chinese demo)."""
    with _active_lock:
        if "kb" not in _active and len(_bots("own").kb):
            _active["kb"] = "own"
        if "kb" in _active:
            return _active["kb"]
    return "demo-zh" if viewer_language() == "zh" else "demo"


def _set_active(kb: str) -> None:
    if kb not in KNOWLEDGE_BASES:
        raise InvalidInputError(f"Unknown knowledge base {kb!r}.")
    with _active_lock:
        _active["kb"] = kb


def get_bot() -> CustomerServiceBot:
    """The bot of the page's current knowledge base."""
    return _bots(active_kb())


# --------------------------------------------------------------------------- the company
def _greeting_markdown(bot: CustomerServiceBot) -> str:
    return f"**{bot.company}** · {bot.greeting()}"


@page_errors
def chat_setup():
    """Greeting, message placeholder and examples of the current knowledge base."""
    bot = get_bot()
    examples = bot.example_questions(5) + GENERIC_EXAMPLES[bot.language]
    return (
        _greeting_markdown(bot),
        gr.Textbox(placeholder=bot.placeholder()),
        gr.Dataset(samples=[[q] for q in examples]),
    )


@page_errors
def switch_kb(kb: str):
    _set_active(kb)
    return (*chat_setup(), entries_frame(), calibration_markdown(), model_info())


@page_errors
def calibration_markdown() -> str:
    bot = get_bot()
    c = bot.calibration_summary()
    how = "set by hand" if c["threshold_overridden"] else "default"
    if not c["calibrated"]:
        return tr(
            "Confidence threshold {threshold:.2f} ({how}). Import entries to calibrate.",
            threshold=c["threshold"], how=tr_text(how),
        )
    template = (
        "**Confidence calibrated to this knowledge base**: weights learned from several "
        "companies' customer questions, read on this knowledge base's own scale (measured "
        "again after every import and edit). Expected, on its {positives} held-out questions "
        "and {negatives} off-topic and unanswerable ones: **{answer_rate:.0%}** answered with "
        "the right entry, **{error_rate:.0%}** with a wrong one, "
        "**{off_topic_answered:.0%}** of off-topic questions answered, and "
        "**{unanswerable_answered:.0%}** of its questions whose entry was taken out. "
        "Threshold {threshold:.2f} ({how}). Retrieval: {retrieval}"
    )
    text = tr(
        template + (", chosen from the knowledge base's language." if c["embedding_automatic"] else "."),
        how=tr_text(how), retrieval=tr_text(c["embedding_described"]),
        **{k: c[k] for k in ("positives", "negatives", "answer_rate", "error_rate",
                             "off_topic_answered", "unanswerable_answered", "threshold")},
    )
    # Its own phrasings are not its customers' words (the Chinese demo: 53% expected, 92% of
    # customers' questions answered rightly; bench/RESULTS.md): say so, and where to measure.
    text += tr(
        " These estimates come from the knowledge base's own phrasings, held out one at a "
        "time: a rough guide. For your customers' figures, test the bot on their questions below."
    )
    if c["suggestion_floor"] < c["threshold"]:
        text += tr(
            " Below the threshold, a likely match (confidence at least {floor:.2f}) is escalated "
            "with the best entries suggested to the customer.",
            floor=c["suggestion_floor"],
        )
    if c["refitting"]:  # edits refit in the background; the figures above are the last fit's
        text += tr(" *Refitting after the latest edits; these figures are from the last fit.*")
    return text


@page_errors
def set_threshold(value: float | None):
    get_bot().set_threshold(value)
    return calibration_markdown()


def automatic_threshold():
    return set_threshold(None)


# --------------------------------------------------------------------------- chat
def _sources_markdown(reply: Reply) -> str:
    intent = f"`{reply.intent}`" + (
        f" ({reply.intent_confidence:.0%})" if reply.intent_confidence is not None else ""
    )
    lines = [
        tr(
            "**Confidence** {confidence:.0%} · **intent** {intent} · **sentiment** {sentiment}",
            confidence=reply.confidence, intent=intent, sentiment=tr_text(reply.sentiment),
        )
    ]
    if reply.escalated:
        lines.append("\n" + tr("🧑‍💼 **Escalated** to a person: ticket #{ticket}", ticket=reply.ticket_id))
        if reply.suggestions:
            ids = ", ".join(f"`{x.id}`" for x in reply.suggestions)
            lines.append("\n" + tr("💡 Suggested to the customer meanwhile: {ids}", ids=ids))
    elif reply.source_id:
        template = (
            "📄 Answer phrased by the language model from **{id}**: _{question}_"
            if reply.phrased_by_llm
            else "📄 Answer verbatim from **{id}**: _{question}_"
        )
        lines.append("\n" + tr(template, id=reply.source_id, question=reply.source_question))
    if reply.sources:
        lines.append("\n" + tr("| rank | entry | question |") + "\n|---|---|---|")
        for i, s in enumerate(reply.sources[:3], start=1):
            lines.append(f"| {i} | `{s.id}` | {s.question} |")
    return "\n".join(lines)


_MARKDOWN_SPECIALS = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~"})


def _md(text: str) -> str:
    """Knowledge-base or customer text inside Markdown: shown as written, never as markup."""
    return html.escape(text or "", quote=False).translate(_MARKDOWN_SPECIALS)


def _rank(rank: int | None) -> str:
    return " " + (tr("(rank {rank})", rank=rank) if rank else tr("(not in this retriever's top 20)"))


def _why_markdown(why: Explanation) -> str:
    """The scores, the intent's top 3 with the words that drove it, and any escalation."""
    lines = []
    # The sentences come from the app in English (apps.customer_service.explain); tr_text
    # shows them in the viewer's language.
    if why.escalation:
        lines.append(f"🧑‍💼 **{_md(tr_text(why.escalation))}**")
    elif why.decision == "answered":
        lines.append(tr(
            "✅ **Answered** from `{id}`: _{question}_",
            id=why.entry_id, question=_md(why.entry_question or ""),
        ))
    lines += [f"ℹ️ {_md(tr_text(note))}" for note in why.notes]
    if why.confidence is not None and why.entry_id is not None:
        lines += [
            "",
            tr("| evidence | value |"),
            "|---|---|",
            tr("| best match | `{id}` |", id=why.entry_id),
            tr("| dense score (cosine) | {dense:.3f}{rank} |", dense=why.dense, rank=_rank(why.dense_rank)),
            tr(
                "| lexical score (BM25) | {lexical:.2f}{rank}, {coverage:.0%} of the question's terms |",
                lexical=why.lexical, rank=_rank(why.lexical_rank), coverage=why.coverage,
            ),
            tr(
                "| calibrated confidence | **{confidence:.2f}** ({calibration}) |",
                confidence=why.confidence, calibration=_md(tr_text(why.calibration)),
            ),
            tr(
                "| threshold | **{threshold:.2f}** ({source}) |",
                threshold=why.threshold, source=tr_text(why.threshold_source),
            ),
        ]
    if why.intents:
        top = " · ".join(f"`{g.intent}` {g.probability:.0%}" for g in why.intents)
        lines += ["", tr("**Intent, top 3:** {top}", top=top)]
        if why.intent_words:
            words = " · ".join(
                f"{_md(w.word)} {-w.drop:+.2f}" for w in why.intent_words[:6]
            )
            lines.append("\n" + tr(
                "**Words that drove `{intent}`** (change in its probability "
                "when the word is left out): {words}",
                intent=why.intents[0].intent, words=words,
            ))
    return "\n".join(lines)


def _as_text(message: str) -> str:
    """A customer's message for a chat bubble: markup shown as typed, never rendered as HTML."""
    return html.escape(message or "", quote=False)


@page_errors
def chat(
    message: str, history: list, session_id: str, use_llm: bool, message_ids: list, check: bool = False
):
    """Stream one answer into the chat; remember which stored message each bubble is.
    ``check``: the language model checks a match in doubt even when it does not phrase."""
    bot = get_bot()
    history = list(history or [])
    history.append({"role": "user", "content": _as_text(message)})
    history.append({"role": "assistant", "content": ""})
    replies = bot.ask_stream(
        message, session_id=session_id, use_llm=use_llm, explain=True, check_with_llm=bool(use_llm or check)
    )
    for reply in replies:
        history[-1] = {"role": "assistant", "content": reply.answer or "…"}
        if reply.done:
            ids = list(message_ids or []) + [None, reply.message_id]
            why = reply.why
            assert why is not None  # every final reply explains itself
            yield history, _sources_markdown(reply), ids, "", why.highlights(), _why_markdown(why)
        else:
            yield history, tr("_Writing the answer…_"), message_ids, "", gr.skip(), gr.skip()


@page_errors
def like(data: gr.LikeData, session_id: str, message_ids: list) -> str:
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    ids = message_ids or []
    message_id = ids[index] if 0 <= index < len(ids) else None
    if message_id is None:
        raise InvalidInputError("Only the assistant's answers can be rated.")
    get_bot().feedback(message_id, bool(data.liked))
    return tr(
        "Thanks for the feedback!"
        if data.liked
        else "Thanks, we'll use this to improve the answer."
    )


@page_errors
def hand_over(session_id: str) -> str:
    ticket = get_bot().request_human(session_id)
    return tr(
        "🧑‍💼 Ticket #{ticket} is open: a member of the team will take over this conversation.",
        ticket=ticket,
    )


def new_session() -> tuple[list, str, list, str]:
    return [], uuid.uuid4().hex[:16], [], ""


# --------------------------------------------------------------------------- knowledge base
@page_errors
def entries_frame() -> pd.DataFrame:
    rows = [
        {
            "id": e.id,
            "category": e.category,
            "question": e.question,
            "alternatives": " | ".join(e.alternatives),
            "answer": e.answer,
            "version": e.version,
        }
        for e in get_bot().entries()
    ]
    return tr_frame(
        pd.DataFrame(rows, columns=["id", "category", "question", "alternatives", "answer", "version"]),
        cells=False,
    )


@page_errors
def import_file(path: str | None, company: str, replace: bool):
    """Import into the company's own knowledge base and answer from it from now on."""
    if not path:
        raise InvalidInputError("Choose a .csv, .json or .md file first.")
    bot = _bots("own")
    counts = bot.import_faq(
        Path(path).read_bytes(),
        name=Path(path).name,
        replace=bool(replace) or len(bot.kb) == 0,
        company=(company or "").strip() or None,
    )
    _set_active("own")
    message = tr(
        "Imported into **{company}**'s knowledge base: {added} added, "
        "{updated} updated. The chat now answers from it.",
        company=bot.company, added=counts["added"], updated=counts["updated"],
    )
    return (message, "own", *chat_setup(), entries_frame(), calibration_markdown(), model_info())


@page_errors
def search_kb(query: str):
    bot = get_bot()
    result = bot.search(query, k=5)
    rows = [
        {
            "entry": c.entry.id,
            "question": c.entry.question,
            "cosine": round(c.dense, 3),
            "bm25": round(c.bm25, 2),
            "fused": round(c.fused, 4),
        }
        for c in result.candidates
    ]
    template = (
        "Confidence {confidence:.0%}: the bot would answer."
        if bot.would_answer(result.confidence)
        else "Confidence {confidence:.0%}: the bot would escalate."
    )
    return tr(template, confidence=result.confidence), tr_frame(pd.DataFrame(rows), cells=False)


# --------------------------------------------------------------------------- answer tests


@page_errors
def run_answer_test(source: str, upload: str | None, check: bool, progress=gr.Progress()):
    """Ask the bot a labelled test set (without storing anything) and show how it did."""
    bot = get_bot()
    if source == "upload":
        if not upload:
            raise InvalidInputError("Upload a CSV with question and expected_id columns first.")
        questions = read_labelled_questions(upload, bot.manager.settings.limits)
    else:
        questions = demo_questions(active_kb())
    result = bot.evaluate_answers(questions, check_with_llm=bool(check), progress=progress_callback(progress))
    return _test_summary(result, bot.threshold), _test_figure(result), _test_table(result)


def _rates_line(name: str, r: Rates) -> str:
    line = tr(
        "**{name}**: right {right:.0%} · wrong {wrong:.0%} · escalated {escalated:.0%} "
        "(with the right entry suggested {suggested:.0%}) of {answerable} answerable questions; "
        "off-topic escalated {off:.0%} of {off_topic}; p95 {p95:.0f} ms",
        name=tr_text(name), right=r.right, wrong=r.wrong, escalated=r.escalated,
        suggested=r.suggested_right, answerable=r.answerable, off=r.off_topic_escalated,
        off_topic=r.off_topic, p95=r.p95_ms,
    )  # fmt: skip
    if r.cross_lingual:
        line += tr(
            " · in the other language: right {right:.0%} of {n}",
            right=r.cross_lingual_right, n=r.cross_lingual,
        )  # fmt: skip
    return line


def _test_summary(result: AnswerEvaluation, threshold: float) -> str:
    lines = [f"- {_rates_line('Fast match', result.fast)}"]
    if result.checked is not None:
        lines.append(f"- {_rates_line('Checked by the language model', result.checked)}")
    note = tr(
        "Nothing was stored: no conversation and no ticket. A wrong answer costs more than "
        "an escalation: the bot answers only when confident ({threshold:.0%} or more).",
        threshold=threshold,
    )
    return "\n".join(lines) + "\n\n" + note


def _test_figure(result: AnswerEvaluation):
    pipelines = [("fast", result.fast)] + ([("checked", result.checked)] if result.checked else [])
    labels, values = [], []
    for name, r in pipelines:
        suffix = f" ({tr_text(name)})" if len(pipelines) > 1 else ""
        for what, value in (("right", r.right), ("wrong", r.wrong), ("escalated", r.escalated)):
            labels.append(tr_text(what) + suffix)
            values.append(value)
        if r.off_topic:
            labels.append(tr_text("off-topic escalated") + suffix)
            values.append(r.off_topic_escalated)
    return bars_figure(labels, values, title=tr_text("Answers to the test questions"), percent=True)


def _test_table(result: AnswerEvaluation) -> pd.DataFrame:
    checked = result.checked is not None
    rows = []
    for o in sorted(result.outcomes, key=lambda o: MISTAKES_FIRST.index(o.checked_verdict if checked else o.verdict)):
        row = {
            "question": o.question,
            "expected": o.expected_id or "(none)",
            "best match": o.top_id or "",
            "confidence": o.confidence,
            "outcome": o.verdict,
            "suggested": ", ".join(o.suggested_ids),
        }
        if checked:
            row["checked confidence"] = o.checked_confidence
            row["checked outcome"] = o.checked_verdict
            row["checked suggested"] = ", ".join(o.checked_suggested_ids)
        rows.append(row)
    return tr_frame(pd.DataFrame(rows))


@page_errors
def load_entry(entry_id: str):
    entry = get_bot().entry(entry_id)
    return (
        entry.question,
        " | ".join(entry.alternatives),
        entry.answer,
        entry.category,
        entry.version,
    )


@page_errors
def select_row(frame: pd.DataFrame, evt: gr.SelectData):
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    entry_id = str(frame.iloc[row, 0])  # by position: the headers are in the viewer's language
    return (entry_id, *load_entry(entry_id))


def _version(version: float | None) -> int | None:
    """The version box's number (Gradio sends a float, or None when empty)."""
    return int(version) if version else None


@page_errors
def save_entry(
    entry_id: str,
    question: str,
    alternatives: str,
    answer: str,
    category: str,
    version: float | None,
):
    entry, added = get_bot().save_entry(
        entry_id, question, answer, category, alternatives, expected_version=_version(version)
    )
    message = (
        tr("Added {id}.", id=entry.id)
        if added
        else tr("Saved {id} (version {version}).", id=entry.id, version=entry.version)
    )
    return message, entries_frame(), entry.id, entry.version


@page_errors
def delete_entry(entry_id: str, version: float | None):
    get_bot().delete_entry(entry_id, expected_version=_version(version))
    return tr("Deleted {id}.", id=entry_id), entries_frame(), "", "", "", "", "", None


# --------------------------------------------------------------------------- intents
@page_errors
def train(source: str, upload: str | None, mode: str, epochs: float, progress=gr.Progress()):
    examples = load_examples(source, upload)
    finetune = mode.startswith("Fine")
    if finetune:
        gr.Warning(tr(
            "Fine-tuning runs on the CPU: BANKING77 takes about 8 minutes for 3 epochs on 2 cores. The bar shows each step."
        ))
    report = get_bot().train_intents(
        examples,
        mode="finetune" if finetune else "head",
        epochs=int(epochs) if finetune else None,
        progress=progress_callback(progress),
    )
    return tr(
        "Trained a **{mode}** model on {n_examples:,} examples, "
        "{n_intents} intents, in {seconds:.0f} s. It is saved and in use.",
        mode=tr_text(report["mode"]),
        **{k: report[k] for k in ("n_examples", "n_intents", "seconds")},
    ), model_info()


@page_errors
def evaluate(source: str, upload: str | None, progress=gr.Progress()):
    examples = load_examples(source, upload)
    result = get_bot().evaluate_intents(examples, progress=progress_callback(progress))
    text = tr(
        "**Accuracy {accuracy:.1%}** · **macro-F1 {macro_f1:.3f}** on {n:,} utterances.",
        accuracy=result["accuracy"], macro_f1=result["macro_f1"], n=result["n"],
    )
    if result["unknown_intents"]:
        text += "\n\n" + tr(
            "⚠️ {count} intents in this set are unknown to the model.",
            count=len(result["unknown_intents"]),
        )
    confusion = confusion_figure(
        result["confusion"],
        result["labels"],
        title=f"Accuracy {result['accuracy']:.1%}, macro-F1 {result['macro_f1']:.3f}",
        what="intent",
        max_counted=12,
    )
    worst = sorted(result["per_intent_f1"].items(), key=lambda kv: kv[1])[:WORST_INTENTS]
    hardest = bars_figure(
        [name for name, _ in worst],
        [f1 for _, f1 in worst],
        title=f"The {len(worst)} hardest intents",
        xlabel="F1",
        color="#d9822b",
    )
    return text, confusion, hardest


@page_errors
def model_info() -> str:
    model = get_bot().intent_model
    if model is None:
        return tr_text(NO_INTENTS_HINT)
    kind = "fine-tuned MiniLM" if model.mode == "finetune" else "head on frozen shared embeddings"
    return tr("Current intent model: **{kind}**, {count} intents.", kind=tr_text(kind), count=len(model.labels))


@page_errors
def try_intent(text: str) -> dict:
    if not text or not text.strip():
        raise InvalidInputError("Type an utterance first.")
    return get_bot().intent_scores(text, top=5)


# --------------------------------------------------------------------------- inbox
@page_errors
def inbox():
    bot = get_bot()
    tickets = pd.DataFrame(
        bot.tickets("open"),
        columns=["id", "session_id", "question", "reason", "status", "created_at"],
    )
    if not tickets.empty:
        tickets["created_at"] = pd.to_datetime(tickets["created_at"], unit="s").dt.strftime(
            "%Y-%m-%d %H:%M"
        )
    unanswered = pd.DataFrame(
        bot.unanswered(50), columns=["session_id", "question", "confidence", "created_at"]
    )
    if not unanswered.empty:
        unanswered["created_at"] = pd.to_datetime(unanswered["created_at"], unit="s").dt.strftime(
            "%Y-%m-%d %H:%M"
        )
        unanswered["confidence"] = unanswered["confidence"].round(2)
    s = bot.feedback_stats()
    rate = f"{s['helpful_rate']:.0%}" if s["helpful_rate"] is not None else "n/a"
    esc = f"{s['escalation_rate']:.0%}" if s["escalation_rate"] is not None else "n/a"
    stats = tr(
        "**{answers}** answers · **{rated}** rated · 👍 {helpful} · 👎 {not_helpful} · "
        "helpful rate **{rate}** · escalation rate **{esc}**",
        rate=rate, esc=esc, **{k: s[k] for k in ("answers", "rated", "helpful", "not_helpful")},
    )
    return stats, tr_frame(tickets.drop(columns=["status"])), tr_frame(unanswered, cells=False)


@page_errors
def close_ticket(ticket_id: float | None):
    if not ticket_id:
        raise InvalidInputError("Enter the number of an open ticket.")
    get_bot().close_ticket(int(ticket_id))
    return inbox()


@page_errors
def pick_ticket(frame: pd.DataFrame, evt: gr.SelectData):
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return int(frame.iloc[row, 0]), str(frame.iloc[row, 1])  # by position: headers are translated


@page_errors
def show_conversation(session_id: str) -> list:
    messages = get_bot().history((session_id or "").strip())
    return [
        {
            "role": m["role"],
            "content": _as_text(m["content"]) if m["role"] == "user" else m["content"],
        }
        for m in messages
    ]


# --------------------------------------------------------------------------- layout
def build_ui() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\n{DESCRIPTION} The demo knowledge bases are for **Kestrel Money**, a "
            "fictional neobank; import your own FAQ in the Knowledge base tab."
        )
        kb_choice = gr.Dropdown(
            [(label, key) for key, label in KNOWLEDGE_BASES.items()],
            label="Knowledge base",
            elem_id="cs-kb",
        )
        with gr.Tabs():
            with gr.Tab("Chat"):
                session = gr.State(lambda: uuid.uuid4().hex[:16])
                message_ids = gr.State([])
                with gr.Row():
                    with gr.Column(scale=3):
                        greeting = gr.Markdown(elem_id="cs-greeting")
                        chatbot = gr.Chatbot(
                            label="Conversation",
                            height=440,
                            feedback_options=("Like", "Dislike"),
                            elem_id="cs-chatbot",
                        )
                        box = gr.Textbox(
                            label="Your message", submit_btn=True, elem_id="cs-message"
                        )
                        examples = gr.Dataset(
                            components=[box], samples=[], label="Try these", elem_id="cs-examples"
                        )
                        examples.click(lambda row: row[0], examples, box, api_name=False)
                    with gr.Column(scale=2):
                        use_llm = gr.Checkbox(
                            label="Phrase answers with the language model (streams; slower)",
                            info="It also checks a match in doubt before answering or escalating it",
                            value=False,
                        )
                        check = gr.Checkbox(
                            label="Check a match in doubt with the language model",
                            info="Answers stay word for word; a second or two more, for those questions only",
                            value=False,
                            elem_id="cs-check",
                        )
                        sources = gr.Markdown(
                            "Sources and confidence appear here after each answer.",
                            elem_classes="sb-card",
                            elem_id="cs-sources",
                        )
                        with gr.Accordion("Why this answer?", open=True, elem_id="cs-why"):
                            why_words = gr.HighlightedText(
                                label="Your question: the words the entry also has",
                                color_map={WHOLE: "green", PART: "yellow"},
                                show_legend=True,
                                elem_id="cs-why-words",
                            )
                            why_details = gr.Markdown(
                                "Ask a question to see the scores behind the answer.",
                                elem_id="cs-why-details",
                            )
                        status = gr.Markdown()
                        with gr.Row():
                            human = gr.Button("Hand over to a human", variant="secondary")
                            reset = gr.Button("New conversation")
                box.submit(
                    chat,
                    [box, chatbot, session, use_llm, message_ids, check],
                    [chatbot, sources, message_ids, box, why_words, why_details],
                    api_name="customer_service_chat",
                )
                chatbot.like(
                    like, [session, message_ids], status, api_name="customer_service_feedback"
                )
                human.click(hand_over, session, status, api_name="customer_service_handover")
                reset.click(
                    new_session, None, [chatbot, session, message_ids, status], api_name=False
                )

            with gr.Tab("Knowledge base"):
                gr.Markdown(
                    "Import `question,answer` files (optional `id`, `category`, `alternatives` separated by `|`) "
                    "as CSV, JSON or Markdown (`## Question {#id}` headings). Entries with an existing id are "
                    "replaced; nothing is stored unless the whole file is valid."
                )
                with gr.Row():
                    upload = gr.File(label="FAQ file", file_types=list(SUPPORTED), type="filepath")
                    with gr.Column():
                        company = gr.Textbox(
                            label="Company name (the bot greets as this; empty: from the file name)"
                        )
                        replace = gr.Checkbox(
                            label="Replace your knowledge base with this file", value=True
                        )
                        import_btn = gr.Button("Import", variant="primary")
                        import_status = gr.Markdown()
                calibration = gr.Markdown(elem_id="cs-calibration")
                with gr.Row():
                    threshold = gr.Slider(
                        0.05, 0.95, value=0.5, step=0.05, label="Manual confidence threshold"
                    )
                    threshold_btn = gr.Button("Use this threshold")
                    auto_btn = gr.Button("Back to the default")
                with gr.Row():
                    query = gr.Textbox(
                        label="Search the knowledge base",
                        placeholder="card hasn't arrived",
                        scale=3,
                    )
                    search_btn = gr.Button("Search", scale=1)
                search_status = gr.Markdown()
                hits = gr.Dataframe(label="Best matches", interactive=False)
                gr.Examples(
                    ["card hasn't arrived", "fees abroad", "转账多久到账"], inputs=query, label="Example searches"
                )
                with gr.Accordion(
                    "Test the bot on your customers' questions", open=False, elem_id="cs-test"
                ):
                    gr.Markdown(
                        "A CSV of real customers' questions with a `question` column and an "
                        "`expected_id` column: the id of the entry that answers it, or empty when "
                        "none does (the bot should hand it to a person). The bot decides each one "
                        "as it would in a chat, and stores nothing."
                    )
                    with gr.Row():
                        test_source = gr.Radio(
                            ANSWER_TEST_SOURCES,
                            value="demo",
                            label="Test questions",
                            elem_id="cs-test-source",
                        )
                        test_upload = gr.File(
                            label="CSV with question,expected_id columns",
                            file_types=[".csv"],
                            type="filepath",
                            elem_id="cs-test-upload",
                        )
                        with gr.Column():
                            test_check = gr.Checkbox(
                                label="Also with the language model's check",
                                info="About a second more for each question in doubt",
                                value=False,
                                elem_id="cs-test-check",
                            )
                            test_btn = gr.Button("Test the bot", variant="primary", elem_id="cs-test-run")
                    test_summary = gr.Markdown(elem_id="cs-test-summary")
                    test_plot = gr.Plot(label="Outcomes", elem_id="cs-test-plot")
                    test_table = gr.Dataframe(
                        label="Each question, mistakes first",
                        interactive=False,
                        wrap=True,
                        max_height=360,
                        elem_id="cs-test-table",
                    )
                    test_btn.click(
                        run_answer_test,
                        [test_source, test_upload, test_check],
                        [test_summary, test_plot, test_table],
                        api_name="customer_service_test_answers",
                    )
                table = gr.Dataframe(
                    label="Entries (click a row to edit it)",
                    interactive=False,
                    wrap=True,
                    max_height=360,
                )
                with gr.Group():
                    with gr.Row():
                        e_id = gr.Textbox(
                            label="Id (empty for a new entry: derived from the question)"
                        )
                        e_cat = gr.Textbox(label="Category")
                        e_ver = gr.Number(
                            label="Version you are editing", interactive=False, precision=0
                        )
                    e_q = gr.Textbox(label="Question")
                    e_alt = gr.Textbox(label="Alternative phrasings (separated by |)")
                    e_a = gr.Textbox(label="Answer", lines=4)
                    with gr.Row():
                        load_btn = gr.Button("Load by id")
                        save_btn = gr.Button("Save (add or update)", variant="primary")
                        del_btn = gr.Button("Delete", variant="stop")
                    edit_status = gr.Markdown()
                threshold_btn.click(
                    set_threshold, threshold, calibration, api_name="customer_service_threshold"
                )
                auto_btn.click(automatic_threshold, None, calibration, api_name=False)
                search_btn.click(
                    search_kb, query, [search_status, hits], api_name="customer_service_search"
                )
                query.submit(search_kb, query, [search_status, hits], api_name=False)
                table.select(
                    select_row, table, [e_id, e_q, e_alt, e_a, e_cat, e_ver], api_name=False
                )
                load_btn.click(
                    load_entry,
                    e_id,
                    [e_q, e_alt, e_a, e_cat, e_ver],
                    api_name="customer_service_load_entry",
                )
                save_btn.click(
                    save_entry,
                    [e_id, e_q, e_alt, e_a, e_cat, e_ver],
                    [edit_status, table, e_id, e_ver],
                    api_name="customer_service_save_entry",
                )
                del_btn.click(
                    delete_entry,
                    [e_id, e_ver],
                    [edit_status, table, e_id, e_q, e_alt, e_a, e_cat, e_ver],
                    api_name="customer_service_delete_entry",
                )

            with gr.Tab("Intents"):
                info = gr.Markdown()
                with gr.Row():
                    with gr.Column():
                        gr.Markdown("### Train")
                        t_source = gr.Radio(
                            INTENT_SOURCES,
                            value=INTENT_SOURCES[0][1],
                            label="Labelled utterances",
                        )
                        t_upload = gr.File(
                            label="CSV with text,intent columns",
                            file_types=[".csv"],
                            type="filepath",
                        )
                        t_mode = gr.Radio(
                            [
                                "Head on shared embeddings (seconds)",
                                "Fine-tune MiniLM (minutes; best accuracy)",
                            ],
                            value="Head on shared embeddings (seconds)",
                            label="Model",
                        )
                        t_epochs = gr.Slider(1, 8, value=4, step=1, label="Fine-tuning epochs")
                        t_btn = gr.Button("Train", variant="primary")
                        t_status = gr.Markdown()
                    with gr.Column():
                        gr.Markdown("### Evaluate")
                        v_source = gr.Radio(
                            EVAL_SOURCES, value=EVAL_SOURCES[1][1], label="Test utterances"
                        )
                        v_upload = gr.File(
                            label="CSV with text,intent columns",
                            file_types=[".csv"],
                            type="filepath",
                        )
                        v_btn = gr.Button("Evaluate", variant="primary")
                        v_status = gr.Markdown()
                        probe = gr.Textbox(
                            label="Try an utterance", placeholder="I still haven't received my card"
                        )
                        probe_out = gr.Label(label="Predicted intents", num_top_classes=5)
                        gr.Examples(
                            [
                                "I still haven't received my card",
                                "thanks, that fixed it",
                                "why was I charged twice?",
                            ],
                            inputs=probe,
                            label="Example utterances",
                        )
                with gr.Row():
                    cm_plot = gr.Plot(label="Confusion matrix")
                    worst_plot = gr.Plot(label="Hardest intents")
                t_btn.click(
                    train,
                    [t_source, t_upload, t_mode, t_epochs],
                    [t_status, info],
                    api_name="customer_service_train_intents",
                )
                v_btn.click(
                    evaluate,
                    [v_source, v_upload],
                    [v_status, cm_plot, worst_plot],
                    api_name="customer_service_evaluate_intents",
                )
                probe.submit(try_intent, probe, probe_out, api_name="customer_service_intent")

            with gr.Tab("Inbox"):
                stats = gr.Markdown()
                refresh = gr.Button("Refresh", elem_id="cs-inbox-refresh")
                tickets = gr.Dataframe(
                    label="Open tickets", interactive=False, wrap=True, elem_id="cs-tickets"
                )
                with gr.Row():
                    ticket_no = gr.Number(label="Ticket #", precision=0)
                    close_btn = gr.Button("Close ticket")
                    convo_id = gr.Textbox(label="Session id to read")
                    convo_btn = gr.Button("Show conversation")
                conversation = gr.Chatbot(label="Conversation", height=300)
                unanswered = gr.Dataframe(
                    label="Unanswered questions (add them to the knowledge base)",
                    interactive=False,
                    wrap=True,
                    elem_id="cs-unanswered",
                )
                refresh.click(
                    inbox, None, [stats, tickets, unanswered], api_name="customer_service_inbox"
                )
                close_btn.click(
                    close_ticket,
                    ticket_no,
                    [stats, tickets, unanswered],
                    api_name="customer_service_close_ticket",
                )
                convo_btn.click(
                    show_conversation,
                    convo_id,
                    conversation,
                    api_name="customer_service_conversation",
                )
                tickets.select(pick_ticket, tickets, [ticket_no, convo_id], api_name=False)

            render_privacy_tab(get_bot)

        setup_outputs = [greeting, box, examples]
        import_btn.click(
            import_file,
            [upload, company, replace],
            [import_status, kb_choice, *setup_outputs, table, calibration, info],
            api_name="customer_service_import",
        )
        kb_choice.input(
            switch_kb, kb_choice, [*setup_outputs, table, calibration, info], api_name=False
        )
        demo.load(active_kb, None, kb_choice, api_name=False)
        demo.load(chat_setup, None, setup_outputs, api_name=False)
        demo.load(calibration_markdown, None, calibration, api_name=False)
        demo.load(entries_frame, None, table, api_name=False)
        demo.load(model_info, None, info, api_name=False)
        demo.load(inbox, None, [stats, tickets, unanswered], api_name=False)
    return demo
