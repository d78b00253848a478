"""The recommender models, all in torch (on the GPU when there is one).

Each model learns from a binary user x item matrix (CSR) and scores items for a
batch of users given their histories. A small registry maps the names users type
("ease", "bpr", ...) to classes, so adding a model is one class and one line.

- ``popular``: item popularity, the baseline every other model must beat.
- ``itemknn``: cosine item-item neighbours (Sarwar et al., 2001), top-k kept.
- ``ease``: closed-form shallow autoencoder (Steck, WWW 2019).
- ``bpr``: matrix factorisation trained with Bayesian personalised ranking
  (Rendle et al., UAI 2009).
- ``hybrid``: a two-tower model. The item tower adds a learned id embedding to a
  projection of the item's text embedding (shared text encoder), so items with
  no interactions get a vector from their text alone. The user tower is the mean
  of the user's items' query vectors (FISM-style, Kabbur et al., KDD 2013), so a
  new user is served from a few liked items or a description, with no retraining.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from core.errors import InvalidInputError

# EASE inverts a dense items x items matrix: 30k items is 3.6 GB in float32 and
# minutes of CPU; beyond this the page should use bpr or hybrid.
MAX_EASE_ITEMS = 30_000

Progress = Callable[[float, str], None]
# Weight of the description's direct text similarity to items in hybrid cold start,
# relative to the learned two-tower score (both are cosines).
TEXT_MATCH_WEIGHT = 1.0

MODELS: dict[str, type[RecModel]] = {}


def register(cls: type[RecModel]) -> type[RecModel]:
    """Class decorator: make a model available by its ``name``."""
    MODELS[cls.name] = cls
    return cls


def to_torch_sparse(m: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """CSR (scipy) to a torch sparse CSR tensor of float32 on ``device``."""
    m = m.tocsr().astype(np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")  # "beta" notice, every call
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data),
            size=m.shape,
            check_invariants=False,  # scipy's CSR is valid by construction
        ).to(device)


class RecModel:
    """Base class. Subclasses set ``name`` and implement ``fit`` and ``score``."""

    name: ClassVar[str]
    label: ClassVar[str]
    uses_text: ClassVar[bool] = False
    #: Whether scores are an inner product of a query vector and item vectors, so
    #: retrieval can go through a FAISS index.
    factorised: ClassVar[bool] = False

    def __init__(self, device: torch.device, **params: Any) -> None:
        self.device = device
        self.params = params
        self.n_users = 0
        self.n_items = 0

    # --- training -------------------------------------------------------------
    def fit(
        self,
        X: sp.csr_matrix,
        *,
        item_text: np.ndarray | None = None,
        progress: Progress | None = None,
    ) -> list[float]:
        """Learn from the binary user x item matrix. Returns the loss per epoch (may be empty)."""
        raise NotImplementedError

    # --- scoring --------------------------------------------------------------
    def score(self, users: np.ndarray, history: sp.csr_matrix) -> torch.Tensor:
        """Scores (batch x n_items) for users (row numbers, -1 for a new user) with these histories."""
        raise NotImplementedError

    def item_similarity(self, items: np.ndarray) -> torch.Tensor:
        """Similarity (len(items) x n_items) of the given items to every item."""
        raise NotImplementedError

    def contributions(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> torch.Tensor | None:
        """Each history item's additive part of one user's score for ``items``.

        ``users`` and ``history`` are one user (row number or -1, and a 1-row CSR).
        Returns ``nnz x len(items)``, rows in the order of ``history.indices``; the rows
        sum to ``score`` for those items. ``None`` when the score is not a sum over the
        user's items (popularity; BPR's learned user vectors), so no share can be given.
        """
        return None

    # --- persistence ----------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        """Everything learned, as named CPU tensors (saved with safetensors)."""
        raise NotImplementedError

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError


@register
class Popularity(RecModel):
    """Most-interacted items first; similar items by co-occurrence cosine."""

    name = "popular"
    label = "Popularity"

    def fit(self, X, *, item_text=None, progress=None):
        self.n_users, self.n_items = X.shape
        self.counts = torch.from_numpy(np.asarray(X.sum(axis=0)).ravel().astype(np.float32))
        self._X = X.tocsc()
        self.counts = self.counts.to(self.device)
        return []

    def score(self, users, history):
        return self.counts.unsqueeze(0).expand(len(users), -1).clone()

    def item_similarity(self, items):
        cols = self._X[:, items].T.tocsr()  # len(items) x users
        co = torch.from_numpy((cols @ self._X).toarray().astype(np.float32)).to(self.device)
        norms = torch.sqrt(self.counts.clamp(min=1))
        return co / norms.unsqueeze(0) / norms[torch.as_tensor(items, device=self.device)].unsqueeze(1)

    def tensors(self):
        X = self._X.tocoo()
        return {
            "counts": self.counts.cpu(),
            "rows": torch.from_numpy(X.row.astype(np.int64)),
            "cols": torch.from_numpy(X.col.astype(np.int64)),
            "shape": torch.tensor(X.shape, dtype=torch.int64),
        }

    def load_tensors(self, tensors):
        self.counts = tensors["counts"].to(self.device)
        shape = tuple(tensors["shape"].tolist())
        self.n_users, self.n_items = shape
        rows, cols = tensors["rows"].numpy(), tensors["cols"].numpy()
        self._X = sp.csc_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)


@register
class ItemKNN(RecModel):
    """Cosine item-item similarity with shrinkage, keeping the k nearest neighbours per item."""

    name = "itemknn"
    label = "Item-kNN"

    def fit(self, X, *, item_text=None, progress=None):
        k = int(self.params.get("neighbours", 100))
        shrink = float(self.params.get("shrink", 10.0))
        self.n_users, self.n_items = X.shape
        n = self.n_items
        Xt = X.T.tocsr().astype(np.float32)
        counts = np.asarray(X.sum(axis=0)).ravel().astype(np.float32)
        norms = np.sqrt(counts)
        # Chunked so that a dense block stays under ~200M floats whatever the catalogue size.
        chunk = max(1, min(n, 200_000_000 // max(n, 1)))
        rows, cols, vals = [], [], []
        k_eff = min(k, n - 1) if n > 1 else 0
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            co = torch.from_numpy((Xt[start:stop] @ Xt.T).toarray()).to(self.device)
            denom = torch.from_numpy(norms[start:stop, None] * norms[None, :] + shrink + 1e-8).to(self.device)
            sim = co / denom
            sim[torch.arange(stop - start), torch.arange(start, stop)] = 0.0  # no self-similarity
            if k_eff > 0:
                top = torch.topk(sim, k_eff, dim=1)
                keep = top.values > 0
                r = torch.arange(start, stop, device=self.device).unsqueeze(1).expand_as(top.indices)
                rows.append(r[keep].cpu())
                cols.append(top.indices[keep].cpu())
                vals.append(top.values[keep].cpu())
            if progress:
                progress(stop / n, f"neighbours of {stop:,}/{n:,} items")
        self._set_sim(
            torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long),
            torch.cat(cols) if cols else torch.zeros(0, dtype=torch.long),
            torch.cat(vals) if vals else torch.zeros(0),
        )
        return []

    def _set_sim(self, rows, cols, vals):
        self._rows, self._cols, self._vals = rows, cols, vals
        # S[i, j]: similarity of item i to neighbour j (rows = items whose neighbours are kept).
        self.S = sp.csr_matrix(
            (vals.numpy(), (rows.numpy(), cols.numpy())), shape=(self.n_items, self.n_items)
        )

    def score(self, users, history):
        # A user's score for item j: sum of similarities between j and the items in the history,
        # counting j's own top-k neighbours (the classic item-based CF prediction).
        return torch.from_numpy((history.astype(np.float32) @ self.S).toarray()).to(self.device)

    def item_similarity(self, items):
        return torch.from_numpy(self.S[items].toarray()).to(self.device)

    def contributions(self, users, history, items):
        h = history.tocsr()
        part = self.S[h.indices][:, np.asarray(items)].toarray() * h.data[:, None]
        return torch.from_numpy(part.astype(np.float32)).to(self.device)

    def tensors(self):
        return {"rows": self._rows, "cols": self._cols, "vals": self._vals,
                "shape": torch.tensor([self.n_users, self.n_items])}

    def load_tensors(self, tensors):
        self.n_users, self.n_items = tensors["shape"].tolist()
        self._set_sim(tensors["rows"], tensors["cols"], tensors["vals"])


@register
class EASE(RecModel):
    """B = I - P diag(1/diag(P)), P = (X'X + lambda I)^-1, zero diagonal (Steck 2019)."""

    name = "ease"
    label = "EASE"

    def fit(self, X, *, item_text=None, progress=None):
        lam = float(self.params.get("l2", 300.0))
        self.n_users, self.n_items = X.shape
        if self.n_items > MAX_EASE_ITEMS:
            raise InvalidInputError(
                f"EASE needs an items x items matrix; {self.n_items:,} items is over its limit "
                f"of {MAX_EASE_ITEMS:,}. Use the 'bpr' or 'hybrid' model for this catalogue."
            )
        # Gram matrix in float64 on CPU (float32 on GPU is accurate enough at this lambda).
        dtype = torch.float32 if self.device.type == "cuda" else torch.float64
        G = torch.from_numpy((X.T @ X).toarray()).to(self.device, dtype)
        G.diagonal().add_(lam)
        P = torch.linalg.inv(G)
        B = P / (-P.diagonal().unsqueeze(0))
        B.diagonal().zero_()
        self.B = B.float()
        if progress:
            progress(1.0, "closed form solved")
        return []

    def score(self, users, history):
        return to_torch_sparse(history, self.device) @ self.B

    def item_similarity(self, items):
        idx = torch.as_tensor(items, device=self.device)
        # B is not symmetric; average both directions for "items like this one".
        return 0.5 * (self.B[idx] + self.B[:, idx].T)

    def contributions(self, users, history, items):
        # score = x B, so item h adds x_h B[h, j] to item j's score.
        h = history.tocsr()
        rows = torch.as_tensor(h.indices, dtype=torch.long, device=self.device)
        cols = torch.as_tensor(np.asarray(items), dtype=torch.long, device=self.device)
        w = torch.as_tensor(h.data, dtype=torch.float32, device=self.device)
        return self.B[rows][:, cols] * w.unsqueeze(1)

    def tensors(self):
        return {"B": self.B.cpu()}

    def load_tensors(self, tensors):
        self.B = tensors["B"].to(self.device)
        self.n_items = self.B.shape[0]


class _Factorised(RecModel):
    """Shared parts of models that score by an inner product (FAISS-servable)."""

    factorised = True

    def item_vectors(self) -> torch.Tensor:
        raise NotImplementedError

    def query_vectors(self, users: np.ndarray, history: sp.csr_matrix) -> torch.Tensor:
        raise NotImplementedError

    def index_vectors(self) -> torch.Tensor:
        """What the FAISS index holds, one row per item (the item vectors by default)."""
        return self.item_vectors()

    def index_query(self, users: np.ndarray, history: sp.csr_matrix, text_vector: np.ndarray | None = None) -> torch.Tensor:
        """The FAISS query for users; models that read text override this."""
        if text_vector is not None:
            raise InvalidInputError("Text descriptions need the hybrid model (it reads item text).")
        return self.query_vectors(users, history)

    def score(self, users, history):
        return self.query_vectors(users, history) @ self.item_vectors().T

    def item_similarity(self, items):
        V = F.normalize(self.item_vectors(), dim=1)
        return V[torch.as_tensor(items, device=self.device)] @ V.T


def _sample_negatives(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, n, (size,), generator=generator)


@register
class BPRMF(_Factorised):
    """Matrix factorisation trained with the BPR pairwise loss and uniform negatives."""

    name = "bpr"
    label = "BPR-MF"

    def fit(self, X, *, item_text=None, progress=None):
        dim = int(self.params.get("dim", 64))
        epochs = int(self.params.get("epochs", 30))
        lr = float(self.params.get("lr", 5e-3))
        reg = float(self.params.get("reg", 1e-2))
        batch = int(self.params.get("batch_size", 4096))
        seed = int(self.params.get("seed", 0))
        self.n_users, self.n_items = X.shape
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.U = torch.nn.Parameter(torch.randn(self.n_users, dim, generator=gen) * 0.01)
        self.V = torch.nn.Parameter(torch.randn(self.n_items, dim, generator=gen) * 0.01)
        self.U.data = self.U.data.to(self.device)
        self.V.data = self.V.data.to(self.device)
        coo = X.tocoo()
        users = torch.from_numpy(coo.row.astype(np.int64))
        items = torch.from_numpy(coo.col.astype(np.int64))
        opt = torch.optim.Adam([self.U, self.V], lr=lr)
        losses = []
        for epoch in range(epochs):
            order = torch.randperm(len(users), generator=gen)
            total = 0.0
            for start in range(0, len(order), batch):
                idx = order[start : start + batch]
                u = users[idx].to(self.device)
                i = items[idx].to(self.device)
                j = _sample_negatives(self.n_items, len(idx), gen).to(self.device)
                eu, ei, ej = self.U[u], self.V[i], self.V[j]
                diff = (eu * ei).sum(1) - (eu * ej).sum(1)
                loss = -F.logsigmoid(diff).mean() + reg * (
                    eu.pow(2).sum() + ei.pow(2).sum() + ej.pow(2).sum()
                ) / len(idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / max(1, len(users)))
            if progress:
                progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}, loss {losses[-1]:.4f}")
        self.U = self.U.detach()
        self.V = self.V.detach()
        return losses

    def item_vectors(self):
        return self.V

    def query_vectors(self, users, history):
        users = np.asarray(users)
        q = torch.zeros(len(users), self.V.shape[1], device=self.device)
        known = users >= 0
        if known.any():
            q[torch.from_numpy(known).to(self.device)] = self.U[torch.from_numpy(users[known]).to(self.device)]
        if (~known).any():
            # Fold-in for a new user: the mean of the liked items' vectors.
            h = history[np.flatnonzero(~known)]
            counts = torch.from_numpy(np.maximum(np.asarray(h.sum(axis=1)).ravel(), 1)).float()
            q[torch.from_numpy(~known).to(self.device)] = (
                to_torch_sparse(h, self.device) @ self.V
            ) / counts.to(self.device).unsqueeze(1)
        return q

    def contributions(self, users, history, items):
        if int(np.asarray(users)[0]) >= 0:
            return None  # a known user's vector is learned, not a sum over their items
        # Fold-in: q = sum_h x_h V_h / sum_h x_h, so item h adds x_h V_h . V_j / sum x.
        h = history.tocsr()
        rows = torch.as_tensor(h.indices, dtype=torch.long, device=self.device)
        cols = torch.as_tensor(np.asarray(items), dtype=torch.long, device=self.device)
        w = torch.as_tensor(h.data, dtype=torch.float32, device=self.device)
        return (self.V[rows] @ self.V[cols].T) * (w / max(float(h.data.sum()), 1.0)).unsqueeze(1)

    def tensors(self):
        return {"U": self.U.cpu(), "V": self.V.cpu()}

    def load_tensors(self, tensors):
        self.U = tensors["U"].to(self.device)
        self.V = tensors["V"].to(self.device)
        self.n_users, self.n_items = self.U.shape[0], self.V.shape[0]


