"""The text generation page: templates, chat, my templates, perplexity. Logic lives in ``api``."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from apps.ui_kit import (
    curves_figure,
    page_errors,
    progress_callback,
    text_generator,
    tr,
    tr_markdown,
    tr_text,
)
from core.errors import InvalidInputError

from .chat_format import plain_messages
from .confidence import confidence_html
from .fine_tune_run import FineTuneReport, FineTuneRun
from .options import GenerationOptions, parse_stop_text
from .sessions import ActiveStreams
from .streaming import FINISH_WORDS, TextStream
from .templates import BUILTIN_TEMPLATES, MAX_FIELDS, Template

TITLE = "Text generation"
DESCRIPTION = (
    "Product copy, emails, posts, summaries and Chinese↔English translation, streamed; chat; "
    "perplexity; LoRA fine-tuning on your own examples."
)
NO_ADAPTER = "(none: base model)"
EXAMPLE_DIR = Path(__file__).parent / "examples" / "fine_tuning"

# Streams that wait on the model cost almost nothing, and streams that run at the
# same time share the model's batches; so let more of them in than Gradio's default.
STREAM_CONCURRENCY = 16
_DOWNLOADS = Path(tempfile.gettempdir()) / "springboard-textgen"

_active = ActiveStreams()
_training: dict[str, FineTuneRun] = {}  # session -> its running fine-tuning job (for Cancel)

FLUENT_EXAMPLE = (
    "The museum opens at nine in the morning and closes at six in the evening. Visitors can buy "
    "tickets at the entrance or online, and children under twelve enter for free."
)
SHUFFLED_EXAMPLE = (
    "evening the tickets nine morning under children museum and The at in six the closes opens "
    "buy enter online, Visitors free. twelve at or the entrance can for in"
)


def _default_model() -> str:
    """The configured generation model (settings), the one the page starts with."""
    return text_generator().model


def _model_choices() -> list[str]:
    names = text_generator().available_models()
    default = _default_model()
    return names if default in names else [default, *names]


def _options(
    max_new, temperature, top_p, top_k, penalty, seed, stop_text, adapter=None
) -> GenerationOptions:
    """Controls as typed on the page (or sent to the API); checked by ``GenerationOptions``."""
    if seed in (None, "") or (isinstance(seed, int | float) and seed < 0):
        seed = None  # the page's "-1 = random"
    return GenerationOptions(
        max_new_tokens=max_new,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        repetition_penalty=penalty,
        seed=seed,
        stop=parse_stop_text(stop_text) if isinstance(stop_text, str | None) else stop_text,
        adapter=_adapter(adapter),
    )


def _adapter(choice: str | None) -> str | None:
    return None if choice in (None, "", NO_ADAPTER) else choice


def _session(request: gr.Request | None, tab: str) -> str:
    return f"{getattr(request, 'session_hash', None) or 'anonymous'}:{tab}"


def _notices_md(notices: list[str]) -> str:
    return "\n".join(f"⚠️ {tr_text(n)}" for n in notices)


def _stats_md(stream: TextStream) -> str:
    s = stream.stats()
    first = (
        tr(" · first text after {seconds:.1f} s", seconds=s["first_piece_seconds"])
        if s["first_piece_seconds"]
        else ""
    )
    return tr(
        "**{model}** · {prompt_tokens:,} prompt tokens · {new_tokens:,} new tokens "
        "in {seconds:.1f} s ({tokens_per_second:.1f} tokens/s){first} · ended: {ended}",
        first=first, ended=tr_text(FINISH_WORDS[s["finish_reason"]]),
        **{k: s[k] for k in ("model", "prompt_tokens", "new_tokens", "seconds", "tokens_per_second")},
    )


def _save_download(text: str, stem: str) -> str:
    _DOWNLOADS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-") or "text"
    path = (
        _DOWNLOADS
        / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10_000:04d}.txt"
    )
    path.write_text(text, encoding="utf-8")
    return str(path)


def _slots(template: Template) -> tuple[Any, list[Any]]:
    """The template's first choice field (for the dropdown) and its other fields (for text boxes)."""
    choice = next((f for f in template.fields if f.kind == "choice"), None)
    texts = [f for f in template.fields if f is not choice][:MAX_FIELDS]
    return choice, texts


