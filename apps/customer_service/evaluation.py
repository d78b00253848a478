"""Test the bot on a company's own labelled questions: how many it would answer rightly.

A startup's first question about customer service is "how often will it answer my
customers rightly?". The Knowledge base tab's expected rates come from the knowledge
base's own phrasings, which sit closer to their entries than customers' words do. Real
customers' questions, each labelled with the entry that answers it (or with none: the
bot should hand it to a person), give the honest figure. This module reads such a file
and scores the bot's decisions; ``CustomerServiceBot.evaluate_answers`` makes them.

The file is a CSV with a ``question`` column and an ``expected_id`` column (also
accepted: ``expected``, ``entry_id``, ``id``). An empty expected id marks a question the
knowledge base cannot answer, which the bot should escalate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.files import check_file_size
from core.settings import Limits

from .datasets import DEMO_DIR
from .importers import MAX_QUESTION_CHARS, clean_text, decode_upload

MAX_QUESTIONS = 2_000  # a test set, not a log: minutes at most, even with the language model
EXPECTED_COLUMNS = ("expected_id", "expected", "entry_id", "id")
# Each demo knowledge base's labelled customer questions. The English demo's are the ones its
# FAQ was written around (in-sample figures); the Chinese demo's (48, and 10 no entry answers)
# were written as customers' everyday wording, and nothing was tuned on them.
DEMO_QUESTIONS = {"demo": DEMO_DIR / "paraphrases.csv", "demo-zh": DEMO_DIR / "paraphrases_zh.csv"}
DEMO_OUT_OF_SCOPE = DEMO_DIR / "out_of_scope.txt"  # the English demo's; the Chinese ones are in its CSV

RIGHT, WRONG, ESCALATED = "right", "wrong", "escalated"
OFF_TOPIC_ESCALATED, OFF_TOPIC_ANSWERED = "off-topic escalated", "off-topic answered"
VERDICTS = (RIGHT, WRONG, ESCALATED, OFF_TOPIC_ESCALATED, OFF_TOPIC_ANSWERED)
# The order a person reads outcomes in: what went wrong first.
MISTAKES_FIRST = (WRONG, OFF_TOPIC_ANSWERED, ESCALATED, OFF_TOPIC_ESCALATED, RIGHT)


@dataclass(frozen=True)
class LabelledQuestion:
    """A customer's question and the entry that answers it ("" if none does)."""

    question: str
    expected_id: str = ""


@dataclass(frozen=True)
class QuestionOutcome:
    """What the bot did with one labelled question, fast and (if asked) checked."""

    question: str
    expected_id: str
    answered_id: str | None  # the entry answered with; None when escalated
    top_id: str | None  # the best match, answered or not
    confidence: float
    verdict: str  # one of VERDICTS
    cross_lingual: bool
    ms: float
    # Escalated with suggestions: the entries listed to the customer meanwhile (else empty).
    suggested_ids: tuple[str, ...] = ()
    checked_answered_id: str | None = None
    checked_confidence: float | None = None
    checked_verdict: str | None = None
    checked_ms: float | None = None
    checked_suggested_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rates:
    """One pipeline's figures over a test set (rates are shares of their group)."""

    answerable: int
    right: float
    wrong: float
    escalated: float
    off_topic: int
    off_topic_escalated: float
    # Answerable questions escalated with their entry among the suggestions shown meanwhile
    # (a share of all answerable questions: right + suggested is how many got their answer).
    suggested_right: float
    cross_lingual: int  # answerable questions in the other language than the knowledge base's
    cross_lingual_right: float
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class AnswerEvaluation:
    """A test set's outcomes: the fast pipeline, and the checked one when asked for."""

    outcomes: list[QuestionOutcome]
    fast: Rates
    checked: Rates | None = None
    checked_by: str | None = None  # the generation model that checked matches in doubt


def verdict(expected_id: str, answered_id: str | None) -> str:
    """The outcome of answering ``answered_id`` (None: escalated) when ``expected_id`` is right."""
    if not expected_id:
        return OFF_TOPIC_ESCALATED if answered_id is None else OFF_TOPIC_ANSWERED
    if answered_id is None:
        return ESCALATED
    return RIGHT if answered_id == expected_id else WRONG


def rates(outcomes: list[QuestionOutcome], checked: bool = False) -> Rates:
    """The figures of the fast pipeline's verdicts, or the checked one's."""
    verdicts = [o.checked_verdict if checked else o.verdict for o in outcomes]
    answerable = [v for o, v in zip(outcomes, verdicts, strict=True) if o.expected_id]
    off_topic = [v for o, v in zip(outcomes, verdicts, strict=True) if not o.expected_id]
    cross = [v for o, v in zip(outcomes, verdicts, strict=True) if o.expected_id and o.cross_lingual]
    ms = np.array([(o.checked_ms if checked else o.ms) or 0.0 for o in outcomes])
    helped = [
        o.expected_id in (o.checked_suggested_ids if checked else o.suggested_ids)
        for o in outcomes
        if o.expected_id
    ]

    def share(group: list[Any], what: str) -> float:
        return round(group.count(what) / len(group), 4) if group else 0.0

    return Rates(
        answerable=len(answerable),
        right=share(answerable, RIGHT),
        wrong=share(answerable, WRONG),
        escalated=share(answerable, ESCALATED),
        off_topic=len(off_topic),
        off_topic_escalated=share(off_topic, OFF_TOPIC_ESCALATED),
        suggested_right=share(helped, True),
        cross_lingual=len(cross),
        cross_lingual_right=share(cross, RIGHT),
        p50_ms=round(float(np.percentile(ms, 50)), 1) if len(ms) else 0.0,
        p95_ms=round(float(np.percentile(ms, 95)), 1) if len(ms) else 0.0,
    )


