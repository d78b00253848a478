"""One look for every page: theme and a little CSS."""

from __future__ import annotations

import gradio as gr

SUITE_NAME = "Springboard"

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky")

CSS = """
.sb-card {border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 14px;}
.sb-muted {color: var(--body-text-color-subdued); font-size: 0.9em;}
footer {visibility: hidden;}
"""
