"""Splits and full-ranking metrics, following RecBole's evaluation protocol.

- ``random_split``: each user's interactions are shuffled and split 80/10/10
  (RecBole's ``RS: [0.8, 0.1, 0.1]`` with ``group_by: user`` and ``order: RO``,
  same rounding rule as ``Dataset._calcu_split_ids``).
- ``leave_last_out``: each user's last interaction (by time) is the test item,
  the one before it the validation item.
- ``ranking_metrics``: every item in the catalogue is ranked for each test user
  (full ranking); items the user had in training (and validation) are masked.
  Recall@K, NDCG@K, MRR@K and Hit@K are averaged over users with test items, as
  RecBole does; coverage is the share of the catalogue in anyone's top K.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from core.errors import InvalidInputError


def unique_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item): the latest one when a timestamp is given."""
    if "timestamp" in df:
        df = df.sort_values("timestamp", kind="stable")
    return df.drop_duplicates(["user_id", "item_id"], keep="last")


def _split_counts(total: int, ratios: tuple[float, ...]) -> list[int]:
    # RecBole's Dataset._calcu_split_ids: floor each later part, give the rest to
    # training, and move one interaction into any later part that rounded to 0.
    cnt = [int(r * total) for r in ratios]
    cnt[0] = total - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * total < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def random_split(
    df: pd.DataFrame, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 2020
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-user random train/valid/test split (RecBole's default protocol)."""
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise InvalidInputError("Split ratios must sum to 1.")
    df = unique_pairs(df).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    df = df.iloc[order]
    parts: list[list[np.ndarray]] = [[], [], []]
    for _, rows in df.groupby("user_id", sort=False).indices.items():
        idx = df.index.to_numpy()[rows]
        cnt = _split_counts(len(idx), ratios)
        bounds = np.cumsum([0, *cnt])
        for p in range(3):
            parts[p].append(idx[bounds[p] : bounds[p + 1]])
    train, valid, test = (df.loc[np.concatenate(p)].sort_index().reset_index(drop=True) for p in parts)
    return train, valid, test


def leave_last_out(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Temporal split: per user, last item to test, second last to valid, the rest to train.

    Users with fewer than three interactions stay entirely in training.
    """
    if "timestamp" not in df:
        raise InvalidInputError("The temporal split needs a 'timestamp' column.")
    df = unique_pairs(df).sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    size = df.groupby("user_id")["item_id"].transform("size").to_numpy()
    rank_from_end = df.groupby("user_id").cumcount(ascending=False).to_numpy()
    held = size >= 3
    test = df[held & (rank_from_end == 0)]
    valid = df[held & (rank_from_end == 1)]
    train = df[~(held & (rank_from_end <= 1))]
    return train.reset_index(drop=True), valid.reset_index(drop=True), test.reset_index(drop=True)


ScoreFn = Callable[[np.ndarray, sp.csr_matrix], torch.Tensor]


@torch.no_grad()
def ranking_metrics(
    score: ScoreFn,
    history: sp.csr_matrix,
    mask: sp.csr_matrix,
    truth: sp.csr_matrix,
    k: int = 10,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Full-ranking metrics at k.

    Args:
        score: (user rows, their training histories) -> scores over all items.
        history: user x item training interactions (what the model sees).
        mask: user x item interactions to exclude from ranking (train + valid).
        truth: user x item held-out interactions (the test set).
    """
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if len(users) == 0:
        raise InvalidInputError("No user in the test set has interactions the model can rank.")
    n_items = truth.shape[1]
    # Keep a batch's dense score matrix near 64M floats whatever the catalogue size.
    batch_size = batch_size or max(1, min(1024, 64_000_000 // max(n_items, 1)))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    sums = {"recall": 0.0, "ndcg": 0.0, "mrr": 0.0, "hit": 0.0, "precision": 0.0}
    recommended = np.zeros(n_items, dtype=bool)
    for start in range(0, len(users), batch_size):
        rows = users[start : start + batch_size]
        s = score(rows, history[rows]).float()
        m = mask[rows].tocoo()
        s[torch.from_numpy(m.row).to(s.device), torch.from_numpy(m.col).to(s.device)] = -torch.inf
        top = torch.topk(s, min(k, n_items), dim=1).indices.cpu().numpy()
        t = truth[rows]
        hits = np.take_along_axis(t.toarray() > 0, top, axis=1)  # batch x k
        n_true = np.diff(t.indptr)
        recommended[top.ravel()] = True
        n_hits = hits.sum(1)
        dcg = (hits * discounts[: hits.shape[1]]).sum(1)
        idcg = np.array([discounts[: min(n, k)].sum() for n in n_true])
        first = np.where(hits.any(1), hits.argmax(1) + 1, np.inf)
        sums["recall"] += float((n_hits / n_true).sum())
        sums["precision"] += float((n_hits / k).sum())
        sums["ndcg"] += float((dcg / idcg).sum())
        sums["mrr"] += float((1.0 / first).sum())
        sums["hit"] += float((n_hits > 0).sum())
    out = {f"{name}@{k}": total / len(users) for name, total in sums.items()}
    out[f"coverage@{k}"] = float(recommended.mean())
    out["users"] = float(len(users))
    return out