def normalise_questions(questions: Any) -> list[LabelledQuestion]:
    """``LabelledQuestion``s from a list of them, of ``(question, expected_id)`` pairs, of
    ``{"question", "expected_id"}`` dicts, or of plain strings (questions no entry answers)."""
    if isinstance(questions, str | bytes) or not isinstance(questions, Iterable):
        raise InvalidInputError("Give the questions as a list of (question, expected_id) pairs.")
    out = []
    for n, item in enumerate(questions, start=1):
        if isinstance(item, LabelledQuestion):
            out.append(item)
        elif isinstance(item, str):
            out.append(LabelledQuestion(item))
        elif isinstance(item, dict):
            expected = next((item[c] for c in EXPECTED_COLUMNS if item.get(c)), "")
            out.append(LabelledQuestion(item.get("question", ""), expected))
        elif isinstance(item, tuple | list) and len(item) == 2:
            out.append(LabelledQuestion(item[0], item[1] or ""))
        else:
            raise InvalidInputError(f"Question {n}: expected (question, expected_id), got {type(item).__name__}.")
        if len(out) > MAX_QUESTIONS:  # refused below; no need to read the rest
            break
    return _checked_questions(out)


def parse_labelled_questions(data: bytes, name: str, limits: Limits) -> list[LabelledQuestion]:
    """The questions of an uploaded CSV (UTF-8; see the module's docstring for the columns)."""
    text = decode_upload(data, name, limits)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
        expected = next((c for c in EXPECTED_COLUMNS if c in fields), None)
        if "question" not in fields or expected is None:
            raise InvalidInputError(
                f"{name} needs a 'question' column and an 'expected_id' column "
                "(the id of the entry that answers it; empty when none does)."
            )
        reader.fieldnames = fields
        rows = []
        for n, row in enumerate(reader, start=2):
            question, entry = row.get("question"), row.get(expected)
            if not isinstance(question, str) or not isinstance(entry, str):
                raise InvalidInputError(f"{name}: row {n} has fewer fields than the header.")
            rows.append(LabelledQuestion(question, entry))
            if len(rows) > MAX_QUESTIONS:
                break
    except csv.Error as exc:
        raise InvalidInputError(f"{name} is not a readable CSV: {exc}") from None
    return _checked_questions(rows, name)


def read_labelled_questions(path: str | Path, limits: Limits) -> list[LabelledQuestion]:
    """``parse_labelled_questions`` of a file, refused from its size before it is read."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"No questions CSV at {path}.")
    check_file_size(path, limits.max_upload_mb, what="questions CSV")
    return parse_labelled_questions(path.read_bytes(), path.name, limits)


def demo_questions(kb: str = "demo") -> list[LabelledQuestion]:
    """The labelled customer questions of a demo knowledge base (``"demo"`` or ``"demo-zh"``),
    those no entry answers included."""
    if kb not in DEMO_QUESTIONS:
        raise InvalidInputError(
            "The demo's questions fit the demo knowledge bases only; upload your own customers' "
            "questions (a CSV with question and expected_id columns)."
        )
    with DEMO_QUESTIONS[kb].open(encoding="utf-8") as fh:
        asked = [LabelledQuestion(r["question"], r["expected_id"]) for r in csv.DictReader(fh)]
    if kb == "demo":
        lines = DEMO_OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines()
        asked += [LabelledQuestion(x.strip()) for x in lines if x.strip() and not x.startswith("#")]
    return asked


def check_known(questions: list[LabelledQuestion], known_ids: set[str]) -> None:
    """Refuse a set whose expected entries are not in this knowledge base (most often: the
    file was written for another one), naming a few of them."""
    unknown = sorted({q.expected_id for q in questions if q.expected_id and q.expected_id not in known_ids})
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise InvalidInputError(
            f"{len(unknown)} expected entry id(s) are not in this knowledge base: {shown}. "
            "Use the ids of the Knowledge base tab (or leave expected_id empty for a question "
            "no entry answers)."
        )


def _checked_questions(rows: list[LabelledQuestion], name: str = "The test set") -> list[LabelledQuestion]:
    if not rows:
        raise InvalidInputError(f"{name} holds no questions.")
    if len(rows) > MAX_QUESTIONS:
        raise InvalidInputError(f"{name} holds more than {MAX_QUESTIONS:,} questions; test on a sample.")
    out = []
    for n, row in enumerate(rows, start=1):
        where = f"{name}, question {n}"
        question = clean_text(row.question, "a question", where, MAX_QUESTION_CHARS)
        if not question:
            raise InvalidInputError(f"{where} is empty.")
        if not isinstance(row.expected_id, str):
            raise InvalidInputError(f"{where}: the expected id must be text.")
        out.append(LabelledQuestion(question, row.expected_id.strip()))
    return out


__all__ = [
    "AnswerEvaluation",
    "LabelledQuestion",
    "MISTAKES_FIRST",
    "QuestionOutcome",
    "Rates",
    "VERDICTS",
    "check_known",
    "demo_questions",
    "normalise_questions",
    "parse_labelled_questions",
    "rates",
    "read_labelled_questions",
    "verdict",
]
