"""Chat history as the page's Chatbot holds it, turned into plain model messages."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInputError


def plain_messages(history: list[Any] | None) -> list[dict[str, str]]:
    """``[{"role", "content"}]`` with text content, from Chatbot messages.

    Gradio hands content over as a string or as a list of parts
    (``{"type": "text", "text": ...}``); files and components are skipped, since
    the language model reads text only.
    """
    out: list[dict[str, str]] = []
    for message in history or []:
        if not isinstance(message, dict) or message.get("role") not in (
            "user",
            "assistant",
            "system",
        ):
            raise InvalidInputError(
                f"A chat message must have a user or assistant role, got {message!r:.80}."
            )
        content = message.get("content")
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
        elif isinstance(content, dict) and content.get("type") == "text":
            text = str(content.get("text", ""))
        else:
            text = ""
        if text:
            out.append({"role": message["role"], "content": text})
    return out
