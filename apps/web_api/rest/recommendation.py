"""Recommendation over REST: for a known user, similar items, cold start, and why not.

Each recommended item carries its reasons (the history items behind it, with their
strength) as ``Recommendation.reasons`` does; ``why-not`` is ``Recommender.why_not``:
where an item stands for a user and what ties it to their history.

Served by the recommender the home page uses (``apps.ui_kit.movielens_recommender``:
item-kNN on MovieLens-100k); the page's tabs call the same three ``Recommender``
methods on the model a visitor trained in their own session.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from apps.recommendation import Recommender
from apps.recommendation.api import Recommendation
from apps.recommendation.explain import Reason, WhyNot
from apps.ui_kit import movielens_recommender
from core.errors import InvalidInputError

from .common import LimitedBodyRoute, error_responses, limits, not_found

router = APIRouter(prefix="/recommendation", tags=["recommendation"], route_class=LimitedBodyRoute)

MAX_K = 1000  # the Recommender's own bound on k


def recommender() -> Recommender:
    """The served recommender (trained on first use)."""
    return movielens_recommender()


class ReasonOut(BaseModel):
    item_id: str = Field(description="An item the user liked.", examples=["181"])
    title: str = Field(examples=["Return of the Jedi (1983)"])
    similarity: float = Field(
        description="The model's similarity between it and the recommended item (a cosine; "
        "an EASE weight for EASE)."
    )
    share: float | None = Field(
        None,
        description="Its share (0-1) of the evidence behind the item's score, for models whose "
        "score is a sum over the user's items; else null.",
    )
    strength: float = Field(description="What reasons are ranked by: the share, else the similarity.")


class EvidenceOut(BaseModel):
    word: str
    weight: float = Field(description="How much of the match the word carries (0.3: 30%).")


class RecommendationOut(BaseModel):
    item_id: str = Field(examples=["50"])
    title: str = Field(examples=["Star Wars (1977)"])
    score: float
    reason: str = Field(examples=["Because you liked Return of the Jedi (1983)"])
    because_item_id: str | None = None
    reasons: list[ReasonOut] = Field(
        default_factory=list,
        description='"Because you liked X" and up to two close runner-ups, strongest first.',
    )
    text_evidence: list[EvidenceOut] = Field(
        default_factory=list, description="Hybrid model: the words of the item's text its match rests on."
    )


class WhyNotOut(BaseModel):
    user_id: str
    item_id: str
    title: str
    k: int
    seen: bool = Field(description="The user already has the item (it is never recommended).")
    in_top_k: bool
    rank: int | None = Field(description="Among the items the user has not seen (1 = first); null if seen.")
    candidates: int = Field(description="How many items the user has not seen.")
    score: float | None
    cutoff: float | None = Field(description="The k-th best score: what the item must reach.")
    reasons: list[ReasonOut]
    text_evidence: list[EvidenceOut]


class RecommendationsOut(BaseModel):
    model: str = Field(description="The recommender's model.", examples=["itemknn"])
    items: list[RecommendationOut]


class ColdStartRequest(BaseModel):
    liked_items: list[str] = Field(
        default_factory=list,
        description="Ids of items the new user likes (at most limits.max_batch_items).",
        examples=[["50", "172", "181"]],
    )
    text: str | None = Field(None, description="What they like, in words (hybrid model only).")
    k: int = Field(10, ge=1, le=MAX_K)


def _reasons(reasons: tuple[Reason, ...]) -> list[ReasonOut]:
    return [ReasonOut(item_id=r.item_id, title=r.title, similarity=r.similarity, share=r.share,
                      strength=r.strength) for r in reasons]  # fmt: skip


def _out(rec: Recommender, items: list[Recommendation]) -> RecommendationsOut:
    return RecommendationsOut(
        model=rec.model_name,
        items=[
            RecommendationOut(
                item_id=r.item_id,
                title=r.title or r.item_id,
                score=r.score,
                reason=r.reason,
                because_item_id=r.because_item_id,
                reasons=_reasons(r.reasons),
                text_evidence=[EvidenceOut(word=e.word, weight=e.weight) for e in r.text_evidence],
            )
            for r in items
        ],
    )


@router.get(
    "/users/{user_id}/recommendations",
    summary="Recommend items for a known user",
    response_model=RecommendationsOut,
    responses=error_responses(400, 404),
)
def recommend(
    user_id: str,
    k: int = Query(10, ge=1, le=MAX_K),
    exclude_seen: bool = Query(True, description="Leave out items the user already has."),
):
    """Top-k items for a user with history, each with a score and a reason."""
    rec = recommender()
    if not rec.has_user(user_id):
        raise not_found(
            f"Unknown user {user_id!r}: no history in the training data. "
            "For a new user, POST their liked items to /recommendation/cold-start."
        )
    return _out(rec, rec.recommend(user_id, k=k, exclude_seen=exclude_seen))


@router.get(
    "/users/{user_id}/why-not/{item_id}",
    summary="Why an item is (not) recommended to a user",
    response_model=WhyNotOut,
    responses=error_responses(400, 404),
)
def why_not(user_id: str, item_id: str, k: int = Query(10, ge=1, le=MAX_K)):
    """Where the item ranks among those the user has not seen, its score against the k-th
    best (``cutoff``), and the history items that tie it to the user, with their strength."""
    rec = recommender()
    if not rec.has_user(user_id):
        raise not_found(f"Unknown user {user_id!r}: no history in the training data.")
    if not rec.has_item(item_id):
        raise not_found(f"Unknown item {item_id!r}: it is not in the catalogue.")
    w: WhyNot = rec.why_not(user_id, item_id, k=k)
    return WhyNotOut(
        user_id=w.user_id, item_id=w.item_id, title=w.title or w.item_id, k=w.k, seen=w.seen,
        in_top_k=w.in_top_k, rank=w.rank, candidates=w.candidates, score=w.score, cutoff=w.cutoff,
        reasons=_reasons(w.reasons),
        text_evidence=[EvidenceOut(word=e.word, weight=e.weight) for e in w.text_evidence],
    )  # fmt: skip


@router.get(
    "/items/{item_id}/similar",
    summary="Items similar to an item",
    response_model=RecommendationsOut,
    responses=error_responses(400, 404),
)
def similar(item_id: str, k: int = Query(10, ge=1, le=MAX_K)):
    rec = recommender()
    if not rec.has_item(item_id):
        raise not_found(f"Unknown item {item_id!r}: it is not in the catalogue.")
    return _out(rec, rec.similar_items(item_id, k=k))


@router.post(
    "/cold-start",
    summary="Recommend for a new user from a few liked items",
    response_model=RecommendationsOut,
    responses=error_responses(400, 413),
)
def cold_start(body: ColdStartRequest):
    """Recommendations for someone not in the training data; an unknown liked item is
    bad input (400) that names the item."""
    limit = limits().max_batch_items
    if len(body.liked_items) > limit:
        raise InvalidInputError(
            f"{len(body.liked_items)} liked items; the limit is {limit} "
            "(setting limits.max_batch_items)."
        )
    rec = recommender()
    return _out(rec, rec.recommend_for_new_user(body.liked_items, text=body.text, k=body.k))
