"""Controls: nonsense values get a message naming the control; stop sequences parse."""

from __future__ import annotations

import pytest

from apps.textgen import GenerationOptions
from apps.textgen.options import MAX_STOP_SEQUENCES, parse_stop_text
from core.errors import InvalidInputError


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"temperature": -0.5}, "Temperature must be between 0"),
        ({"temperature": float("nan")}, "Temperature must be a finite"),
        ({"temperature": "hot"}, "Temperature must be a number"),
        ({"top_p": 1.5}, "Top-p must be above 0 and at most 1"),
        ({"top_p": 0}, "Top-p"),
        ({"top_k": -3}, "Top-k"),
        ({"top_k": 2.5}, "Top-k must be a whole number"),
        ({"repetition_penalty": 0}, "Repetition penalty"),
        ({"max_new_tokens": 0}, "Max new tokens must be between 1 and 1024"),
        ({"max_new_tokens": 5000}, "Max new tokens must be between 1 and 1024"),
        ({"max_new_tokens": True}, "Max new tokens must be a number"),
        ({"seed": 1.5}, "Seed must be a whole number"),
        ({"stop": ("",)}, "stop sequence"),
        ({"stop": 5}, "Stop sequences must be a list"),
        ({"stop": tuple(str(i) for i in range(MAX_STOP_SEQUENCES + 1))}, "limit"),
    ],
)
def test_nonsense_controls_are_refused_by_name(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        GenerationOptions(**changes).checked(1024)


def test_valid_controls_are_normalised():
    opts = GenerationOptions(max_new_tokens=10.0, top_k=5.0, seed=3.0, stop="END").checked(1024)
    assert (
        opts.max_new_tokens == 10 and opts.top_k == 5 and opts.seed == 3 and opts.stop == ("END",)
    )


def test_stop_text_is_one_per_line_with_escapes():
    assert parse_stop_text("END\n\n###\n\\n\\n") == ("END", "###", "\n\n")
    assert parse_stop_text(" 8,") == (" 8,",)  # spaces are meaningful
    assert parse_stop_text("") == () and parse_stop_text(None) == ()
