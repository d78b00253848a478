"""Intent training on a small real slice of BANKING77, evaluation, save and reload."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.customer_service import CustomerServiceBot
from apps.customer_service.datasets import BANKING77_SLICE
from apps.customer_service.intents import IntentModel
from core.errors import ModelUnavailableError


@pytest.fixture(scope="module")
def slice_() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    rows = list(csv.DictReader(BANKING77_SLICE.open(encoding="utf-8")))
    train = [(r["text"], r["category"]) for r in rows if r["split"] == "train"]
    test = [(r["text"], r["category"]) for r in rows if r["split"] == "test"]
    return train, test


def test_head_trains_evaluates_and_survives_restart(manager, tmp_path, slice_):
    train, test = slice_
    bot = CustomerServiceBot(data_dir=tmp_path / "cs", manager=manager)
    steps = []
    report = bot.train_intents(
        pd.DataFrame(train, columns=["text", "intent"]), progress=lambda f, m: steps.append(f)
    )
    assert report["n_intents"] == 10 and steps and steps[-1] == 1.0
    result = bot.evaluate_intents(test)
    # 10 intents, 8 examples each: chance is 10%; the frozen head gets most right.
    assert result["accuracy"] >= 0.7
    assert 0 < result["macro_f1"] <= 1
    confusion = result["confusion"]
    assert confusion.shape == (10, 10) and confusion.sum() == len(test)
    assert np.trace(confusion) == round(result["accuracy"] * len(test))

    again = CustomerServiceBot(data_dir=tmp_path / "cs", manager=manager)
    (head,) = (tmp_path / "cs" / "intents").glob("head-*/head.safetensors")  # served by the core
    assert again.evaluate_intents(test)["accuracy"] == result["accuracy"]


def test_finetune_one_epoch_saves_and_reloads(manager, tmp_path, slice_):
    """Fine-tuning runs in the core's trainer; the encoder it writes is served by the core."""
    train, test = slice_
    two = [(t, c) for t, c in train if c in ("card_arrival", "exchange_rate")]
    seen: list[tuple[float, str]] = []
    model, report = IntentModel.train(
        [t for t, _ in two], [c for _, c in two], mode="finetune", epochs=1, manager=manager,
        progress=lambda fraction, message: seen.append((fraction, message)),
    )  # fmt: skip
    assert report.mode == "finetune" and report.n_examples == 16
    # The trainer's progress crosses the handle as events (fine-tuning takes minutes at scale).
    assert any(m.startswith("Fine-tuning: epoch 1/1") for _, m in seen), seen
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] == 1.0
    texts = [t for t, c in test if c in ("card_arrival", "exchange_rate")]
    before = model.probabilities(texts)
    assert before.shape == (len(texts), 2)
    assert model.encoder_source in manager.loaded_models()  # served, not loaded by the app
    stale = tmp_path / "encoder-from-an-earlier-training"
    stale.mkdir()
    scratch = model.encoder_dir.parent  # trained into a temporary folder ...
    model.save(tmp_path)
    assert not scratch.exists() and model.encoder_dir.parent == tmp_path  # ... now moved
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.bin"))
    assert (tmp_path / model.head_dir.name / "head.safetensors").is_file()
    assert (tmp_path / model.encoder_dir.name / "model.safetensors").is_file()
    assert not stale.exists()  # earlier encoders go once the new manifest is written
    loaded = IntentModel.load(tmp_path, manager=manager)
    assert loaded is not None and loaded.mode == "finetune" and loaded.labels == model.labels
    np.testing.assert_allclose(loaded.probabilities(texts), before, atol=1e-5)


def test_the_head_is_served_by_the_core_and_an_old_head_file_is_migrated(manager, tmp_path):
    """The softmax layer runs in the core's embedding_head role; a head saved as a bare
    safetensors file (the layout before heads were served) loads once and is moved into
    a head folder, and the manifest then names that folder."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(3, 384)).astype(np.float32)
    bias = np.array([0.1, -0.2, 0.3], np.float32)
    save_file({"head.weight": weight, "head.bias": bias}, str(tmp_path / "intent_head.safetensors"))
    manifest = {"mode": "head", "labels": ["a", "b", "c"], "weights": "intent_head.safetensors"}
    (tmp_path / "intent_model.json").write_text(json.dumps(manifest))

    model = IntentModel.load(tmp_path, manager=manager)
    assert model is not None and model.head_source in manager.loaded_models()
    rewritten = json.loads((tmp_path / "intent_model.json").read_text())
    assert rewritten["head"] == model.head_dir.name and "weights" not in rewritten
    assert not (tmp_path / "intent_head.safetensors").exists()

    x = rng.normal(size=(5, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = x @ weight.T + bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.probabilities(["q"] * 5, embeddings=x), expected, atol=1e-5)
    again = IntentModel.load(tmp_path, manager=manager)  # no second migration
    assert again is not None and again.head_dir == model.head_dir
    assert len(list(tmp_path.glob("head-*"))) == 1
    # A head whose outputs do not match the labels is refused at load, not at first use.
    bad = {**rewritten, "labels": ["a", "b"]}
    (tmp_path / "intent_model.json").write_text(json.dumps(bad))
    with pytest.raises(ModelUnavailableError, match="3 outputs for 2 intents"):
        IntentModel.load(tmp_path, manager=manager)


def test_a_finetuned_model_saved_by_the_old_layout_asks_for_retraining(tmp_path):
    """Before the core served fine-tuned encoders, their weights sat in the head's file."""
    from safetensors.numpy import save_file

    save_file(
        {"head.weight": np.zeros((2, 384), np.float32), "head.bias": np.zeros(2, np.float32)},
        str(tmp_path / "intent_finetune.safetensors"),
    )
    manifest = {"mode": "finetune", "labels": ["a", "b"], "weights": "intent_finetune.safetensors"}
    (tmp_path / "intent_model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelUnavailableError, match="retrain"):
        IntentModel.load(tmp_path)
    (tmp_path / "intent_model.json").write_text(json.dumps({**manifest, "encoder": "../elsewhere"}))
    with pytest.raises(ModelUnavailableError, match="retrain"):
        IntentModel.load(tmp_path)


def test_intents_reach_models_only_through_core_handles():
    """No encoder weights in the app: it imports only torch-free types and the public core."""
    import ast

    import apps.customer_service.intents as intents

    tree = ast.parse(Path(intents.__file__).read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    crossing = sorted(
        m
        for m in modules
        if (m.startswith("shared_models.") and not m.startswith("shared_models.types."))
        or m.split(".")[0] in ("torch", "transformers", "sentence_transformers", "tokenizers")
        or m.startswith(("core.manager", "core.registry", "core.handles", "core.batcher"))
    )
    assert "shared_models.types.embedding_training" in modules  # the scan sees imports
    assert crossing == []
