"""The hybrid model reads a Chinese catalogue with the multilingual encoder (issue 14)."""

from __future__ import annotations

import pandas as pd
import pytest

from apps.recommendation import Recommender
from apps.recommendation.data import item_text
from apps.recommendation.text_model import choose_text_model, non_english_share
from core.errors import InvalidInputError
from shared_models.types.embedding import DEFAULT_MODEL, MULTILINGUAL_MODEL

COFFEE = ["埃塞俄比亚耶加雪菲咖啡豆 浅烘焙 花香", "哥伦比亚咖啡豆 中烘焙 坚果巧克力风味",
          "意式浓缩咖啡豆 深烘焙 油脂丰富", "冷萃咖啡 即饮 无糖", "挂耳咖啡 十片装 中深烘焙",
          "巴西咖啡豆 中烘焙 低酸度", "云南小粒咖啡豆 中烘焙", "手冲咖啡滤纸 一百张",
          "拿铁咖啡胶囊 二十粒", "曼特宁咖啡豆 深烘焙 醇厚"]  # fmt: skip
TEA = ["西湖龙井绿茶 明前 二百五十克", "安溪铁观音乌龙茶 清香型", "云南普洱熟茶 饼茶 三百五十七克",
       "正山小种红茶 散装", "福鼎白茶 白毫银针", "茉莉花茶 袋泡 五十包", "大红袍岩茶 礼盒",
       "碧螺春绿茶 罐装", "祁门红茶 特级", "黄山毛峰 绿茶 新茶"]  # fmt: skip


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A Chinese shop: coffee drinkers buy coffee, tea drinkers buy tea (40 users)."""
    items = pd.DataFrame(
        {"item_id": [f"c{i}" for i in range(10)] + [f"t{i}" for i in range(10)], "title": COFFEE + TEA}
    )
    rows = []
    for u in range(40):
        group = "c" if u % 2 == 0 else "t"
        rows += [(f"u{u}", f"{group}{(u + j) % 10}") for j in range(5)]
    return pd.DataFrame(rows, columns=["user_id", "item_id"]), items


def test_the_choice_follows_the_catalogues_language(movielens) -> None:
    titles = item_text(movielens[1]).values()  # English, with the odd "Amélie"
    assert 0 < non_english_share(titles) < 0.05
    assert choose_text_model("auto", titles) == DEFAULT_MODEL
    assert choose_text_model("auto", COFFEE) == MULTILINGUAL_MODEL
    assert choose_text_model("auto", ["Lumo backpack 登山包"] * 3) == MULTILINGUAL_MODEL
    assert choose_text_model(DEFAULT_MODEL, COFFEE) == DEFAULT_MODEL  # an explicit choice wins
    with pytest.raises(InvalidInputError, match="text_model"):
        Recommender("hybrid", text_model="  ")


def test_a_chinese_catalogue_is_read_by_the_multilingual_encoder(shop, manager, tmp_path) -> None:
    inter, items = shop
    rec = Recommender("hybrid", device="cpu", manager=manager, epochs=30, seed=0).fit(inter, items)
    assert rec.text_model == MULTILINGUAL_MODEL
    # A new coffee, known only from its Chinese title, lands among the coffees.
    rec.add_items(pd.DataFrame({"item_id": ["new"], "title": ["危地马拉安提瓜咖啡豆 中烘焙"]}))
    similar = [r.item_id for r in rec.similar_items("new", k=5)]
    assert sum(i.startswith("c") for i in similar) >= 4, similar
    # A description in Chinese finds coffee, not tea.
    found = [r.item_id for r in rec.recommend_for_new_user([], text="想买一包深烘焙的咖啡豆", k=5)]
    assert sum(i.startswith("c") for i in found) >= 4, found
    # The saved model keeps its encoder: the item tower learned that encoder's space.
    again = Recommender.load(rec.save(tmp_path / "zh"), manager=manager, device="cpu")
    assert again.text_model == MULTILINGUAL_MODEL
    assert [r.item_id for r in again.similar_items("new", k=5)] == similar


def test_the_data_tab_says_which_encoder_reads_the_item_text(shop, tmp_path) -> None:
    from apps.recommendation import ui

    inter, items = shop
    inter.to_csv(tmp_path / "orders.csv", index=False)
    items.to_csv(tmp_path / "products.csv", index=False)
    _, summary, *_ = ui.load_data(ui.DATA_SOURCES[1], str(tmp_path / "orders.csv"),
                                  str(tmp_path / "products.csv"), False, None)  # fmt: skip
    assert f"Item text is read by `{MULTILINGUAL_MODEL}`" in summary
    _, demo, *_ = ui.load_data(ui.DATA_SOURCES[0], None, None, False, None)
    assert f"Item text is read by `{DEFAULT_MODEL}`" in demo