def _run_stream(stream: TextStream, key: str) -> Iterator[tuple[str, bool]]:
    """Yield (text so far, finished) while registering the stream for the Cancel button."""
    _active.add(key, stream)
    try:
        text = ""
        for piece in stream:
            text += piece
            yield text, False
        yield text, True
    finally:
        stream.close()  # the page went away or Gradio cancelled the event
        _active.discard(key, stream)


# --------------------------------------------------------------------------- handlers
@page_errors
def template_form(name: str):
    """Labels, visibility and placeholders of the field inputs for a template."""
    template = (
        text_generator(None).template(name)
        if name not in BUILTIN_TEMPLATES
        else BUILTIN_TEMPLATES[name]
    )
    choice, texts = _slots(template)
    # Names, descriptions, examples and choices in the viewer's language (a choice's value
    # stays the English the prompt is written with); a user's own template shows as written.
    updates = [
        gr.update(
            visible=choice is not None,
            label=tr_text(choice.label if choice else "Option"),
            choices=[(tr_text(c), c) for c in choice.choices] if choice else [],
            value=(choice.default or choice.choices[0]) if choice else None,
        )
    ]
    for i in range(MAX_FIELDS):
        if i < len(texts):
            f = texts[i]
            label = tr_text(f.label)
            updates.append(
                gr.update(
                    visible=True,
                    label=label if f.required else tr("{label} (optional)", label=label),
                    placeholder=tr_text(f.example or f.default or ""),
                    lines=4 if f.kind == "long" else 1,
                )
            )
        else:
            updates.append(gr.update(visible=False, label=tr_text(f"Field {i + 1}"), placeholder=""))
    title = tr_text(template.title)
    note = (
        f"**{title}** — {tr_text(template.description)}"
        if template.description
        else f"**{title}**"
    )
    return [note, template.system_prompt, *updates]


def clear_fields():
    return [gr.update(value="") for _ in range(MAX_FIELDS)]


@page_errors
def write(model, name, system, choice, *rest, request: gr.Request = None):
    """Fill in the template and stream the output (api: textgen_write).

    The inputs after the fields are the controls, then (optional) "Show confidence": with
    it on, the last output is the text coloured by each token's probability, as it streams.
    """
    values, controls = rest[:MAX_FIELDS], rest[MAX_FIELDS:]
    show = False
    if controls and isinstance(controls[-1], bool):  # the toggle: the one boolean, after the controls
        show, controls = controls[-1], controls[:-1]
    gen = text_generator(model)
    template = gen.template(name)
    choice_field, texts = _slots(template)
    fields = {f.name: v for f, v in zip(texts, values, strict=False)}
    if choice_field is not None:
        fields[choice_field.name] = choice or ""
    default_system = template.system_prompt
    stream = gen.start_template(
        name,
        fields,
        replace(_options(*controls), logprobs=show),
        system=system if system is not None and system.strip() != default_system else None,
    )
    for notice in stream.notices:
        gr.Warning(tr_text(notice))
    shown_prompt = stream.request.messages
    early = len(stream.notices)  # later ones say how the text ended
    for text, finished in _run_stream(stream, _session(request, "write")):
        coloured = confidence_html(text, stream.tokens) if show else ""
        if not finished:
            yield text, _notices_md(stream.notices), tr("Generating…"), gr.update(), shown_prompt, coloured
            continue
        result = stream.result
        for notice in stream.notices[early:]:
            gr.Info(tr_text(notice))
        download = gr.update(value=_save_download(result.text, name), visible=bool(result.text))
        yield text, _notices_md(stream.notices), _stats_md(stream), download, shown_prompt, coloured


def cancel(tab: str):
    @page_errors
    def handler(request: gr.Request = None) -> None:
        if _active.cancel(_session(request, tab)) == 0:
            gr.Info(tr("Nothing is running."))

    handler.__doc__ = f"Cancel this session's running {tab} generation."
    return handler


