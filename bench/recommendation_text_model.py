"""Which text encoder reads a Chinese catalogue: MiniLM (English) against multilingual E5.

A small Chinese shop (the 20 coffee and tea items of tests/apps/recommendation/
test_text_model.py, 40 users who each buy five items of one kind), the hybrid model trained
with each encoder over three seeds. Scored: of the top 5 for six Chinese descriptions
("想买一包深烘焙的咖啡豆") and the 5 most similar items to four new items known only from their
Chinese title, the share that are of the right kind (coffee or tea). Chance is 50%.

    .venv/bin/python -m bench.recommendation_text_model
"""

from __future__ import annotations

import pandas as pd

from apps.recommendation import Recommender
from tests.apps.recommendation.test_text_model import COFFEE, TEA

DESCRIPTIONS = [("想买一包深烘焙的咖啡豆", "c"), ("有没有好喝的绿茶", "t"), ("送礼用的红茶", "t"),
                ("早上提神喝的冷萃", "c"), ("乌龙茶推荐", "t"), ("意式咖啡机用的豆子", "c")]  # fmt: skip
NEW_ITEMS = [("危地马拉安提瓜咖啡豆 中烘焙", "c"), ("武夷山肉桂岩茶", "t"),
             ("肯尼亚AA咖啡豆 浅烘", "c"), ("六安瓜片 绿茶", "t")]  # fmt: skip


def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"c{i}" for i in range(10)] + [f"t{i}" for i in range(10)]
    items = pd.DataFrame({"item_id": ids, "title": COFFEE + TEA})
    rows = [(f"u{u}", f"{'ct'[u % 2]}{(u + j) % 10}") for u in range(40) for j in range(5)]
    return pd.DataFrame(rows, columns=["user_id", "item_id"]), items


def right_kind_share(text_model: str, seeds: int = 3) -> tuple[str, float]:
    inter, items = shop()
    hits = total = 0
    used = ""
    for seed in range(seeds):
        rec = Recommender("hybrid", device="cpu", text_model=text_model, epochs=30, seed=seed)
        rec.fit(inter, items)
        used = rec.text_model
        for text, kind in DESCRIPTIONS:
            found = [r.item_id for r in rec.recommend_for_new_user([], text=text, k=5)]
            hits, total = hits + sum(i[0] == kind for i in found), total + 5
        rec.add_items(pd.DataFrame({"item_id": [f"n{k}" for k in range(len(NEW_ITEMS))],
                                    "title": [t for t, _ in NEW_ITEMS]}))  # fmt: skip
        for k, (_, kind) in enumerate(NEW_ITEMS):
            found = [r.item_id for r in rec.similar_items(f"n{k}", k=5)]
            hits, total = hits + sum(i[0] == kind for i in found), total + 5
    return used, hits / total


def main() -> None:
    print("| text_model | encoder used | top-5 of the right kind |\n|---|---|---|")
    for choice in ("minilm-l6", "auto"):
        used, share = right_kind_share(choice)
        print(f"| {choice} | {used} | {share:.0%} |")


if __name__ == "__main__":
    main()
