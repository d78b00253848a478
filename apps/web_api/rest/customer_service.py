"""Customer service over REST: ask (streaming too), answer tests, knowledge-base entries,
tickets, chats.

Every route calls the function the page calls, on the page's own bot
(``apps.ui_kit.support_bot``), so an entry added here answers on the page at once.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from apps.customer_service import ConflictError, CustomerServiceBot, Reply
from apps.customer_service.evaluation import MAX_QUESTIONS, QuestionOutcome, Rates
from apps.ui_kit import support_bot

from .common import SSE_RESPONSE, LimitedBodyRoute, error_responses, not_found, sse_response

router = APIRouter(
    prefix="/customer-service", tags=["customer service"], route_class=LimitedBodyRoute
)


def bot() -> CustomerServiceBot:
    """The page's bot (made on first use), so the page and the API share one knowledge base."""
    return support_bot()


# --------------------------------------------------------------------------- models
class AskRequest(BaseModel):
    question: str = Field(
        description="The customer's message.", examples=["my card never showed up"]
    )
    session_id: str | None = Field(
        None,
        description="Conversation id (1-64 letters, digits, `_ - . :`); a new one is made if left out.",
        examples=["s1"],
    )
    use_llm: bool | None = Field(
        None, description="Phrase the answer with the language model (default: the bot's setting)."
    )
    check_with_llm: bool | None = Field(
        None,
        description="Let the language model check a match in doubt before the bot answers or "
        "escalates (a second or two more for those questions; default: as `use_llm`). The "
        "answer stays the entry's own words unless `use_llm` is on.",
    )
    stream: bool = Field(False, description="Send partial replies as server-sent events.")
    explain: bool = Field(
        False,
        description="Also give the words that drove the intent (`why.intent_words`, by "
        "occlusion: one more batched embedding call).",
    )


class LabelledQuestionIn(BaseModel):
    question: str = Field(description="A customer's question.", examples=["my card never showed up"])
    expected_id: str = Field(
        "",
        description="The id of the entry that answers it; empty when no entry does (the bot "
        "should escalate it).",
        examples=["card-not-arrived"],
    )


class EvaluateRequest(BaseModel):
    questions: list[LabelledQuestionIn] = Field(
        description=f"Labelled customers' questions (at most {MAX_QUESTIONS:,})."
    )
    check_with_llm: bool = Field(
        False,
        description="Also let the language model check each match in doubt, and report both "
        "pipelines (about a second more for each question it checks).",
    )


class EvaluationOut(BaseModel):
    fast: Rates
    checked: Rates | None
    checked_by: str | None
    outcomes: list[QuestionOutcome]


class SourceOut(BaseModel):
    id: str
    question: str
    category: str
    score: float


class MatchedWordOut(BaseModel):
    word: str
    start: int
    end: int
    whole: bool = Field(description="The word itself is in the entry, not only a piece of it.")


class IntentGuessOut(BaseModel):
    intent: str
    probability: float


class WordInfluenceOut(BaseModel):
    word: str
    start: int
    end: int
    drop: float = Field(description="How much the top intent's probability drops without the word.")


class ExplanationOut(BaseModel):
    """Why this answer: matched words, scores, threshold, intents, and any escalation reason."""

    question: str
    decision: Literal["answered", "escalated", "small talk"]
    threshold: float
    threshold_source: str
    calibration: str
    entry_id: str | None
    entry_question: str | None
    matched: list[MatchedWordOut]
    dense: float | None
    lexical: float | None
    coverage: float | None
    dense_rank: int | None
    lexical_rank: int | None
    confidence: float | None
    intents: list[IntentGuessOut]
    intent_words: list[WordInfluenceOut] | None
    escalation: str | None
    notes: list[str]


class ReplyOut(BaseModel):
    """The bot's answer, with its source, confidence, intent, sentiment and any ticket."""

    answer: str
    source_id: str | None
    confidence: float
    escalated: bool
    intent: str | None
    intent_confidence: float | None
    sentiment: str
    sentiment_score: float
    offer_human: bool
    ticket_id: int | None
    message_id: int | None
    session_id: str
    source_question: str | None
    sources: list[SourceOut]
    suggestions: list[SourceOut] = Field(
        default_factory=list,
        description="Escalated but a likely match: the help entries suggested to the customer.",
    )
    phrased_by_llm: bool
    done: bool
    why: ExplanationOut | None = Field(None, description="On the final reply: why this answer.")