@page_errors
def chat(message, history, system, model, *controls, request: gr.Request = None):
    """Add the message to the chat and stream the answer (api: textgen_chat)."""
    turns = plain_messages(history)
    gen = text_generator(model)
    stream = gen.chat(
        turns, message, _options(*controls), system=(system or "").strip() or None
    )
    for notice in stream.notices:
        gr.Warning(tr_text(notice))
    shown = [*turns, {"role": "user", "content": message}]
    for text, finished in _run_stream(stream, _session(request, "chat")):
        reply = {"role": "assistant", "content": text}
        if not finished:
            yield [*shown, reply], "", _notices_md(stream.notices)
            continue
        if stream.result.finish_reason == "cancelled":
            reply["content"] = text + tr(" …[cancelled]")
        yield [*shown, reply], "", _notices_md(stream.notices) or _stats_md(stream)


@page_errors
def perplexity(text: str, model: str, adapter: str | None = None, progress=gr.Progress()) -> str:
    """Perplexity of the text under the chosen model and adapter (api: textgen_perplexity)."""
    gen = text_generator(model)
    progress_callback(progress)(0.0, tr("Scoring with {model}…", model=gen.model))
    value = gen.perplexity(text, adapter=_adapter(adapter))
    tokens = gen.count_tokens(text)
    under = gen.model + (tr(" + adapter {name}", name=_adapter(adapter)) if _adapter(adapter) else "")
    return tr(
        "### Perplexity: {value:,.2f}\n"
        "{tokens:,} tokens under **{under}**. Lower means the model finds the text more "
        "predictable: fluent, familiar text scores low; scrambled or unusual text scores high. "
        "Compare texts under the same model only (tokenizers differ).",
        value=value, tokens=tokens, under=under,
    )


def list_user_templates() -> list[list[str]]:
    return [
        [t.name, t.title, ", ".join(t.field_names()), t.description]
        for t in text_generator(None).list_templates()
        if not t.builtin
    ]


def _template_choices() -> list[tuple[str, str]]:
    return [
        (tr_text(t.title) if t.builtin else tr("{title} (mine)", title=t.title), t.name)
        for t in text_generator(None).list_templates()
    ]


@page_errors
def save_template(name, title, description, system, prompt, overwrite):
    """Save a user template (api: textgen_save_template)."""
    template = text_generator(None).save_template(
        name, title, system, prompt, description, bool(overwrite)
    )
    gr.Info(tr(
        "Saved '{title}' with fields: {fields}.",
        title=template.title, fields=", ".join(template.field_names()),
    ))
    users = [t.name for t in text_generator(None).list_templates() if not t.builtin]
    return (
        list_user_templates(),
        gr.update(choices=_template_choices(), value=template.name),
        gr.update(choices=users, value=template.name),
    )


@page_errors
def delete_template(name):
    """Delete a user template (api: textgen_delete_template)."""
    if not name:
        raise InvalidInputError("Choose a saved template to delete.")
    existed = text_generator(None).delete_template(name)
    if not existed:
        gr.Warning(tr("There is no saved template named '{name}'.", name=name))
    else:
        gr.Info(tr("Deleted '{name}'.", name=name))
    users = [t.name for t in text_generator(None).list_templates() if not t.builtin]
    return (
        list_user_templates(),
        gr.update(choices=_template_choices(), value="product_description"),
        gr.update(choices=users, value=None),
    )


@page_errors
def refresh_lists():
    users = [t.name for t in text_generator(None).list_templates() if not t.builtin]
    return gr.update(choices=_template_choices()), gr.update(choices=users), list_user_templates()


# --------------------------------------------------------------------------- fine-tuning
def _file_path(file: Any) -> str | None:
    if file is None:
        return None
    return file if isinstance(file, str) else getattr(file, "name", None) or getattr(file, "path", None)


def _loss_figure(run: FineTuneRun | None):
    history = run.history() if run is not None else {}
    return curves_figure(
        {"Loss": history} if history else {},
        xlabel="epoch",
        empty_message="The loss curve appears when training starts.",
    )


