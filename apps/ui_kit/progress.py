"""One adapter from the app APIs' progress callbacks to Gradio's progress bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[float, str], None]


def progress_callback(progress: Any) -> ProgressFn:
    """A ``(fraction, message)`` callback, as every app API takes, that moves ``progress``.

    ``progress`` is the handler's ``gr.Progress`` (or any callable taking
    ``(fraction, desc=...)``; ``None`` gives a callback that does nothing). The fraction
    is clamped to [0, 1] so a rounding overshoot never confuses the bar.
    """
    if progress is None:
        return lambda fraction, message: None

    def report(fraction: float, message: str) -> None:
        progress(min(1.0, max(0.0, float(fraction))), desc=message)

    return report
