"""Retrieval at scale: 1M items x 64-d, IVF and HNSW against exact search (FAISS).

The catalogue is synthetic but clustered like learned item embeddings (a mixture
of 2,000 Gaussian clusters, unit-normalised); queries are fresh draws from the
same mixture. For each index: build time, index memory, single-query latency
(p50/p95 over sequential one-at-a-time queries, as a serving request would do)
and recall@100 against the exact top 100. Run (heavy: take the shared lock):

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.recommendation_scale [--items 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import faiss
import numpy as np

from apps.recommendation.retrieval import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    IVF_NPROBE,
    ItemIndex,
)


def clustered(n: int, d: int, clusters: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    out = np.empty((n, d), dtype=np.float32)
    step = 200_000
    for s in range(0, n, step):
        m = min(step, n - s)
        out[s : s + m] = centres[rng.integers(0, clusters, m)] + 0.6 * rng.standard_normal((m, d)).astype(np.float32)
    faiss.normalize_L2(out)
    return out


def index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).nbytes)


def latency(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, float, float]:
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for q in range(len(queries)):
        t0 = time.perf_counter()
        _, ids[q : q + 1] = index.search(queries[q : q + 1], k)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return ids, float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--kinds", default="exact,ivf,hnsw", help="exact must come first (ground truth)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, {os.cpu_count()} cpus, omp threads {faiss.omp_get_max_threads()}")
    items = clustered(args.items, args.dim, 2000, rng)
    queries = clustered(args.queries, args.dim, 2000, np.random.default_rng(1))
    print(f"catalogue {args.items:,} x {args.dim} float32 = {items.nbytes / 2**20:.0f} MiB")
    faiss.omp_set_num_threads(1)  # one query at a time, as in serving: no OpenMP spin-up per query
    rows = []
    truth = None
    sweeps = {"exact": [None], "ivf": [32, 64, 128, 256], "hnsw": [128, 256, 512, 1024]}
    for kind in args.kinds.split(","):
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # build with every core
        t0 = time.perf_counter()
        wrapper = ItemIndex(items, kind, use_gpu=False)
        index = wrapper.index
        qs = wrapper.prepare_queries(queries)
        build = time.perf_counter() - t0
        faiss.omp_set_num_threads(1)
        mem = index_bytes(index)
        if kind == "exact":
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            _, truth = index.search(qs, args.k)  # batched ground truth
            faiss.omp_set_num_threads(1)
        for setting in sweeps[kind]:
            if kind == "ivf":
                index.nprobe = setting
                extra = f"nlist {index.nlist}, nprobe {setting}"
            elif kind == "hnsw":
                index.hnsw.efSearch = setting
                extra = f"M {HNSW_M}, efConstruction {HNSW_EF_CONSTRUCTION}, efSearch {setting}"
            else:
                extra = "IndexFlatIP"
            # Exact search is ~1M dot products per query: 200 queries are enough for its latency.
            n_q = 200 if kind == "exact" else len(queries)
            ids, p50, p95 = latency(index, qs[:n_q], args.k)
            r = recall(ids, truth[:n_q])
            rows.append((kind, extra, build, mem, p50, p95, r))
            print(f"{kind:6s} {extra:26s} build {build:7.1f} s  memory {mem / 2**20:7.0f} MiB  "
                  f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  recall@{args.k} {r:.4f}", flush=True)
        del index, wrapper
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"| index | settings | build s | index MiB | p50 ms | p95 ms | recall@{args.k} vs exact |")
    print("|---|---|---|---|---|---|---|")
    for kind, extra, build, mem, p50, p95, r in rows:
        print(f"| {kind} | {extra} | {build:.1f} | {mem / 2**20:.0f} | {p50:.2f} | {p95:.2f} | {r:.4f} |")
    print(f"\nvectors {items.nbytes / 2**20:.0f} MiB; peak process RSS {peak:.0f} MiB "
          f"(vectors + ground truth + one index at a time); defaults in retrieval.py: "
          f"IVF nprobe {IVF_NPROBE}, HNSW efSearch {HNSW_EF_SEARCH}")


if __name__ == "__main__":
    main()