def adapter_table(model: str | None = None) -> list[list[Any]]:
    """Saved adapters: name, base, kind, examples, held-out perplexity before -> after, created."""
    rows = []
    for a in text_generator(model).list_adapters():
        m = a.metrics
        before, after = m.get("heldout_perplexity_before"), m.get("heldout_perplexity_after")
        ppl = f"{before:.2f} → {after:.2f}" if before is not None and after is not None else ""
        rows.append([a.name, a.base_model, a.kind, a.data.get("train_examples", ""), ppl, a.created])
    return rows


def _adapter_choices(model: str | None) -> list[str]:
    return [NO_ADAPTER, *text_generator(model).adapter_names()]


@page_errors
def adapter_lists(model: str | None):
    """Refresh the adapter picker (for the chosen model), the table and the rename/delete list."""
    names = [a.name for a in text_generator(model).list_adapters()]
    return (
        gr.update(choices=_adapter_choices(model), value=NO_ADAPTER),
        adapter_table(model),
        gr.update(choices=names, value=None),
    )


def _report_md(report: FineTuneReport) -> str:
    lines = [tr("### Result"), tr_markdown(report.summary()).replace("\n", "  \n")]
    if not report.training.cancelled:
        lines.append(tr(
            "Pick **{name}** in *Adapter* (right) to use it in Write and Chat.", name=report.name
        ))
    return "\n\n".join(lines)


def _comparison_rows(report: FineTuneReport) -> list[list[str]]:
    if report.evaluation is None:
        return []
    return [[c.prompt, c.reference, c.base, c.adapter] for c in report.evaluation.comparisons]


@page_errors
def train(model, train_file, heldout_file, name, rank, alpha, lr, epochs, batch, max_tokens,
          minutes, seed, request: gr.Request = None, progress=gr.Progress()):  # fmt: skip
    """Train a LoRA adapter on the uploaded examples, streaming the loss (api: textgen_train)."""
    path = _file_path(train_file)
    if not path:
        raise InvalidInputError("Upload a training file (.jsonl, .csv or .txt) first.")
    gen = text_generator(model)
    run = gen.start_fine_tune(
        path, name=(name or "").strip(), heldout=_file_path(heldout_file),
        rank=int(rank), alpha=float(alpha), learning_rate=float(lr), epochs=int(epochs),
        batch_size=int(batch), max_tokens=int(max_tokens),
        max_seconds=float(minutes) * 60 if minutes else None, seed=int(seed or 0),
    )  # fmt: skip
    key = _session(request, "train")
    _training[key] = run
    report = progress_callback(progress)
    try:
        for event in run.events():
            report(event.fraction, event.message)
            yield _loss_figure(run), tr("Training: {message}", message=event.message), gr.update(), gr.update()
        report(1.0, tr("Comparing the adapter with the base model…"))
        comparing = tr("Comparing the adapter with the base model on held-out prompts…")
        yield _loss_figure(run), comparing, gr.update(), gr.update()
        result = run.finish()
    finally:
        if _training.get(key) is run:
            del _training[key]
        if run.result is None:
            run.cancel()  # the page went away mid-run
    yield _loss_figure(run), _report_md(result), _comparison_rows(result), adapter_table(model)


@page_errors
def cancel_training(request: gr.Request = None) -> None:
    """Stop this session's fine-tuning run (api: textgen_cancel_train)."""
    run = _training.get(_session(request, "train"))
    if run is None:
        gr.Info(tr("No training is running."))
        return
    run.cancel()
    gr.Info(tr("Cancelling at the next step; nothing will be saved."))


@page_errors
def rename_adapter(model, old, new):
    """Rename a saved adapter (api: textgen_rename_adapter)."""
    if not old:
        raise InvalidInputError("Choose an adapter to rename.")
    info = text_generator(model).rename_adapter(old, (new or "").strip())
    gr.Info(tr("Renamed '{old}' to '{new}'.", old=old, new=info.name))
    return adapter_lists(model)


