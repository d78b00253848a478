"""Which column of an uploaded file is the user, the item, the rating, the time or the event.

People's files name these columns in many ways: MovieLens' ``userId,movieId``, a shop's
``customer_id,product_id`` or ``sku``, an event log's ``event_time,event_type``. A
``ColumnMapping`` says which column plays which role; ``guess_mapping`` fills one in from
the header (case and separators ignored: ``userId``, ``user_id``, ``User ID`` and
``user-id`` are the same name), and the page lets people change it before loading.

Implicit feedback from an event log (no rating): map the event column instead. Each event
becomes a weight (``DEFAULT_EVENT_WEIGHTS``: view 1, cart 2, purchase 3; weight 0 drops the
event, as for ``remove_from_cart``), and each (user, item) pair becomes one interaction
with the strongest event's weight as its ``rating``, at the first time that event
happened. The models treat every kept interaction as one positive; the weight decides
what is kept (``view=0`` trains on carts and purchases only, and ``min_rating`` filters
by it) and is shown in a user's history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InvalidInputError

ROLES = ("user", "item", "rating", "timestamp", "event")
CANONICAL = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
NONE = "(none)"  # the page's choice for "this file has no such column"


def column_key(name: object) -> str:
    """A column name compared without case, separators or a RecBole ``:type`` suffix."""
    return re.sub(r"[\s_\-.]+", "", str(name).split(":")[0]).lower()


# Candidate names per role, most specific first; compared by ``column_key``.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "user": (
        "userid", "user", "customerid", "customer", "visitorid", "visitor", "clientid",
        "memberid", "accountid", "buyerid", "readerid", "reviewerid", "uid", "用户id", "用户",
        "客户id", "客户",
    ),
    "item": (
        "itemid", "item", "productid", "product", "movieid", "movie", "sku", "skuid", "asin",
        "articleid", "bookid", "isbn", "trackid", "songid", "contentid", "goodsid", "offerid",
        "iid", "商品id", "商品", "物品id",
    ),
    "rating": ("rating", "ratings", "score", "stars", "rate", "评分"),
    "timestamp": (
        "timestamp", "eventtime", "time", "datetime", "date", "ts", "createdat", "orderdate",
        "unixtime", "时间",
    ),
    # Only names that clearly mean an event: a guessed "type" could be anything.
    "event": ("eventtype", "event", "behaviortype", "behavior", "behaviour", "interactiontype", "行为"),
}  # fmt: skip

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    # looked at
    "view": 1, "pv": 1, "click": 1, "detail": 1, "pageview": 1, "visit": 1,
    # wanted
    "cart": 2, "addtocart": 2, "fav": 2, "favorite": 2, "favourite": 2, "wishlist": 2, "like": 2,
    # bought
    "purchase": 3, "buy": 3, "order": 3, "transaction": 3, "checkout": 3,
    # taken back: not a signal of interest
    "removefromcart": 0,
}  # fmt: skip


@dataclass(frozen=True)
class ColumnMapping:
    """The file's column for each role; ``None`` where the file has none.

    ``event_weights`` (event name: weight) applies when ``event`` is set; names are
    compared like column names (``add_to_cart`` is ``addtocart``).
    """

    user: str | None = None
    item: str | None = None
    rating: str | None = None
    timestamp: str | None = None
    event: str | None = None
    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))

    def roles(self) -> dict[str, str]:
        """Role: column, for the roles that are mapped."""
        return {r: getattr(self, r) for r in ROLES if getattr(self, r)}

    def check(self, header: Sequence[object]) -> None:
        """Raise ``InvalidInputError`` unless this mapping fits a file with ``header``."""
        names = [str(c) for c in header]
        found = ", ".join(names) or "none"
        missing = [r for r in ("user", "item") if not getattr(self, r)]
        if missing:
            raise InvalidInputError(
                f"Choose the {' and the '.join(missing)} column: every interaction needs a user and "
                f"an item (the file's columns: {found})."
            )
        for role, column in self.roles().items():
            if column not in names:
                raise InvalidInputError(
                    f"The {role} column {column!r} is not in the file; its columns are {found}."
                )
        used: dict[str, str] = {}
        for role, column in self.roles().items():
            if column in used:
                raise InvalidInputError(
                    f"Column {column!r} is chosen as both the {used[column]} and the {role}; "
                    "each role needs its own column."
                )
            used[column] = role
        if self.rating and self.event:
            raise InvalidInputError(
                "Choose a rating column or an event column, not both: events become the rating "
                "(their weight)."
            )


def guess_mapping(header: Iterable[object]) -> ColumnMapping:
    """The mapping that common column names suggest; roles with no likely column stay ``None``.

    An event column is guessed only when no rating column is found.
    """
    names = [str(c) for c in header]
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(column_key(name), name)
    chosen: dict[str, str | None] = {}
    taken: set[str] = set()
    for role in ROLES:
        chosen[role] = None
        if role == "event" and chosen["rating"]:
            continue
        for candidate in CANDIDATES[role]:
            name = by_key.get(candidate)
            if name is not None and name not in taken:
                chosen[role] = name
                taken.add(name)
                break
    return ColumnMapping(**chosen)


def parse_event_weights(text: str | None) -> dict[str, float]:
    """``"view=1, cart=2, purchase=3"`` as a dict; empty text gives the defaults."""
    if not text or not text.strip():
        return dict(DEFAULT_EVENT_WEIGHTS)
    weights: dict[str, float] = {}
    for part in re.split(r"[,;\n]+", text):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not name.strip() or not np.isfinite(weight) or weight < 0:
            raise InvalidInputError(
                f"Event weights are written 'view=1, cart=2, purchase=3' (0 drops an event); "
                f"could not read {part.strip()!r}."
            )
        weights[column_key(name)] = weight
    return weights


def apply_mapping(df: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """The mapped columns under their standard names (user_id, item_id, rating, timestamp).

    With an event column, ``rating`` holds each event's weight and events of weight 0 are
    dropped; ``collapse_events`` then keeps one row per (user, item).
    """
    mapping.check(list(df.columns))
    out = pd.DataFrame(
        {CANONICAL[role]: df[column] for role, column in mapping.roles().items() if role != "event"}
    )
    if mapping.event:
        out["rating"] = event_weights(df[mapping.event], mapping.event_weights, mapping.event)
        out = out[out["rating"] > 0]
        if out.empty:
            raise InvalidInputError("Every event has weight 0, so no interaction is left.")
    return out.reset_index(drop=True)


def event_weights(events: pd.Series, weights: Mapping[str, float], column: str) -> pd.Series:
    """Each event's weight; an event name with no weight is an error that names it."""
    table = {column_key(k): float(v) for k, v in weights.items()}
    keys = events.astype("string").fillna("").map(column_key)
    unknown = sorted(set(keys[~keys.isin(table)]))
    if unknown:
        shown = ", ".join(repr(u) if u else "(empty)" for u in unknown[:8])
        raise InvalidInputError(
            f"Column {column!r} has events with no weight: {shown}. Give each a weight, e.g. "
            f"'view=1, cart=2, purchase=3' (0 drops an event)."
        )
    return keys.map(table).astype(np.float64)


