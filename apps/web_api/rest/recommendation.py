"""Recommendation over REST: for a known user, similar items, and cold start.

Served by the recommender the home page uses (``apps.ui_kit.movielens_recommender``:
item-kNN on MovieLens-100k); the page's tabs call the same three ``Recommender``
methods on the model a visitor trained in their own session.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from apps.recommendation import Recommender
from apps.recommendation.api import Recommendation
from apps.ui_kit import movielens_recommender
from core.errors import InvalidInputError

from .common import LimitedBodyRoute, error_responses, limits, not_found

router = APIRouter(prefix="/recommendation", tags=["recommendation"], route_class=LimitedBodyRoute)

MAX_K = 1000  # the Recommender's own bound on k


def recommender() -> Recommender:
    """The served recommender (trained on first use)."""
    return movielens_recommender()


class RecommendationOut(BaseModel):
    item_id: str = Field(examples=["50"])
    title: str = Field(examples=["Star Wars (1977)"])
    score: float
    reason: str = Field(examples=["Because you liked Return of the Jedi (1983)"])
    because_item_id: str | None = None


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
