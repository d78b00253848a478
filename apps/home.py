"""The home page: what the suite is, which apps are here, which models back them."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
import pandas as pd

from core import ModelManager

from . import home_examples as ex
from .pages import AppPage
from .theme import SUITE_NAME
from .ui_kit import page_errors, tr_frame, tr_markdown

INTRO = f"""
# {SUITE_NAME}

Five AI products served from one machine, on one shared model core. Every model
runs locally from an installed package: nothing is sent to a third party, and it
works offline.

Each app has a Python API for building your own product and a page here for
showing it. The **Status** page shows the shared core at work: which models are
loaded, on which device, how much memory they use, and how requests are batched.
"""


def serving_text(row: dict | None) -> str:
    """Where a model runs on a cluster: its deployment's state, replicas, queue and batches."""
    if row is None or "deployment" not in row:
        return "not deployed"
    replicas = ", ".join(f"{n} {state.lower()}" for state, n in row["replicas"].items()) or "none"
    text = f"{row['deployment']}: {row['state'].lower()}, replicas {replicas}"
    if row["loaded"]:
        text += f"; loaded in {row['replicas_loaded']}"
    text += f"; {row['waiting']} in flight; {row['batches']} batches"
    return text + (f" (mean {row['mean_batch']:g})" if row["batches"] else "")


def models_table(manager: ModelManager) -> pd.DataFrame:
    """Every registered model, its role, where it comes from, and whether it is loaded (on a
    cluster backend: in a replica, with its deployment's state in a "serving" column)."""
    chosen = manager.settings.models.model_dump()
    report = manager.report()
    held = {m["model"]: m for m in report["models"]}
    cluster = report.get("cluster") is not None
    rows = []
    for spec in manager.model_specs():
        row = {
            "role": spec.role,
            "model": spec.name,
            "default for role": "yes" if chosen.get(spec.role) == spec.name else "",
            "loaded": "yes" if held.get(spec.name, {}).get("loaded") else "no",
        }
        if cluster:
            row["serving"] = serving_text(held.get(spec.name))
        rows.append({**row, "about": spec.description, "weights from": spec.source})
    return pd.DataFrame(rows).sort_values(["role", "model"]) if rows else pd.DataFrame()


def apps_markdown(pages: list[AppPage]) -> str:
    if not pages:
        return "_No app pages are installed yet._"
    lines = ["## Apps", ""]
    lines += [f"- **[{p.title}]({p.path})**: {p.description}" for p in pages]
    return "\n".join(lines)


def _shown(example: Callable[[str], str]) -> Callable[[str], str]:
    """An example's Markdown in the viewer's language (its sentences; the data stays as it is)."""

    def call(value: str) -> str:
        return tr_markdown(example(value))

    # Not functools.wraps: Gradio would read the example's own signature (a default ``k``)
    # and pass it a second argument.
    call.__name__, call.__doc__ = example.__name__, example.__doc__
    return call


def _example_support() -> None:
    question = gr.Textbox(ex.SUPPORT_QUESTION, label="A customer writes", elem_id="home-cs-input")
    button = gr.Button("Ask the support bot", variant="primary", elem_id="home-cs-run")
    answer = gr.Markdown(elem_id="home-cs-output")
    button.click(page_errors(_shown(ex.ask_support)), question, answer, api_name="home_customer_service")


def _example_recommendation() -> None:
    movie = gr.Dropdown(list(ex.MOVIES), value=ex.MOVIES[0][1], label="A movie you liked",
                        elem_id="home-rec-input")
    button = gr.Button("Find similar movies", variant="primary", elem_id="home-rec-run")
    answer = gr.Markdown(elem_id="home-rec-output")
    button.click(page_errors(_shown(ex.similar_movies)), movie, answer, api_name="home_recommendation")


def _example_speech() -> None:
    clip = gr.Audio(ex.example_clip(), type="filepath", sources=["upload", "microphone"],
                    label="A voice note (or record your own)", elem_id="home-speech-input")
    button = gr.Button("Transcribe", variant="primary", elem_id="home-speech-run")
    answer = gr.Markdown(elem_id="home-speech-output")
    button.click(page_errors(_shown(ex.transcribe_clip)), clip, answer, api_name="home_speech")


def _example_vision() -> None:
    photo = gr.Image(ex.example_photo(), type="filepath", label="A photo (or upload your own)",
                     height=220, elem_id="home-vision-input")
    button = gr.Button("What is in it?", variant="primary", elem_id="home-vision-run")
    answer = gr.Markdown(elem_id="home-vision-output")
    button.click(page_errors(_shown(ex.classify_photo)), photo, answer, api_name="home_vision")


def _example_textgen() -> None:
    prompt = gr.Textbox(ex.WRITING_PROMPT, label="Prompt", lines=2, elem_id="home-textgen-input")
    button = gr.Button("Write", variant="primary", elem_id="home-textgen-run")
    answer = gr.Markdown(elem_id="home-textgen-output")
    button.click(page_errors(ex.write_text), prompt, answer, api_name="home_textgen")


# One live example per app key; an app without one still gets its card and link.
EXAMPLES: dict[str, Callable[[], None]] = {
    "customer_service": _example_support,
    "recommendation": _example_recommendation,
    "speech": _example_speech,
    "vision": _example_vision,
    "textgen": _example_textgen,
}


def _app_card(page: AppPage) -> None:
    with gr.Group(elem_classes="sb-card"):
        gr.Markdown(f"### [{page.title}]({page.path})\n{page.description}")
        example = EXAMPLES.get(page.key)
        if example is not None:
            example()
        gr.Markdown(f"[Open the full {page.title} app →]({page.path})")


def render_home(manager: ModelManager, pages: list[AppPage], home: gr.Blocks) -> None:
    """Build the home page's components in ``home`` (the current Blocks context)."""
    gr.Markdown(INTRO)
    gr.Markdown(apps_markdown(pages))
    if pages:
        gr.Markdown(
            "## Try each app here\nEach example is a real call to the app's Python API on "
            "this machine (the first call loads the model, which takes a few seconds)."
        )
        for start in range(0, len(pages), 2):
            with gr.Row(equal_height=False):
                for page in pages[start : start + 2]:
                    with gr.Column():
                        _app_card(page)
    gr.Markdown(
        "## Models\nLoaded on first use and shared by every app. "
        "Choose others with `SPRINGBOARD_MODELS__<ROLE>` (see the README)."
    )
    table = gr.Dataframe(value=models_table(manager), interactive=False, wrap=True)

    def viewers_table() -> pd.DataFrame:
        # Headers and yes/no in the viewer's language; names and descriptions are the models'.
        return tr_frame(models_table(manager))

    gr.Button("Refresh", size="sm").click(viewers_table, outputs=table, api_name=False)
    # Refreshed on every visit so "loaded" is current (not an API endpoint of its own).
    home.load(viewers_table, outputs=table, api_name=False, show_progress="hidden")
