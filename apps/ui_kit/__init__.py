"""The page toolkit: what every app page uses, so each ``ui.py`` holds only its layout.

- ``page_errors``: the one error policy for Gradio handlers (``errors.py``);
- ``progress_callback``: app API progress callbacks to ``gr.Progress`` (``progress.py``);
- ``Lazy`` and the apps' shared objects (``support_bot``, ``image_recognizer``,
  ``transcriber``, ``text_generator``, ``movielens_recommender``; ``singletons.py``);
- ``confusion_figure``, ``curves_figure``, ``bars_figure``: charts that need no closing
  (``figures.py``);
- ``tr``, ``tr_text``, ``tr_markdown``, ``tr_frame``: text built at run time, in the viewer's
  language (``language.py``; the static labels are Gradio's i18n, ``i18n.py``).

Page discovery (which apps have a page) is ``apps.pages``.
"""

from __future__ import annotations

from .errors import INTERNAL_ERROR, page_error, page_errors
from .figures import bars_figure, confusion_figure, curves_figure
from .language import tr, tr_frame, tr_markdown, tr_text, viewer_language
from .progress import ProgressFn, progress_callback
from .singletons import (
    Lazy,
    LazyByKey,
    image_recognizer,
    movielens_recommender,
    support_bot,
    text_generator,
    transcriber,
)

__all__ = [
    "INTERNAL_ERROR",
    "Lazy",
    "LazyByKey",
    "ProgressFn",
    "bars_figure",
    "confusion_figure",
    "curves_figure",
    "image_recognizer",
    "movielens_recommender",
    "page_error",
    "page_errors",
    "progress_callback",
    "support_bot",
    "text_generator",
    "tr",
    "tr_frame",
    "tr_markdown",
    "tr_text",
    "transcriber",
    "viewer_language",
]