def collapse_events(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item): the strongest event's weight, at the first time it happened."""
    order = ["rating"] + (["timestamp"] if "timestamp" in df else [])
    ranked = df.reset_index().sort_values(order, ascending=[False] + [True] * (len(order) - 1), kind="stable")
    kept = ranked.drop_duplicates(["user_id", "item_id"], keep="first")
    return kept.sort_values("index").drop(columns="index").reset_index(drop=True)


# --------------------------------------------------------------------------- item metadata
ITEM_TEXT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "productname", "itemname", "movietitle", "标题", "名称"),
    "text": ("text", "description", "overview", "summary", "描述"),
    "tags": ("tags", "genres", "genre", "categories", "category", "categorycode", "keywords", "标签"),
}


def item_columns(header: Iterable[object]) -> dict[str, str]:
    """Standard item-metadata name for each recognised column (item_id, title, text, tags)."""
    names = [str(c) for c in header]
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(column_key(name), name)
    renames: dict[str, str] = {}
    item = guess_mapping(names).item
    if item is not None:
        renames[item] = "item_id"
    for standard, candidates in ITEM_TEXT_CANDIDATES.items():
        name = next((by_key[c] for c in candidates if c in by_key and by_key[c] not in renames), None)
        if name is not None:
            renames[name] = standard
    return renames


# --------------------------------------------------------------------------- the page's choices
def mapping_from_choices(
    user: str | None,
    item: str | None,
    rating: str | None = None,
    timestamp: str | None = None,
    event: str | None = None,
    weights: str | None = None,
) -> ColumnMapping | None:
    """The page's dropdowns as a mapping; ``None`` (guess at load) when nothing was chosen."""

    def pick(value: str | None) -> str | None:
        return None if value in (None, "", NONE) else str(value)

    chosen = {"user": pick(user), "item": pick(item), "rating": pick(rating),
              "timestamp": pick(timestamp), "event": pick(event)}  # fmt: skip
    if not any(chosen.values()):
        return None
    return ColumnMapping(**chosen, event_weights=parse_event_weights(weights))