@register
class Hybrid(_Factorised):
    """Two towers over ids and item text; serves new items and new users.

    item vector  v_j = V[j] + W t_j        (t_j: text embedding of item j's metadata)
    query vector q_j = Q[j] + P t_j
    user vector  u   = mean of q_j over the user's history (or P t for a text description)
    score(u, j)  = u . v_j

    Trained with a softmax over the catalogue (sampled when the catalogue is large),
    predicting one held-out item of each user's history from the rest. The id
    embeddings V are dropped at random during training so that the text path alone
    (W t_j) gives useful vectors for items that have no interactions yet.
    """

    name = "hybrid"
    label = "Hybrid two-tower"
    uses_text = True

    def fit(self, X, *, item_text=None, progress=None):
        if item_text is None:
            raise InvalidInputError(
                "The hybrid model needs item metadata (title, text or tags) for its item tower."
            )
        dim = int(self.params.get("dim", 64))
        epochs = int(self.params.get("epochs", 30))
        lr = float(self.params.get("lr", 5e-3))
        batch = int(self.params.get("batch_size", 256))
        temperature = float(self.params.get("temperature", 0.1))
        id_dropout = float(self.params.get("id_dropout", 0.3))
        max_negatives = int(self.params.get("max_negatives", 20_000))
        seed = int(self.params.get("seed", 0))
        self.n_users, self.n_items = X.shape
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        dev = self.device
        self.T = torch.as_tensor(item_text, dtype=torch.float32, device=dev)
        text_dim = self.T.shape[1]
        self.V = torch.nn.Parameter((torch.randn(self.n_items, dim, generator=gen) * 0.01).to(dev))
        self.Q = torch.nn.Parameter((torch.randn(self.n_items, dim, generator=gen) * 0.01).to(dev))
        self.W = torch.nn.Linear(text_dim, dim, bias=False).to(dev)
        self.P = torch.nn.Linear(text_dim, dim, bias=False).to(dev)
        params = [self.V, self.Q, *self.W.parameters(), *self.P.parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        X = X.tocsr().astype(np.float32)
        active = np.flatnonzero(np.diff(X.indptr) >= 2)  # need one target and some history
        if len(active) == 0:
            raise InvalidInputError("The hybrid model needs users with at least two interactions.")
        steps = math.ceil(len(active) / batch)
        # Each epoch visits every user `repeats` times with a different target each time.
        repeats = max(1, int(self.params.get("repeats", 8)))
        losses = []
        for epoch in range(epochs):
            total, count = 0.0, 0
            for _ in range(repeats):
                order = active[torch.randperm(len(active), generator=gen).numpy()]
                for s in range(steps):
                    rows = order[s * batch : (s + 1) * batch]
                    h = X[rows]
                    lengths = np.diff(h.indptr)
                    pick = h.indptr[:-1] + (torch.rand(len(rows), generator=gen).numpy() * lengths).astype(np.int64)
                    targets = torch.from_numpy(h.indices[pick].astype(np.int64)).to(dev)
                    h = h.copy()
                    h.data[pick] = 0.0  # the target is not part of its own history
                    # Random history dropout: users arrive with few known items at serving time.
                    keep = torch.rand(len(h.data), generator=gen).numpy() > 0.2
                    h.data *= keep
                    h.eliminate_zeros()
                    q_all = self.Q + self.P(self.T)
                    hist = to_torch_sparse(h, dev)
                    n_hist = torch.from_numpy(np.maximum(np.diff(h.indptr), 1)).float().to(dev)
                    u = F.normalize((hist @ q_all) / n_hist.unsqueeze(1), dim=1)
                    if self.n_items <= max_negatives:
                        cand = None
                        v = self._item_vectors_train(id_dropout, gen)
                        logits = u @ F.normalize(v, dim=1).T / temperature
                        loss = F.cross_entropy(logits, targets)
                    else:
                        cand = torch.randint(0, self.n_items, (max_negatives,), generator=gen).to(dev)
                        cand = torch.cat([targets, cand])
                        v = self._item_vectors_train(id_dropout, gen, cand)
                        logits = u @ F.normalize(v, dim=1).T / temperature
                        loss = F.cross_entropy(logits, torch.arange(len(rows), device=dev))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(rows)
                    count += len(rows)
            losses.append(total / count)
            if progress:
                progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}, loss {losses[-1]:.4f}")
        with torch.no_grad():
            # Items never interacted with keep only their text vector: their id embedding
            # only ever saw negative gradients and says nothing about them.
            unseen = torch.from_numpy(np.asarray(X.sum(axis=0)).ravel() == 0).to(dev)
            self.V[unseen] = 0.0
            self.Q[unseen] = 0.0
        self._freeze()
        return losses

    def _item_vectors_train(self, id_dropout, gen, cand=None):
        T = self.T if cand is None else self.T[cand]
        V = self.V if cand is None else self.V[cand]
        mask = (torch.rand(V.shape[0], 1, generator=gen) > id_dropout).float().to(self.device)
        return V * mask + self.W(T)

    @torch.no_grad()
    def _freeze(self):
        self.V = self.V.detach()
        self.Q = self.Q.detach()
        self.W = self.W.requires_grad_(False)
        self.P = self.P.requires_grad_(False)
        self._items = F.normalize(self.V + self.W(self.T), dim=1)
        self._queries = self.Q + self.P(self.T)

    def item_vectors(self):
        return self._items

    @torch.no_grad()
    def add_items(self, text_vectors: np.ndarray) -> None:
        """Append cold-start items: their vectors come from their text alone."""
        T = torch.as_tensor(text_vectors, dtype=torch.float32, device=self.device)
        zeros = torch.zeros(len(T), self.V.shape[1], device=self.device)
        self.T = torch.cat([self.T, T])
        self.V = torch.cat([self.V, zeros])
        self.Q = torch.cat([self.Q, zeros])
        self.n_items = self.V.shape[0]
        self._freeze()

    @torch.no_grad()
    def text_item_vectors(self, text_vectors: np.ndarray) -> torch.Tensor:
        """Vectors for items that have text but no interactions (cold-start items)."""
        return F.normalize(self.W(torch.as_tensor(text_vectors, device=self.device).float()), dim=1)

    @torch.no_grad()
    def text_query(self, text_vector: np.ndarray) -> torch.Tensor:
        """A user vector from a free-text description of what they like."""
        return F.normalize(self.P(torch.as_tensor(text_vector, device=self.device).float().unsqueeze(0)), dim=1)[0]

    def index_vectors(self) -> torch.Tensor:
        # [learned item vector ; text embedding]: a query [u ; 0] scores exactly u . v, and a
        # query with text adds the plain content similarity of the description to each item,
        # which keeps text-only cold start on topic (the learned part alone leans popular).
        return torch.cat([self._items, self.T], dim=1)

    @torch.no_grad()
    def index_query(self, users, history, text_vector=None):
        parts = []
        if history.nnz:
            parts.append(self.query_vectors(users, history))
        if text_vector is not None:
            parts.append(self.text_query(text_vector).unsqueeze(0))
        if not parts:
            raise InvalidInputError("A new user needs at least one liked item or a description.")
        q = F.normalize(sum(parts), dim=1)
        if text_vector is None:
            t = torch.zeros(q.shape[0], self.T.shape[1], device=self.device)
        else:
            t = TEXT_MATCH_WEIGHT * torch.as_tensor(text_vector, device=self.device).float().expand(q.shape[0], -1)
        return torch.cat([q, t], dim=1)

    @torch.no_grad()
    def query_vectors(self, users, history):
        h = history.tocsr().astype(np.float32)
        n = torch.from_numpy(np.maximum(np.diff(h.indptr), 1)).float().to(self.device)
        return F.normalize((to_torch_sparse(h, self.device) @ self._queries) / n.unsqueeze(1), dim=1)

    @torch.no_grad()
    def contributions(self, users, history, items):
        # u = normalize(sum_h x_h q_h / n) and score_j = u . v_j, so item h adds
        # x_h q_h . v_j / |sum_h x_h q_h| (the 1/n cancels in the normalisation).
        h = history.tocsr()
        rows = torch.as_tensor(h.indices, dtype=torch.long, device=self.device)
        cols = torch.as_tensor(np.asarray(items), dtype=torch.long, device=self.device)
        w = torch.as_tensor(h.data, dtype=torch.float32, device=self.device).unsqueeze(1)
        q = self._queries[rows] * w
        norm = q.sum(0).norm().clamp(min=1e-12)
        return (q @ self._items[cols].T) / norm

    @torch.no_grad()
    def pair_scores_with_text(self, liked: int, item: int, text_vectors: np.ndarray) -> torch.Tensor:
        """q_liked . v_item, with the item's vector rebuilt from each given text vector.

        The item keeps its learned id embedding; only its text changes. Occluding words
        of the item's text and re-embedding it shows which words the match rests on.
        """
        T = torch.as_tensor(text_vectors, dtype=torch.float32, device=self.device)
        v = F.normalize(self.V[item].unsqueeze(0) + self.W(T), dim=1)
        return v @ self._queries[liked]

    def tensors(self):
        return {
            "V": self.V.cpu(), "Q": self.Q.cpu(), "T": self.T.cpu(),
            "W": self.W.weight.detach().cpu(), "P": self.P.weight.detach().cpu(),
        }

    def load_tensors(self, tensors):
        dev = self.device
        self.V, self.Q, self.T = (tensors[k].to(dev) for k in ("V", "Q", "T"))
        dim, text_dim = tensors["W"].shape
        self.W = torch.nn.Linear(text_dim, dim, bias=False).to(dev)
        self.P = torch.nn.Linear(text_dim, dim, bias=False).to(dev)
        with torch.no_grad():
            self.W.weight.copy_(tensors["W"])
            self.P.weight.copy_(tensors["P"])
        self.n_items = self.V.shape[0]
        self._freeze()


def create_model(name: str, device: torch.device, **params: Any) -> RecModel:
    """A new, untrained model by registry name."""
    key = str(name).strip().lower()
    if key not in MODELS:
        raise InvalidInputError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.")
    return MODELS[key](device, **params)
