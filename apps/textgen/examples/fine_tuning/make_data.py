"""Write the worked example's data: shop listings in free text -> one strict JSON record.

Run once (``python -m apps.textgen.examples.fine_tuning.make_data``); its output,
``train.jsonl`` and ``heldout.jsonl``, is committed. The listings are invented for
the project: a small outdoor-gear shop whose catalogue system wants exactly
``{"name", "brand", "category", "price_eur", "in_stock"}`` with a number and a boolean.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SYSTEM = (
    "You turn product listings into catalogue records. Reply with exactly one JSON object "
    'with the keys "name", "brand", "category", "price_eur" (a number) and "in_stock" '
    "(true or false), and nothing else."
)
BRANDS = ["Alpenweg", "Nordkap", "Fjellsti", "Trailhead Co", "Sierra Loop", "Kestrel", "Bergfink",
          "Cairn & Crest", "Lumo", "Wildmoor", "Pinegate", "Solstreif"]
PRODUCTS = {
    "boots": ["Trailrunner 2", "Ridge Mid GTX", "Scree Pro", "Moss Walker", "Summit Low", "Talus 3"],
    "tents": ["Dome 2P", "Ultralite Solo", "Basecamp 4", "Ridgeline 3", "Nomad Tarp", "Storm Shelter"],
    "backpacks": ["Daypack 22", "Trek 45", "Expedition 70", "Rolltop 30", "Hydro 12", "Summit Sack 18"],
    "jackets": ["Shell Pro", "Down Hoody", "Windbreaker Lite", "Rain Parka", "Fleece Midlayer", "Insulated Vest"],
    "sleeping bags": ["Cocoon -5", "Summer 10", "Mummy -15", "Quilt 0", "Travel Liner", "Alpine -20"],
    "stoves": ["Micro Burner", "Gas Duo", "Titan Pot Set", "Windproof Pro", "Canister Mini", "Camp Kitchen 2"],
}
OPENERS = [
    "{brand} {name} {category_s}, now {price} EUR. {stock}.",
    "New in: the {name} from {brand} ({category_s}). Price: {price} EUR. {stock}.",
    "{stock}: {brand}'s {name}, {category_s}, {price} euros.",
    "Listing - {name} by {brand}. Category: {category_s}. {price} EUR. {stock}.",
    "Great for weekends: {name} ({brand}), {category_s} at {price} EUR - {stock_lower}.",
    "{brand} | {name} | {category_s} | {price} EUR | {stock_lower}",
]
IN_STOCK = ["In stock", "Available now", "Ships today", "On the shelf"]
OUT_OF_STOCK = ["Sold out", "Out of stock", "Back in two weeks", "Currently unavailable"]
SINGULAR = {"boots": "hiking boots", "tents": "tent", "backpacks": "backpack", "jackets": "jacket",
            "sleeping bags": "sleeping bag", "stoves": "camping stove"}


def _record(rng: random.Random) -> tuple[str, dict]:
    category = rng.choice(list(PRODUCTS))
    name, brand = rng.choice(PRODUCTS[category]), rng.choice(BRANDS)
    price = round(rng.uniform(9, 480), rng.choice([0, 2]))
    in_stock = rng.random() < 0.6
    stock = rng.choice(IN_STOCK if in_stock else OUT_OF_STOCK)
    text = rng.choice(OPENERS).format(
        brand=brand, name=name, category_s=SINGULAR[category],
        price=f"{price:.2f}" if price != int(price) else f"{int(price)}",
        stock=stock, stock_lower=stock.lower(),
    )  # fmt: skip
    record = {"name": name, "brand": brand, "category": category,
              "price_eur": price if price != int(price) else int(price), "in_stock": in_stock}  # fmt: skip
    return text, record


def _example(text: str, record: dict) -> dict:
    return {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": text},
        {"role": "assistant", "content": json.dumps(record)},
    ]}  # fmt: skip


def main() -> None:
    rng = random.Random(18)
    seen, rows = set(), []
    while len(rows) < 150:
        text, record = _record(rng)
        if text not in seen:
            seen.add(text)
            rows.append(_example(text, record))
    here = Path(__file__).parent
    for name, part in (("train.jsonl", rows[:120]), ("heldout.jsonl", rows[120:])):
        (here / name).write_text("".join(json.dumps(r) + "\n" for r in part))


if __name__ == "__main__":
    main()
