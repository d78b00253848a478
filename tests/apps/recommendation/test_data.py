"""Bad input gets a clear InvalidInputError; good input in every accepted form loads."""

from __future__ import annotations

import pandas as pd
import pytest

from apps.recommendation import Recommender
from apps.recommendation.data import load_interactions, load_items, movielens_dir
from core.errors import InvalidInputError


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_movielens_read_from_wheel_not_repo(movielens):
    inter, items = movielens
    assert len(inter) == 100_000 and inter["user_id"].nunique() == 943 and len(items) == 1682
    assert "site-packages" in str(movielens_dir())
    assert items.set_index("item_id").loc["50", "title"] == "Star Wars (1977)"
    assert "Sci-Fi" in items.set_index("item_id").loc["50", "tags"]


def test_csv_parquet_and_dataframe_agree(tmp_path):
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["a", "b", "a"], "rating": [5, 3, 4],
                       "timestamp": [1, 2, 3]})
    df.to_csv(tmp_path / "i.csv", index=False)
    df.to_parquet(tmp_path / "i.parquet")
    a = load_interactions(df)
    b = load_interactions(tmp_path / "i.csv")
    c = load_interactions(tmp_path / "i.parquet")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert a["user_id"].tolist() == ["1", "1", "2"]


def test_semicolons_dates_and_renamed_columns(tmp_path):
    path = write(tmp_path, "x.csv", "UserId;ItemId;Timestamp\nu1;i1;2024-01-02\nu1;i2;2024-03-04\n")
    df = load_interactions(path)
    assert list(df.columns) == ["user_id", "item_id", "timestamp"]
    assert df["timestamp"].iloc[1] > df["timestamp"].iloc[0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("user_id,item_id\n", "no rows"),
        ("user,thing\nu1,i1\n", "missing the column(s) item_id"),  # "product" would be taken
        ("user_id,rating\nu1,5\n", "missing the column(s) item_id"),
        ("user_id,item_id,rating\nu1,i1,5\nu1,i2,five\n", "not numbers"),
        ("user_id,item_id,rating\nu1,i1,5\nu1,i1,5\n", "exact duplicates"),
        ("user_id,item_id\nu1,i1\n,i2\n", "no user_id"),
        ("user_id,item_id,timestamp\nu1,i1,yesterday-ish\n", "timestamp"),
    ],
)
def test_bad_interaction_files(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_interactions(path)


def test_binary_and_missing_files(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x00garbage\x81")
    with pytest.raises(InvalidInputError):
        load_interactions(path)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_interactions(tmp_path / "nope.csv")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InvalidInputError, match="Parquet"):
        load_interactions(tmp_path / "broken.parquet")
    with pytest.raises(InvalidInputError, match="DataFrame or a path"):
        load_interactions(12345)


def test_duplicates_can_be_dropped(tmp_path):
    path = write(tmp_path, "d.csv", "user_id,item_id\nu1,i1\nu1,i1\nu2,i1\n")
    assert len(load_interactions(path, drop_duplicates=True)) == 2


def test_item_metadata_checks(tmp_path):
    with pytest.raises(InvalidInputError, match="item_id"):
        load_items(pd.DataFrame({"title": ["x"]}))
    with pytest.raises(InvalidInputError, match="title, text or tags"):
        load_items(pd.DataFrame({"item_id": ["x"], "price": [3]}))
    with pytest.raises(InvalidInputError, match="more than once"):
        load_items(pd.DataFrame({"item_id": ["x", "x"], "title": ["a", "b"]}))
    items = load_items(pd.DataFrame({"item_id": [1], "tags": [["red", "shoe"]]}))
    assert items.loc[0, "tags"] == "red shoe" and items.loc[0, "title"] == ""


@pytest.fixture(scope="module")
def small_ease(ml_slice):
    return Recommender("ease", device="cpu").fit(ml_slice[0], ml_slice[1])


def test_unknown_user_item_and_no_history(small_ease):
    with pytest.raises(InvalidInputError, match="no history"):
        small_ease.recommend("no-such-user")
    with pytest.raises(InvalidInputError, match="Unknown item"):
        small_ease.similar_items("no-such-item")
    with pytest.raises(InvalidInputError, match="Unknown item"):
        small_ease.recommend_for_new_user(["50", "no-such-item"])
    with pytest.raises(InvalidInputError, match="at least one liked item"):
        small_ease.recommend_for_new_user([], text=None)
    with pytest.raises(InvalidInputError, match="hybrid"):
        small_ease.recommend_for_new_user(["50"], text="space opera")
    for k in (0, -1, 1.5, "10", True):
        with pytest.raises(InvalidInputError, match="k must be"):
            small_ease.recommend("1", k=k)


def test_unfitted_and_unknown_model():
    with pytest.raises(InvalidInputError, match="Unknown model"):
        Recommender("deep-magic")
    with pytest.raises(InvalidInputError, match="fit"):
        Recommender("ease", device="cpu").recommend("1")


def test_hybrid_without_metadata_is_refused(ml_slice):
    with pytest.raises(InvalidInputError, match="metadata"):
        Recommender("hybrid", device="cpu").fit(ml_slice[0])


def test_evaluate_skips_unknown_and_refuses_all_unknown(small_ease, ml_slice):
    inter = ml_slice[0]
    unseen = sorted(set(inter["item_id"]) - set(inter.loc[inter["user_id"] == "1", "item_id"]))[0]
    test = pd.DataFrame({"user_id": ["1", "ghost"], "item_id": [unseen, "1"]})
    out = small_ease.evaluate(pd.concat([test, pd.DataFrame({"user_id": ["2"], "item_id": ["999999"]})]))
    assert out["skipped_rows"] == 2
    with pytest.raises(InvalidInputError, match="known user"):
        small_ease.evaluate(pd.DataFrame({"user_id": ["ghost"], "item_id": ["1"]}))
