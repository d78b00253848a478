"""Classification and detection on real photos, batches, and every kind of bad image."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInputError

CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}
ROCKETS = {"missile", "projectile", "space shuttle"}


def _labels(preds) -> list[str]:
    return [p.label for p in preds]


def test_imagenet_labels_on_real_photos(recognizer, photos):
    cat = recognizer.classify(photos["chelsea"], top_k=3)
    assert CATS & set(_labels(cat)), cat
    coffee = recognizer.classify(photos["coffee"], top_k=1)
    assert coffee[0].label == "espresso" and coffee[0].score > 0.5
    rocket = recognizer.classify(photos["rocket"], top_k=3)
    assert ROCKETS & set(_labels(rocket)), rocket
    scores = [p.score for p in cat]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_inputs_can_be_path_pil_or_array(recognizer, photos):
    as_path = recognizer.classify(photos["coffee"], top_k=1)[0]
    as_pil = recognizer.classify(Image.open(photos["coffee"]), top_k=1)[0]
    as_array = recognizer.classify(np.asarray(Image.open(photos["coffee"])), top_k=1)[0]
    assert as_path.label == as_pil.label == as_array.label == "espresso"


def test_motorbike_detected_with_pixel_box(recognizer, photos):
    width, height = Image.open(photos["motorcycle"]).size
    found = recognizer.detect(photos["motorcycle"], threshold=0.25)
    bikes = [d for d in found if d.label == "motorbike"]
    assert bikes, found
    x0, y0, x1, y1 = bikes[0].box
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert (x1 - x0) * (y1 - y0) > 0.2 * width * height  # the bike fills the photo
    strict = recognizer.detect(photos["motorcycle"], threshold=0.95)
    assert len(strict) < len(found)


def test_batches_match_single_calls_and_isolate_bad_images(recognizer, photos):
    images = [photos["chelsea"], b"not an image", photos["coffee"]]
    items = recognizer.classify_batch(images, top_k=2)
    assert items[1].error and "not an image" in items[1].error
    assert items[0].result[0].label == recognizer.classify(photos["chelsea"], top_k=1)[0].label
    assert items[2].result[0].label == "espresso"
    dets = recognizer.detect_batch([photos["motorcycle"], photos["coffee"], b""])
    assert "motorbike" in {d.label for d in dets[0].result}
    assert dets[2].error and dets[0].error is None and dets[1].error is None


def test_not_an_image_and_truncated_file(recognizer, photos, tmp_path):
    with pytest.raises(InvalidInputError, match="not an image"):
        recognizer.classify(b"%PDF-1.4 definitely not pixels")
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(InvalidInputError, match="not an image"):
        recognizer.detect(text)
    buf = io.BytesIO()
    Image.open(photos["chelsea"]).save(buf, "JPEG")
    truncated = buf.getvalue()[: len(buf.getvalue()) // 3]
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):
        recognizer.classify(truncated)
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):
        recognizer.detect(truncated)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims width x height pixels (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_decompression_bomb_is_refused_before_decoding(recognizer):
    bomb = _png_claiming(30_000, 30_000)
    assert len(bomb) < 200
    for call in (recognizer.classify, recognizer.detect, recognizer.similar):
        with pytest.raises(InvalidInputError, match="pixels"):
            call(bomb)


def test_cmyk_grey_and_alpha_images_work(recognizer, photos):
    rgb = Image.open(photos["coffee"]).convert("RGB")
    variants = {}
    for mode in ("CMYK", "L", "RGBA", "LA"):
        buf = io.BytesIO()
        rgb.convert(mode).save(buf, "JPEG" if mode == "CMYK" else "PNG")
        variants[mode] = buf.getvalue()
    for mode in ("CMYK", "RGBA"):
        assert recognizer.classify(variants[mode], top_k=1)[0].label == "espresso", mode
    for mode in ("L", "LA"):
        preds = recognizer.classify(variants[mode], top_k=5)
        assert "espresso" in _labels(preds) or "cup" in _labels(preds), (mode, preds)
    assert isinstance(recognizer.detect(variants["CMYK"]), list)


def test_exif_rotation_is_respected(recognizer, photos, tmp_path):
    upright = Image.open(photos["motorcycle"]).convert("RGB")
    stored = upright.rotate(90, expand=True)  # as a phone stores a portrait shot: sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "sideways.jpg"
    stored.save(path, "JPEG", exif=exif, quality=95)
    assert recognizer.upright(path).size == upright.size
    box_sideways = next(d.box for d in recognizer.detect(path) if d.label == "motorbike")
    box_upright = next(d.box for d in recognizer.detect(upright) if d.label == "motorbike")
    assert np.allclose(box_sideways, box_upright, atol=0.05 * max(upright.size))


def test_bad_arguments(recognizer, photos):
    with pytest.raises(InvalidInputError, match="top_k"):
        recognizer.classify(photos["coffee"], top_k=0)
    with pytest.raises(InvalidInputError, match="threshold"):
        recognizer.detect(photos["coffee"], threshold=1.5)
    with pytest.raises(InvalidInputError, match="list"):
        recognizer.classify_batch(photos["coffee"])
    with pytest.raises(InvalidInputError, match="No trained model"):
        recognizer.classify(photos["coffee"], model="no-such-model")
