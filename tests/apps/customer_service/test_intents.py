"""Intent training on a small real slice of BANKING77, evaluation, save and reload."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from apps.customer_service import CustomerServiceBot
from apps.customer_service.datasets import BANKING77_SLICE
from apps.customer_service.intents import IntentModel


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
    assert (tmp_path / "cs" / "intents" / "intent_head.safetensors").is_file()
    assert again.evaluate_intents(test)["accuracy"] == result["accuracy"]


def test_finetune_one_epoch_saves_and_reloads(tmp_path, slice_):
    train, test = slice_
    two = [(t, c) for t, c in train if c in ("card_arrival", "exchange_rate")]
    model, report = IntentModel.train(
        [t for t, _ in two], [c for _, c in two], mode="finetune", epochs=1
    )
    assert report.mode == "finetune" and report.n_examples == 16
    texts = [t for t, c in test if c in ("card_arrival", "exchange_rate")]
    before = model.probabilities(texts)
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and (tmp_path / "intent_finetune.safetensors").is_file()
    loaded = IntentModel.load(tmp_path)
    assert loaded is not None and loaded.mode == "finetune" and loaded.labels == model.labels
    np.testing.assert_allclose(loaded.probabilities(texts), before, atol=1e-5)
