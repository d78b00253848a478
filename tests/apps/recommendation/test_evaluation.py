"""Splits follow RecBole's rules; metrics match hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from apps.recommendation.evaluation import (
    _split_counts,
    leave_last_out,
    random_split,
    ranking_metrics,
)


def test_split_counts_follow_recbole_rounding():
    assert _split_counts(20, (0.8, 0.1, 0.1)) == [16, 2, 2]
    assert _split_counts(11, (0.8, 0.1, 0.1)) == [9, 1, 1]
    assert _split_counts(5, (0.8, 0.1, 0.1)) == [3, 1, 1]  # parts that round to 0 get one
    assert _split_counts(2, (0.8, 0.1, 0.1)) == [1, 0, 1]


def test_random_split_is_per_user_disjoint_and_complete(movielens):
    inter, _ = movielens
    train, valid, test = random_split(inter, seed=1)
    assert len(train) + len(valid) + len(test) == len(inter)
    key = lambda d: set(zip(d.user_id, d.item_id, strict=True))  # noqa: E731
    assert not key(train) & key(test) and not key(valid) & key(test)
    per_user = inter.groupby("user_id").size()
    test_per_user = test.groupby("user_id").size()
    u = per_user.index[0]
    assert test_per_user[u] == _split_counts(per_user[u], (0.8, 0.1, 0.1))[2]
    again = random_split(inter, seed=1)[2]
    pd.testing.assert_frame_equal(test, again)  # reproducible


def test_leave_last_out_takes_latest():
    df = pd.DataFrame({"user_id": ["a"] * 4 + ["b"] * 2, "item_id": list("wxyzwx"),
                       "timestamp": [4, 1, 3, 2, 1, 2]})
    train, valid, test = leave_last_out(df)
    assert test.item_id.tolist() == ["w"] and valid.item_id.tolist() == ["y"]
    assert sorted(train.item_id) == ["w", "x", "x", "z"]  # user b (2 items) stays in training


def test_metrics_by_hand():
    # Two users, 4 items. Scores rank items 0 > 1 > 2 > 3 for both.
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0]])
    history = sp.csr_matrix((2, 4), dtype=np.float32)
    mask = sp.csr_matrix(([1.0], ([1], [0])), shape=(2, 4))  # user 1 saw item 0
    truth = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [1, 3, 2])), shape=(2, 4))
    m = ranking_metrics(lambda rows, h: scores[rows], history, mask, truth, k=2)
    # user 0: top2 = [0, 1]; hits [0, 1]; recall 1/2; ndcg (1/log2 3)/(1 + 1/log2 3); mrr 1/2
    # user 1: item 0 masked -> top2 = [1, 2]; hits [0, 1]; recall 1; ndcg (1/log2 3)/1; mrr 1/2
    d = 1 / math.log2(3)
    assert math.isclose(m["recall@2"], (0.5 + 1.0) / 2)
    assert math.isclose(m["ndcg@2"], (d / (1 + d) + d) / 2, rel_tol=1e-6)
    assert math.isclose(m["mrr@2"], 0.5)
    assert m["hit@2"] == 1.0
    assert m["coverage@2"] == 0.75
