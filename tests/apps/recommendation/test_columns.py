"""Files as people have them load through the column mapping: MovieLens' ratings.csv, a shop's
event log, and bad mappings get clear errors."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd
import pytest

from apps.recommendation import Recommender, ui
from apps.recommendation.columns import (
    NONE,
    ColumnMapping,
    guess_mapping,
    mapping_from_choices,
    parse_event_weights,
)
from apps.recommendation.data import load_interactions, load_items, movielens_dir
from apps.recommendation.workspace import Workspace
from core.errors import InvalidInputError


def no_progress(*_args, **_kwargs) -> None:
    return None


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    """MovieLens' own format (ratings.csv, movies.csv) written from the ml-100k files: 200 users."""
    folder = tmp_path_factory.mktemp("ml-latest-format")
    raw = pd.read_csv(movielens_dir() / "ml-100k.inter", sep="\t", dtype=str)
    raw.columns = ["userId", "movieId", "rating", "timestamp"]
    raw = raw[raw["userId"].astype(int) <= 200]
    raw.to_csv(folder / "ratings.csv", index=False)
    item = pd.read_csv(movielens_dir() / "ml-100k.item", sep="\t", dtype=str, keep_default_na=False)
    movies = pd.DataFrame({
        "movieId": item["item_id:token"],
        "title": item["movie_title:token_seq"] + " (" + item["release_year:token"] + ")",
        "genres": item["class:token_seq"].str.replace(" ", "|"),
    })
    movies.to_csv(folder / "movies.csv", index=False)
    return folder / "ratings.csv", folder / "movies.csv", raw


def test_movielens_ratings_csv_is_recognised_loads_and_trains(ratings_csv):
    ratings, movies, raw = ratings_csv
    assert ratings.read_text().splitlines()[0] == "userId,movieId,rating,timestamp"
    assert guess_mapping(raw.columns) == ColumnMapping(
        user="userId", item="movieId", rating="rating", timestamp="timestamp"
    )
    df = load_interactions(ratings)
    assert list(df.columns) == ["user_id", "item_id", "rating", "timestamp"] and len(df) == len(raw)
    assert df["user_id"].nunique() == 200 and df["rating"].between(1, 5).all()
    items = load_items(movies)  # movieId, title, genres
    assert items.set_index("item_id").loc["50", "title"] == "Star Wars (1977)"
    assert "Sci-Fi" in items.set_index("item_id").loc["50", "tags"]

    rec = Recommender("ease", device="cpu", l2=200.0).fit(ratings, items=movies)
    recs = rec.recommend("1", k=5)
    seen = set(df.loc[df["user_id"] == "1", "item_id"])
    assert len(recs) == 5 and not seen & {r.item_id for r in recs}
    assert all(r.title for r in recs)


def test_the_page_fills_the_mapping_from_the_header_and_trains(ratings_csv):
    ratings, movies, _ = ratings_csv
    user, item, rating, time, event = ui.read_columns(str(ratings))
    assert (user["value"], item["value"], rating["value"], time["value"], event["value"]) == (
        "userId", "movieId", "rating", "timestamp", NONE
    )
    assert user["choices"] == ["userId", "movieId", "rating", "timestamp"]
    assert event["choices"][0] == NONE  # optional roles can be left out

    # Ratings left out on purpose: the page's choice wins over the guess.
    ws, summary, preview, *_ = ui.load_data(
        ui.DATA_SOURCES[1], str(ratings), str(movies), False, None,
        "userId", "movieId", NONE, "timestamp", NONE, "",
    )
    assert "ratings: no" in summary and "user = userId, item = movieId, timestamp = timestamp" in summary
    assert list(preview.columns) == ["user_id", "item_id", "timestamp"]
    out = ui.train(["popular", "ease"], ui.PROTOCOLS["random"], 10, ws, progress=no_progress)
    assert list(out[1]["model"]) == ["ease", "popular"]  # EASE beats the baseline on real data


# --------------------------------------------------------------------------- an event log
# The layout of a public e-commerce behaviour log (one row per event, REES46-style).
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
GROUPS = {0: ("electronics.smartphone", "apple"), 1: ("apparel.shoes", "nike"), 2: ("kitchen.kettle", "bosch")}


