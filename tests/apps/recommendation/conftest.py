"""Session fixtures: MovieLens-100k (from the recbole wheel) and a small real slice of it."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from apps.recommendation import Recommender
from apps.recommendation.data import load_movielens_100k
from apps.recommendation.evaluation import random_split

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")


@pytest.fixture(scope="session")
def movielens() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_movielens_100k()


@pytest.fixture(scope="session")
def ml_slice(movielens) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first 400 users' ratings of movies that at least 10 of them rated (~30k rows)."""
    inter, items = movielens
    users = sorted(inter["user_id"].unique(), key=int)[:400]
    part = inter[inter["user_id"].isin(users)]
    counts = part["item_id"].value_counts()
    part = part[part["item_id"].isin(counts.index[counts >= 10])].reset_index(drop=True)
    return part, items[items["item_id"].isin(part["item_id"])].reset_index(drop=True)


@pytest.fixture(scope="session")
def slice_split(ml_slice):
    inter, _ = ml_slice
    return random_split(inter, seed=7)


# Light settings so the suite stays fast on a 2-core CPU; the bench uses the defaults.
FAST = {"bpr": {"epochs": 15}, "hybrid": {"epochs": 6}, "ease": {"l2": 200.0}}


@pytest.fixture(scope="session")
def trained(slice_split, ml_slice, manager):
    """trained(name): that model fitted once per session on the slice's training split."""
    train, _, _ = slice_split
    cache: dict[str, Recommender] = {}

    def get(name: str) -> Recommender:
        if name not in cache:
            cache[name] = Recommender(name, device="cpu", manager=manager, **FAST.get(name, {})).fit(
                train, ml_slice[1]
            )
        return cache[name]

    return get
