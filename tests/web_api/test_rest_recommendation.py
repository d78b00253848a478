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


def test_each_recommendation_carries_its_reasons_with_their_strength(client):
    items = client.get(f"{REC}/users/196/recommendations", params={"k": 5}).json()["items"]
    direct = movielens_recommender().recommend("196", k=5)
    for got, want in zip(items, direct, strict=True):
        assert got["reasons"], "item-kNN explains every recommendation"
        assert got["reasons"][0]["item_id"] == got["because_item_id"]
        strengths = [r["strength"] for r in got["reasons"]]
        assert strengths == sorted(strengths, reverse=True) and all(s > 0 for s in strengths)
        assert [(r["item_id"], r["similarity"], r["share"]) for r in got["reasons"]] == [
            (r.item_id, pytest.approx(r.similarity), pytest.approx(r.share)) for r in want.reasons
        ]
        assert all(r["title"] for r in got["reasons"])


def test_why_not_ranks_an_item_against_the_top_k(client):
    rec = movielens_recommender()
    top = rec.recommend("196", k=30)
    first = client.get(f"{REC}/users/196/why-not/{top[0].item_id}", params={"k": 10}).json()
    assert first["in_top_k"] and first["rank"] == 1 and not first["seen"]
    assert first["score"] >= first["cutoff"] and first["reasons"]

    far = client.get(f"{REC}/users/196/why-not/{top[-1].item_id}", params={"k": 10})
    assert far.status_code == 200, far.text
    far = far.json()
    assert not far["in_top_k"] and far["rank"] > 10 and far["score"] <= far["cutoff"]
    direct = rec.why_not("196", top[-1].item_id, k=10)
    assert (far["rank"], far["candidates"]) == (direct.rank, direct.candidates)
    assert [r["item_id"] for r in far["reasons"]] == [r.item_id for r in direct.reasons]

    seen_item = rec.items.ids[rec.history[rec.users.get("196")].indices[0]]
    seen = client.get(f"{REC}/users/196/why-not/{seen_item}").json()
    assert seen["seen"] and seen["rank"] is None and not seen["in_top_k"]

    assert_error(client.get(f"{REC}/users/no-such-user/why-not/50"), 404)
    assert_error(client.get(f"{REC}/users/196/why-not/no-such-item"), 404)
    assert_error(client.get(f"{REC}/users/196/why-not/50", params={"k": 0}), 400)