@page_errors
def delete_adapter(model, name):
    """Delete a saved adapter (api: textgen_delete_adapter)."""
    if not name:
        raise InvalidInputError("Choose an adapter to delete.")
    if text_generator(model).delete_adapter(name):
        gr.Info(tr("Deleted '{name}'.", name=name))
    return adapter_lists(model)


# --------------------------------------------------------------------------- layout
def _controls(limit: int) -> list[gr.components.Component]:
    start = GenerationOptions()  # the app's defaults, so page and API start alike
    with gr.Accordion("Controls", open=True):
        max_new = gr.Slider(
            1, limit, value=min(start.max_new_tokens, limit), step=1, label="Max new tokens", elem_id="tg-max-new"
        )
        temperature = gr.Slider(
            0.0,
            2.0,
            value=start.temperature,
            step=0.05,
            label="Temperature",
            info="0 = greedy",
            elem_id="tg-temperature",
        )
        top_p = gr.Slider(0.05, 1.0, value=start.top_p, step=0.05, label="Top-p")
        top_k = gr.Slider(0, 200, value=start.top_k, step=1, label="Top-k", info="0 = no limit")
        penalty = gr.Slider(
            0.8, 2.0, value=start.repetition_penalty, step=0.01, label="Repetition penalty",
            info="1 = none",
        )
        seed = gr.Number(
            value=-1,
            precision=0,
            label="Seed",
            info="-1 = random; the same number repeats the output (word for word in float32 precision)",
        )
        stop = gr.Textbox(
            lines=2,
            label="Stop sequences",
            placeholder="One per line; \\n means a newline",
            info="The text ends before the first one that appears",
        )
    return [max_new, temperature, top_p, top_k, penalty, seed, stop]


