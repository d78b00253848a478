"""Text embedding role: ``handle.call(["text", ...])`` returns one unit-length float32 vector per text.

The inputs are plain strings and the outputs numpy arrays, so the role needs no request
types; this module names the role and its default model for settings and apps.
"""

from __future__ import annotations

ROLE = "embedding"
DEFAULT_MODEL = "minilm-l6"  # all-MiniLM-L6-v2, 384 dimensions
