"""Top-K retrieval over item vectors with FAISS.

Small catalogues get an exact inner-product index; large ones an approximate
IVF index (on the GPU when faiss-gpu is installed); HNSW is available too. IVF is
the default because it is the one measured at 1M items (bench/RESULTS.md: recall@100
0.99 at p95 1.4 ms with nprobe 128 on the 2-core box). Seen items are
excluded by asking for more results than needed and filtering, which works the
same for every index type, on CPU and GPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

# Below this many items exact search is fast enough (~2 ms per 64-d query on the 2-core
# box, from 17.5 ms p50 at 1M items) and exact.
EXACT_MAX_ITEMS = 100_000
# Search breadth of the approximate indexes. IVF nprobe 128 measured recall@100 0.990 on
# 1M items (bench/recommendation_scale.py). HNSW with these values reached only 0.67
# recall@100 at 1M clustered items (fine at 20k); it is not the default for that reason.
HNSW_M = 16
HNSW_EF_SEARCH = 512
HNSW_EF_CONSTRUCTION = 40
IVF_NPROBE = 128


def gpu_available() -> bool:
    """True when faiss was built with GPU support and sees a GPU."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class ItemIndex:
    """An inner-product FAISS index over item vectors, with seen-item exclusion.

    Args:
        vectors: (n_items, d) float32 item vectors; row i is item i.
        kind: "auto" (exact up to EXACT_MAX_ITEMS, then IVF),
            "exact", "hnsw" or "ivf".
    """

    def __init__(self, vectors: np.ndarray, kind: str = "auto", *, use_gpu: bool | None = None) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        self.n, self.d = n, d
        gpu = gpu_available() if use_gpu is None else (use_gpu and gpu_available())
        if kind == "auto":
            kind = "exact" if n <= EXACT_MAX_ITEMS else "ivf"
        self.kind = kind
        # HNSW in FAISS works best with L2: inner-product search is turned into L2 search by
        # appending sqrt(max_norm^2 - |v|^2) to each item and 0 to each query (Bachrach et
        # al., RecSys 2014); for unit vectors the extra column is 0 and ranks are unchanged.
        self.augmented = kind == "hnsw"
        self._max_sq = float((vectors**2).sum(1).max()) if len(vectors) else 0.0
        self.index = build_index(augment_items(vectors) if self.augmented else vectors, kind)
        self.on_gpu = False
        if gpu and kind in ("exact", "ivf"):
            self._res = faiss.StandardGpuResources()
            self.index = faiss.index_cpu_to_gpu(self._res, 0, self.index)
            self.on_gpu = True

    def prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        """Queries as the index expects them (an extra 0 column for the HNSW/L2 form)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if self.augmented:
            queries = np.hstack([queries, np.zeros((len(queries), 1), np.float32)])
        return queries

    def search(
        self, queries: np.ndarray, k: int, exclude: Sequence[Sequence[int]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, item rows) per query, skipping the rows in ``exclude[q]``.

        Rows that cannot be filled (catalogue exhausted) have id -1 and score -inf.
        """
        queries = self.prepare_queries(queries)
        extra = max((len(e) for e in exclude), default=0) if exclude else 0
        fetch = min(self.n, k + extra)
        scores, ids = self.index.search(queries, fetch)
        if self.augmented:
            # L2 distances back to inner products: |q|^2 + M^2 - 2 q.v  ->  q.v
            qn = (queries**2).sum(1, keepdims=True)
            scores = (qn + self._max_sq - scores) / 2
        out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(queries), k), -1, dtype=np.int64)
        for q in range(len(queries)):
            banned = set(exclude[q]) if exclude else set()
            keep = [(s, i) for s, i in zip(scores[q], ids[q], strict=True) if i >= 0 and i not in banned][:k]
            for r, (s, i) in enumerate(keep):
                out_s[q, r], out_i[q, r] = s, i
        return out_s, out_i


def augment_items(vectors: np.ndarray) -> np.ndarray:
    """Append sqrt(max_norm^2 - |v|^2) so that L2 order equals inner-product order."""
    sq = (vectors**2).sum(1)
    extra = np.sqrt(np.maximum(sq.max() - sq, 0.0)).astype(np.float32)
    return np.ascontiguousarray(np.hstack([vectors, extra[:, None]]), dtype=np.float32)


def build_index(vectors: np.ndarray, kind: str) -> faiss.Index:
    """A trained, filled CPU index of the given kind (inner product; HNSW is L2 on
    vectors already passed through ``augment_items``)."""
    n, d = vectors.shape
    if kind == "exact":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_L2)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivf":
        nlist = int(max(1, min(4 * np.sqrt(n), n // 39)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(n, size=min(n, nlist * 64), replace=False)]
        index.train(sample)
        index.nprobe = IVF_NPROBE
    else:
        raise ValueError(f"unknown index kind {kind!r}; use exact, hnsw or ivf")
    index.add(vectors)
    return index
