"""The home page: what the suite is, which apps are here, which models back them."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from core.manager import ModelManager

from .pages import AppPage
from .theme import SUITE_NAME

INTRO = f"""
# {SUITE_NAME}

Five AI products served from one machine, on one shared model core. Every model
runs locally from an installed package: nothing is sent to a third party, and it
works offline.

Each app has a Python API for building your own product and a page here for
showing it. The **Status** page shows the shared core at work: which models are
loaded, on which device, how much memory they use, and how requests are batched.
"""


def models_table(manager: ModelManager) -> pd.DataFrame:
    """Every registered model, its role, where it comes from, and whether it is loaded."""
    chosen = manager.settings.models.model_dump()
    rows = [
        {
            "role": spec.role,
            "model": spec.name,
            "default for role": "yes" if chosen.get(spec.role) == spec.name else "",
            "loaded": "yes" if manager.is_loaded(spec.name) else "no",
            "about": spec.description,
            "weights from": spec.source,
        }
        for spec in manager.registry.specs()
    ]
    return pd.DataFrame(rows).sort_values(["role", "model"]) if rows else pd.DataFrame()


def apps_markdown(pages: list[AppPage]) -> str:
    if not pages:
        return "_No app pages are installed yet._"
    lines = ["## Apps", ""]
    lines += [f"- **[{p.title}]({p.path})**: {p.description}" for p in pages]
    return "\n".join(lines)


def render_home(manager: ModelManager, pages: list[AppPage]) -> None:
    """Build the home page's components in the current Blocks context."""
    gr.Markdown(INTRO)
    gr.Markdown(apps_markdown(pages))
    gr.Markdown(
        "## Models\nLoaded on first use and shared by every app. "
        "Choose others with `SPRINGBOARD_MODELS__<ROLE>` (see the README)."
    )
    table = gr.Dataframe(value=models_table(manager), interactive=False, wrap=True)
    gr.Button("Refresh", size="sm").click(
        lambda: models_table(manager), outputs=table, api_name=False
    )
