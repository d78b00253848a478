"""FAISS retrieval: exact equals brute force; approximate indexes find nearly all; exclusion works."""

from __future__ import annotations

import numpy as np
import pytest

from apps.recommendation.retrieval import ItemIndex


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 32))
    v = centres[rng.integers(0, 50, 20_000)] + 0.5 * rng.standard_normal((20_000, 32))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_exact_matches_brute_force_and_excludes(vectors):
    index = ItemIndex(vectors, "exact", use_gpu=False)
    q = vectors[:5]
    truth = np.argsort(-(q @ vectors.T), axis=1)[:, :10]
    _, ids = index.search(q, 10)
    assert (ids == truth).all()
    banned = [list(truth[i, :3]) for i in range(5)]
    _, ids = index.search(q, 10, banned)
    for i in range(5):
        assert not set(banned[i]) & set(ids[i])
        assert list(ids[i, :7]) == list(truth[i, 3:10])


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_recall(vectors, kind):
    exact = ItemIndex(vectors, "exact", use_gpu=False)
    approx = ItemIndex(vectors, kind, use_gpu=False)
    q = vectors[100:150] + 0.01
    _, t = exact.search(q, 50)
    _, a = approx.search(q, 50)
    recall = np.mean([len(set(x) & set(y)) / 50 for x, y in zip(a, t, strict=True)])
    assert recall > 0.9, recall


def test_small_catalogue_is_exact_and_padding():
    v = np.eye(3, dtype=np.float32)
    index = ItemIndex(v)
    assert index.kind == "exact"
    s, ids = index.search(v[:1], 5, [[0]])
    assert list(ids[0, :2]) in ([1, 2], [2, 1]) and list(ids[0, 2:]) == [-1, -1, -1]