def build_ui() -> gr.Blocks:
    """The page; nothing is loaded until the first request."""
    # The suite's cap on new tokens (the model's own cap is only known once it is loaded).
    limit = text_generator().configured_max_new_tokens
    first = BUILTIN_TEMPLATES["product_description"]
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"## {TITLE}\nWrite startup copy from templates, chat, or measure how predictable a text is. "
            "Text streams as it is generated; requests from many users share the model's batches."
        )
        with gr.Row():
            with gr.Column(scale=3), gr.Tabs():
                with gr.Tab("Write"):
                    template = gr.Dropdown(
                        [(t.title, t.name) for t in BUILTIN_TEMPLATES.values()],
                        value=first.name,
                        label="Template",
                        elem_id="tg-template",
                    )
                    template_note = gr.Markdown(f"**{first.title}** — {first.description}")
                    with gr.Accordion("System prompt", open=False):
                        system = gr.Textbox(first.system_prompt, lines=3, show_label=False)
                    choice = gr.Dropdown(
                        choices=_all_choices(),
                        label="Option",
                        visible=False,
                        allow_custom_value=False,
                    )
                    fields = [
                        gr.Textbox(label=f"Field {i + 1}", visible=False, elem_id=f"tg-field-{i}")
                        for i in range(MAX_FIELDS)
                    ]
                    with gr.Row():
                        write_btn = gr.Button("Generate", variant="primary", elem_id="tg-generate")
                        write_cancel = gr.Button("Cancel", variant="stop")
                    output = gr.Textbox(
                        label="Output",
                        lines=12,
                        buttons=["copy"],
                        interactive=False,
                        elem_id="tg-output",
                    )
                    show_confidence = gr.Checkbox(
                        label="Show confidence",
                        info="Colour the output by how sure the model was of each token",
                        elem_id="tg-show-confidence",
                    )
                    confidence = gr.HTML(visible=False, elem_id="tg-confidence")
                    write_notices = gr.Markdown(elem_classes=["sb-muted"])
                    write_stats = gr.Markdown(elem_classes=["sb-muted"], elem_id="tg-stats")
                    download = gr.DownloadButton("Download .txt", visible=False, size="sm")
                    with gr.Accordion("Prompt sent to the model", open=False):
                        sent = gr.JSON(show_label=False, elem_id="tg-sent")
                    write_examples = gr.Examples(
                        _write_examples(),
                        inputs=[template, choice, *fields],
                        label="Examples (pick one, then Generate)",
                    )
                with gr.Tab("Chat"):
                    chat_system = gr.Textbox(
                        "You are a helpful, concise assistant for a startup team.",
                        label="System prompt",
                        lines=2,
                        elem_id="tg-chat-system",
                    )
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        height=420,
                        buttons=["copy", "copy_all"],
                        elem_id="tg-chatbot",
                    )
                    message = gr.Textbox(
                        label="Message", placeholder="Ask anything…", lines=2, elem_id="tg-message"
                    )
                    with gr.Row():
                        send = gr.Button("Send", variant="primary", elem_id="tg-send")
                        chat_cancel = gr.Button("Cancel", variant="stop")
                        clear = gr.Button("Clear chat")
                    chat_notices = gr.Markdown(elem_classes=["sb-muted"], elem_id="tg-chat-notices")
                    gr.Examples(
                        [
                            ["Suggest three names for a coffee subscription startup."],
                            ["把这句话翻译成英文：我们下周发布新版本。"],
                            ["Explain churn rate to a new founder in two sentences."],
                        ],
                        inputs=[message],
                        label="Example messages",
                    )
                with gr.Tab("My templates"):
                    gr.Markdown(
                        "Save your own template: write the request with `{fields}` to fill in "
                        "(letters, digits and `_`; `{{` and `}}` for literal braces). It appears in "
                        "the Write tab's template list."
                    )
                    user_table = gr.Dataframe(
                        headers=["name", "title", "fields", "description"],
                        value=[],
                        interactive=False,
                        label="Saved templates",
                    )
                    with gr.Row():
                        t_name = gr.Textbox(label="Name", placeholder="launch_tweet")
                        t_title = gr.Textbox(label="Title", placeholder="Launch tweet")
                    t_description = gr.Textbox(label="Description (optional)")
                    t_system = gr.Textbox(label="System prompt", lines=2)
                    t_prompt = gr.Textbox(label="Prompt with {fields}", lines=4)
                    t_overwrite = gr.Checkbox(label="Overwrite a saved template with the same name")
                    save_btn = gr.Button("Save template", variant="primary")
                    gr.Examples(
                        [
                            [
                                "launch_tweet",
                                "Launch tweet",
                                "Announce a launch in one tweet",
                                "You write upbeat, honest tweets for a startup. No more than 280 characters.",
                                "Write a tweet announcing {product}, which launches on {date}. Mention: {hook}",
                            ],
                            [
                                "job_ad",
                                "Job ad",
                                "A short job advert",
                                "You write inclusive, concrete job adverts.",
                                "Write a job advert for a {role} at {company}.\nRequirements: {requirements}",
                            ],
                        ],
                        inputs=[t_name, t_title, t_description, t_system, t_prompt],
                        label="Example templates",
                    )
                    with gr.Row():
                        to_delete = gr.Dropdown(label="Saved template", choices=[])
                        delete_btn = gr.Button("Delete", variant="stop")
                with gr.Tab("Perplexity"):
                    gr.Markdown(
                        "How surprised is the model by a text? Perplexity is exp(mean negative "
                        "log-likelihood per token); long texts are scored with a sliding window."
                    )
                    ppl_text = gr.Textbox(label="Text", lines=8)
                    ppl_btn = gr.Button("Compute perplexity", variant="primary")
                    ppl_out = gr.Markdown()
                    gr.Examples([[FLUENT_EXAMPLE], [SHUFFLED_EXAMPLE]], inputs=[ppl_text], label="Example texts")
                with gr.Tab("Train"):
                    gr.Markdown(
                        "Teach the model your own format or voice with a LoRA adapter: a few MB "
                        "of extra weights on the chosen model, trained here on this machine. "
                        "Upload **JSONL** (`messages` chats, or `prompt`/`response`), **CSV** "
                        "(`prompt,response`) or **plain text** (paragraphs, for a writing style). "
                        "A tenth is held out to measure the result unless you upload a held-out file."
                    )
                    with gr.Row():
                        train_file = gr.File(label="Training data", file_types=[".jsonl", ".csv", ".txt"],
                                             elem_id="tg-train-file")  # fmt: skip
                        heldout_file = gr.File(label="Held-out data (optional)",
                                               file_types=[".jsonl", ".csv", ".txt"],
                                               elem_id="tg-heldout-file")  # fmt: skip
                    adapter_name = gr.Textbox(label="Adapter name", placeholder="house-json",
                                              info="lower-case letters, digits, - and _",
                                              elem_id="tg-adapter-name")  # fmt: skip
                    with gr.Accordion("Settings", open=False, elem_id="tg-train-settings"):
                        with gr.Row():
                            t_rank = gr.Slider(1, 64, value=8, step=1, label="Rank")
                            t_alpha = gr.Slider(1, 128, value=16, step=1, label="Alpha")
                            t_lr = gr.Number(value=2e-3, label="Learning rate", elem_id="tg-train-lr")
                        with gr.Row():
                            t_epochs = gr.Slider(1, 20, value=2, step=1, label="Epochs",
                                                 elem_id="tg-train-epochs")  # fmt: skip
                            t_batch = gr.Slider(1, 32, value=8, step=1, label="Batch size",
                                                elem_id="tg-train-batch")  # fmt: skip
                            t_tokens = gr.Slider(32, 1024, value=256, step=16, label="Max tokens per example",
                                                 elem_id="tg-train-tokens")  # fmt: skip
                        with gr.Row():
                            t_minutes = gr.Number(value=10, label="Time budget (minutes, 0 = none)")
                            t_seed = gr.Number(value=0, precision=0, label="Seed", elem_id="tg-train-seed")
                    with gr.Row():
                        train_btn = gr.Button("Train", variant="primary", elem_id="tg-train")
                        train_cancel = gr.Button("Cancel", variant="stop")
                    train_status = gr.Markdown(elem_id="tg-train-status")
                    loss_plot = gr.Plot(label="Loss", value=_loss_figure(None), elem_id="tg-loss")
                    comparison = gr.Dataframe(
                        headers=["held-out prompt", "reference", "base model", "adapter"],
                        value=[], interactive=False, wrap=True, label="Base and adapter, side by side",
                        column_widths=["25%"] * 4, elem_id="tg-comparison",
                    )  # fmt: skip
                    gr.Examples(
                        [[str(EXAMPLE_DIR / "train.jsonl"), str(EXAMPLE_DIR / "heldout.jsonl"),
                          "catalogue-json"]],
                        inputs=[train_file, heldout_file, adapter_name],
                        label="Worked example: shop listings → one strict JSON record (pick the "
                        "tiny model for a 2-minute run)",
                    )  # fmt: skip
                    gr.Markdown("#### Saved adapters")
                    adapters_df = gr.Dataframe(
                        headers=["name", "base model", "kind", "examples", "held-out perplexity", "created"],
                        value=[], interactive=False, label="Adapters", elem_id="tg-adapters",
                    )  # fmt: skip
                    with gr.Row():
                        adapter_pick = gr.Dropdown(label="Adapter", choices=[])
                        new_name = gr.Textbox(label="New name")
                    with gr.Row():
                        rename_btn = gr.Button("Rename")
                        delete_adapter_btn = gr.Button("Delete", variant="stop")
            with gr.Column(scale=1, min_width=280):
                model = gr.Dropdown(
                    _model_choices(),
                    value=_default_model(),
                    label="Model",
                    info="Qwen2.5-Coder-0.5B (default) or SmolLM2-135M (tiny, fast)",
                    allow_custom_value=True,
                )
                adapter = gr.Dropdown(
                    [NO_ADAPTER],
                    value=NO_ADAPTER,
                    label="Adapter",
                    info="A LoRA adapter trained on this model (Train tab)",
                    elem_id="tg-adapter",
                )
                controls = [*_controls(limit), adapter]

        form_outputs = [template_note, system, choice, *fields]
        template.change(template_form, [template], form_outputs, api_name=False, queue=False)
        template.input(clear_fields, None, fields, api_name=False, queue=False)
        demo.load(template_form, [template], form_outputs, api_name=False, queue=False)
        # An example click resets its inputs to their built state (fields hidden, "Field 1"...);
        # .change does not fire when the example's template is the one shown, so lay out again.
        write_examples.load_input_event.then(
            template_form, [template], form_outputs, api_name=False, queue=False
        )
        demo.load(
            refresh_lists, None, [template, to_delete, user_table], api_name=False, queue=False
        )

        show_confidence.change(
            lambda on: gr.update(visible=on), [show_confidence], [confidence],
            api_name=False, queue=False,
        )  # fmt: skip
        write_event = write_btn.click(
            write,
            [model, template, system, choice, *fields, *controls, show_confidence],
            [output, write_notices, write_stats, download, sent, confidence],
            api_name="textgen_write",
            concurrency_limit=STREAM_CONCURRENCY,
            concurrency_id="textgen_stream",
        )
        write_cancel.click(
            cancel("write"),
            None,
            None,
            api_name="textgen_cancel_write",
            cancels=[write_event],
            queue=False,
        )

        chat_inputs = [message, chatbot, chat_system, model, *controls]
        send_event = send.click(
            chat,
            chat_inputs,
            [chatbot, message, chat_notices],
            api_name="textgen_chat",
            concurrency_limit=STREAM_CONCURRENCY,
            concurrency_id="textgen_stream",
        )
        submit_event = message.submit(
            chat,
            chat_inputs,
            [chatbot, message, chat_notices],
            api_name=False,
            concurrency_limit=STREAM_CONCURRENCY,
            concurrency_id="textgen_stream",
        )
        chat_cancel.click(
            cancel("chat"),
            None,
            None,
            api_name="textgen_cancel_chat",
            cancels=[send_event, submit_event],
            queue=False,
        )
        clear.click(lambda: ([], ""), None, [chatbot, chat_notices], api_name=False, queue=False)

        ppl_btn.click(perplexity, [ppl_text, model, adapter], ppl_out, api_name="textgen_perplexity")

        lists = [adapter, adapters_df, adapter_pick]
        demo.load(adapter_lists, [model], lists, api_name=False, queue=False)
        model.change(adapter_lists, [model], lists, api_name=False, queue=False)
        train_event = train_btn.click(
            train,
            [model, train_file, heldout_file, adapter_name, t_rank, t_alpha, t_lr, t_epochs,
             t_batch, t_tokens, t_minutes, t_seed],
            [loss_plot, train_status, comparison, adapters_df],
            api_name="textgen_train",
        )  # fmt: skip
        train_event.then(adapter_lists, [model], lists, api_name=False, queue=False)
        train_cancel.click(cancel_training, None, None, api_name="textgen_cancel_train", queue=False)
        rename_btn.click(rename_adapter, [model, adapter_pick, new_name], lists,
                         api_name="textgen_rename_adapter")  # fmt: skip
        delete_adapter_btn.click(delete_adapter, [model, adapter_pick], lists,
                                 api_name="textgen_delete_adapter")  # fmt: skip
        save_btn.click(
            save_template,
            [t_name, t_title, t_description, t_system, t_prompt, t_overwrite],
            [user_table, template, to_delete],
            api_name="textgen_save_template",
        )
        delete_btn.click(
            delete_template,
            [to_delete],
            [user_table, template, to_delete],
            api_name="textgen_delete_template",
        )
    return demo


def _all_choices() -> list[str]:
    return sorted({c for t in BUILTIN_TEMPLATES.values() for f in t.fields for c in f.choices})


def _write_examples() -> list[list[Any]]:
    """One example per built-in template: the template, its option, then its text fields."""
    rows = []
    for t in BUILTIN_TEMPLATES.values():
        c, texts = _slots(t)
        values = t.example_values()
        row = [t.name, (values[c.name] or c.choices[0]) if c else None]
        row += [values[f.name] for f in texts] + [""] * (MAX_FIELDS - len(texts))
        rows.append(row)
    return rows
