"""Training your own classifier: real data slices, saving and reloading, and bad training sets.

Only the Fashion-MNIST test needs Debian's dataset-fashion-mnist; the folder and zip tests
train on photo folders written from scikit-image's photos (``write_image_folder``).
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.vision import ImageRecognizer, datasets
from apps.vision.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
from core.errors import InvalidInputError

from .conftest import needs_fashion_mnist, write_image_folder


def _no_pickles(folder: Path) -> None:
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["config.json", "model.safetensors", "training.json"], files
    assert not any(p.suffix in {".pt", ".pth", ".pkl", ".bin"} for p in folder.iterdir())


@needs_fashion_mnist
def test_small_cnn_on_fashion_mnist_slice_beats_chance(recognizer, manager):
    steps = []
    report = recognizer.train_classifier(
        "fashion-mnist", epochs=3, limit=1000, progress=lambda f, m: steps.append(f)
    )
    assert report.method == "cnn" and report.class_names == list(FASHION_MNIST_CLASSES)
    assert report.metrics.n_test == 200
    assert report.accuracy > 0.55 and report.macro_f1 > 0.45  # chance is 0.10
    assert len(report.curve.epoch) == 3 and steps[-1] == 1.0 and steps == sorted(steps)
    confusion = np.asarray(report.metrics.confusion)
    assert confusion.shape == (10, 10) and confusion.sum() == 200
    _no_pickles(recognizer.data_dir / "models" / report.name)

    # Served by the shared core under its own name, and listed next to the ImageNet model.
    assert report.model_id in [v for _, v in recognizer.classifier_choices()]
    test = load_fashion_mnist("test")
    images = [Image.fromarray(test.images[i]) for i in range(300, 340)]
    items = recognizer.classify_batch(images, top_k=1, model=report.model_id)
    served = np.mean([it.result[0].label == FASHION_MNIST_CLASSES[test.labels[300 + i]]
                      for i, it in enumerate(items)])
    assert served > 0.5
    assert manager.is_loaded(report.model_id)

    # A fresh recognizer on the same folder (a restart) finds and serves it.
    again = ImageRecognizer(manager, data_dir=recognizer.data_dir)
    assert report.model_id in [v for _, v in again.classifier_choices()]
    assert again.classify(images[0], top_k=1, model=report.name)[0].label in FASHION_MNIST_CLASSES


def test_head_on_frozen_features_from_a_zip_of_real_images(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "photos", {"cat": 12, "coffee": 12, "rocket": 12})
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in root.rglob("*.png"):
            zf.write(f, f"photos/{f.relative_to(root)}")  # zips usually nest one folder
    report = recognizer.train_classifier(archive, epochs=15, name="photos")
    assert report.method == "head" and report.name == "photos"
    assert sorted(report.class_names) == ["cat", "coffee", "rocket"]
    assert report.metrics.n_test == 3 * round(0.2 * 12)
    assert report.accuracy >= 0.75  # chance is 1/3
    _no_pickles(recognizer.data_dir / "models" / "photos")
    config = json.loads((recognizer.data_dir / "models" / "photos" / "config.json").read_text())
    assert config["architecture"] == "efficientnet_lite0"  # the core's local: format
    assert not list((recognizer.data_dir / "uploads").iterdir())  # extracted upload removed

    # The saved model, served by the core, agrees with the held-out evaluation on crops
    # it never saw (offset past the training images).
    unseen = write_image_folder(tmp_path / "unseen", {"cat": 6, "rocket": 6}, offset=50)
    for label in ("cat", "rocket"):
        preds = [recognizer.classify(f, top_k=1, model="photos")[0]
                 for f in sorted((unseen / label).iterdir())]
        assert sum(p.label == label for p in preds) >= 4, (label, preds)

    # Same name again: a new model, the first is kept.
    second = recognizer.train_classifier(root, epochs=2, name="photos")
    assert second.name == "photos-2"
    assert (recognizer.data_dir / "models" / "photos" / "model.safetensors").is_file()


def test_fine_tuning_runs_and_is_saved(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "ft", {"cat": 5, "rocket": 5}, offset=20)
    report = recognizer.train_classifier(root, epochs=5, fine_tune_epochs=1, name="ft")
    assert report.method == "finetune"
    assert len(report.curve.epoch) == 6  # 5 head epochs, then 1 fine-tuning epoch
    assert report.metrics.n_test == 2
    predictions = recognizer.classify(root / "cat" / os.listdir(root / "cat")[0], top_k=2, model="ft")
    assert sorted(p.label for p in predictions) == ["cat", "rocket"]  # served with its own labels


def test_small_cnn_on_a_folder_of_images(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "cnn", {"ring": 30, "cross": 30}, offset=80)
    report = recognizer.train_classifier(root, epochs=4, method="cnn", name="cnn-folder")
    assert report.method == "cnn" and report.metrics.n_test == 12
    assert report.accuracy >= 0.75  # rings and crosses; chance is 1/2
    unseen = write_image_folder(tmp_path / "unseen", {"ring": 4, "cross": 4}, offset=200)
    for label in ("ring", "cross"):
        preds = [recognizer.classify(f, top_k=1, model="cnn-folder")[0].label
                 for f in sorted((unseen / label).iterdir())]
        assert preds.count(label) >= 3, (label, preds)


def test_unbalanced_set_trains_with_a_warning(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "unbalanced", {"rocket": 24, "coffee": 4}, offset=40)
    report = recognizer.train_classifier(root, epochs=10)
    assert any("Unbalanced" in w for w in report.warnings)
    assert report.counts == {"coffee": 4, "rocket": 24}
    # The small class is evaluated: one of its four images is held out (5 of the 24 others).
    held_out = dict(zip(report.metrics.class_names, np.asarray(report.metrics.confusion).sum(axis=1), strict=True))
    assert held_out == {"coffee": 1, "rocket": 5} and report.metrics.n_test == 6


def test_empty_and_one_class_and_tiny_training_sets(recognizer, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="empty"):
        recognizer.train_classifier(empty)
    (empty / "cats").mkdir()
    (empty / "dogs").mkdir()
    with pytest.raises(InvalidInputError, match="no images"):
        recognizer.train_classifier(empty)
    one = write_image_folder(tmp_path / "one", {"coffee": 6})
    with pytest.raises(InvalidInputError, match="Only one class"):
        recognizer.train_classifier(one)
    partly = write_image_folder(tmp_path / "partly", {"coffee": 6, "rocket": 6})
    (partly / "Empty-class").mkdir()
    with pytest.raises(InvalidInputError, match="Empty-class"):
        recognizer.train_classifier(partly)
    tiny = write_image_folder(tmp_path / "tiny", {"coffee": 6, "rocket": 2})
    with pytest.raises(InvalidInputError, match="at least 3 images"):
        recognizer.train_classifier(tiny)
    with pytest.raises(InvalidInputError, match="No training folder"):
        recognizer.train_classifier(tmp_path / "missing")
    not_zip = tmp_path / "data.zip"
    not_zip.write_bytes(b"PK but not really")
    with pytest.raises(InvalidInputError, match="neither a folder nor a zip"):
        recognizer.train_classifier(not_zip)
    with pytest.raises(InvalidInputError, match="epochs"):
        recognizer.train_classifier(partly, epochs=0)


def test_unreadable_images_are_skipped_with_a_note(recognizer, tmp_path):
    root = write_image_folder(tmp_path / "corrupt", {"coffee": 5, "rocket": 5}, offset=60)
    (root / "coffee" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    report = recognizer.train_classifier(root, epochs=3)
    assert report.skipped and "broken.png" in report.skipped[0]
    assert report.counts["coffee"] == 5


def _zip_with(path: Path, entries: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../evil.png", "path traversal"),
        ("cats/../../evil.png", "path traversal"),
        ("/etc/evil.png", "absolute"),
        ("C:/Windows/evil.png", "absolute"),
        ("cats\\..\\..\\evil.png", "path traversal"),
    ],
)
def test_malicious_zip_names_are_refused(recognizer, tmp_path, name, message):
    png = (Path(__file__).parent / "__init__.py").read_bytes()  # content does not matter
    archive = _zip_with(tmp_path / "evil.zip", [("cats/a.png", png), ("dogs/b.png", png), (name, png)])
    with pytest.raises(InvalidInputError, match=message):
        recognizer.train_classifier(archive)
    assert not (tmp_path.parent / "evil.png").exists() and not Path("/etc/evil.png").exists()
    assert not list((recognizer.data_dir / "uploads").glob("upload-*"))


def test_symlinks_and_oversized_zips_are_refused(recognizer, tmp_path, monkeypatch):
    link = _zip_with(tmp_path / "link.zip", [("cats/a.png", b"x")], symlink="dogs/passwd.png")
    with pytest.raises(InvalidInputError, match="symbolic link"):
        recognizer.train_classifier(link)
    many = _zip_with(tmp_path / "many.zip", [(f"c{i % 2}/{i}.png", b"x") for i in range(30)])
    monkeypatch.setattr(datasets, "MAX_ZIP_FILES", 20)
    with pytest.raises(InvalidInputError, match="entries"):
        recognizer.train_classifier(many)
    big = _zip_with(tmp_path / "big.zip", [("a/1.png", b"\0" * 400_000), ("b/2.png", b"\0" * 400_000)])
    monkeypatch.setattr(datasets, "MAX_ZIP_UNCOMPRESSED_BYTES", 500_000)
    with pytest.raises(InvalidInputError, match="MB"):
        recognizer.train_classifier(big)
    assert not list((recognizer.data_dir / "uploads").glob("upload-*"))


def test_held_out_metrics_by_hand():
    from apps.vision.evaluation import held_out_metrics

    # class a: 2 right, 1 called b; class b: 1 right; class c: never present, never predicted.
    m = held_out_metrics(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), ["a", "b", "c"])
    assert m.accuracy == 0.75 and m.confusion == [[2, 1, 0], [0, 1, 0], [0, 0, 0]]
    f1_a, f1_b = 2 * 2 / (2 + 3), 2 * 1 / (2 + 1)
    # c is neither held out nor predicted: left out of the mean, not scored 0 (apps.metrics).
    assert m.macro_f1 == pytest.approx((f1_a + f1_b) / 2)
