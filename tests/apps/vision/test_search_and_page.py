"""Similar-image search over a collection, and the page."""

from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image, ImageOps

from apps.vision import ImageRecognizer
from core.errors import InvalidInputError


def test_similar_images_ranked_by_embedding(recognizer, photos, tmp_path):
    recognizer.clear_collection()
    with pytest.raises(InvalidInputError, match="empty"):
        recognizer.similar(photos["coffee"], k=3)
    names = ["chelsea", "coffee", "rocket", "astronaut", "motorcycle"]
    size, skipped = recognizer.index_images(
        [photos[n] for n in names] + [b"junk"], [*names, "junk.jpg"]
    )
    assert size == 5 and len(skipped) == 1 and "junk.jpg" in skipped[0]
    assert recognizer.index_images([photos["coffee"]])[0] == 5  # already there: not added twice

    # A mirrored, cropped, smaller copy of the cat finds the cat first.
    cat = ImageOps.mirror(Image.open(photos["chelsea"]).convert("RGB"))
    query = cat.crop((20, 10, cat.width - 30, cat.height - 20)).resize((200, 150))
    hits = recognizer.similar(query, k=3)
    assert [h.name for h in hits][0] == "chelsea"
    assert hits[0].score > hits[1].score >= hits[2].score
    assert hits[0].path.is_file()
    assert len(recognizer.similar(photos["coffee"], k=50)) == 5  # k larger than the collection

    # The index persists: a restart on the same folder searches the same collection.
    again = ImageRecognizer(recognizer.manager, data_dir=recognizer.data_dir)
    assert again.similar(photos["motorcycle"], k=1)[0].name == "motorcycle"
    with pytest.raises(InvalidInputError, match="k must"):
        recognizer.similar(photos["coffee"], k=0)
    with pytest.raises(InvalidInputError, match="None of the images"):
        recognizer.index_images([b"junk"])


def test_page_builds_with_tabs_and_examples(manager):
    from apps.vision import ui

    demo = ui.build_ui()
    assert isinstance(demo, gr.Blocks)
    config = demo.get_config_file()
    tabs = {c["props"].get("label") for c in config["components"] if c["type"] == "tabitem"}
    assert {"Classify", "Detect", "Train", "Search"} <= tabs
    api_names = {d.get("api_name") for d in config["dependencies"]}
    assert {"vision_classify", "vision_explain", "vision_detect", "vision_train", "vision_search"} <= api_names
    assert (ui.recognizer().data_dir / "examples" / "chelsea.png").is_file()
    bars, table = ui.classify(str(ui.recognizer().data_dir / "examples" / "coffee.png"), 3, "imagenet")
    assert table["label"].iloc[0] == "espresso"
    with pytest.raises(gr.Error):
        ui.classify(None, 3, "imagenet")
