"""Image classification on real photos through the shared manager, plus the external loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

import shared_models.image_classification as ic
from core.errors import InvalidInputError, ModelUnavailableError, OfflineModelError
from core.registry import LoadContext
from shared_models.image_classification import ClassificationResult, ClassifyRequest

CAT_LABELS = {"tabby", "Egyptian cat", "tiger cat"}


@pytest.fixture(scope="module")
def classify(manager):
    return manager.handle("classification")


def labels(result: ClassificationResult) -> list[str]:
    return [p.label for p in result.predictions]


def external_ctx(manager, source: str) -> LoadContext:
    settings = manager.settings.model_copy(update={"offline": True})
    return LoadContext(settings, manager.policy, settings.model_cache_dir, source=source)


def test_default_is_the_bundled_efficientnet(classify) -> None:
    assert classify.name == "efficientnet-lite0"


def test_coffee_is_espresso_or_cup(classify) -> None:
    [result] = classify.call([skimage.data.coffee()])
    top5 = labels(result)
    assert len(top5) == 5 and {"espresso", "cup"} & set(top5), top5
    scores = [p.score for p in result.predictions]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    assert result.features is None


def test_chelsea_is_a_cat(classify) -> None:
    [result] = classify.call([ClassifyRequest(skimage.data.chelsea())])
    assert CAT_LABELS & set(labels(result)), labels(result)


def test_batch_rows_keep_their_own_results(manager, classify) -> None:
    photos = [skimage.data.coffee(), skimage.data.chelsea(), skimage.data.astronaut()]
    batch = classify.call(photos)
    assert len(batch) == 3
    assert labels(batch[0]) != labels(batch[1])
    assert {"espresso", "cup"} & set(labels(batch[0])) and CAT_LABELS & set(labels(batch[1]))
    # One stacked forward gives each row what it gets alone (up to bf16/fp16
    # rounding on a GPU, where kernels differ with the batch size).
    exact = manager.policy.dtype == torch.float32
    atol, n = (1e-4, 5) if exact else (5e-2, 3)
    for photo, together in zip(photos, batch, strict=True):
        [alone] = classify.call([photo])
        assert labels(alone)[:n] == labels(together)[:n]
        np.testing.assert_allclose(
            [p.score for p in alone.predictions], [p.score for p in together.predictions], atol=atol
        )


def test_features_and_top_k_per_request(classify) -> None:
    coffee, cat = skimage.data.coffee(), skimage.data.chelsea()
    out = classify.call(
        [
            ClassifyRequest(coffee, top_k=2, features=True),
            ClassifyRequest(cat, top_k=7, features=True),
            cat,
        ]
    )
    assert [len(r.predictions) for r in out] == [2, 7, 5]
    a, b, c = (r.features for r in out)
    assert c is None
    assert a.shape == (1280,) and a.dtype == np.float32 and np.isfinite(a).all()
    # Different photos give different embeddings; the same photo the same one.
    [again] = classify.call([ClassifyRequest(coffee, features=True)])
    cos = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))  # noqa: E731
    assert cos(a, again.features) > 0.999 and cos(a, b) < 0.9


def test_bad_rows_fail_alone(manager, classify, tmp_path: Path) -> None:
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    with manager.use("classification") as runner:
        out = runner(
            [text, skimage.data.coffee(), ClassifyRequest(skimage.data.chelsea(), top_k=0)]
        )
    assert isinstance(out[0], InvalidInputError) and "not an image" in str(out[0])
    assert isinstance(out[1], ClassificationResult) and {"espresso", "cup"} & set(labels(out[1]))
    assert isinstance(out[2], InvalidInputError) and "top_k" in str(out[2])
    with pytest.raises(InvalidInputError):
        classify.call([b"\x89PNG\r\n\x1a\n broken"])


def test_local_folder_round_trip(manager, tmp_path: Path) -> None:
    # Re-save the bundled weights in the documented local format; they must load
    # strictly and classify exactly like the bundled model.
    bundled = ic.load_lite0(external_ctx(manager, ""))
    folder = ic.save_local_classifier(
        tmp_path / "lite", bundled.model, "efficientnet_lite0", bundled.labels
    )
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    local = ic.load_external(external_ctx(manager, f"local:{folder}"))
    coffee = skimage.data.coffee()
    [want], [got] = bundled([coffee]), local([ClassifyRequest(coffee, features=True)])
    assert labels(got) == labels(want) and got.predictions[0].label == "espresso"
    assert got.features is not None and got.features.shape == (1280,)


def test_local_folder_with_a_torchvision_architecture(manager, tmp_path: Path) -> None:
    torch.manual_seed(0)
    from torchvision.models import mobilenet_v3_small

    model = mobilenet_v3_small(num_classes=3).eval()
    folder = ic.save_local_classifier(
        tmp_path / "mnv3", model, "mobilenet_v3_small", ["a", "b", "c"]
    )
    runner = ic.load_external(external_ctx(manager, f"local:{folder}"))
    [result] = runner([ClassifyRequest(skimage.data.coffee(), top_k=10, features=True)])
    assert sorted(labels(result)) == ["a", "b", "c"]  # top_k clipped to the 3 classes
    # Features of a torchvision net are the input of its last Linear layer.
    assert result.features is not None and result.features.shape == (1024,)
    # Scores come from the saved weights, not a fresh initialisation.
    x = runner.transform(Image.fromarray(skimage.data.coffee()))
    with torch.inference_mode():
        expected = model(x[None]).softmax(1)[0]
    by_label = {p.label: p.score for p in result.predictions}
    np.testing.assert_allclose([by_label[k] for k in "abc"], expected.numpy(), atol=1e-5)


def test_local_folder_errors(manager, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        ic.load_external(external_ctx(manager, f"local:{tmp_path / 'missing'}"))
    (tmp_path / "config.json").write_text('{"architecture": "no_such_net", "labels": ["x"]}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelUnavailableError, match="Unknown architecture"):
        ic.load_external(external_ctx(manager, f"local:{tmp_path}"))


def test_torchvision_offline_names_the_bundled_default(manager, tmp_path: Path, monkeypatch) -> None:
    # An empty torch hub folder: the weights are not cached whatever this machine holds,
    # so the offline refusal is always exercised (a real empty cache, not a fake loader).
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert Path(torch.hub.get_dir()) == tmp_path / "hub"
    with pytest.raises(OfflineModelError, match="efficientnet-lite0"):
        ic.load_external(external_ctx(manager, "torchvision:ResNet50_Weights.IMAGENET1K_V2"))


def test_torchvision_and_hub_names_are_checked(manager) -> None:
    with pytest.raises(ModelUnavailableError, match="not a torchvision weights name"):
        ic.load_external(external_ctx(manager, "torchvision:NoSuch_Weights.V1"))
    with pytest.raises(ModelUnavailableError, match="not for a classification model"):
        ic.load_external(
            external_ctx(manager, "torchvision:FasterRCNN_ResNet50_FPN_Weights.COCO_V1")
        )
    with pytest.raises(InvalidInputError, match="cannot load"):
        ic.load_external(external_ctx(manager, "hub:google/vit-base-patch16-224"))