@pytest.fixture(scope="module")
def event_log(tmp_path_factory):
    """90 shoppers in three taste groups, each viewing, carting and buying in their group."""
    rng = np.random.default_rng(3)
    rows, t = [], pd.Timestamp("2019-10-01 00:00:00", tz="UTC")
    for u in range(90):
        group = u % 3
        user = str(512_000_000 + u)
        session = f"{u:08x}-6e3b-4c1e-9d9a-{u:012x}"
        products = [str(1_000_000 * (group + 1) + p) for p in rng.choice(12, size=6, replace=False)]
        other = str(1_000_000 * ((group + 1) % 3 + 1) + int(rng.integers(12)))
        events = [("view", p) for p in [*products, other]] + [("cart", p) for p in products[:2]]
        events += [("remove_from_cart", products[1]), ("purchase", products[0])]
        for kind, product in events:
            t += pd.Timedelta(seconds=int(rng.integers(5, 300)))
            g = int(product) // 1_000_000 - 1
            rows.append(f"{t:%Y-%m-%d %H:%M:%S} UTC,{kind},{product},20530,{GROUPS[g][0]},"
                        f"{GROUPS[g][1]},{19.99 + g},{user},{session}")
        rows.append(rows[-1])  # the same event logged twice (happens in real logs)
    path = tmp_path_factory.mktemp("shop") / "events.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_an_event_log_loads_as_weighted_implicit_feedback_and_trains(event_log):
    header = HEADER.split(",")
    assert guess_mapping(header) == ColumnMapping(
        user="user_id", item="product_id", timestamp="event_time", event="event_type"
    )
    raw = pd.read_csv(event_log, dtype=str)
    df = load_interactions(event_log)
    pairs = raw.drop_duplicates(["user_id", "product_id"])
    assert len(df) == len(pairs)  # one interaction per (user, product)
    weight = df.set_index(["user_id", "item_id"])["rating"]
    first = raw[raw["user_id"] == "512000000"]
    bought = first.loc[first["event_type"] == "purchase", "product_id"].iloc[0]
    carted_back = first.loc[first["event_type"] == "remove_from_cart", "product_id"].iloc[0]
    assert weight[("512000000", bought)] == 3.0
    assert weight[("512000000", carted_back)] == 2.0  # carted, then taken out: still a cart
    assert sorted(weight.groupby(level=0).size().unique()) == [7]
    # The purchase's own time, not the first view's.
    when = pd.Timestamp(first.loc[first["event_type"] == "purchase", "event_time"].iloc[0].removesuffix(" UTC"), tz="UTC")
    stamp = df.set_index(["user_id", "item_id"])["timestamp"][("512000000", bought)]
    assert stamp == when.timestamp()

    rec = Recommender("itemknn", device="cpu").fit(df)
    for user in ("512000003", "512000004", "512000005"):  # one per taste group
        group = (int(user) - 512_000_000) % 3
        top = [r.item_id for r in rec.recommend(user, k=5)]
        assert sum(int(i) // 1_000_000 - 1 == group for i in top) >= 4, (user, top)


def test_event_weights_choose_what_counts(event_log):
    strong = ColumnMapping(user="user_id", item="product_id", timestamp="event_time", event="event_type",
                           event_weights=parse_event_weights("view=0, cart=2, remove_from_cart=0, purchase=3"))
    df = load_interactions(event_log, mapping=strong)
    assert len(df) == 90 * 2 and set(df["rating"]) == {2.0, 3.0}  # two carted products per shopper
    unknown = ColumnMapping(user="user_id", item="product_id", event="event_type",
                            event_weights={"view": 1, "purchase": 3})
    with pytest.raises(InvalidInputError, match="no weight: 'cart', 'removefromcart'"):
        load_interactions(event_log, mapping=unknown)
    with pytest.raises(InvalidInputError, match="could not read 'cart'"):
        parse_event_weights("view=1, cart")
    with pytest.raises(InvalidInputError, match="could not read 'view=-1'"):
        parse_event_weights("view=-1")


def test_the_event_log_through_the_page(event_log):
    user, item, rating, time, event = ui.read_columns(str(event_log))
    assert (user["value"], item["value"], rating["value"], event["value"]) == (
        "user_id", "product_id", NONE, "event_type"
    )
    ws, summary, *_ = ui.load_data(ui.DATA_SOURCES[1], str(event_log), None, False, None,
                                   "user_id", "product_id", NONE, "event_time", "event_type", "")
    assert "90 users" in summary and "event = event_type" in summary
    out = ui.train(["popular", "itemknn"], ui.PROTOCOLS["temporal"], 5, ws, progress=no_progress)
    assert list(out[1]["model"])[0] == "itemknn"


# --------------------------------------------------------------------------- guessing and errors
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["UserID", "Movie ID", "Rating"], dict(user="UserID", item="Movie ID", rating="Rating")),
        (["customer_id", "sku", "score", "created_at"],
         dict(user="customer_id", item="sku", rating="score", timestamp="created_at")),
        (["customerId", "productId", "date"], dict(user="customerId", item="productId", timestamp="date")),
        # RetailRocket's events.csv
        (["timestamp", "visitorid", "event", "itemid", "transactionid"],
         dict(user="visitorid", item="itemid", timestamp="timestamp", event="event")),
        (["user_id:token", "item_id:token", "rating:float"], dict(user="user_id:token", item="item_id:token",
                                                                 rating="rating:float")),
        (["用户ID", "商品ID", "行为", "时间"], dict(user="用户ID", item="商品ID", event="行为", timestamp="时间")),
        # a rating wins over an event column; the event is then not guessed
        (["user", "item", "rating", "event_type"], dict(user="user", item="item", rating="rating")),
        (["person", "thing"], dict()),
    ],
)
def test_common_names_are_guessed(header, expected):
    assert guess_mapping(header) == ColumnMapping(**expected)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (dict(user="userId", item="userId"), "'userId' is chosen as both the user and the item"),
        (dict(item="movieId"), "Choose the user column"),
        (dict(user=None, item=None, rating="rating"), "Choose the user and the item column"),
        (dict(user="customer", item="movieId"), "The user column 'customer' is not in the file"),
        (dict(user="userId", item="movieId", rating="rating", event="timestamp"), "not both"),
        (dict(user="userId", item="movieId", rating="timestamp", timestamp="timestamp"),
         "'timestamp' is chosen as both the rating and the timestamp"),
    ],
)
def test_bad_mappings_get_clear_errors(ratings_csv, mapping, message):
    ratings, _, _ = ratings_csv
    with pytest.raises(InvalidInputError, match=message):
        load_interactions(ratings, mapping=ColumnMapping(**mapping))