class EntryIn(BaseModel):
    question: str = Field(examples=["How do I freeze my card?"])
    answer: str = Field(examples=["Open the app, tap Card, then Freeze."])
    category: str = Field("", examples=["cards"])
    alternatives: list[str] = Field(
        default_factory=list,
        description="Other ways customers ask the same question.",
        examples=[["can I lock my card", "block my card"]],
    )


class EntryCreate(EntryIn):
    id: str = Field(
        "", description="Entry id; derived from the question if empty.", examples=["freeze-card"]
    )


class EntryUpdate(EntryIn):
    expected_version: int | None = Field(
        None, description="Refuse (409) if the entry changed since this version was read."
    )


class EntryOut(BaseModel):
    id: str
    question: str
    answer: str
    category: str
    alternatives: list[str]
    version: int


class TicketOut(BaseModel):
    id: int
    session_id: str
    question: str
    reason: str
    status: Literal["open", "closed"]
    created_at: float
    closed_at: float | None = None


class TicketUpdate(BaseModel):
    status: Literal["closed"] = Field(description="Only closing is supported.", examples=["closed"])


class MessageOut(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    intent: str | None = None
    source_id: str | None = None
    confidence: float | None = None
    escalated: bool = False
    created_at: float


class HandoverOut(BaseModel):
    ticket_id: int


class FeedbackIn(BaseModel):
    helpful: bool


def _reply(reply: Reply) -> dict:
    return reply.to_dict()


def _entry(entry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        question=entry.question,
        answer=entry.answer,
        category=entry.category,
        alternatives=list(entry.alternatives),
        version=entry.version,
    )


# --------------------------------------------------------------------------- ask
@router.post(
    "/ask",
    summary="Answer a customer's message",
    response_model=ReplyOut,
    responses={
        **error_responses(400, 413, 429),
        200: {
            "content": SSE_RESPONSE["content"],
            "description": "The reply; with `stream: true`, server-sent events of partial replies, the last with `done: true`, then `data: [DONE]`.",
        },
    },
)
def ask(body: AskRequest):
    """Answers from the knowledge base (the same `ask_stream` the chat page uses), or
    escalates to a person with a ticket when no entry is a confident match."""
    replies = bot().ask_stream(
        body.question,
        session_id=body.session_id,
        use_llm=body.use_llm,
        explain=body.explain,
        check_with_llm=body.check_with_llm,
    )
    first = next(replies)  # bad input fails here, as a plain error response
    if not body.stream:
        final = first
        for final in replies:  # noqa: B007 - keep the last
            pass
        return _reply(final)

    def close() -> None:
        # The client went away: stop phrasing the answer. A ValueError means the generator
        # is mid-step in its worker thread; it then ends at its next reply, unread.
        with contextlib.suppress(ValueError):
            replies.close()

    return sse_response(first, replies, _reply, close=close)


# --------------------------------------------------------------------------- answer tests
@router.post(
    "/evaluate",
    summary="Test the bot on labelled questions",
    response_model=EvaluationOut,
    responses=error_responses(400, 413, 429),
)
def evaluate(body: EvaluateRequest):
    """How the bot answers each question (the page's "Test the bot" panel): right, wrong,
    escalated, off-topic escalated and latency, with and without the language model's check.
    Nothing is stored: no conversation, no ticket."""
    result = bot().evaluate_answers(
        [(q.question, q.expected_id) for q in body.questions], check_with_llm=body.check_with_llm
    )
    return asdict(result)


# --------------------------------------------------------------------------- knowledge base
@router.get("/entries", summary="List knowledge-base entries", response_model=list[EntryOut])
def list_entries():
    return [_entry(e) for e in bot().entries()]


@router.get(
    "/entries/{entry_id}",
    summary="One knowledge-base entry",
    response_model=EntryOut,
    responses=error_responses(404),
)
def get_entry(entry_id: str):
    b = bot()
    if not b.has_entry(entry_id):
        raise not_found(f"No knowledge-base entry with id {entry_id!r}.")
    return _entry(b.entry(entry_id))


@router.post(
    "/entries",
    summary="Add a knowledge-base entry",
    status_code=201,
    response_model=EntryOut,
    responses=error_responses(400, 409, 413),
)
def create_entry(body: EntryCreate):
    """Adds an entry (embedded and indexed at once). An id that exists is refused (409):
    change an entry with PUT."""
    b = bot()
    if body.id.strip() and b.has_entry(body.id):
        raise HTTPException(
            409, f"An entry with id {body.id.strip()!r} exists; update it with PUT."
        )
    try:
        entry, added = b.save_entry(
            body.id, body.question, body.answer, body.category, body.alternatives
        )
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    if not added:  # an id derived from the question that exists already
        raise HTTPException(409, f"An entry with id {entry.id!r} exists; update it with PUT.")
    return _entry(entry)


@router.put(
    "/entries/{entry_id}",
    summary="Replace a knowledge-base entry",
    response_model=EntryOut,
    responses=error_responses(400, 404, 409, 413),
)
def update_entry(entry_id: str, body: EntryUpdate):
    """Replaces the entry's text. Nothing is stored unless the whole entry is valid; with
    `expected_version`, refused (409) if someone changed it in between."""
    b = bot()
    if not b.has_entry(entry_id):
        raise not_found(f"No knowledge-base entry with id {entry_id!r}.")
    try:
        entry, _ = b.save_entry(
            entry_id,
            body.question,
            body.answer,
            body.category,
            body.alternatives,
            expected_version=body.expected_version,
        )
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    return _entry(entry)


@router.delete(
    "/entries/{entry_id}",
    summary="Delete a knowledge-base entry",
    status_code=204,
    responses=error_responses(404, 409),
)
def delete_entry(entry_id: str, expected_version: int | None = None):
    b = bot()
    if not b.has_entry(entry_id):
        raise not_found(f"No knowledge-base entry with id {entry_id!r}.")
    try:
        b.delete_entry(entry_id, expected_version=expected_version)
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    return Response(status_code=204)


# --------------------------------------------------------------------------- tickets
@router.get("/tickets", summary="List escalation tickets", response_model=list[TicketOut])
def list_tickets(status: Literal["open", "closed", "all"] = Query("open")):
    return bot().tickets(None if status == "all" else status)


@router.get(
    "/tickets/{ticket_id}",
    summary="One escalation ticket",
    response_model=TicketOut,
    responses=error_responses(404),
)
def get_ticket(ticket_id: int):
    ticket = bot().ticket(ticket_id)
    if ticket is None:
        raise not_found(f"There is no ticket #{ticket_id}.")
    return ticket


@router.patch(
    "/tickets/{ticket_id}",
    summary="Close an escalation ticket",
    response_model=TicketOut,
    responses=error_responses(400, 404, 409),
)
def update_ticket(ticket_id: int, body: TicketUpdate):
    b = bot()
    ticket = b.ticket(ticket_id)
    if ticket is None:
        raise not_found(f"There is no ticket #{ticket_id}.")
    if ticket["status"] == body.status:
        raise HTTPException(409, f"Ticket #{ticket_id} is {body.status} already.")
    b.close_ticket(ticket_id)
    return b.ticket(ticket_id)


# --------------------------------------------------------------------------- conversations
@router.get(
    "/conversations/{session_id}",
    summary="The messages of a conversation",
    response_model=list[MessageOut],
    responses=error_responses(400, 404),
)
def conversation(session_id: str):
    messages = bot().history(session_id)
    if not messages:
        raise not_found(f"There is no conversation {session_id!r}.")
    return [{**m, "escalated": bool(m.get("escalated"))} for m in messages]


@router.post(
    "/conversations/{session_id}/handover",
    summary="Hand a conversation over to a person",
    response_model=HandoverOut,
    responses=error_responses(400, 404),
)
def handover(session_id: str):
    """Opens an escalation ticket for the conversation (or returns its open one)."""
    b = bot()
    if not b.history(session_id):
        raise not_found(f"There is no conversation {session_id!r}.")
    return HandoverOut(ticket_id=b.request_human(session_id))


@router.post(
    "/messages/{message_id}/feedback",
    summary="Rate one of the bot's answers",
    status_code=204,
    responses=error_responses(400),
)
def feedback(message_id: int, body: FeedbackIn):
    bot().feedback(message_id, body.helpful)
    return Response(status_code=204)


__all__ = ["router"]
