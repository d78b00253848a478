"""Save/load round trips (no pickle) and cold start of new users and new items."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from apps.recommendation import Recommender
from apps.recommendation.models import MODELS
from core.errors import InvalidInputError


@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_round_trip(name, trained, slice_split, tmp_path, manager):
    rec = trained(name)
    user = slice_split[0]["user_id"].iloc[3]
    before = rec.recommend(user, k=10)
    folder = rec.save(tmp_path / name)
    assert sorted(p.name for p in folder.iterdir()) == ["history.npz", "model.safetensors", "recommender.json"]
    json.loads((folder / "recommender.json").read_text())  # plain JSON
    np.load(folder / "history.npz", allow_pickle=False)  # no pickled objects inside
    again = Recommender.load(folder, manager=manager, device="cpu")
    after = again.recommend(user, k=10)
    assert [r.item_id for r in after] == [r.item_id for r in before]
    assert np.allclose([r.score for r in after], [r.score for r in before], atol=1e-5)
    assert [r.reason for r in after] == [r.reason for r in before]
    assert [r.item_id for r in again.similar_items("50", 5)] == [r.item_id for r in rec.similar_items("50", 5)]
    a = again.recommend_for_new_user(["50", "181"], k=5)
    b = rec.recommend_for_new_user(["50", "181"], k=5)
    assert [r.item_id for r in a] == [r.item_id for r in b]


def test_load_rejects_garbage(tmp_path):
    with pytest.raises(InvalidInputError, match="not a saved recommender"):
        Recommender.load(tmp_path)
    (tmp_path / "recommender.json").write_text("{not json")
    with pytest.raises(InvalidInputError):
        Recommender.load(tmp_path)


@pytest.mark.parametrize("name", ["ease", "itemknn", "bpr", "hybrid"])
def test_new_user_from_liked_items(name, trained, ml_slice):
    items = ml_slice[1].set_index("item_id")
    liked = ["50", "172", "181"]  # the Star Wars trilogy
    recs = trained(name).recommend_for_new_user(liked, k=10)
    assert len(recs) == 10 and not set(liked) & {r.item_id for r in recs}
    scifi = sum("Sci-Fi" in items.loc[r.item_id, "tags"] or "Action" in items.loc[r.item_id, "tags"] for r in recs)
    assert scifi >= 5, [r.title for r in recs]
    assert any(r.reason.startswith("Because you liked") for r in recs)


def _share(recs, items, genres):
    return np.mean([any(g in items.loc[r.item_id, "tags"] for g in genres) for r in recs])


def test_new_user_from_text_only(trained, ml_slice):
    items = ml_slice[1].set_index("item_id")
    rec = trained("hybrid")
    kids = rec.recommend_for_new_user(text="animated family film for children", k=10)
    horror = rec.recommend_for_new_user(text="a scary horror movie with a killer", k=10)
    base_kids = _share([type("R", (), {"item_id": i}) for i in items.index], items, ["Animation", "Children"])
    assert _share(kids, items, ["Animation", "Children"]) >= max(0.4, 3 * base_kids), [r.title for r in kids]
    assert _share(horror, items, ["Horror", "Thriller"]) >= 0.4, [r.title for r in horror]
    assert all(r.reason == "Matches your description" for r in kids)


def test_new_items_served_from_text(trained, manager, slice_split, tmp_path):
    rec = Recommender.load(trained("hybrid").save(tmp_path / "h"), manager=manager, device="cpu")
    n = len(rec.items)
    new = pd.DataFrame({
        "item_id": ["new-1", "new-2"],
        "title": ["Galactic Rebels: The Last Starfighter", "Sunny Days in Paris"],
        "tags": ["Action, Adventure, Sci-Fi, War", "Comedy, Romance"],
    })
    assert rec.add_items(new) == 2 and len(rec.items) == n + 2
    assert rec.add_items(new) == 0  # already there
    sims = {r.item_id for r in rec.similar_items("new-1", k=20)}
    romance_sims = {r.item_id for r in rec.similar_items("new-2", k=20)}
    assert sims != romance_sims
    # The new sci-fi item is recommended to a Star Wars fan long before the new romance.
    ranked = [r.item_id for r in rec.recommend_for_new_user(text="space battles with starfighters", k=200)]
    assert "new-1" in ranked
    assert "new-2" not in ranked or ranked.index("new-1") < ranked.index("new-2")
    with pytest.raises(InvalidInputError, match="hybrid"):
        trained("ease").add_items(new)


def test_metadata_only_items_join_hybrid_catalogue(ml_slice, manager):
    inter, items = ml_slice
    extra = pd.DataFrame({"item_id": ["cold-1"], "title": ["Toy Adventures 3"], "tags": ["Animation, Children's, Comedy"]})
    rec = Recommender("hybrid", device="cpu", manager=manager, epochs=1).fit(inter, pd.concat([items, extra]))
    assert rec.items.get("cold-1") is not None
    assert len(rec.similar_items("cold-1", k=5)) == 5