def test_bad_mappings_reach_the_page_and_a_rating_that_is_not_a_number_is_named(ratings_csv, event_log):
    ratings, _, _ = ratings_csv
    with pytest.raises(gr.Error, match="chosen as both the user and the item"):
        ui.load_data(ui.DATA_SOURCES[1], str(ratings), None, False, None, "userId", "userId", NONE, NONE, NONE, "")
    with pytest.raises(gr.Error, match="Choose the user column"):
        ui.load_data(ui.DATA_SOURCES[1], str(ratings), None, False, None, None, "movieId", NONE, NONE, NONE, "")
    with pytest.raises(gr.Error, match="values in column 'brand' are not numbers"):
        ui.load_data(ui.DATA_SOURCES[1], str(event_log), None, False, None,
                     "user_id", "product_id", "brand", NONE, NONE, "")
    assert mapping_from_choices(None, None, NONE, NONE, NONE, "") is None  # nothing chosen: guess
    assert Workspace.column_choices(None)["user"] == ([], None)


def test_an_excel_csv_with_a_byte_order_mark_is_recognised(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffCustomer ID,SKU,Order Date\nc1,s1,2024-01-02\nc2,s1,2024-01-03\n".encode())
    assert Workspace.column_choices(path)["user"] == (["Customer ID", "SKU", "Order Date"], "Customer ID")
    df = load_interactions(path)
    assert df["user_id"].tolist() == ["c1", "c2"] and df["timestamp"].is_monotonic_increasing


def test_the_python_api_takes_a_mapping(event_log):
    from apps.recommendation import ColumnMapping as Exported

    mapping = Exported(user="user_session", item="product_id", event="event_type")  # per visit, not per shopper
    rec = Recommender("popular", device="cpu").fit(event_log, mapping=mapping)
    assert len(rec.users) == 90 and rec.users.ids[0].startswith("00000000-")
