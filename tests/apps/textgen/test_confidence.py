"""Token confidence: probabilities through the Python API, and the text coloured by them."""

from __future__ import annotations

import math

from apps.textgen import ScoredText, TokenConfidence
from apps.textgen.confidence import BANDS, confidence_html, segments

ASK = "Name three colours."


def test_generate_with_logprobs_returns_the_same_text_with_token_probabilities(gen) -> None:
    plain = gen.generate(ASK, max_new_tokens=16, temperature=0)
    scored = gen.generate(ASK, max_new_tokens=16, temperature=0, logprobs=True)
    assert type(plain) is str and isinstance(scored, ScoredText)
    assert scored == plain and scored.tokens
    assert all(0.0 < t.probability <= 1.0 and math.isclose(t.probability, math.exp(t.logprob))
               for t in scored.tokens)  # fmt: skip
    # Greedy decoding of the tiny model is mostly sure of itself, never sure of everything.
    assert max(t.probability for t in scored.tokens) > 0.5
    assert min(t.probability for t in scored.tokens) < 0.999
    assert "".join(t.text for t in scored.tokens).startswith(plain)


def test_a_stream_gathers_token_probabilities_as_it_goes(gen) -> None:
    stream = gen.stream(ASK, max_new_tokens=16, temperature=0, logprobs=True)
    counts = [len(stream.tokens) for _ in stream]
    assert counts == sorted(counts) and counts[0] >= 1
    assert len(stream.tokens) == len(stream.result.token_logprobs)
    assert not gen.stream(ASK, max_new_tokens=4, temperature=0).tokens  # not asked: none kept


def test_tokens_cut_by_a_stop_string_still_colour_exactly_the_text(gen) -> None:
    full = gen.generate(ASK, max_new_tokens=16, temperature=0)
    stop = full.split()[2] if len(full.split()) > 2 else full[-2:]
    cut = gen.generate(ASK, max_new_tokens=16, temperature=0, stop=[stop], logprobs=True)
    assert stop not in cut
    assert "".join(piece for piece, _ in segments(cut, cut.tokens)) == cut


def test_segments_join_partial_characters_and_cover_the_text() -> None:
    tok = lambda text, p: TokenConfidence(text, p, math.log(p))  # noqa: E731
    # "咖啡" where the first character took two tokens, each half of it.
    parts = segments("咖啡 ok", [tok("\ufffd", 0.5), tok("\ufffd", 0.5), tok("啡", 0.9), tok(" ok", 0.3)])
    assert parts == [("咖", 0.25), ("啡", 0.9), (" ok", 0.3)]
    assert segments("ab", []) == [("ab", None)]


def test_the_coloured_view_escapes_the_text_and_has_a_legend() -> None:
    tokens = [TokenConfidence("<b>", 0.95, math.log(0.95)), TokenConfidence("hi", 0.1, math.log(0.1))]
    out = confidence_html("<b>hi", tokens)
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert out.count('class="sb-conf"') == 2 and 'title="10.0% (guess' in out
    assert all(label.split(" (")[0] in out for _, label, _ in BANDS)


def test_the_write_tab_colours_the_text_while_it_streams(manager) -> None:
    from apps.textgen import ui
    from apps.textgen.templates import MAX_FIELDS
    from shared_models.text_generation import TINY

    fields = [ASK] + [""] * (MAX_FIELDS - 1)
    controls = [24, 0.0, 0.8, 20, 1.0, -1, "", None]
    outputs = list(ui.write(TINY, "free_chat", None, None, *fields, *controls, True))
    assert len(outputs) >= 3
    streaming = [o[-1] for o in outputs[:-1]]
    assert any('class="sb-conf"' in html for html in streaming)  # coloured while it streams
    text, *_rest, coloured = outputs[-1]
    assert 'class="sb-conf"' in coloured and "Model confidence per token" in coloured
