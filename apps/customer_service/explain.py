"""Why the bot answered as it did: the evidence behind one reply, in a typed record.

Most of it is what answering computed anyway: the chosen entry's dense and BM25
scores, the calibrated confidence, the threshold, the intent probabilities. The
words of the question that matched the entry are the question's words whose BM25
tokens (same normalisation and tokenisation as the index, jieba for Chinese) the
entry also has. The words that drove the intent are found by occlusion (Li, Monroe
and Jurafsky 2016, "Understanding Neural Networks through Representation Erasure"):
the question is embedded again with each word left out, all in one batched call,
and a word's weight is how much the top intent's probability drops without it.
Occlusion costs one embedding per word, so it runs only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .lexical import primary_term, tokenize, word_spans
from .retrieval import Retrieval

# Labels of the highlighted question (the page's colour map uses the same words).
WHOLE = "matched"
PART = "partly matched"  # shares only character n-grams or single characters


@dataclass
class MatchedWord:
    """A word of the question that the entry also contains (offsets into the question)."""

    word: str
    start: int
    end: int
    whole: bool  # the word itself is in the entry, not only its n-grams or characters


@dataclass
class IntentGuess:
    """One of the intent model's most likely intents."""

    intent: str
    probability: float


@dataclass
class WordInfluence:
    """How much the top intent's probability drops when this word is left out."""

    word: str
    start: int
    end: int
    drop: float


@dataclass
class Explanation:
    """Why this answer: the evidence behind one reply.

    ``entry_id`` is the answered entry, or when the bot escalated for lack of
    confidence, the best match it did not use. ``intent_words`` is None unless
    occlusion was asked for (``reply(..., explain=True)`` or ``bot.explain``).
    """

    question: str  # the text that was searched (a follow-up includes the previous question)
    decision: str  # "answered", "escalated" or "small talk"
    threshold: float
    threshold_source: str  # "default" or "set by hand"
    calibration: str  # which confidence map, in words: this knowledge base's, its cross-language one, generic
    entry_id: str | None = None
    entry_question: str | None = None
    matched: list[MatchedWord] = field(default_factory=list)
    dense: float | None = None  # cosine similarity of question and entry
    lexical: float | None = None  # BM25 score of the entry
    coverage: float | None = None  # IDF-weighted share of the question's tokens the entry has
    dense_rank: int | None = None  # 1 = first
    lexical_rank: int | None = None
    confidence: float | None = None  # calibrated P(the entry answers the question)
    intents: list[IntentGuess] = field(default_factory=list)
    intent_words: list[WordInfluence] | None = None
    escalation: str | None = None  # one sentence, when escalated
    notes: list[str] = field(default_factory=list)

    @property
    def matched_words(self) -> list[str]:
        return [m.word for m in self.matched]

    def highlights(self) -> list[tuple[str, str | None]]:
        """The question cut into (text, label) pieces: ``WHOLE``, ``PART`` or None."""
        pieces: list[tuple[str, str | None]] = []
        at = 0
        for m in self.matched:
            if m.start > at:
                pieces.append((self.question[at : m.start], None))
            pieces.append((self.question[m.start : m.end], WHOLE if m.whole else PART))
            at = m.end
        if at < len(self.question):
            pieces.append((self.question[at:], None))
        return pieces


def matched_words(text: str, entry_terms: frozenset[str]) -> list[MatchedWord]:
    """The words of ``text`` whose BM25 tokens the entry (its ``entry_terms``) also has."""
    found = []
    for start, end in word_spans(text):
        word = text[start:end]
        terms = set(tokenize(word))  # empty for stop words: they never count for BM25
        if terms & entry_terms:
            whole = primary_term(word) in entry_terms
            found.append(MatchedWord(word, start, end, whole))
    return found


def top_intents(labels: Sequence[str], probabilities: np.ndarray, k: int = 3) -> list[IntentGuess]:
    best = np.argsort(probabilities)[::-1][:k]
    return [IntentGuess(labels[i], round(float(probabilities[i]), 4)) for i in best]


