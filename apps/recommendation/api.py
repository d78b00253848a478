"""The recommendation app's Python API: ``Recommender``.

>>> from apps.recommendation import Recommender
>>> from apps.recommendation.data import load_movielens_100k
>>> interactions, items = load_movielens_100k()
>>> rec = Recommender(model="ease").fit(interactions, items=items)
>>> [r.title for r in rec.recommend("196", k=3)]          # doctest: +SKIP
>>> rec.similar_items("50", k=5)                           # doctest: +SKIP
>>> rec.recommend_for_new_user(liked_items=["50", "172"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core import ModelManager, get_manager
from core.errors import InvalidInputError

from .columns import ColumnMapping
from .data import IdMap, interaction_matrix, item_text, load_interactions, load_items
from .evaluation import ranking_metrics, unique_pairs
from .explain import (
    Reason,
    TextEvidence,
    WhyNot,
    pick_reasons,
    shares_of,
    text_evidence,
    without,
    words,
)
from .models import MODELS, Hybrid, RecModel, create_model
from .retrieval import ItemIndex
from .text_model import DEFAULT_TEXT_MODEL, choose_text_model

FORMAT_VERSION = 1
# Models whose score is not a sum over the user's items (BPR) are explained by item
# similarity over this many of the user's items only: enough to find "because you
# liked X", and bounded work for users with huge histories.
EXPLAIN_HISTORY = 500
# Text explanations re-embed an item's text once per word: only the first this many
# recommendations of a list get them (the page shows at most 50).
EXPLAIN_TEXT_ITEMS = 50

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Recommendation:
    """One recommended item, with the reason it was chosen."""

    item_id: str
    score: float
    reason: str
    title: str = ""
    because_item_id: str | None = None
    #: "Because you liked X" and up to two close runner-ups, strongest first.
    reasons: tuple[Reason, ...] = ()
    #: Hybrid model, when asked: the words of this item's text its match with X rests on.
    text_evidence: tuple[TextEvidence, ...] = ()


class Recommender:
    """Train a recommender on interactions, then recommend, explain and evaluate.

    Args:
        model: one of "popular", "itemknn", "ease", "bpr", "hybrid".
        manager: the model manager whose text encoder embeds item metadata
            (hybrid model, text cold start); defaults to the shared one.
        device: "cpu" or "cuda"; defaults to the suite's device policy.
        text_model: the text encoder for item metadata (hybrid model). ``"auto"``
            (default) picks multilingual-e5-small when the items' text is not mostly
            English (Chinese titles, say) and the fast English MiniLM otherwise; or name
            an embedding model. A saved recommender keeps the encoder it was trained with.
        **params: model hyper-parameters (e.g. ``l2=300`` for EASE, ``epochs=40``).
    """

    def __init__(
        self,
        model: str = "ease",
        *,
        manager: ModelManager | None = None,
        device: str | None = None,
        text_model: str = "auto",
        **params: Any,
    ) -> None:
        self.model_name = str(model).strip().lower()
        if self.model_name not in MODELS:
            raise InvalidInputError(f"Unknown model {model!r}; choose one of {', '.join(MODELS)}.")
        if not isinstance(text_model, str) or not text_model.strip():
            raise InvalidInputError("text_model must be 'auto' or the name of an embedding model.")
        self.text_model_choice = text_model.strip()
        #: The embedding model item text is read with: fixed at ``fit`` (or ``load``).
        self.text_model = DEFAULT_TEXT_MODEL
        self.params = params
        self._manager = manager
        self._device = torch.device(device) if device else None
        self.model: RecModel | None = None
        self.losses: list[float] = []
        self.train_seconds = 0.0
        self._index: ItemIndex | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self,
        interactions: pd.DataFrame | str | Path,
        items: pd.DataFrame | str | Path | None = None,
        *,
        mapping: ColumnMapping | None = None,
        drop_duplicates: bool = False,
        progress: Progress | None = None,
    ) -> Recommender:
        """Learn from interactions (and item metadata). Returns ``self``.

        Interactions and items may be DataFrames or CSV/Parquet paths; see
        ``data.load_interactions`` for the checks applied. ``mapping`` names the user,
        item, rating, time or event columns (``ColumnMapping(user="customer", item="sku")``);
        by default they are guessed from common names. Every interaction counts
        as positive implicit feedback (filter low ratings first if they mean dislike).
        """
        df = load_interactions(interactions, mapping=mapping, drop_duplicates=drop_duplicates)
        meta = load_items(items) if items is not None else None
        model = create_model(self.model_name, self.device, **self.params)
        item_ids = list(pd.unique(df["item_id"]))
        if meta is not None and model.uses_text:
            # New items known only from metadata join the catalogue: the text tower serves them.
            seen = set(item_ids)
            item_ids += [i for i in meta["item_id"] if i not in seen]
        self.users = IdMap(list(pd.unique(df["user_id"])))
        self.items = IdMap(item_ids)
        self._set_metadata(meta)
        self.history = interaction_matrix(df, self.users, self.items)
        text = None
        if model.uses_text:
            if meta is None:
                raise InvalidInputError(
                    "The hybrid model needs item metadata (title, text or tags): pass items=..."
                )
            self.text_model = choose_text_model(self.text_model_choice, self.texts.values())
            if progress:
                progress(0.0, "embedding item metadata")
            text = self._embed_items(self.items.ids)
        start = time.perf_counter()
        self.losses = model.fit(self.history, item_text=text, progress=progress)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.train_seconds = time.perf_counter() - start
        self.model = model
        self._index = None
        return self

    def _set_metadata(self, meta: pd.DataFrame | None) -> None:
        self.titles: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        if meta is not None:
            self.titles = {r.item_id: r.title for r in meta.itertuples(index=False) if r.title}
            self.texts = {k: v for k, v in item_text(meta).items() if v}

    @property
    def device(self) -> torch.device:
        """Where the model trains: the one asked for, else the suite's device policy."""
        return self._device if self._device is not None else self.manager.policy.device

    @property
    def manager(self) -> ModelManager:
        """The model manager this recommender embeds text with and reads settings from."""
        if self._manager is None:
            self._manager = get_manager()
        return self._manager

    def _embedder(self):
        # Always the encoder the model was trained with: its item tower learned that space.
        return self.manager.handle(self.text_model)

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        handle = self._embedder()
        step = self.manager.settings.limits.max_batch_items
        out = []
        for start in range(0, len(texts), step):
            out.extend(handle.call(texts[start : start + step]))
        for v in out:
            if isinstance(v, Exception):
                raise v
        return np.stack(out).astype(np.float32)

    def _embed_items(self, ids: Sequence[str]) -> np.ndarray:
        """Text vectors for items; zeros for items without any metadata text."""
        with_text = [i for i in ids if self.texts.get(i)]
        vectors = np.zeros((len(ids), 0), dtype=np.float32)
        if with_text:
            emb = self._embed_texts([self.texts[i] for i in with_text])
            vectors = np.zeros((len(ids), emb.shape[1]), dtype=np.float32)
            pos = {i: n for n, i in enumerate(ids)}
            vectors[[pos[i] for i in with_text]] = emb
        else:
            raise InvalidInputError("No item has a title, text or tags to embed.")
        return vectors

    def add_items(self, items: pd.DataFrame | str | Path) -> int:
        """Add new items (hybrid model): they are served from their text alone.

        Returns how many items were added; known items are left as they are.
        """
        model = self._require_model()
        if not isinstance(model, Hybrid):
            raise InvalidInputError("Only the hybrid model can add items without retraining.")
        meta = load_items(items)
        new = meta[~meta["item_id"].isin(self.items.index)]
        if new.empty:
            return 0
        for r in new.itertuples(index=False):
            if r.title:
                self.titles[r.item_id] = r.title
        self.texts.update({k: v for k, v in item_text(new).items() if v})
        ids = list(new["item_id"])
        vectors = self._embed_items(ids)
        model.add_items(vectors)
        self.items = IdMap(self.items.ids + ids)
        self.history = sp.csr_matrix(
            (self.history.data, self.history.indices, self.history.indptr),
            shape=(len(self.users), len(self.items)),
        )
        self._index = None
        return len(ids)

    # ------------------------------------------------------------------ serving
    def _require_model(self) -> RecModel:
        if self.model is None:
            raise InvalidInputError("The recommender is not trained yet: call fit() first.")
        return self.model

    def _user_row(self, user_id: object) -> int:
        self._require_model()
        row = self.users.get(user_id)
        if row is None:
            raise InvalidInputError(
                f"Unknown user {user_id!r}: they have no history in the training data. "
                "Use recommend_for_new_user(liked_items=..., text=...) for new users."
            )
        return row

    def _item_row(self, item_id: object) -> int:
        self._require_model()
        row = self.items.get(item_id)
        if row is None:
            raise InvalidInputError(f"Unknown item {item_id!r}: it is not in the catalogue.")
        return row

    def has_user(self, user_id: object) -> bool:
        """Whether ``user_id`` has history in the training data (``recommend`` serves them)."""
        return self.model is not None and self.users.get(user_id) is not None

    def has_item(self, item_id: object) -> bool:
        """Whether ``item_id`` is in the trained catalogue."""
        return self.model is not None and self.items.get(item_id) is not None

    def title(self, item_id: str) -> str:
        """The item's title from the metadata, or its id."""
        return self.titles.get(item_id, item_id)

    def _item_index(self) -> ItemIndex:
        if self._index is None:
            self._index = ItemIndex(self._require_model().index_vectors().float().cpu().numpy())
        return self._index

    def _top(self, users: np.ndarray, history: sp.csr_matrix, k: int, exclude: list[list[int]],
             text_vector: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, item rows) for one query; through FAISS for factorised models."""
        model = self._require_model()
        if model.factorised:
            q = model.index_query(users, history, text_vector)
            s, i = self._item_index().search(q.float().cpu().numpy(), k, exclude)
            return s[0], i[0]
        scores = model.score(users, history)[0].float()
        if exclude and exclude[0]:
            scores[torch.as_tensor(exclude[0], device=scores.device)] = -torch.inf
        top = torch.topk(scores, min(k, len(scores)))
        s, i = top.values.cpu().numpy(), top.indices.cpu().numpy()
        ok = np.isfinite(s)
        return s[ok], i[ok]

    def _reasons(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray,
                 additive: bool = True) -> list[tuple[Reason, ...]]:
        """"Because you liked X" for each item, strongest first, with close runner-ups.

        ``history`` is one user's row. Where the model's score is a sum over the user's
        items (and ``additive``: no description was mixed into the query), reasons are
        ranked by their share of that sum; otherwise by the model's item similarity,
        over the last ``EXPLAIN_HISTORY`` items.
        """
        model = self._require_model()
        items = np.asarray(items, dtype=np.int64)
        hist = np.asarray(history.tocsr().indices, dtype=np.int64)
        if model.name == "popular" or len(hist) == 0 or len(items) == 0:
            return [()] * len(items)
        contrib = model.contributions(users, history, items) if additive else None
        if contrib is not None:
            shares = shares_of(contrib.float().cpu().numpy())
            picks = [pick_reasons(shares[:, n]) for n in range(len(items))]
            rows = sorted({int(hist[i]) for p in picks for i in p})
            cols = torch.as_tensor(items, device=model.device)
            sim = model.item_similarity(np.array(rows, dtype=np.int64))[:, cols] if rows else None
            sims = {} if sim is None else dict(zip(rows, sim.float().cpu().numpy(), strict=True))
            return [
                tuple(
                    self._reason(int(hist[i]), float(sims[int(hist[i])][n]), float(shares[i, n]))
                    for i in pick
                )
                for n, pick in enumerate(picks)
            ]
        hist = hist[-EXPLAIN_HISTORY:]
        sim = model.item_similarity(hist)[:, torch.as_tensor(items, device=model.device)].float().cpu().numpy()
        return [
            tuple(self._reason(int(hist[i]), float(sim[i, n])) for i in pick_reasons(sim[:, n]))
            for n in range(len(items))
        ]

    def _reason(self, row: int, similarity: float, share: float | None = None) -> Reason:
        liked = self.items.ids[row]
        return Reason(liked, self.title(liked), similarity, share)

    def _text_evidence(self, pairs: list[tuple[int, int]]) -> list[tuple[TextEvidence, ...]]:
        """For (liked row, recommended row) pairs of the hybrid model: the words that matter.

        Each word of the recommended item's text is left out in turn, the texts are
        re-embedded through the shared encoder (one batched call for all pairs), and the
        item's vector is rebuilt from each; the fall in the pair's score is the word's weight.
        """
        model = self._require_model()
        if not isinstance(model, Hybrid):
            return [()] * len(pairs)
        jobs: list[tuple[int, int, list[str], int] | None] = []
        texts: list[str] = []
        for liked, item in pairs:
            text = self.texts.get(self.items.ids[item], "")
            candidates = words(text)
            if len(candidates) < 2:  # leaving out the only word leaves nothing to embed
                jobs.append(None)
                continue
            jobs.append((liked, item, candidates, len(texts)))
            texts += [text] + [without(text, w) for w in candidates]
        if not texts:
            return [()] * len(pairs)
        vectors = self._embed_texts(texts)
        out = []
        for job in jobs:
            if job is None:
                out.append(())
                continue
            liked, item, candidates, start = job
            s = model.pair_scores_with_text(liked, item, vectors[start : start + 1 + len(candidates)])
            s = s.float().cpu().numpy()
            out.append(text_evidence(candidates, float(s[0]), s[1:]))
        return out

    def _results(self, scores, rows, users: np.ndarray, history: sp.csr_matrix, default_reason: str,
                 additive: bool = True, explain_text: bool = False) -> list[Recommendation]:
        scores, rows = np.asarray(scores), np.asarray(rows, dtype=np.int64)
        keep = rows >= 0
        scores, rows = scores[keep], rows[keep]
        reasons = self._reasons(users, history, rows, additive)
        evidence: list[tuple[TextEvidence, ...]] = [()] * len(rows)
        if explain_text:
            pairs = [(n, (self.items.index[rs[0].item_id], int(r)))
                     for n, (r, rs) in enumerate(zip(rows, reasons, strict=True)) if rs][:EXPLAIN_TEXT_ITEMS]
            for (n, _), ev in zip(pairs, self._text_evidence([p for _, p in pairs]), strict=True):
                evidence[n] = ev
        counts = np.asarray(self.history.sum(axis=0)).ravel()
        out = []
        for s, r, rs, ev in zip(scores, rows, reasons, evidence, strict=True):
            item = self.items.ids[r]
            if rs:
                reason, because = f"Because you liked {rs[0].title}", rs[0].item_id
            elif default_reason == "popular":
                reason, because = f"Popular: {int(counts[r])} users interacted with it", None
            else:
                reason, because = default_reason, None
            out.append(Recommendation(item, float(s), reason, self.title(item), because, rs, ev))
        return out

    def recommend(self, user_id: object, k: int = 10, exclude_seen: bool = True,
                  explain_text: bool = False) -> list[Recommendation]:
        """Top-k items for a known user, each with a score and its reasons.

        Each recommendation carries "Because you liked X" and ``reasons`` (X and up to two
        close runner-ups, with their strength). ``explain_text`` (hybrid model) also finds
        which words of each item's text its match with X rests on: one batched call of the
        text encoder for the first ``EXPLAIN_TEXT_ITEMS`` items, a word at a time left out.
        """
        k = _check_k(k)
        row = self._user_row(user_id)
        history = self._user_history(row, user_id)
        seen = list(history.indices)
        s, i = self._top(np.array([row]), history, k, [seen] if exclude_seen else [[]])
        return self._results(s, i, np.array([row]), history, "popular", explain_text=explain_text)

    def _user_history(self, row: int, user_id: object) -> sp.csr_matrix:
        history = self.history[[row]]
        if not history.nnz:
            raise InvalidInputError(f"User {user_id!r} has no history to recommend from.")
        return history

    def why_not(self, user_id: object, item_id: object, k: int = 10) -> WhyNot:
        """Why ``item_id`` is (not) among ``user_id``'s top-k: its rank, score and nearest reasons.

        The rank comes from scoring every item the user has not seen (the exact full
        ranking, also for models served through an approximate index); ``cutoff`` is the
        k-th best of those scores. An item the user has seen is reported as seen (it is
        never recommended); an unknown user or item is an ``InvalidInputError``.
        """
        k = _check_k(k)
        row = self._user_row(user_id)
        col = self._item_row(item_id)
        history = self._user_history(row, user_id)
        item = self.items.ids[col]
        seen = np.unique(history.indices)
        candidates = len(self.items) - len(seen)
        if col in set(seen.tolist()):
            return WhyNot(str(user_id), item, self.title(item), k, True, None, candidates, None, None)
        model = self._require_model()
        scores = model.score(np.array([row]), history)[0].float().cpu().numpy().astype(np.float64)
        scores[seen] = -np.inf
        score = float(scores[col])
        rank = 1 + int((scores > score).sum())
        unseen = scores[np.isfinite(scores)]
        kth = len(unseen) - min(k, len(unseen))
        cutoff = float(np.partition(unseen, kth)[kth])
        reasons = self._reasons(np.array([row]), history, np.array([col]))[0]
        evidence = self._text_evidence([(self.items.index[reasons[0].item_id], col)])[0] if reasons else ()
        return WhyNot(str(user_id), item, self.title(item), k, False, rank, candidates, score, cutoff,
                      reasons, evidence)

    def similar_items(self, item_id: object, k: int = 10) -> list[Recommendation]:
        """The k items most similar to an item, according to the trained model."""
        k = _check_k(k)
        model = self._require_model()
        row = self._item_row(item_id)
        if isinstance(model, Hybrid):
            # Through FAISS on [item vector ; text]: learned and content similarity together,
            # which also serves items that have no interactions yet.
            q = model.index_vectors()[[row]]
            s, i = self._item_index().search(q.float().cpu().numpy(), k, [[row]])
            s, i = s[0], i[0]
        else:
            if self.history[:, row].nnz == 0:
                raise InvalidInputError(
                    f"Item {item_id!r} has no interactions; the {model.label} model knows nothing "
                    "about it (the hybrid model can use its text)."
                )
            sim = model.item_similarity(np.array([row]))[0].float()
            sim[row] = -torch.inf
            top = torch.topk(sim, min(k, len(sim)))
            s, i = top.values.cpu().numpy(), top.indices.cpu().numpy()
            keep = np.isfinite(s) & (s > 0)
            s, i = s[keep], i[keep]
        name = self.title(self.items.ids[row])
        return [
            Recommendation(self.items.ids[r], float(v), f"Similar to {name}", self.title(self.items.ids[r]), self.items.ids[row])
            for v, r in zip(s, i, strict=True)
            if r >= 0
        ]

    def recommend_for_new_user(
        self, liked_items: Iterable[object] = (), text: str | None = None, k: int = 10
    ) -> list[Recommendation]:
        """Recommendations for someone not in the training data (cold start).

        Args:
            liked_items: item ids the person likes; unknown ids are an error.
            text: a description of what they like (hybrid model only).
        """
        k = _check_k(k)
        model = self._require_model()
        liked = [str(x).strip() for x in (liked_items or [])]
        rows = [self._item_row(x) for x in liked]
        rows = list(dict.fromkeys(rows))
        text = (text or "").strip() or None
        if not rows and text is None:
            raise InvalidInputError("A new user needs at least one liked item or a description.")
        text_vector = None
        if text is not None:
            if not isinstance(model, Hybrid):
                raise InvalidInputError("Text descriptions need the hybrid model (it reads item text).")
            limit = self.manager.settings.limits.max_text_chars
            if len(text) > limit:
                raise InvalidInputError(f"The description is {len(text)} characters; the limit is {limit}.")
            text_vector = self._embed_texts([text])[0]
        history = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (np.zeros(len(rows), int), rows)), shape=(1, len(self.items))
        )
        s, i = self._top(np.array([-1]), history, k, [rows], text_vector=text_vector)
        default = "Matches your description" if text else "popular"
        # With a description the query is no longer a sum over liked items: no shares.
        return self._results(s, i, np.array([-1]), history, default, additive=text_vector is None)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, test: pd.DataFrame | str | Path, k: int = 10, *, exclude: pd.DataFrame | None = None
    ) -> dict[str, float]:
        """Full-ranking metrics on held-out interactions.

        Every catalogue item is ranked for each test user; the user's training
        items (and ``exclude``, e.g. the validation split) are masked. Test rows
        of unknown users or items cannot be ranked and are counted, not scored.
        Returns recall/precision/ndcg/mrr/hit/coverage at k, plus counts.
        """
        k = _check_k(k)
        model = self._require_model()
        test_df = unique_pairs(load_interactions(test, drop_duplicates=True))
        u = self.users.encode(test_df["user_id"])
        i = self.items.encode(test_df["item_id"])
        known = (u >= 0) & (i >= 0)
        if not known.any():
            raise InvalidInputError("No test interaction has both a known user and a known item.")
        truth = interaction_matrix(test_df[known], self.users, self.items)
        mask = self.history.copy()
        if exclude is not None:
            mask = mask + interaction_matrix(load_interactions(exclude, drop_duplicates=True), self.users, self.items)
        truth = truth - truth.multiply(mask > 0)  # a test item already seen cannot be ranked
        truth.eliminate_zeros()
        metrics = ranking_metrics(model.score, self.history, mask.tocsr(), truth.tocsr(), k=k)
        metrics["skipped_rows"] = float((~known).sum())
        return metrics

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model to a folder: model.safetensors, history.npz, recommender.json."""
        model = self._require_model()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.tensors().items()}, str(folder / "model.safetensors"))
        h = self.history.tocsr()
        np.savez(folder / "history.npz", indptr=h.indptr, indices=h.indices, shape=np.array(h.shape))
        meta = {
            "format": FORMAT_VERSION,
            "model": self.model_name,
            "params": self.params,
            "users": self.users.ids,
            "items": self.items.ids,
            "titles": self.titles,
            "texts": self.texts,
            "losses": self.losses,
            "train_seconds": self.train_seconds,
            "text_model": self.text_model,
        }
        tmp = folder / "recommender.json.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        tmp.replace(folder / "recommender.json")  # the JSON is written last and atomically
        return folder

    @classmethod
    def load(cls, path: str | Path, *, manager: ModelManager | None = None, device: str | None = None) -> Recommender:
        """Read a folder written by ``save`` (no pickle anywhere)."""
        folder = Path(path)
        try:
            meta = json.loads((folder / "recommender.json").read_text(encoding="utf-8"))
            tensors = load_file(str(folder / "model.safetensors"))
            with np.load(folder / "history.npz", allow_pickle=False) as z:
                indptr, indices, shape = z["indptr"], z["indices"], tuple(z["shape"])
        except (OSError, ValueError, KeyError, SafetensorError) as exc:
            # SafetensorError: model.safetensors is not safetensors (a pickle, say); it
            # is refused from its header, never unpickled.
            raise InvalidInputError(f"{folder} is not a saved recommender: {exc}") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise InvalidInputError(f"{folder} was saved in format {meta.get('format')}, expected {FORMAT_VERSION}.")
        rec = cls(meta["model"], manager=manager, device=device, **meta["params"])
        rec.users, rec.items = IdMap(meta["users"]), IdMap(meta["items"])
        rec.titles, rec.texts = meta["titles"], meta["texts"]
        rec.losses, rec.train_seconds = meta["losses"], meta["train_seconds"]
        # Saved before the choice existed: those were all trained on the English encoder.
        rec.text_model = meta.get("text_model", DEFAULT_TEXT_MODEL)
        rec.history = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=shape)
        model = create_model(rec.model_name, rec.device, **rec.params)
        model.n_users, model.n_items = shape
        model.load_tensors(tensors)
        rec.model = model
        return rec


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= int(k) <= 1000:
        raise InvalidInputError(f"k must be a whole number from 1 to 1000, not {k!r}.")
    return int(k)
