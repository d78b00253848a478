"""Discovery of app pages: every ``apps/<name>/ui.py`` that exists becomes a page.

An app's ``ui.py`` defines ``TITLE`` (navbar name), ``DESCRIPTION`` (one line for
the home page) and ``build_ui() -> gr.Blocks``. The suite renders each app's
Blocks under its own route; the same function serves the app alone. What the pages
share (error policy, progress, app objects, charts) is the page toolkit, ``apps.ui_kit``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

# Order on the navbar and the home page; apps not listed here follow alphabetically.
PREFERRED_ORDER = ("customer_service", "recommendation", "speech", "vision", "textgen")


@dataclass(frozen=True)
class AppPage:
    """One app's page, as found in ``apps/<key>/ui.py``."""

    key: str
    title: str
    description: str
    build: Callable[[], gr.Blocks]

    @property
    def path(self) -> str:
        return "/" + self.key.replace("_", "-")


def available_app_keys() -> list[str]:
    """Names of app packages that have a ``ui.py``, in navbar order."""
    root = Path(__file__).parent
    keys = [
        m.name
        for m in pkgutil.iter_modules([str(root)])
        if m.ispkg and (root / m.name / "ui.py").is_file()
    ]
    rank = {k: i for i, k in enumerate(PREFERRED_ORDER)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


def discover_pages(only: list[str] | None = None) -> list[AppPage]:
    """Import the UI module of each app (or of the ones named in ``only``)."""
    keys = available_app_keys()
    if only:
        unknown = sorted(set(only) - set(keys))
        if unknown:
            raise SystemExit(
                f"Unknown app(s): {', '.join(unknown)}. Available: {', '.join(keys) or 'none'}"
            )
        keys = [k for k in keys if k in only]
    pages = []
    for key in keys:
        module = importlib.import_module(f"apps.{key}.ui")
        pages.append(
            AppPage(
                key=key,
                title=getattr(module, "TITLE", key.replace("_", " ").title()),
                description=getattr(module, "DESCRIPTION", ""),
                build=module.build_ui,
            )
        )
    return pages