def occlusion(
    text: str,
    probabilities: Callable[[list[str]], np.ndarray],
    max_words: int,
) -> tuple[int, list[WordInfluence]]:
    """The top intent of ``text`` and each word's influence on it, largest drop first.

    ``probabilities`` maps texts to intent probabilities in one batched call; the text
    itself goes in the same batch, so every drop is measured against the same run.
    Only the first ``max_words`` words are left out in turn. A word that is the whole
    text is measured against a text-free guess (the uniform distribution).
    """
    spans = word_spans(text)[:max_words]
    variants = [" ".join((text[:s] + text[e:]).split()) for s, e in spans]
    asked = [text, *[v for v in variants if v]]
    probs = probabilities(asked)
    top = int(np.argmax(probs[0]))
    p_top = float(probs[0, top])
    uniform = 1.0 / probs.shape[1]
    rows = iter(probs[1:, top])
    influences = [
        WordInfluence(text[s:e], s, e, round(p_top - (float(next(rows)) if v else uniform), 4))
        for (s, e), v in zip(spans, variants, strict=True)
    ]
    influences.sort(key=lambda w: -w.drop)
    return top, influences


# ------------------------------------------------------------------ the sentences
def asked_for_human(phrase: str) -> str:
    return f'Escalated: the customer asked for a person ("{phrase}").'


def intent_asked_for_human(intent: str, probability: float) -> str:
    return (
        f"Escalated: the intent model read the message as a request for a person "
        f"({intent}, {probability:.2f})."
    )


ACCEPTED_OFFER = "Escalated: the customer accepted the offer to talk to a person."
NOTHING_FOUND = "Escalated: no entry in the knowledge base came close to the question."


def below_threshold(retrieval: Retrieval, threshold: float) -> str:
    """Why a question with a best match was not answered from it."""
    top = retrieval.top
    assert top is not None
    figures = f"had confidence {retrieval.confidence:.2f}, below the threshold {threshold:.2f}."
    if retrieval.lexical_hits == 0:
        return (
            "Escalated: no entry shares a word with the question, and the closest in meaning, "
            f"'{top.entry.question}', {figures}"
        )
    return f"Escalated: the best match '{top.entry.question}' {figures}"


def small_talk_note(retrieval: Retrieval, threshold: float) -> str:
    return (
        "Answered as small talk: the words are a greeting or thanks, and no entry was "
        f"confident enough ({retrieval.confidence:.2f}, threshold {threshold:.2f})."
    )


def suggestions_note(confidence: float, floor: float) -> str:
    return (
        "Suggested the best entries to the customer with the ticket: a likely match "
        f"(confidence {confidence:.2f}, suggestion floor {floor:.2f})."
    )


def angry_note(score: float) -> str:
    return f"Offered a person: the message reads as angry (sentiment {score:+.2f})."


FOLLOW_UP_NOTE = "Read as a follow-up: matched together with the previous question."


def from_retrieval(explanation: Explanation, retrieval: Retrieval, entry_terms: frozenset[str]) -> None:
    """Fill in the best match's scores and matched words from what retrieval found."""
    top = retrieval.top
    explanation.confidence = round(float(retrieval.confidence), 4)
    if top is None:
        return
    explanation.entry_id = top.entry.id
    explanation.entry_question = top.entry.question
    explanation.dense = round(float(top.dense), 4)
    explanation.lexical = round(float(top.bm25), 4)
    explanation.coverage = round(float(top.coverage), 4)
    explanation.dense_rank = None if top.dense_rank is None else top.dense_rank + 1
    explanation.lexical_rank = None if top.lexical_rank is None else top.lexical_rank + 1
    explanation.matched = matched_words(explanation.question, entry_terms)


__all__ = [
    "Explanation",
    "IntentGuess",
    "MatchedWord",
    "WordInfluence",
    "matched_words",
    "occlusion",
]
