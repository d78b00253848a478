"""The vision REST routes on the real EfficientNet-Lite0 and YOLOv3-tiny, with scikit-image photos."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from apps.ui_kit import image_recognizer
from apps.vision.examples import example_photos

from .rest_app import assert_error, make_client

VISION = "/api/v1/vision"
CATS = {"tabby", "tiger cat", "Egyptian cat", "lynx", "Persian cat"}


@pytest.fixture(scope="module")
def client(manager):
    with make_client() as c:
        yield c


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    return {
        Path(k).stem: v for k, v in example_photos(tmp_path_factory.mktemp("rest-photos")).items()
    }


def _upload(path: Path, name: str = "file") -> dict:
    return {name: (path.name, path.read_bytes(), "image/png")}


def test_classify_by_upload_and_by_base64_agree(client, photos):
    r = client.post(f"{VISION}/classify", files=_upload(photos["chelsea"]), data={"top_k": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["predictions"]) == 3 and body["predictions"][0]["label"] in CATS
    assert body["model"] == image_recognizer().manager.handle("classification").name

    encoded = base64.b64encode(photos["chelsea"].read_bytes()).decode()
    as_json = client.post(f"{VISION}/classify", json={"image": encoded, "top_k": 3}).json()
    assert [p["label"] for p in as_json["predictions"]] == [p["label"] for p in body["predictions"]]
    data_url = client.post(
        f"{VISION}/classify", json={"image": "data:image/png;base64," + encoded, "top_k": 3}
    )
    assert data_url.json()["predictions"] == as_json["predictions"]
    # The same function the page calls, on the same recognizer.
    direct = image_recognizer().classify(str(photos["chelsea"]), top_k=3)
    assert [p.label for p in direct] == [p["label"] for p in body["predictions"]]


def test_detect_finds_the_motorbike(client, photos):
    r = client.post(
        f"{VISION}/detect", files=_upload(photos["motorcycle"]), data={"threshold": "0.25"}
    )
    assert r.status_code == 200, r.text
    found = r.json()["detections"]
    assert "motorbike" in [d["label"] for d in found]
    width, height = Image.open(photos["motorcycle"]).size
    for d in found:
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height and d["score"] >= 0.25
    direct = image_recognizer().detect(str(photos["motorcycle"]), threshold=0.25)
    assert [d["label"] for d in found] == [d.label for d in direct]
    strict = client.post(
        f"{VISION}/detect", files=_upload(photos["motorcycle"]), data={"threshold": "0.95"}
    )
    assert len(strict.json()["detections"]) < len(found)


def test_similar_images_from_the_collection(client, photos):
    files = [("files", (p.name, p.read_bytes(), "image/png")) for p in photos.values()]
    files.append(("files", ("broken.png", b"not an image", "image/png")))
    r = client.post(f"{VISION}/collection", files=files)
    assert r.status_code == 200, r.text
    assert r.json()["size"] >= len(photos)
    assert len(r.json()["skipped"]) == 1 and "broken.png" in r.json()["skipped"][0]
    assert client.get(f"{VISION}/collection").json()["size"] == r.json()["size"]

    hits = client.post(f"{VISION}/similar", files=_upload(photos["coffee"]), data={"k": "2"}).json()
    assert len(hits["images"]) == 2
    assert hits["images"][0]["name"] == "coffee.png" and hits["images"][0]["score"] > 0.99
    assert hits["images"][1]["score"] < hits["images"][0]["score"]


def _png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": {"file": ("x.png", b"this is not a picture", "image/png")}},
        {"files": {"file": ("x.png", _png_bytes()[:30], "image/png")}},  # truncated
        {"files": {"file": ("x.png", b"", "image/png")}},
        {"files": {"other": ("x.png", _png_bytes(), "image/png")}},  # wrong field
        {"files": {"file": ("x.png", _png_bytes(), "image/png")}, "data": {"top_k": "0"}},
        {"files": {"file": ("x.png", _png_bytes(), "image/png")}, "data": {"top_k": "many"}},
        {"json": {"image": "%%% not base64 %%%"}},
        {"json": {"image": ""}},
        {"json": {"image": base64.b64encode(b"not a picture").decode()}},
        {"json": {"top_k": 3}},
        {"json": {"image": 12}},
        {"content": b"raw bytes", "headers": {"content-type": "application/octet-stream"}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
    ],
)
def test_bad_images_are_400(client, kwargs):
    assert_error(client.post(f"{VISION}/classify", **kwargs), 400)


def test_bad_detect_and_similar_parameters_are_400(client):
    png = {"file": ("x.png", _png_bytes(), "image/png")}
    assert_error(client.post(f"{VISION}/detect", files=png, data={"threshold": "1.5"}), 400)
    assert_error(client.post(f"{VISION}/similar", files=png, data={"k": "0"}), 400)
    assert_error(client.post(f"{VISION}/collection", files={"other": ("x.png", _png_bytes())}), 400)


def test_unknown_classifier_is_404(client):
    png = {"file": ("x.png", _png_bytes(), "image/png")}
    assert_error(
        client.post(f"{VISION}/classify", files=png, data={"model": "vision:no-such-model"}), 404
    )
    assert_error(client.post(f"{VISION}/classify", files=png, data={"model": "no-such-model"}), 404)


def test_huge_images_are_413(client, manager, monkeypatch, photos):
    monkeypatch.setattr(manager.settings.limits, "max_upload_mb", 1)
    huge = b"\x89PNG" + bytes(1024 * 1024 + 10)
    assert_error(
        client.post(f"{VISION}/classify", files={"file": ("big.png", huge, "image/png")}), 413
    )
    encoded = base64.b64encode(huge).decode()
    assert_error(client.post(f"{VISION}/detect", json={"image": encoded}), 413)


def test_decompression_bomb_is_refused(client):
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")  # 400 M pixels, a few kB on disk
    assert_error(
        client.post(f"{VISION}/classify", files={"file": ("bomb.png", out.getvalue())}), 400
    )
