"""The recommendation REST routes on the served item-kNN model (MovieLens-100k)."""

from __future__ import annotations

import pytest

from apps.ui_kit import movielens_recommender

from .rest_app import assert_error, make_client

REC = "/api/v1/recommendation"


@pytest.fixture(scope="module")
def client(manager):
    with make_client() as c:
        yield c


def test_recommend_for_a_known_user_matches_the_python_api(client):
    r = client.get(f"{REC}/users/196/recommendations", params={"k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "itemknn"
    direct = movielens_recommender().recommend("196", k=5)
    assert [i["item_id"] for i in body["items"]] == [x.item_id for x in direct]
    assert all(i["title"] and i["reason"] for i in body["items"])
    seen = set(movielens_recommender().history[movielens_recommender().users.get("196")].indices)
    assert not {movielens_recommender().items.get(i["item_id"]) for i in body["items"]} & seen


def test_similar_items_and_cold_start(client):
    similar = client.get(f"{REC}/items/50/similar", params={"k": 4}).json()["items"]
    assert len(similar) == 4 and "50" not in [i["item_id"] for i in similar]
    assert all(i["because_item_id"] == "50" for i in similar)
    # Star Wars' neighbours in MovieLens include its sequels.
    assert {"172", "181"} & {i["item_id"] for i in similar}

    r = client.post(f"{REC}/cold-start", json={"liked_items": ["50", "172"], "k": 5})
    assert r.status_code == 200, r.text
    items = [i["item_id"] for i in r.json()["items"]]
    assert len(items) == 5 and not {"50", "172"} & set(items)
    direct = movielens_recommender().recommend_for_new_user(["50", "172"], k=5)
    assert items == [x.item_id for x in direct]


def test_unknown_ids_are_404(client):
    assert_error(client.get(f"{REC}/users/no-such-user/recommendations"), 404)
    assert_error(client.get(f"{REC}/items/no-such-item/similar"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"liked_items": []},
        {"liked_items": ["no-such-item"]},
        {"liked_items": "50"},
        {"liked_items": ["50"], "k": 0},
        {"liked_items": ["50"], "k": "ten"},
        {"liked_items": ["50"], "text": "space operas"},  # text needs the hybrid model
    ],
)
def test_bad_cold_start_requests_are_400(client, body):
    assert_error(client.post(f"{REC}/cold-start", json=body), 400)


def test_limits_are_explicit(client, manager, monkeypatch):
    assert_error(client.get(f"{REC}/users/196/recommendations", params={"k": 0}), 400)
    assert_error(client.get(f"{REC}/users/196/recommendations", params={"k": 1001}), 400)
    monkeypatch.setattr(manager.settings.limits, "max_batch_items", 3)
    error = assert_error(
        client.post(f"{REC}/cold-start", json={"liked_items": ["1", "2", "3", "4"]}), 400
    )
    assert "max_batch_items" in error["message"]
